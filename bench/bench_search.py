"""Issue 4's `newswatch search`: what the normalised index costs and how fast a search answers.

The same generated archive as the storage figure (real Russian news sentences, ~3.7 KB per article)
is stored through ``Store.add_article`` and then filed in the search index as the crawl does it
(``search.terms`` + ``Store.index_search``), timed separately in the same run, so the index's cost is
a ratio to storing the article. Its size comes from SQLite's dbstat (pages of search_fts and
search_docs). Queries: one-word, two-word, phrase, prefix and OR queries through ``search.search``
(FTS5 candidates, then the watch matcher on each), beside the same words as plain FTS5 queries
(``Store.search``) on the raw-text index; p95 of three runs each.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.bench_store import BATCH, _articles, _queries
from bench.common import figure, info, percentile
from bench.feeds import sentences
from bench.setup import write_config


def _index_bytes(store) -> int | None:
    try:
        return store.db.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search%'").fetchone()[0]
    except Exception:  # dbstat is a compile-time option of SQLite
        return None


def run(quick: bool) -> dict:
    from crawler import config as config_mod
    from crawler import search
    from crawler.store import Store

    size = 10_000 if quick else 50_000  # ~80 s with the inserts
    pool, source = sentences()
    words = _queries(pool)
    plain = words[:13]  # frequent, middling, rare single words
    queries = plain + [f"{a} {b}" for a, b in zip(words[:3], words[5:8])] + [
        f"{w[:5]}*" for w in words[5:8]] + [f"{a} OR {b}" for a, b in zip(words[10:13], words[:3])] + words[-3:]
    out: dict = {"search_archive": info(f"{size:,}", "articles", note=f"text from {source}")}
    with tempfile.TemporaryDirectory(prefix="nw-bench-search-") as tmp:
        cfg_dir = write_config(Path(tmp) / "config", [f"https://outlet{n}.example/rss" for n in range(1000)])
        cfg = config_mod.load(cfg_dir)
        store = Store(cfg.database_path)
        store.sync_sources(cfg.sources)
        store_s = index_s = 0.0
        articles = list(_articles(pool, 0, size))
        for start in range(0, size, BATCH):
            chunk = articles[start:start + BATCH]
            ids = []
            t0 = time.perf_counter()
            with store.transaction():
                for article in chunk:
                    ids.append(store.add_article(article))
            t1 = time.perf_counter()
            with store.transaction():
                for article_id, article in zip(ids, chunk):
                    store.index_search(article_id, search.terms(article.title), search.terms(article.text),
                                       search.VERSION)
            t2 = time.perf_counter()
            store_s += t1 - t0
            index_s += t2 - t1
        ratio = index_s / store_s
        out["search_index_ms_per_article"] = info(
            round(index_s / size * 1000, 2), "ms",
            note=f"search.terms + Store.index_search; {ratio:.1f}x Store.add_article alone "
                 f"({store_s / size * 1000:.2f} ms: duplicate checks, raw FTS triggers, sighting), same run")
        index_bytes = _index_bytes(store)
        if index_bytes is not None:
            out["search_index_bytes_per_article"] = info(round(index_bytes / size), "bytes",
                                                         note="search_fts + search_docs pages (dbstat)")
        timings, raw = [], []
        for _ in range(3):
            for q in queries:
                parsed = search.parse_query(q)
                t0 = time.perf_counter()
                search.search(store, parsed)
                timings.append((time.perf_counter() - t0) * 1000)
            for q in plain:
                t0 = time.perf_counter()
                store.search(q)
                raw.append((time.perf_counter() - t0) * 1000)
        p95 = percentile(timings, 95)
        out["search_p95"] = figure(
            round(p95, 1), "ms", "<= 100 ms (ours: a search feels instant)", p95 <= 100,
            note=f"{len(queries)} queries x3 (words, pairs, prefixes, OR, rare words), 20 results, each verified by "
                 f"the matcher; p50 {statistics.median(timings):.1f} ms; plain FTS5 on raw words: p95 "
                 f"{percentile(raw, 95):.1f} ms, p50 {statistics.median(raw):.1f} ms")
        store.close()
    return out
