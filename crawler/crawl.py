"""One crawl cycle: which feeds to poll, what each response means, and the summary.

``CrawlSession`` holds the decisions the feed spider asks for (conditional-GET validators, is this
body new, which entries are unseen, when a feed is done); ``run_once`` runs the spider in this
process with Scrapy's CrawlerProcess. The Twisted reactor cannot be restarted, so a process runs at
most one cycle: the daemon starts a child process per cycle.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from . import dedup
from .config import Config
from .errors import ParseError
from .logs import event, quiet_libraries
from .models import FeedEntry
from .parse import parse_feed
from .pipeline import Matcher, build_article, save
from .store import Store


@dataclass(frozen=True)
class FeedPlan:
    url: str
    source_id: str
    etag: str | None
    last_modified: str | None


@dataclass
class Summary:
    sources_polled: int = 0
    feeds_polled: int = 0
    feeds_unchanged: int = 0
    new_articles: int = 0
    duplicates: int = 0
    summary_only: int = 0
    matches: int = 0
    alerts_queued: int = 0
    alerts_sent: int = 0
    alerts_failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()}


@dataclass
class _FeedProgress:
    source_id: str
    pending: int
    status: int
    etag: str | None
    last_modified: str | None
    body_hash: str


class CrawlSession:
    def __init__(self, config: Config, store: Store, source_ids: list[str]):
        self.config = config
        self.store = store
        self.sources = {s.id: s for s in config.sources if s.id in source_ids}
        self.matcher = Matcher(config)
        limits = config.settings.limits
        self.max_feed_bytes = limits["max_feed_bytes"]
        self.max_page_bytes = limits["max_page_bytes"]
        self.max_items = limits["max_items_per_feed"]
        self.summary = Summary(sources_polled=len(self.sources))
        self._progress: dict[str, _FeedProgress] = {}

    def plan(self) -> list[FeedPlan]:
        out = []
        for source in self.sources.values():
            for url in source.feeds:
                state = self.store.feed_state(url)
                out.append(FeedPlan(url, source.id, state.etag if state else None,
                                    state.last_modified if state else None))
        self.summary.feeds_polled = len(out)
        return out

    # ------------------------------------------------------------------ feeds
    def feed_failed(self, feed_url: str, kind: str, message: str, status: int | None = None) -> None:
        source_id = self.store.feed_state(feed_url).source_id
        text = f"{kind}: [{source_id}] {feed_url}: {message}"
        errors = self.store.record_feed_error(feed_url, kind=kind, error=message, status=status)
        self.summary.errors.append(text)
        event("feed_error", 30, source_id=source_id, url=feed_url, stage="fetch" if kind != "parse" else "parse",
              kind=kind, consecutive_errors=errors, error=message)

    def feed_response(self, feed_url: str, response_url: str, status: int, headers: dict[str, str],
                      body: bytes) -> list[FeedEntry]:
        """Record what the feed said; return the entries whose pages should be fetched."""
        state = self.store.feed_state(feed_url)
        source_id = state.source_id
        if status == 304:
            self.summary.feeds_unchanged += 1
            self.store.record_feed_success(feed_url, status=304, etag=state.etag,
                                           last_modified=state.last_modified, body_hash=state.body_hash)
            event("feed_not_modified", source_id=source_id, url=feed_url, stage="fetch")
            return []
        if status >= 400 or status < 200:
            self.feed_failed(feed_url, "http", f"HTTP {status}", status)
            return []
        etag, last_modified = headers.get("etag"), headers.get("last-modified")
        body_hash = hashlib.sha256(body).hexdigest()
        if body_hash == state.body_hash:
            # Same bytes as the last fully handled poll: nothing to parse.
            self.summary.feeds_unchanged += 1
            self.store.record_feed_success(feed_url, status=status, etag=etag, last_modified=last_modified,
                                           body_hash=body_hash)
            event("feed_unchanged", source_id=source_id, url=feed_url, stage="fetch")
            return []
        def known(guid: str | None, url: str | None) -> bool:
            # stored entries are not even converted to text (most of a changed feed)
            return self.store.seen(source_id, dedup.entry_key(guid, url), dedup.canonical_url(url) if url else None)

        try:
            parsed = parse_feed(body, headers, response_url, source_id=source_id, max_items=self.max_items,
                                known=known)
        except ParseError as exc:
            self.feed_failed(feed_url, "parse", exc.detail, status)
            return []
        if parsed.warning:
            event("feed_warning", 30, source_id=source_id, url=feed_url, stage="parse", warning=parsed.warning)
        new, keys = [], set()
        for entry in parsed.entries:
            key = dedup.entry_key(entry.guid, entry.url, title=entry.title, summary=entry.summary)
            canonical = dedup.canonical_url(entry.url) if entry.url else None
            if key in keys or self.store.seen(source_id, key, canonical):
                continue
            keys.add(key)
            new.append(entry)
        event("feed_polled", source_id=source_id, url=feed_url, stage="parse",
              entries=len(parsed.entries) + parsed.known, new=len(new))
        # Validators are saved only once every new entry is stored, so a cycle cut short re-reads
        # the feed next time instead of skipping entries it never got to.
        self._progress[feed_url] = _FeedProgress(source_id, len(new), status, etag, last_modified, body_hash)
        if not new:
            self._feed_done(feed_url)
        return new

    def _feed_done(self, feed_url: str) -> None:
        p = self._progress.pop(feed_url)
        self.store.record_feed_success(feed_url, status=p.status, etag=p.etag, last_modified=p.last_modified,
                                       body_hash=p.body_hash)

    # ------------------------------------------------------------------ entries
    def entry_item(self, item: dict) -> None:
        feed_url, entry = item["feed_url"], item["entry"]
        progress = self._progress.get(feed_url)
        source_id = progress.source_id if progress else self.store.feed_state(feed_url).source_id
        source = self.sources[source_id]
        article, problem = build_article(source_id=source_id, feed_url=feed_url, entry=entry, page=item["page"],
                                         page_url=item.get("page_url"), content_type=item.get("content_type"),
                                         languages=source.languages)
        problem = item.get("error") or problem
        if problem:
            self.summary.summary_only += 1
            event("summary_only", 30, source_id=source_id, url=entry.url, stage="extract", reason=problem)
        saved = save(self.store, self.matcher, article)
        if saved.article_id is None:
            self.summary.duplicates += 1
            event("duplicate", source_id=source_id, url=article.url, stage="dedup")
        else:
            self.summary.new_articles += 1
            self.summary.matches += len(saved.matches)
            self.summary.alerts_queued += len(saved.alerts)
            event("article_stored", source_id=source_id, url=article.url, stage="store", id=saved.article_id,
                  matches=len(saved.matches), alerts=len(saved.alerts))
        if progress:
            progress.pending -= 1
            if progress.pending <= 0:
                self._feed_done(feed_url)


def scrapy_settings(config: Config) -> dict:
    s = config.settings
    return {
        "USER_AGENT": s.user_agent,
        "ROBOTSTXT_OBEY": s.politeness["obey_robots"],
        "DOWNLOAD_DELAY": s.politeness["delay"],
        "RANDOMIZE_DOWNLOAD_DELAY": True,
        "CONCURRENT_REQUESTS": s.politeness["concurrency"],
        "CONCURRENT_REQUESTS_PER_DOMAIN": s.politeness["concurrency_per_host"],
        "DOWNLOAD_TIMEOUT": s.limits["request_timeout"],
        "DOWNLOAD_MAXSIZE": max(s.limits["max_feed_bytes"], s.limits["max_page_bytes"]),
        "DOWNLOAD_WARNSIZE": 0,
        "REDIRECT_MAX_TIMES": 5,
        "RETRY_TIMES": 1,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "CLOSESPIDER_TIMEOUT": s.limits["cycle_timeout"],
        # Only http(s): no file://, s3://, ftp:// or data: fetches whatever a feed links to.
        "DOWNLOAD_HANDLERS": {"file": None, "s3": None, "ftp": None, "data": None},
        "DOWNLOADER_MIDDLEWARES": {"spiders.middlewares.NetworkPolicyMiddleware": 50},
        "ITEM_PIPELINES": {"spiders.pipelines.StorePipeline": 300},
        "NEWSWATCH_NETWORK_ALLOW": list(s.network_allow),
        "LOG_LEVEL": "WARNING",
    }


def run_once(config: Config, store: Store, source_ids: list[str]) -> Summary:
    """Poll the given sources once, in this process (at most once per process)."""
    from scrapy.crawler import CrawlerProcess

    from spiders.feeds import FeedSpider

    store.sync_sources(config.sources)
    session = CrawlSession(config, store, source_ids)
    if not session.sources:
        return session.summary
    process = CrawlerProcess({**scrapy_settings(config), "LOG_INSTALL_ROOT_HANDLER": False})
    quiet_libraries()
    process.crawl(FeedSpider, session=session)
    process.start()
    return session.summary
