"""Insert-and-cluster cost per article with 10k, 100k and 1M articles already stored.

The archive is bulk-loaded through ``Store.bulk_load_archive``: articles with short synthetic texts,
one story each, and 32 LSH band keys per article drawn uniformly at random (what the band keys of
unrelated articles look like: hashes). Then real-length articles made from real text -- the seed
story and the Russian news in ../shared/corpus, sentences shuffled into new articles, each also rerun
by a second "outlet" with its own byline and footer -- go through ``pipeline.save`` (store, near-
duplicate lookup, story, matching, alert queue) one by one, as a crawl stores them.

The near-duplicate lookup is a primary-key probe per band, so the cost per article should stay about
flat while the archive grows 100x; a linear scan would grow 100x.
"""

from __future__ import annotations

import csv
import gzip
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from crawler import dedup, neardup
from crawler.config import Source, Watch
from crawler.models import Article
from crawler.pipeline import Matcher, save
from crawler.rules import parse_rule
from crawler.store import Store

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seeds" / "uzbekistan-note-migrant-workers.txt"
CORPUS = ROOT.parent / "shared" / "corpus" / "russian-news"
BATCH = 10
SIZES = tuple(int(s) for s in os.environ.get("NEWSWATCH_BENCH_SIZES", "10000,100000,1000000").split(","))


def _sentences() -> list[str]:
    texts = []
    if SEED.exists():
        texts.append(SEED.read_text(encoding="utf-8").split("Latest news")[0])
    if CORPUS.is_dir():
        csv.field_size_limit(10 ** 8)
        for path in sorted(CORPUS.glob("ods-*.csv.gz")):
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                texts += [r["text"].replace("\\n", "\n") for r in csv.DictReader(fh) if r.get("text")]
    fixtures = ROOT / "tests" / "fixtures" / "stories" / "outlets.yaml"
    if fixtures.exists():
        import yaml
        texts += ["\n".join(a["body"]) for o in yaml.safe_load(fixtures.read_text(encoding="utf-8"))["outlets"]
                  for a in o["articles"]]
    out = []
    for text in texts:
        out += [s.strip() for s in text.replace("\n", " ").split(". ") if len(s.split()) >= 6]
    return out


def _articles(sentences: list[str], rng: random.Random) -> list[tuple[str, str]]:
    """(outlet, text): originals from disjoint shuffled sentences (three shuffles of the pool), each
    followed later by a rerun."""
    originals = []
    for _ in range(3):
        pool = sentences[:]
        rng.shuffle(pool)
        originals += [". ".join(pool[i:i + 12]) + "." for i in range(0, len(pool) - 11, 12)]
    reruns = [f"ASTANA. Staff correspondent.\n{t}\nFollow us on Telegram to get the news first." for t in originals]
    return [("wire", t) for t in originals] + [("rerun", t) for t in reruns]


def _article(source_id: str, n: int, text: str, fetched_at: str = "2025-06-18T06:00:00Z") -> Article:
    url = f"https://{source_id}.example/news/{n}"
    return Article(source_id=source_id, feed_url=f"https://{source_id}.example/rss", url=url, canonical_url=url,
                   guid=None, entry_key=f"url:{url}", title=text[:80], author=None, published_at=fetched_at,
                   fetched_at=fetched_at, language="ru", text=text, summary_only=False,
                   content_hash=dedup.content_hash(text))


def _fill(store: Store, size: int, sentences: list[str]) -> float:
    rng = np.random.default_rng(size)
    started = time.perf_counter()

    def archive():
        for i in range(1, size + 1):
            short = sentences[i % len(sentences)]
            url = f"https://archive.example/{i}"
            yield Article(source_id="archive", feed_url="https://archive.example/rss", url=url, canonical_url=url,
                          guid=None, entry_key=f"url:{url}", title=short[:60], author=None, published_at=None,
                          fetched_at="2025-01-01T00:00:00Z", language="ru", text=short, summary_only=False,
                          content_hash=f"{i:064x}")

    def bands():
        ids = np.arange(1, size + 1, dtype=np.int64)
        for band in range(neardup.BANDS):
            hashes = np.sort(rng.integers(-(2 ** 63), 2 ** 63 - 1, size=size, dtype=np.int64))
            rng.shuffle(ids)
            yield from zip([band] * size, hashes.tolist(), ids.tolist())

    store.bulk_load_archive(archive(), bands())
    return time.perf_counter() - started


def _measure(size: int, sentences: list[str], work: list[tuple[str, str]]) -> dict:
    with tempfile.TemporaryDirectory(prefix="nw-bench-") as tmp:
        store = Store(Path(tmp) / "bench.db")
        sources = [Source(id=s, name=s, languages=("ru",), interval=900.0, feeds=(f"https://{s}.example/rss",))
                   for s in ("archive", "wire", "rerun")]
        store.sync_sources(sources)
        fill = _fill(store, size, sentences)
        matcher = Matcher(SimpleNamespace(watches=[
            Watch(id="migrants", name="Migrants", keywords=("migrant workers", "мигранты"), channels=(),
                  rule=parse_rule({"keywords": ["migrant workers", "мигранты"]}))],
            sources=sources, settings=SimpleNamespace(channels={})))
        per_article, lookups, commits, joined = [], [], [], 0
        # Articles are timed inside an outer transaction (save's own is then a savepoint) and the
        # commit is timed apart: a commit costs an fsync whatever the archive size, and its noise
        # would hide how the work itself scales.
        for batch in range(0, len(work), BATCH):
            t_batch = time.perf_counter()
            with store.transaction():
                for n, (outlet, text) in enumerate(work[batch:batch + BATCH], start=batch):
                    article = _article(outlet, n, text)
                    sig = neardup.signature(text)
                    t0 = time.perf_counter()
                    store.near_candidates(sig.bands)
                    lookups.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    saved = save(store, matcher, article)
                    per_article.append(time.perf_counter() - t0)
                    joined += int(saved.joined)
                t_commit = time.perf_counter()
            commits.append(time.perf_counter() - t_commit)
        bands = store.count("story_bands")
        store.close()
    return {"fill_s": fill, "insert_ms": statistics.median(per_article) * 1000,
            "insert_p90_ms": statistics.quantiles(per_article, n=10)[-1] * 1000,
            "lookup_ms": statistics.median(lookups) * 1000, "commit_ms": statistics.median(commits) * 1000,
            "joined": joined, "band_rows": bands}


def run() -> dict:
    sentences = _sentences()
    work = _articles(sentences, random.Random(5))
    _measure(1000, sentences, work[:40])  # warm-up: caches and lazy imports, so the first size is not penalised
    out, first = {}, None
    for size in SIZES:
        r = _measure(size, sentences, work)
        label = f"{size // 1000}k" if size < 1_000_000 else f"{size // 1_000_000}M"
        print(f"  {label}: {len(work)} articles ({r['joined']} joined a story), band rows {r['band_rows']}, "
              f"archive loaded in {r['fill_s']:.0f} s")
        out[f"insert_and_cluster_ms@{label}"] = {"value": round(r["insert_ms"], 3), "unit": "ms/article (median)"}
        out[f"insert_and_cluster_p90_ms@{label}"] = {"value": round(r["insert_p90_ms"], 3), "unit": "ms/article"}
        out[f"lsh_lookup_ms@{label}"] = {"value": round(r["lookup_ms"], 3), "unit": "ms (median)"}
        out[f"commit_ms@{label}"] = {"value": round(r["commit_ms"], 3),
                                           "unit": f"ms per commit of {BATCH} articles (median, fsync)"}
        if first is None:
            first = (size, r)
        else:
            growth = size / first[0]
            out[f"insert_cost_ratio_{label}_vs_{first[0] // 1000}k"] = {
                "value": round(r["insert_ms"] / first[1]["insert_ms"], 2),
                "goal": f"well under {growth:.0f} (the archive grew {growth:.0f}x; linear cost would grow as much)"}
            out[f"lookup_cost_ratio_{label}_vs_{first[0] // 1000}k"] = {
                "value": round(r["lookup_ms"] / first[1]["lookup_ms"], 2), "goal": f"well under {growth:.0f}"}
    return out
