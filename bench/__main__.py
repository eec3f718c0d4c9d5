"""Run every ``bench/bench_*.py`` module (each exposes ``run() -> dict``), print ``name: value (goal: ...)``
lines and merge the results into ``bench/results.json``.

A result is ``{name: value}`` or ``{name: {"value": v, "goal": "...", "unit": "..."}}``.
``python -m bench dedup`` runs only the modules whose name contains "dedup".
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"


def main(argv: list[str]) -> int:
    wanted = argv[1:]
    sys.path.insert(0, str(HERE.parent))
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem
        if wanted and not any(w in name for w in wanted):
            continue
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        out = module.run()
        print(f"# {name} ({time.perf_counter() - started:.0f} s)")
        for key, item in out.items():
            item = item if isinstance(item, dict) else {"value": item}
            unit = f" {item['unit']}" if item.get("unit") else ""
            goal = f" (goal: {item['goal']})" if item.get("goal") else ""
            print(f"{key}: {item['value']}{unit}{goal}")
            results[key] = item
        RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
