"""The feed spider: poll feeds, hand new entries' article pages to the item pipeline.

All decisions (is this entry new, what to record about a feed, how to build an article) are made by
``crawler.crawl.CrawlSession``; the spider only turns them into requests and items.
"""

from __future__ import annotations

import scrapy
from scrapy import exceptions as sx
from twisted.internet.error import DNSLookupError, TCPTimedOutError, TimeoutError as TxTimeoutError

from spiders.middlewares import PolicyRefused

# Scrapy 2.14+ wraps Twisted's errors in its own classes; older releases raise Twisted's.
_DNS = tuple(c for c in (DNSLookupError, getattr(sx, "CannotResolveHostError", None)) if c)
_TIMEOUT = tuple(c for c in (TxTimeoutError, TCPTimedOutError, getattr(sx, "DownloadTimeoutError", None)) if c)
_CANCELLED = tuple(c for c in (getattr(sx, "DownloadCancelledError", None),) if c)


def failure_kind(failure) -> str:
    """A short, stable name for what went wrong, stored as the feed's last_error_kind."""
    if failure.check(PolicyRefused):
        return "policy"
    if failure.check(*_DNS):
        return "dns"
    if failure.check(*_TIMEOUT):
        return "timeout"
    if _CANCELLED and failure.check(*_CANCELLED) and "max size" in failure.getErrorMessage().lower():
        return "too_large"
    if failure.check(sx.IgnoreRequest):
        return "robots" if "robots" in failure.getErrorMessage().lower() else "ignored"
    return "connection"


class FeedSpider(scrapy.Spider):
    name = "feeds"

    def __init__(self, session, **kwargs):
        super().__init__(**kwargs)
        self.session = session

    async def start(self):
        for feed in self.session.plan():
            headers = {}
            if feed.etag:
                headers["If-None-Match"] = feed.etag
            if feed.last_modified:
                headers["If-Modified-Since"] = feed.last_modified
            callback = {"sitemap": self.parse_sitemap, "listing": self.parse_listing}.get(feed.kind, self.parse_feed)
            yield scrapy.Request(
                feed.url, headers=headers, callback=callback, errback=self.feed_failed,
                dont_filter=True,
                meta={"source_id": feed.source_id, "feed_url": feed.url, "handle_httpstatus_all": True,
                      "dont_obey_robotstxt": True, "download_maxsize": self.session.max_feed_bytes})

    def parse_feed(self, response):
        feed_url = response.meta["feed_url"]
        headers = {k.decode("latin-1").lower(): b", ".join(v).decode("latin-1")
                   for k, v in response.headers.items()}
        entries = self.session.feed_response(feed_url, response.url, response.status, headers, response.body)
        for entry in entries:
            meta = {"source_id": response.meta["source_id"], "handle_httpstatus_all": True,
                    "download_maxsize": self.session.max_page_bytes}
            if entry.url:
                yield scrapy.Request(entry.url, callback=self.parse_article, errback=self.article_failed,
                                     cb_kwargs={"feed_url": feed_url, "entry": entry}, meta=meta,
                                     dont_filter=True)
            else:
                yield {"feed_url": feed_url, "entry": entry, "page": None, "error": "entry has no link"}

    def feed_failed(self, failure):
        request = failure.request
        self.session.feed_failed(request.meta["feed_url"], failure_kind(failure), failure.getErrorMessage())

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
               "error": f"{failure_kind(failure)}: {failure.getErrorMessage()}"}

    # ------------------------------------------------------------------ sitemaps and listing pages
    def _article_requests(self, response, feed_url, entries):
        meta = {"source_id": response.meta["source_id"], "handle_httpstatus_all": True,
                "download_maxsize": self.session.max_page_bytes}
        for entry in entries:
            yield scrapy.Request(entry.url, callback=self.parse_article, errback=self.article_failed,
                                 cb_kwargs={"feed_url": feed_url, "entry": entry}, meta=meta, dont_filter=True)

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
                      "handle_httpstatus_all": True, "dont_obey_robotstxt": True,
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
