"""Config directories and seeded databases for the benchmarks that run the real crawler."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench.common import ROOT, cpu_children


def write_config(directory: Path, feed_urls: list[str], *, interval: str | list[str] = "15m", tick: str = "30s",
                 channels: dict | None = None, watch_channels: list[str] | None = None,
                 keywords: list[str] | None = None) -> Path:
    """One source per feed (``o0``, ``o1``...), all on loopback, no politeness delay (the outlets are ours)."""
    directory.mkdir(parents=True, exist_ok=True)
    settings = {
        "database": str(directory / "newswatch.db"), "tick": tick,
        "network": {"allow": ["127.0.0.1"]},
        # one loopback host serves every outlet: let it take the whole concurrency
        "politeness": {"delay": 0, "obey_robots": False, "concurrency": 16, "concurrency_per_host": 16},
        "limits": {"request_timeout": 30},
    }
    if channels:
        settings["channels"] = channels
    intervals = interval if isinstance(interval, list) else [interval]
    sources = [{"id": f"o{n}", "name": f"Outlet {n}", "languages": ["ru"], "interval": intervals[n % len(intervals)],
                "feeds": [url]} for n, url in enumerate(feed_urls)]
    watches = [{"id": "migrants", "name": "Migrant workers", "keywords": keywords or ["мигранты", "трудовых мигрантов", "граница"],
                "channels": watch_channels or []}]
    for name, data in (("settings.yaml", settings), ("sources.yaml", {"sources": sources}),
                       ("watches.yaml", {"watches": watches})):
        (directory / name).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return directory


def seed_seen(config_dir: Path, keys_by_feed: dict[int, list[tuple[str, str]]]) -> float:
    """Store one article per (guid, url) so the crawl finds those items already seen. Through
    Store.add_article, in transactions of 2,000. Returns the seconds it took."""
    from crawler import config as config_mod
    from crawler import dedup
    from crawler.models import Article
    from crawler.store import Store

    started = time.perf_counter()
    cfg = config_mod.load(config_dir)
    store = Store(cfg.database_path)
    store.sync_sources(cfg.sources)
    pending = 0
    tx = store.transaction()
    tx.__enter__()
    for n, items in keys_by_feed.items():
        for guid, url in items:
            store.add_article(Article(
                source_id=f"o{n}", feed_url=cfg.sources[n].feeds[0], url=url, canonical_url=dedup.canonical_url(url),
                guid=guid, entry_key=dedup.entry_key(guid, url), title=guid, author=None, published_at=None,
                fetched_at="2026-01-01T00:00:00Z", language="ru", text=f"seed {guid}", summary_only=True,
                content_hash=dedup.content_hash(f"seed {guid}")))
            pending += 1
            if pending >= 2000:
                tx.__exit__(None, None, None)
                tx = store.transaction()
                tx.__enter__()
                pending = 0
    tx.__exit__(None, None, None)
    store.close()
    return time.perf_counter() - started


def crawl_cycle(config_dir: Path, *extra: str, log: Path | None = None) -> dict:
    """``newswatch crawl --once`` in a child process, as the daemon runs it; its CPU from
    getrusage(RUSAGE_CHILDREN) before and after, its wall time, and its JSON summary."""
    import json

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cpu0, wall0 = cpu_children(), time.perf_counter()
    with open(log or os.devnull, "ab") as err:
        proc = subprocess.run([sys.executable, "-m", "crawler", "--config", str(config_dir), "crawl", "--once",
                               "--no-dispatch", "--json", *extra], stdout=subprocess.PIPE, stderr=err,
                              cwd=str(ROOT), env=env, timeout=1800)
    wall, cpu = time.perf_counter() - wall0, cpu_children() - cpu0
    if proc.returncode != 0:
        raise RuntimeError(f"crawl exited {proc.returncode}; see {log}")
    return {"cpu": cpu, "wall": wall, "summary": json.loads(proc.stdout)}
