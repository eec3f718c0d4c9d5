"""The benchmark runner (make bench): discovery, both run() signatures, the printed line. Nothing is timed here."""

from __future__ import annotations

import importlib
import types

import pytest

runner = pytest.importorskip("bench.__main__")


def test_every_benchmark_module_imports_and_has_run():
    names = runner.discover()
    assert {"bench_extract", "bench_parse", "bench_poll", "bench_store", "bench_daemon", "bench_latency"} <= set(names)
    for name in names:
        assert callable(importlib.import_module(f"bench.{name}").run)


def test_run_is_called_with_or_without_quick():
    with_quick = types.SimpleNamespace(run=lambda quick: {"q": quick})
    without = types.SimpleNamespace(run=lambda: {"x": 1})
    assert runner.call_run(with_quick, True) == {"q": True}
    assert runner.call_run(without, True) == {"x": 1}


def test_figure_lines_name_value_goal_and_verdict():
    from bench.common import figure, info

    assert runner.format_line("parse.ratio", figure(2.3, "x CPU", "<= 3x", True)) == \
        "parse.ratio: 2.30 x CPU (goal: <= 3x; met)"
    assert runner.format_line("extract.ratio", figure(0.66, "x", ">= 0.85", False, note="why")) == \
        "extract.ratio: 0.66 x (goal: >= 0.85; MISSED)  [why]"
    assert runner.format_line("store.rate", info(1755.0, "articles/s")) == "store.rate: 1,755 articles/s"
    assert runner.format_line("match.plain", 0.5) == "match.plain: 0.5"
