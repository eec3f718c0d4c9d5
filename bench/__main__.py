"""``make bench`` (python -m bench): run every bench/bench_*.py module's ``run()`` and report.

Each module returns {name: {"value": number, "unit": str, "goal": str, "ok": bool | None}}; the runner
prints ``name: value unit (goal: ...)`` lines and merges the figures into bench/results.json, so
benchmarks added by others keep their last results. ``python -m bench match`` runs bench_match only.
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE.parent))
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if argv:
        names = [n for n in names if n.removeprefix("bench_") in argv or n in argv]
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    failed = False
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        figures = module.run()
        for key, fig in figures.items():
            mark = "" if fig.get("ok") is None else ("  ok" if fig["ok"] else "  MISSED")
            failed |= fig.get("ok") is False
            print(f"{key}: {fig['value']:.4g} {fig.get('unit', '')} (goal: {fig.get('goal', '-')}){mark}")
        results[name] = {"measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "python": platform.python_version(), "machine": platform.machine(),
                         "figures": figures}
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0  # a missed goal is reported (MISSED), not an error: make bench is a report


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
