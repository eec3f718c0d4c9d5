"""Figure 4: storage. Insert rate and full-text query p95 at 10k and 100k articles (1M with
``--full``), and database bytes per article.

Articles of real Russian news sentences (~3.7 KB of UTF-8 text each; made-up words when the corpus is
absent) go through ``Store.add_article`` -- the crawl's own path with its three duplicate checks,
the FTS5 triggers and the sighting row -- in transactions of 500, into one database that grows from
one size to the next; each insert rate is that of its own stretch. Queries go through
``Store.search`` (FTS5 MATCH, 20 rows), ranked by bm25 (among the newest ``RANK_WINDOW`` matches, as
``newswatch search`` ranks; every match, for information) and newest first: frequent, middling and
rare words, two-word queries and phrases, each run three times; p95 of all runs.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.common import figure, info, percentile
from bench.feeds import sentences
from bench.setup import write_config

BATCH = 500


def _articles(pool: list[str], start: int, stop: int):
    from crawler import dedup
    from crawler.models import Article

    for i in range(start, stop):
        rng = random.Random(i)
        text = " ".join(rng.choice(pool) for _ in range(rng.randint(6, 14))) + f" Материал {i}."
        url = f"https://outlet{i % 1000}.example/news/{i}.html"
        yield Article(source_id=f"o{i % 1000}", feed_url=f"https://outlet{i % 1000}.example/rss", url=url,
                      canonical_url=dedup.canonical_url(url), guid=f"g{i}", entry_key=f"guid:g{i}",
                      title=rng.choice(pool)[:150], author=None, published_at="2026-01-01T00:00:00Z",
                      fetched_at="2026-01-01T00:00:00Z", language="ru", text=text, summary_only=False,
                      content_hash=dedup.content_hash(text))


def _queries(pool: list[str]) -> list[str]:
    words = Counter(w.strip(".,«»()\"—:;!?").lower() for s in pool for w in s.split())
    ranked = [w for w, _ in words.most_common() if len(w) > 4 and w.isalpha()]
    frequent, middling, rare = ranked[:5], ranked[len(ranked) // 4:][:5], ranked[-5:]
    pairs = [f"{a} {b}" for a, b in zip(frequent[:3], middling[:3])]
    phrases = []
    for s in pool[:200]:
        ws = [w for w in s.split() if w.isalpha() and len(w) > 3]
        if len(ws) >= 2:
            phrases.append(f'"{ws[0]} {ws[1]}"')
        if len(phrases) == 3:
            break
    return frequent + middling + rare + pairs + phrases


def _db_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def run(quick: bool) -> dict:
    from crawler import config as config_mod
    from crawler import store as store_mod
    from crawler.store import Store

    sizes = [10_000] if quick else [10_000, 100_000]
    if os.environ.get("NEWSWATCH_BENCH_FULL") == "1":
        sizes.append(1_000_000)
    pool, source = sentences()
    queries = _queries(pool)
    sample = [len(a.text.encode()) for a in _articles(pool, 0, 500)]
    text_kb = sum(sample) / len(sample) / 1000
    out: dict = {"sizes": info(", ".join(f"{s:,}" for s in sizes),
                               note=f"text from {source}, {text_kb:.1f} KB UTF-8 per article; 1M with --full")}
    with tempfile.TemporaryDirectory(prefix="nw-bench-store-") as tmp:
        cfg_dir = write_config(Path(tmp) / "config", [f"https://outlet{n}.example/rss" for n in range(1000)])
        cfg = config_mod.load(cfg_dir)
        store = Store(cfg.database_path)
        store.sync_sources(cfg.sources)
        done = 0
        for size in sizes:
            started = time.perf_counter()
            batch = 0
            tx = store.transaction()
            tx.__enter__()
            for article in _articles(pool, done, size):
                if store.add_article(article) is None:
                    raise RuntimeError("generated article taken for a duplicate")
                batch += 1
                if batch == BATCH:
                    tx.__exit__(None, None, None)
                    tx = store.transaction()
                    tx.__enter__()
                    batch = 0
            tx.__exit__(None, None, None)
            rate = (size - done) / (time.perf_counter() - started)
            done = size
            label = f"{size // 1000}k" if size < 1_000_000 else f"{size // 1_000_000}M"
            out[f"insert_rate_{label}"] = info(round(rate), "articles/s",
                                               note=f"Store.add_article, {BATCH} per transaction")
            kinds = {"ranked": ({}, "best match first (bm25) among the newest "
                                     f"{store_mod.RANK_WINDOW:,} matches"),
                     "newest": ({"newest_first": True}, "newest first"),
                     "ranked_all": ({"rank_all": True}, "best match first among every match (--rank-all)")}
            for kind, (options, what) in kinds.items():
                timings = []
                for _ in range(3):
                    for q in queries:
                        t0 = time.perf_counter()
                        store.search(q, **options)
                        timings.append((time.perf_counter() - t0) * 1000)
                p95 = percentile(timings, 95)
                note = f"{what}; p50 {percentile(timings, 50):.1f} ms over {len(timings)} runs of {len(queries)} queries"
                out[f"fts_{kind}_p95_{label}"] = info(round(p95, 1), "ms", note=note) if kind == "ranked_all" \
                    else figure(round(p95, 1), "ms", "<= 100 ms (ours: a search feels instant)", p95 <= 100, note=note)
            out[f"bytes_per_article_{label}"] = info(round(_db_bytes(cfg.database_path) / size), "bytes",
                                                     note=f"database + WAL, FTS index included; {text_kb:.1f} KB "
                                                          "of text per article")
        store.close()
    return out
