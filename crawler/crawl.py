"""One crawl cycle: which feeds to poll, what each response means, and the summary.

``CrawlSession`` holds the decisions the feed spider asks for (conditional-GET validators, is this
body new, which entries are unseen, when a feed is done); ``run_once`` runs the spider in this
process with Scrapy's CrawlerProcess. The Twisted reactor cannot be restarted, so a process runs at
most one cycle: the daemon starts a child process per cycle.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from . import dates, dedup, feeditems
from .config import Config
from .encoding import charset_param
from .errors import ParseError
from .listing import parse_listing
from .logs import event, log, quiet_libraries
from .models import FeedEntry
from .parse import parse_feed
from .pipeline import Matcher, build_article, save
from .sitemap import parse_sitemap, select, select_children
from .store import MAX_BACKOFF, Store, iso, utcnow

# Answers to tell Scrapy to hand over rather than follow or drop: everything but redirects, which
# its RedirectMiddleware follows (at most 5 hops, each one through the network policy).
REDIRECTS = (301, 302, 303, 307, 308)
PERMANENT_REDIRECTS = (301, 308)
HANDLED_STATUSES = [c for c in range(100, 600) if c not in REDIRECTS]
from .storm import is_storm


@dataclass(frozen=True)
class FeedPlan:
    url: str
    source_id: str
    etag: str | None
    last_modified: str | None
    fetch_url: str | None = None  # where a permanent redirect moved the feed, else url
    kind: str = "feed"  # feed | sitemap | listing

    @property
    def request_url(self) -> str:
        return self.fetch_url or self.url


@dataclass
class Summary:
    sources_polled: int = 0
    feeds_polled: int = 0
    sitemaps_polled: int = 0
    listings_polled: int = 0
    feeds_unchanged: int = 0
    feeds_deferred: int = 0  # not polled: Retry-After not expired, or 410 Gone
    new_articles: int = 0
    story_copies: int = 0  # new articles that joined a story another outlet or URL started
    revised: int = 0  # stored articles whose text changed (edits)
    duplicates: int = 0
    summary_only: int = 0
    matches: int = 0
    alerts_queued: int = 0
    alerts_sent: int = 0
    alerts_failed: int = 0
    waiting: int = 0  # new articles of sitemaps and listing pages left for the next poll (page budget)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()}


@dataclass
class CycleStats:
    """What the metrics need beyond the summary: error kinds and per-poll / per-page timings."""

    error_kinds: Counter = field(default_factory=Counter)
    poll_seconds: list[float] = field(default_factory=list)
    extract_seconds: list[float] = field(default_factory=list)
    feeds_done: int = 0


@dataclass
class _FeedProgress:
    source_id: str
    pending: int
    status: int
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    budget: int = 0  # article pages this sitemap or listing page may still have fetched in this poll
    item_digests: bytes | None = None  # the feed's items (parse_feed ``handled``), kept with body_hash


class CrawlSession:
    def __init__(self, config: Config, store: Store, source_ids: list[str], *, retry_gone: bool = False):
        self.config = config
        self.store = store
        self.sources = {s.id: s for s in config.sources if s.id in source_ids}
        self.matcher = Matcher(config)
        limits = config.settings.limits
        self.max_feed_bytes = limits["max_feed_bytes"]
        self.max_page_bytes = limits["max_page_bytes"]
        self.max_items = limits["max_items_per_feed"]
        self.max_text = limits["max_text_chars"]
        self.down_after = config.settings.health["down_after"]
        # A feed that answered 410 Gone is only polled again when the user names its source.
        self.retry_gone = retry_gone
        self.summary = Summary(sources_polled=len(self.sources))
        self.stats = CycleStats()
        # Called after every feed answer and every article, e.g. to move a progress bar.
        self.observer: Callable[[CrawlSession], None] | None = None
        self._progress: dict[str, _FeedProgress] = {}
        self._endpoints = {ep.url: ep for s in self.sources.values() for ep in s.endpoints()}
        self._entry_keys: dict[FeedEntry, str] = {}
        self._storms: set[str] = set()  # feeds whose new items' alerts are held for one digest

    def _observe(self) -> None:
        if self.observer is not None:
            self.observer(self)

    def plan(self) -> list[FeedPlan]:
        out = []
        now = iso(utcnow())
        for source in self.sources.values():
            for ep in source.endpoints():
                url = ep.url
                state = self.store.feed_state(url)
                if state and state.gone_at and not self.retry_gone:
                    self.summary.feeds_deferred += 1
                    event("feed_skipped", source_id=source.id, url=url, stage="fetch", reason="gone",
                          since=state.gone_at)
                    continue
                if state and state.retry_after_until and state.retry_after_until > now:
                    # The host asked for a pause (429/503 Retry-After): not even a manual crawl ignores it.
                    self.summary.feeds_deferred += 1
                    event("feed_skipped", source_id=source.id, url=url, stage="fetch", reason="retry_after",
                          until=state.retry_after_until)
                    continue
                out.append(FeedPlan(url, source.id, state.etag if state else None,
                                    state.last_modified if state else None,
                                    state.effective_url if state else None, ep.kind))
        self.summary.feeds_polled = sum(1 for p in out if p.kind == "feed")
        self.summary.sitemaps_polled = sum(1 for p in out if p.kind == "sitemap")
        self.summary.listings_polled = sum(1 for p in out if p.kind == "listing")
        return out

    def obeys_robots(self, source_id: str) -> bool:
        return self.sources[source_id].obey_robots

    def _health(self, source_id: str) -> None:
        change = self.store.source_health(source_id, down_after=self.down_after)
        if change:
            event(change, 30 if change == "source_down" else 20, source_id=source_id, stage="fetch")

    def internal_error(self, where: str, url: str, failure) -> None:
        """An exception in Newswatch's own code during the crawl (a bug, not a bad server)."""
        text = failure.getTraceback() if hasattr(failure, "getTraceback") else str(failure)
        message = failure.getErrorMessage() if hasattr(failure, "getErrorMessage") else str(failure)
        self.summary.errors.append(f"internal: {url}: {where}: {message}")
        event("internal_error", 40, url=url, stage=where, error=message)
        log.debug(text)

    # ------------------------------------------------------------------ feeds
    def feed_failed(self, feed_url: str, kind: str, message: str, status: int | None = None, *,
                    retry_after: float | None = None, gone: bool = False) -> None:
        source_id = self.store.feed_state(feed_url).source_id
        text = f"{kind}: [{source_id}] {feed_url}: {message}"
        errors = self.store.record_feed_error(feed_url, kind=kind, error=message, status=status,
                                              retry_after=retry_after, gone=gone)
        self.summary.errors.append(text)
        self.stats.error_kinds[kind] += 1
        self.stats.feeds_done += 1
        self._observe()
        event("feed_error", 30, source_id=source_id, url=feed_url, stage="fetch" if kind != "parse" else "parse",
              kind=kind, consecutive_errors=errors, error=message)
        if gone:
            self.store.add_notice("feed_gone", f"feed {feed_url} of source {source_id} answered 410 Gone and is "
                                  f"no longer polled; remove it from sources.yaml, or run "
                                  f"`newswatch crawl --once --source {source_id}` to try it again",
                                  source_id=source_id)
        self._health(source_id)

    def _http_error(self, feed_url: str, state, status: int, headers: dict[str, str]) -> None:
        if status in (429, 503):
            now = utcnow()
            wait = dates.retry_after_seconds(headers.get("retry-after"), now)
            detail = "no Retry-After" if wait is None else f"Retry-After {wait:.0f} s"
            if wait is not None and wait > MAX_BACKOFF:
                detail += f", capped at {MAX_BACKOFF:.0f} s"
            self.feed_failed(feed_url, "rate_limited" if status == 429 else "unavailable",
                             f"HTTP {status} ({detail})", status, retry_after=wait)
        elif state.effective_url and status in (404, 410):
            # The address a permanent redirect led to is gone: go back to the one the user wrote.
            self.store.set_effective_url(feed_url, None)
            self.feed_failed(feed_url, "http", f"HTTP {status} at {state.effective_url} (the feed had moved "
                             f"there); the configured URL is tried next time", status)
        elif status == 410:
            self.feed_failed(feed_url, "gone", "HTTP 410 Gone: the feed is no longer polled", status, gone=True)
        else:
            self.feed_failed(feed_url, "http", f"HTTP {status}", status)

    def feed_response(self, feed_url: str, response_url: str, status: int, headers: dict[str, str],
                      body: bytes, download_seconds: float | None = None, *,
                      moved_to: str | None = None) -> list[FeedEntry]:
        """Record what the feed said; return the entries whose pages should be fetched.

        ``moved_to`` is the final URL when every redirect on the way was permanent (301/308): once
        that URL has given a readable feed, later polls go straight to it."""
        started = time.perf_counter()
        try:
            return self._feed_response(feed_url, response_url, status, headers, body, moved_to=moved_to)
        finally:
            if download_seconds is not None:
                # A poll lasts from the request to the feed's entries being known: download plus parse.
                self.stats.poll_seconds.append(download_seconds + time.perf_counter() - started)
            if status < 400 and status >= 200:
                self.stats.feeds_done += 1
                self._observe()

    def _feed_response(self, feed_url: str, response_url: str, status: int, headers: dict[str, str],
                       body: bytes, *, moved_to: str | None = None) -> list[FeedEntry]:
        state = self.store.feed_state(feed_url)
        source_id = state.source_id
        if status == 304:
            self.summary.feeds_unchanged += 1
            self.store.record_feed_success(feed_url, status=304, etag=state.etag,
                                           last_modified=state.last_modified, body_hash=state.body_hash)
            event("feed_not_modified", source_id=source_id, url=feed_url, stage="fetch")
            self._health(source_id)
            return []
        if status >= 300 or status < 200:
            self._http_error(feed_url, state, status, headers)
            return []
        etag, last_modified = headers.get("etag"), headers.get("last-modified")
        body_hash = hashlib.sha256(body).hexdigest()
        if body_hash == state.body_hash:
            # Same bytes as the last fully handled poll: nothing to parse.
            self.summary.feeds_unchanged += 1
            self.store.record_feed_success(feed_url, status=status, etag=etag, last_modified=last_modified,
                                           body_hash=body_hash)
            event("feed_unchanged", source_id=source_id, url=feed_url, stage="fetch")
            self._health(source_id)
            return []
        # An edit is noticed by comparing a stored entry's title/summary/dates with the feed's (below),
        # which needs the entry converted (HTML to text, dates parsed) -- most of the cost of parsing
        # a changed feed. A stored entry whose raw item is exactly as last seen cannot have changed:
        # parse_feed leaves it out unconverted. Only new and raw-changed entries reach the comparison.
        def unchanged(guid: str | None, url: str | None, raw_fingerprint: str) -> bool:
            canonical = dedup.canonical_url(url) if url else None
            key = self._entry_key(source_id, FeedEntry(guid=guid, url=url), canonical, {})
            return self.store.entry_raw_unchanged(source_id, key, canonical, raw_fingerprint)

        try:
            # items exactly as at the last poll whose entries were all handled are not even parsed
            parsed = parse_feed(body, headers, response_url, source_id=source_id, max_items=self.max_items,
                                timezone=self.sources[source_id].timezone, unchanged=unchanged,
                                handled=feeditems.split_digests(state.item_digests))
        except ParseError as exc:
            self.feed_failed(feed_url, "parse", exc.detail, status)
            return []
        if parsed.warning:
            event("feed_warning", 30, source_id=source_id, url=feed_url, stage="parse", warning=parsed.warning)
        if moved_to and moved_to != (state.effective_url or feed_url):
            self.store.set_effective_url(feed_url, None if moved_to == feed_url else moved_to)
            event("feed_moved", source_id=source_id, url=feed_url, stage="fetch", to=moved_to)
            self.store.add_notice("feed_moved", f"feed {feed_url} of source {source_id} moved permanently to "
                                  f"{moved_to}; Newswatch polls the new address from now on (update sources.yaml "
                                  f"when convenient)", source_id=source_id)
        new, keys = [], {}
        for entry in parsed.entries:
            canonical = dedup.canonical_url(entry.url) if entry.url else None
            key = self._entry_key(source_id, entry, canonical, keys)
            if key in keys:
                continue
            if self.store.seen(source_id, key, canonical):
                fingerprint = dedup.entry_fingerprint(entry.title, entry.summary, entry.updated_at,
                                                      entry.published_at)
                # A stored entry is fetched again only when the feed describes it differently
                # (title, summary, updated date): that is how an edit is noticed.
                if not self.store.entry_changed(source_id, key, canonical, fingerprint, entry.raw_fingerprint):
                    continue
                event("entry_changed", source_id=source_id, url=entry.url, stage="parse")
            keys[key] = canonical
            self._entry_keys[entry] = key
            new.append(entry)
        event("feed_polled", source_id=source_id, url=feed_url, stage="parse",
              entries=len(parsed.entries) + parsed.known, converted=len(parsed.entries), new=len(new))
        self._storm_check(feed_url, source_id, len(new))
        # Validators are saved only once every new entry is stored, so a cycle cut short re-reads
        # the feed next time instead of skipping entries it never got to.
        self._progress[feed_url] = _FeedProgress(source_id, len(new), status, etag, last_modified, body_hash,
                                                 item_digests=parsed.item_digests)
        if not new:
            self._feed_done(feed_url)
        return new

    def _entry_key(self, source_id: str, entry: FeedEntry, canonical: str | None, keys: dict) -> str:
        """GUID, then GUID+URL when the GUID already stands for another URL (in this feed or in the
        archive), then canonical URL, then a hash of title and summary."""
        key = dedup.entry_key(entry.guid, entry.url, title=entry.title, summary=entry.summary)
        if key.startswith("guid:") and canonical:
            if (key in keys and keys[key] != canonical) or self.store.entry_key_taken(source_id, key, canonical):
                key = dedup.entry_key(entry.guid, entry.url, guid_taken=True)
        return key

    def _storm_check(self, feed_url: str, source_id: str, new: int) -> None:
        usual, polls = self.store.new_items_usual(feed_url)
        guard = self.config.settings.storm
        if not is_storm(new, usual, polls, min_items=guard.get("min_items", 20), factor=guard.get("factor", 5.0)):
            self.store.record_new_items(feed_url, new)
            return
        # Not folded into the usual: one storm must not make the next one look ordinary.
        self._storms.add(feed_url)
        usual_text = "none yet (first poll)" if usual is None else f"{usual:.1f}"
        event("storm", 30, source_id=source_id, url=feed_url, stage="parse", new=new, usual=usual_text)
        self.store.add_notice("storm", f"{feed_url}: {new} new items in one poll (usual per poll: {usual_text}). "
                              "All are stored; their alerts are held and sent as one digest per channel.",
                              source_id=source_id)

    def _feed_done(self, feed_url: str) -> None:
        p = self._progress.pop(feed_url)
        self.store.record_feed_success(feed_url, status=p.status, etag=p.etag, last_modified=p.last_modified,
                                       body_hash=p.body_hash,
                                       item_digests=p.item_digests if p.body_hash else None)
        self._health(p.source_id)

    # ------------------------------------------------------------------ entries
    def entry_item(self, item: dict) -> None:
        feed_url, entry = item["feed_url"], item["entry"]
        progress = self._progress.get(feed_url)
        source_id = progress.source_id if progress else self.store.feed_state(feed_url).source_id
        source = self.sources[source_id]
        started = time.perf_counter()
        endpoint = self._endpoints.get(feed_url)
        article, problem = build_article(source_id=source_id, feed_url=feed_url, entry=entry, page=item["page"],
                                         page_url=item.get("page_url"), content_type=item.get("content_type"),
                                         languages=source.languages, max_text=self.max_text,
                                         language=endpoint.language if endpoint else None,
                                         entry_key=self._entry_keys.pop(entry, None))
        if item["page"] is not None:
            self.stats.extract_seconds.append(time.perf_counter() - started)
        problem = item.get("error") or problem
        if problem:
            self.summary.summary_only += 1
            event("summary_only", 30, source_id=source_id, url=entry.url, stage="extract", reason=problem)
        saved = save(self.store, self.matcher, article, hold="storm" if feed_url in self._storms else None)
        if saved.rechecked:
            event("entry_unchanged", source_id=source_id, url=article.url, stage="dedup")
        elif saved.article_id is None:
            self.summary.duplicates += 1
            event("duplicate", source_id=source_id, url=article.url, stage="dedup")
        else:
            if saved.revised:
                self.summary.revised += 1
            else:
                self.summary.new_articles += 1
                self.summary.story_copies += int(saved.joined)
            self.summary.matches += len(saved.matches)
            self.summary.alerts_queued += len(saved.alerts)
            event("article_revised" if saved.revised else "article_stored", source_id=source_id, url=article.url,
                  stage="store", id=saved.article_id, story_id=saved.story_id, joined_story=saved.joined,
                  matches=len(saved.matches), alerts=len(saved.alerts))
            if article.encoding_suspect:
                event("encoding_suspect", 30, source_id=source_id, url=article.url, stage="extract",
                      note="text looks like mojibake: stored flagged, not matched")
        if progress:
            progress.pending -= 1
            if progress.pending <= 0:
                self._feed_done(feed_url)
        self._observe()


    # ------------------------------------------------------------------ sitemaps and listing pages
    # Both end in FeedEntry values that go down the same seen-check -> fetch -> extract -> store
    # path as feed entries, newest first and at most `max_pages` per poll. Left-over new entries
    # wait for the next poll: the page's validators are then not kept, so it is read again.

    def _unchanged(self, feed_url: str, status: int, headers: dict[str, str], body: bytes) -> bool | None:
        """True: nothing to do (304, same bytes). None: failed (recorded). False: go on."""
        state = self.store.feed_state(feed_url)
        if status == 304:
            self.summary.feeds_unchanged += 1
            self.store.record_feed_success(feed_url, status=304, etag=state.etag,
                                           last_modified=state.last_modified, body_hash=state.body_hash)
            self._health(state.source_id)
            return True
        if status >= 300 or status < 200:
            # the same handling as feeds: Retry-After, 410 Gone, backoff, source health
            self._http_error(feed_url, state, status, headers)
            return None
        if state.body_hash and hashlib.sha256(body).hexdigest() == state.body_hash:
            self.summary.feeds_unchanged += 1
            self.store.record_feed_success(feed_url, status=status, etag=headers.get("etag"),
                                           last_modified=headers.get("last-modified"), body_hash=state.body_hash)
            self._health(state.source_id)
            return True
        return False

    def _take(self, source_id: str, candidates, progress: _FeedProgress) -> tuple[list[FeedEntry], int]:
        """Unseen entries, in the order given, within the page budget; and how many new ones wait."""
        new, keys, waiting = [], set(), 0
        for entry in candidates:
            key = dedup.entry_key(entry.guid, entry.url, title=entry.title, summary=entry.summary)
            if key in keys or self.store.seen(source_id, key, dedup.canonical_url(entry.url)):
                continue
            keys.add(key)
            if len(new) >= progress.budget:
                waiting += 1
                continue
            new.append(entry)
        progress.budget -= len(new)
        if waiting:
            self.summary.waiting += waiting
            progress.etag = progress.last_modified = progress.body_hash = None
        return new, waiting

    def sitemap_response(self, feed_url: str, response_url: str, status: int, headers: dict[str, str],
                         body: bytes, child: bool = False) -> tuple[list[FeedEntry], list[str]]:
        """Record what a sitemap said; return the entries to fetch and the child sitemaps to read.
        ``child``: this is a sitemap named by the index at ``feed_url``."""
        state = self.store.feed_state(feed_url)
        source = self.sources[state.source_id]
        progress = self._progress.get(feed_url) if child else None
        if child:
            if progress is None:
                return [], []
            if status >= 400 or status < 200:
                return self._child_done(feed_url, response_url, f"HTTP {status}"), []
        else:
            verdict = self._unchanged(feed_url, status, headers, body)
            if verdict is not False:
                return [], []
        try:
            doc = parse_sitemap(body, response_url, source_id=source.id, tz=dates.zone(source.timezone),
                                max_bytes=self.max_feed_bytes)
        except ParseError as exc:
            if child:
                return self._child_done(feed_url, response_url, exc.detail), []
            self.feed_failed(feed_url, "parse", exc.detail, status)
            return [], []
        if doc.warning:
            event("sitemap_warning", 30, source_id=source.id, url=response_url, stage="parse", warning=doc.warning)
        if doc.skipped:
            event("sitemap_skipped", source_id=source.id, url=response_url, stage="parse",
                  skipped=_reasons(doc.skipped))
        if progress is None:
            body_hash = hashlib.sha256(body).hexdigest()
            progress = _FeedProgress(source.id, 0, status, headers.get("etag"), headers.get("last-modified"),
                                     body_hash, budget=source.max_pages)
            self._progress[feed_url] = progress
        since = utcnow() - timedelta(seconds=source.max_age)
        children: list[str] = []
        new: list[FeedEntry] = []
        if doc.kind == "index":
            # An index can stay byte-identical while its child sitemaps change: never keep its validators.
            progress.etag = progress.last_modified = progress.body_hash = None
            children = [c.url for c in select_children(doc, since=since)]
            event("sitemap_polled", source_id=source.id, url=response_url, stage="parse", kind="index",
                  sitemaps=len(doc.children), reading=len(children))
        else:
            recent, too_old = select(doc, since=since)
            candidates = (FeedEntry(guid=None, url=e.url, title=e.title,
                                    published_at=dates.iso(e.published) if doc.news else None) for e in recent)
            new, waiting = self._take(source.id, candidates, progress)
            event("sitemap_polled", source_id=source.id, url=response_url, stage="parse",
                  kind="news" if doc.news else doc.kind, entries=len(doc.entries), too_old=too_old, new=len(new),
                  waiting=waiting)
        progress.pending += len(new) + len(children) - (1 if child else 0)
        if progress.pending <= 0:
            self._feed_done(feed_url)
        return new, children

    def sitemap_child_failed(self, feed_url: str, child_url: str, kind: str, message: str) -> None:
        self._child_done(feed_url, child_url, f"{kind}: {message}")

    def _child_done(self, feed_url: str, child_url: str, problem: str) -> list:
        progress = self._progress.get(feed_url)
        source_id = progress.source_id if progress else self.store.feed_state(feed_url).source_id
        event("sitemap_error", 30, source_id=source_id, url=child_url, stage="fetch", error=problem,
              index=feed_url)
        self.summary.errors.append(f"sitemap: [{source_id}] {child_url}: {problem}")
        if progress:
            progress.pending -= 1
            if progress.pending <= 0:
                self._feed_done(feed_url)
        return []

    def listing_response(self, feed_url: str, response_url: str, status: int, headers: dict[str, str],
                         body: bytes) -> list[FeedEntry]:
        """Record what a listing page said; return its new article links as entries, in page order."""
        verdict = self._unchanged(feed_url, status, headers, body)
        if verdict is not False:
            return []
        state = self.store.feed_state(feed_url)
        source = self.sources[state.source_id]
        endpoint = self._endpoints.get(feed_url)
        pattern = endpoint.article_links if endpoint else None
        try:
            page = parse_listing(body, response_url, article_links=pattern, source_id=source.id,
                                 encoding=charset_param(headers.get("content-type")))
        except ParseError as exc:
            self.feed_failed(feed_url, "parse", exc.detail, status)
            return []
        if not page.links:
            # Nothing is removed: the articles stay; the user learns the page changed.
            before = self.store.last_entries(feed_url)
            hint = ("set article_links: to a pattern of the outlet's article URLs" if pattern is None
                    else f"article_links {pattern!r} matches no link any more")
            message = (f"listing page has no article links any more (it had {before}); {hint}" if before
                       else f"no article links found on the listing page; {hint}")
            self.feed_failed(feed_url, "empty", message, status)
            return []
        self.store.set_last_entries(feed_url, len(page.links))
        progress = _FeedProgress(source.id, 0, status, headers.get("etag"), headers.get("last-modified"),
                                 hashlib.sha256(body).hexdigest(), budget=source.max_pages)
        candidates = (FeedEntry(guid=None, url=link.url, title=link.text) for link in page.links)
        new, waiting = self._take(source.id, candidates, progress)
        event("listing_polled", source_id=source.id, url=feed_url, stage="parse", links=len(page.links),
              new=len(new), waiting=waiting, skipped=_reasons(page.skipped) or None)
        progress.pending = len(new)
        self._progress[feed_url] = progress
        if not new:
            self._feed_done(feed_url)
        return new


def _resolver_setting() -> str:
    from scrapy.settings import default_settings

    return "TWISTED_DNS_RESOLVER" if hasattr(default_settings, "TWISTED_DNS_RESOLVER") else "DNS_RESOLVER"


_RESOLVER_SETTING = _resolver_setting()


def _reasons(skipped: dict[str, int]) -> str:
    return ", ".join(f"{reason}: {n}" for reason, n in sorted(skipped.items()))


def scrapy_settings(config: Config) -> dict:
    s = config.settings
    return {
        "USER_AGENT": s.user_agent,
        # On when any source obeys robots.txt; sources that do not mark their requests (and feeds are
        # always fetched: subscribing to a feed is its own permission).
        "ROBOTSTXT_OBEY": any(src.obey_robots for src in config.sources),
        "DOWNLOAD_DELAY": s.politeness["delay"],
        "RANDOMIZE_DOWNLOAD_DELAY": True,
        "CONCURRENT_REQUESTS": s.politeness["concurrency"],
        "CONCURRENT_REQUESTS_PER_DOMAIN": s.politeness["concurrency_per_host"],
        "DOWNLOAD_TIMEOUT": s.limits["request_timeout"],
        "DOWNLOAD_MAXSIZE": max(s.limits["max_feed_bytes"], s.limits["max_page_bytes"]),
        "DOWNLOAD_WARNSIZE": 0,
        "REDIRECT_MAX_TIMES": 5,
        "RETRY_TIMES": 1,
        # 429 and 503 are not retried at once: they carry Retry-After, which the feed state keeps.
        "RETRY_HTTP_CODES": [500, 502, 504, 522, 524, 408],
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "CLOSESPIDER_TIMEOUT": s.limits["cycle_timeout"],
        # Only http(s): no file://, s3://, ftp:// or data: fetches whatever a feed links to.
        "DOWNLOAD_HANDLERS": {"file": None, "s3": None, "ftp": None, "data": None},
        "DOWNLOADER_MIDDLEWARES": {"spiders.middlewares.NetworkPolicyMiddleware": 50},
        # The policy again at connection time, on the addresses actually connected to (DNS rebinding).
        _RESOLVER_SETTING: "spiders.resolver.PolicyResolver",
        "ITEM_PIPELINES": {"spiders.pipelines.StorePipeline": 300},
        "NEWSWATCH_NETWORK_ALLOW": list(s.network_allow),
        "LOG_LEVEL": "WARNING",
    }


def run_once(config: Config, store: Store, source_ids: list[str], *, retry_gone: bool = False,
             observer: Callable[[CrawlSession], None] | None = None, stats: CycleStats | None = None) -> Summary:
    """Poll the given sources once, in this process (at most once per process). ``retry_gone``
    polls feeds that answered 410 Gone too (the user named their source). ``stats``, when given,
    is filled with the cycle's error kinds and timings; ``observer`` is called as the cycle advances.
    The caller has synced the config's sources into the store (Store.sync_sources)."""
    from scrapy.crawler import CrawlerProcess

    from spiders.feeds import FeedSpider

    session = CrawlSession(config, store, source_ids, retry_gone=retry_gone)
    session.observer = observer
    if stats is not None:
        session.stats = stats
    if not session.sources:
        return session.summary
    process = CrawlerProcess({**scrapy_settings(config), "LOG_INSTALL_ROOT_HANDLER": False})
    quiet_libraries()
    process.crawl(FeedSpider, session=session)
    process.start()
    return session.summary
