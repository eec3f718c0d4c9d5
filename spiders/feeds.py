"""The feed spider: poll feeds, hand new entries' article pages to the item pipeline.

All decisions (is this entry new, what to record about a feed, how to build an article) are made by
``crawler.crawl.CrawlSession``; the spider only turns them into requests and items.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import scrapy
from scrapy import exceptions as sx
from scrapy import signals
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import DNSLookupError, TCPTimedOutError, TimeoutError as TxTimeoutError

from crawler.crawl import HANDLED_STATUSES, PERMANENT_REDIRECTS
from spiders.middlewares import PolicyRefused
from spiders.resolver import REFUSED

# Scrapy 2.14+ wraps Twisted's errors in its own classes; older releases raise Twisted's.
_DNS = tuple(c for c in (DNSLookupError, getattr(sx, "CannotResolveHostError", None)) if c)
_TIMEOUT = tuple(c for c in (TxTimeoutError, TCPTimedOutError, getattr(sx, "DownloadTimeoutError", None)) if c)
_CANCELLED = tuple(c for c in (getattr(sx, "DownloadCancelledError", None),) if c)


def failure_kind(failure) -> str:
    """A short, stable name for what went wrong, stored as the feed's last_error_kind."""
    return describe_failure(failure)[0]


def describe_failure(failure) -> tuple[str, str]:
    """(kind, message) for a failed request: kind as in failure_kind, message for the feed's last_error."""
    message = failure.getErrorMessage()
    low = message.lower()
    if failure.check(PolicyRefused):
        return "policy", message
    if failure.check(*_DNS):
        request = getattr(failure, "request", None)
        host = (urlsplit(request.url).hostname or "") if request is not None else ""
        refused = REFUSED.get(host.lower())
        if refused:
            return "policy", refused
        return "dns", message
    if failure.check(*_TIMEOUT):
        return "timeout", message
    if failure.check(sx.StopDownload):
        limit = failure.request.meta.get("download_maxsize") if getattr(failure, "request", None) else None
        return "too_large", f"body larger than {limit} bytes; cut off" if limit else "download stopped"
    if failure.check(HttpError):  # a redirect Scrapy would not follow (no Location, or not http(s))
        response = failure.value.response
        location = response.headers.get("Location", b"").decode("latin-1")[:200]
        if location:
            return "redirects", f"HTTP {response.status} redirect to {location!r} not followed (http and https only)"
        return "http", f"HTTP {response.status}"
    if _CANCELLED and failure.check(*_CANCELLED) and "max size" in low:
        return "too_large", message
    if failure.check(sx.IgnoreRequest):
        if "robots" in low:
            return "robots", message
        if "exceeded download_maxsize" in low:  # a compressed body that inflates past the limit
            return "too_large", message
        if "max redirections" in low:
            return "redirects", "more than 5 redirects (a redirect loop?)"
        return "ignored", message
    return "connection", message


class FeedSpider(scrapy.Spider):
    name = "feeds"

    def __init__(self, session, **kwargs):
        super().__init__(**kwargs)
        self.session = session
        self._received: dict[int, int] = {}

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._bytes_received, signal=signals.bytes_received)
        # Scrapy logs an exception raised in a callback or the item pipeline and carries on; a bug
        # must not pass for a quiet cycle with nothing new, so the session counts it as an error.
        crawler.signals.connect(spider._spider_error, signal=signals.spider_error)
        crawler.signals.connect(spider._item_error, signal=signals.item_error)
        return spider

    def _spider_error(self, failure, response, spider=None):
        self.session.internal_error("spider", response.url, failure)

    def _item_error(self, item, response, spider=None, failure=None):
        entry = item.get("entry") if isinstance(item, dict) else None
        self.session.internal_error("pipeline", getattr(entry, "url", None) or (response.url if response else "?"),
                                    failure)

    def _bytes_received(self, data, request, spider=None):
        # Scrapy cuts an endless body at the size limit by cancelling it, which reaches the errback
        # as a bare CancelledError; stopping it here says why.
        limit = request.meta.get("download_maxsize")
        if not limit:
            return
        key = id(request)
        self._received[key] = self._received.get(key, 0) + len(data)
        if self._received[key] > limit:
            del self._received[key]
            raise sx.StopDownload(fail=True)

    async def start(self):
        for feed in self.session.plan():
            headers = {}
            if feed.etag:
                headers["If-None-Match"] = feed.etag
            if feed.last_modified:
                headers["If-Modified-Since"] = feed.last_modified
            callback = {"sitemap": self.parse_sitemap, "listing": self.parse_listing}.get(feed.kind, self.parse_feed)
            yield scrapy.Request(
                feed.request_url, headers=headers, callback=callback, errback=self.feed_failed,
                dont_filter=True,
                meta={"source_id": feed.source_id, "feed_url": feed.url, "handle_httpstatus_list": HANDLED_STATUSES,
                      "dont_obey_robotstxt": True, "download_maxsize": self.session.max_feed_bytes})

    def parse_feed(self, response):
        feed_url = response.meta["feed_url"]
        headers = self._headers(response)
        reasons = response.meta.get("redirect_reasons") or []
        moved_to = response.url if reasons and all(r in PERMANENT_REDIRECTS for r in reasons) else None
        entries = self.session.feed_response(feed_url, response.url, response.status, headers, response.body,
                                             download_seconds=response.meta.get("download_latency"),
                                             moved_to=moved_to)
        yield from self._article_requests(response, feed_url, entries)

    def feed_failed(self, failure):
        request = failure.request
        kind, message = describe_failure(failure)
        self.session.feed_failed(request.meta["feed_url"], kind, message)

    def parse_article(self, response, feed_url, entry):
        error = None
        if response.status >= 400:
            error = f"HTTP {response.status}"
        elif not isinstance(response, scrapy.http.TextResponse):
            error = f"not a web page ({response.headers.get('Content-Type', b'?').decode('latin-1')})"
        if error:
            yield {"feed_url": feed_url, "entry": entry, "page": None, "error": error}
            return
        yield {"feed_url": feed_url, "entry": entry, "page": response.body, "page_url": response.url,
               "content_type": response.headers.get("Content-Type", b"").decode("latin-1"), "error": None}

    def article_failed(self, failure):
        request = failure.request
        kwargs = request.cb_kwargs
        yield {"feed_url": kwargs["feed_url"], "entry": kwargs["entry"], "page": None,
               "error": "{}: {}".format(*describe_failure(failure))}

    # ------------------------------------------------------------------ sitemaps and listing pages
    def _article_requests(self, response, feed_url, entries):
        """One request per new entry's page; an entry without a link is stored from what it says."""
        source_id = response.meta["source_id"]
        meta = {"source_id": source_id, "handle_httpstatus_list": HANDLED_STATUSES,
                "dont_obey_robotstxt": not self.session.obeys_robots(source_id),
                "download_maxsize": self.session.max_page_bytes}
        for entry in entries:
            if entry.url:
                yield scrapy.Request(entry.url, callback=self.parse_article, errback=self.article_failed,
                                     cb_kwargs={"feed_url": feed_url, "entry": entry}, meta=dict(meta),
                                     dont_filter=True)
            else:
                yield {"feed_url": feed_url, "entry": entry, "page": None, "error": "entry has no link"}

    @staticmethod
    def _headers(response) -> dict[str, str]:
        return {k.decode("latin-1").lower(): b", ".join(v).decode("latin-1") for k, v in response.headers.items()}

    def parse_sitemap(self, response):
        feed_url = response.meta["feed_url"]
        entries, children = self.session.sitemap_response(
            feed_url, response.url, response.status, self._headers(response), response.body,
            child=response.meta.get("sitemap_child", False))
        for n, url in enumerate(children):
            # the newest child sitemap first
            yield scrapy.Request(
                url, callback=self.parse_sitemap, errback=self.sitemap_child_failed, dont_filter=True,
                priority=len(children) - n,
                meta={"source_id": response.meta["source_id"], "feed_url": feed_url, "sitemap_child": True,
                      "handle_httpstatus_list": HANDLED_STATUSES, "dont_obey_robotstxt": True,
                      "download_maxsize": self.session.max_feed_bytes})
        yield from self._article_requests(response, feed_url, entries)

    def sitemap_child_failed(self, failure):
        request = failure.request
        self.session.sitemap_child_failed(request.meta["feed_url"], request.url, failure_kind(failure),
                                          failure.getErrorMessage())

    def parse_listing(self, response):
        feed_url = response.meta["feed_url"]
        entries = self.session.listing_response(feed_url, response.url, response.status, self._headers(response),
                                                response.body)
        yield from self._article_requests(response, feed_url, entries)
