"""Builds a real Newswatch database from tests/fixtures/archive/archive.yaml, through the same
pipeline a crawl uses (pipeline.save: store, match, queue alerts), with stored-at times in the past."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from conftest import FIXTURES, write_config

from crawler import config as config_mod
from crawler import dedup
from crawler.models import Article
from crawler.pipeline import Matcher, save
from crawler.store import Store, iso, utcnow

ARCHIVE = yaml.safe_load((FIXTURES / "archive" / "archive.yaml").read_text(encoding="utf-8"))


def article_of(item: dict, now) -> Article:
    age = timedelta(hours=item.get("hours_ago", 0), days=item.get("days_ago", 0))
    text = item["text"] * item.get("repeat", 1)
    return Article(source_id=item["source"], feed_url=f"https://feeds.example/{item['source']}.xml",
                   url=item["url"], canonical_url=dedup.canonical_url(item["url"]), guid=item["url"],
                   entry_key=dedup.entry_key(item["url"], item["url"]), title=item["title"],
                   author=item.get("author"), published_at=iso(now - age - timedelta(minutes=20)),
                   fetched_at=iso(now - age), language=item["language"], text=text, summary_only=False,
                   content_hash=dedup.content_hash(text))


def build_archive(directory: Path, **settings) -> tuple[Path, config_mod.Config]:
    """A config directory (sources, watches alerting a webhook channel) and its populated database."""
    channels = {"desk-hook": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}}
    sources = [{"id": s["id"], "name": s["name"], "country": s["country"], "languages": s["languages"],
                "feeds": [f"https://feeds.example/{s['id']}.xml"]} for s in ARCHIVE["sources"]]
    watches = [{**w, "channels": ["desk-hook"]} for w in ARCHIVE["watches"]]
    cfg_dir = write_config(directory, sources=sources, watches=watches, channels=channels, **settings)
    cfg = config_mod.load(cfg_dir)
    store = Store(cfg.database_path)
    try:
        store.sync_sources(cfg.sources)
        matcher = Matcher(cfg)
        now = utcnow()
        for item in ARCHIVE["articles"]:
            saved = save(store, matcher, article_of(item, now))
            assert saved.article_id is not None, item["title"]
            if not item.get("pending_alert"):
                for alert_id in saved.alerts:
                    store.mark_sent(alert_id)
    finally:
        store.close()
    return cfg_dir, cfg
