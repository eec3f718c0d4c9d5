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


def test_dedup_benchmark_measures_on_a_small_archive():
    # the smallest piece of a benchmark run, so a change to the store's API cannot break `make bench`
    # unnoticed (sync_sources once took the sources' endpoints and the benchmark's stand-ins had none)
    import random

    from bench import bench_dedup

    sentences = bench_dedup._sentences()
    result = bench_dedup._measure(300, sentences, bench_dedup._articles(sentences, random.Random(5))[:12])
    assert result["band_rows"] > 300 and result["insert_ms"] > 0
