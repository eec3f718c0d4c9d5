"""Downloader middleware enforcing the network policy on every request, redirects included
(a redirect is a new request and passes through here again)."""

from __future__ import annotations

from scrapy.exceptions import IgnoreRequest

from crawler.errors import PolicyError
from crawler.netpolicy import Allowlist, check_url


class PolicyRefused(IgnoreRequest):
    """IgnoreRequest carrying the PolicyError, so errbacks can tell it from other drops."""

    def __init__(self, error: PolicyError):
        self.error = error
        super().__init__(str(error))


class NetworkPolicyMiddleware:
    def __init__(self, allow: Allowlist):
        self.allow = allow

    @classmethod
    def from_crawler(cls, crawler):
        return cls(Allowlist(crawler.settings.getlist("NEWSWATCH_NETWORK_ALLOW")))

    def process_request(self, request, spider=None):
        try:
            check_url(request.url, self.allow, source_id=request.meta.get("source_id"))
        except PolicyError as exc:
            raise PolicyRefused(exc) from None
        return None
