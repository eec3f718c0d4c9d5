"""Helpers shared by the benchmarks: the corpus, figures, CPU clocks, interleaved timing.

A figure is a dict ``{"value", "unit", "goal", "met", "note"}`` (only ``value`` is required); a
benchmark returns ``{name: figure}``. ``skipped(reason)`` is what a benchmark returns when its
data is absent (the shared corpus is not part of a user's clone).
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# ../shared/corpus next to the worktree, as the tests find it; NEWSWATCH_CORPUS overrides.
CORPUS = Path(os.environ.get("NEWSWATCH_CORPUS") or ROOT.parent / "shared" / "corpus")


def figure(value, unit: str = "", goal: str | None = None, met: bool | None = None, note: str = "") -> dict:
    out = {"value": value}
    if unit:
        out["unit"] = unit
    if goal is not None:
        out["goal"] = goal
        out["met"] = met
    if note:
        out["note"] = note
    return out


def info(value, unit: str = "", note: str = "") -> dict:
    """An absolute number, for information only (no goal: it depends on the machine's load)."""
    return figure(value, unit, note=note)


def skipped(reason: str) -> dict:
    return {"skipped": reason}


def corpus_dir(*parts: str) -> Path | None:
    path = CORPUS.joinpath(*parts)
    return path if path.exists() else None


def fundus_pages(limit: int | None = None) -> list[tuple[str, bytes]]:
    """(url, html bytes) of the real article pages in fundus-pages, sorted by file name."""
    root = corpus_dir("fundus-pages")
    if root is None:
        return []
    pages = []
    for meta_file in sorted(root.glob("*/meta.info")):
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        for name in sorted(meta):
            path = meta_file.parent / name
            if path.exists():
                pages.append((meta[name]["url"], gzip.decompress(path.read_bytes())))
    return pages[:limit] if limit else pages


def russian_texts(limit: int = 2000) -> list[tuple[str, str]]:
    """(title, text) pairs of real Russian news from the corpus, or [] when it is absent."""
    import csv

    root = corpus_dir("russian-news")
    if root is None:
        return []
    csv.field_size_limit(10**8)
    out: list[tuple[str, str]] = []
    for path in sorted(root.glob("ods-*.csv.gz")):
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
            for row in csv.DictReader(fh):
                title, text = (row.get("title") or "").strip(), (row.get("text") or "").strip()
                if title and len(text) > 300:
                    out.append((title, text))
                if len(out) >= limit:
                    return out
    return out


def cpu_self() -> float:
    """CPU seconds (user + system) of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def cpu_children() -> float:
    """CPU seconds of this process's children that have been waited for."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def interleaved(cases: dict[str, Callable[[object], object]], items: list, rounds: int = 1) -> dict[str, dict]:
    """Run every case on every item, alternating which case goes first, and sum each case's
    thread CPU time and wall time. Side by side, item by item, so a burst of load from another
    process hits all cases alike; the ratio of two sums is the figure, the sums are information."""
    names = list(cases)
    totals = {n: {"cpu": 0.0, "wall": 0.0, "n": 0} for n in names}
    for r in range(rounds):
        for i, item in enumerate(items):
            order = names if (i + r) % 2 == 0 else names[::-1]
            for name in order:
                c0, w0 = time.thread_time(), time.perf_counter()
                cases[name](item)
                totals[name]["cpu"] += time.thread_time() - c0
                totals[name]["wall"] += time.perf_counter() - w0
                totals[name]["n"] += 1
    return totals


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values)


def rss_mb(pid: int | None = None) -> float:
    """Resident set size of a process (this one by default), in MB, from /proc."""
    with open(f"/proc/{pid or 'self'}/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def chunks(seq: list, size: int) -> Iterator[list]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
