"""``newswatch watches test`` and ``watches backfill``: the daemon's matcher on a given text or on the archive.

Both go through ``pipeline.Matcher.run``, the very call the crawl makes for a new article, so a watch
tried on a text answers exactly as it will in the daemon.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import dedup
from .config import Config
from .errors import ConfigError
from .extract import extract_article
from .models import Article, Match
from .pipeline import Matcher
from .store import Store, iso, utcnow

__all__ = ["looks_like_html", "article_from_input", "run_test", "Backfill", "backfill"]


def looks_like_html(data: bytes) -> bool:
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml")) or b"<html" in head


def article_from_input(data: bytes, name: str, *, title: str | None = None, source_id: str | None = None,
                       language: str | None = None) -> Article:
    """An article from a saved page (extracted the way the crawler extracts it) or from plain text."""
    text, found_language = "", None
    if looks_like_html(data):
        extracted = extract_article(data, name, source_id=source_id)  # ExtractError: no article text
        text, found_language = extracted.text, extracted.language
        title = title if title is not None else (extracted.title or "")
    else:
        text = data.decode("utf-8", errors="replace")
    return Article(source_id=source_id or "", feed_url="", url=name, canonical_url=name, guid=None, entry_key=name,
                   title=title or "", author=None, published_at=None, fetched_at=iso(utcnow()),
                   language=language or found_language, text=text, summary_only=False,
                   content_hash=dedup.content_hash(text or name))


def _check_watch_ids(config: Config, watch_ids) -> list[str] | None:
    if not watch_ids:
        return None
    known = {w.id for w in config.watches}
    for watch_id in watch_ids:
        if watch_id not in known:
            raise ConfigError(f"no watch with id {watch_id!r} (watches: {', '.join(sorted(known)) or 'none'})",
                              file=str(config.directory / "watches.yaml"))
    return list(watch_ids)


def run_test(config: Config, article: Article, watch_ids=()) -> list[Match]:
    return Matcher(config, _check_watch_ids(config, watch_ids)).run(article)


@dataclass
class Backfill:
    watch_id: str
    articles: int = 0  # looked at
    matched: int = 0  # articles the watch matches
    new: int = 0  # of which not matched before (by the crawl or an earlier backfill)
    alerts_queued: int = 0
    examples: list[dict] = field(default_factory=list)  # the first few new matches

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def backfill(config: Config, store: Store, watch_id: str, *, alert: bool = False, since: str | None = None,
             examples: int = 10) -> Backfill:
    """Run one watch over the stored articles and record its matches. Outbox rows (alerts) only with
    ``alert``; an article already alerted for this watch is never alerted again."""
    matcher = Matcher(config, _check_watch_ids(config, [watch_id]))
    channels = matcher.channels if alert else {}
    before = store.matched_article_ids(watch_id)
    result = Backfill(watch_id)
    for row in store.iter_articles(since=since):
        result.articles += 1
        article = Article(source_id=row["source_id"], feed_url="", url="", canonical_url="", guid=None,
                          entry_key="", title=row["title"] or "", author=None, published_at=None, fetched_at="",
                          language=row["language"], text=row["text"] or "", summary_only=False, content_hash="")
        matches = matcher.run(article)
        if not matches:
            continue
        result.matched += 1
        if row["id"] in before:
            continue
        result.new += 1
        with store.transaction():
            result.alerts_queued += len(store.add_matches(row["id"], matches, channels, matcher.names))
        if len(result.examples) < examples:
            result.examples.append({"article_id": row["id"], "title": row["title"],
                                    "matches": [m.__dict__ for m in matches]})
    return result
