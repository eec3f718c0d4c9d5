"""``python -m bench [--quick] [--full] [NAME ...]``: run the benchmarks, print and save the figures.

Discovers ``bench/bench_*.py``; each module's ``run(quick)`` (or ``run()``) returns
``{figure name: figure}`` (see ``bench.common.figure``) or ``{"skipped": reason}``. Prints one line
per figure, ``name: value unit (goal: ...)``, and writes everything, with the machine and its load,
to ``bench/results.json``. ``--quick`` (or ``NEWSWATCH_BENCH_QUICK=1``) uses smaller sizes;
``--full`` (or ``NEWSWATCH_BENCH_FULL=1``) adds the slow sizes (1M stored articles).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import platform
import pkgutil
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"


def discover() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))


def call_run(module, quick: bool) -> dict:
    """Accept both ``run(quick)`` and ``run()``: other benchmarks were written to either."""
    params = inspect.signature(module.run).parameters
    if params:
        return module.run(quick) if "quick" not in params else module.run(quick=quick)
    return module.run()


def format_value(value) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value)


def format_line(name: str, fig) -> str:
    if not isinstance(fig, dict) or "value" not in fig:
        return f"{name}: {format_value(fig)}"
    line = f"{name}: {format_value(fig['value'])}"
    if fig.get("unit"):
        line += f" {fig['unit']}"
    if fig.get("goal"):
        # "ok" is what the first benchmarks (match, dedup, sitemap) call it
        verdict = {True: "met", False: "MISSED", None: "?"}[fig.get("met", fig.get("ok"))]
        line += f" (goal: {fig['goal']}; {verdict})"
    if fig.get("note"):
        line += f"  [{fig['note']}]"
    return line


def machine() -> dict:
    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "load_average_at_start": [round(x, 2) for x in load],
            "note": "shared machine: other test suites run alongside; judge ratios, not absolute numbers"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (e.g. extract poll); default all")
    parser.add_argument("--quick", action="store_true", default=os.environ.get("NEWSWATCH_BENCH_QUICK") == "1",
                        help="smaller sizes (env NEWSWATCH_BENCH_QUICK=1)")
    parser.add_argument("--full", action="store_true", default=os.environ.get("NEWSWATCH_BENCH_FULL") == "1",
                        help="add the slow sizes, e.g. 1M stored articles (env NEWSWATCH_BENCH_FULL=1)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON results")
    args = parser.parse_args(argv)
    if args.full:
        os.environ["NEWSWATCH_BENCH_FULL"] = "1"  # read by the modules that have a slow size

    names = discover()
    wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in args.names]
    unknown = [n for n in wanted if n not in names]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; have {', '.join(names)}")
    results = {"machine": machine(), "quick": args.quick, "full": args.full,
               "started_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "benchmarks": {}}
    # A partial run (named benchmarks) keeps the figures of the others from the last run.
    if wanted and args.output.exists():
        try:
            results["benchmarks"] = json.loads(args.output.read_text(encoding="utf-8")).get("benchmarks", {})
        except ValueError:
            pass
    failed = 0
    for name in wanted or names:
        short = name.removeprefix("bench_")
        print(f"== {short}", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            figures = call_run(module, args.quick)
        except Exception:  # one broken benchmark must not hide the others' figures
            failed += 1
            traceback.print_exc()
            figures = {"error": traceback.format_exc(limit=3)}
        elapsed = time.perf_counter() - started
        if "skipped" in figures:
            print(f"{short}: skipped ({figures['skipped']})")
        elif "error" not in figures:
            for fig_name, fig in figures.items():
                print(format_line(f"{short}.{fig_name}", fig), flush=True)
        print(f"   ({elapsed:.0f} s)", flush=True)
        results["benchmarks"][short] = {"elapsed_s": round(elapsed, 1), "figures": figures}
        args.output.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
