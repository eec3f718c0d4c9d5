"""Newswatch benchmarks (``make bench`` / ``python -m bench``), never run by ``make test``.

Each ``bench_*.py`` module exposes ``run(quick: bool) -> dict`` (``run()`` is accepted too). The
machine they run on is small and shared, so every figure that judges a goal is a ratio of two
things measured side by side in the same run; absolute numbers are printed for information.
"""
