"""`make bench`: run every bench/bench_*.py module's main() and print its report."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda i: i.name):
    if info.name.startswith("bench_"):
        importlib.import_module(f"bench.{info.name}").main()
