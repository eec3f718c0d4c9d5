"""One-shot fetches for the interactive commands (`sources discover`, `sources check`).

Crawling goes through Scrapy (spiders/); these commands fetch a handful of URLs and print what they
found, so they use httpx directly, under the same rules: http(s) only, the network policy checked on
every hop (redirects are followed by hand, at most 5), the body bounded, a timeout on everything,
no proxies or credentials from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin

import zlib

import httpx

from . import netpolicy
from .errors import PolicyError

MAX_REDIRECTS = 5


@dataclass
class Fetched:
    url: str  # after redirects
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    error: str | None = None  # "kind: message" when nothing usable came back

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


def fetch(url: str, *, allow=(), user_agent: str, timeout: float = 15.0, max_bytes: int = 10_000_000,
          client: httpx.Client | None = None) -> Fetched:
    """GET ``url``; never raises for network trouble: the problem is in ``error``."""
    own = client is None
    client = client or httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                                    headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"})
    try:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                netpolicy.check_url(url, allow)
            except PolicyError as exc:
                return Fetched(url, error=f"policy: {exc.detail}")
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect and response.headers.get("location"):
                        url = urljoin(url, response.headers["location"])
                        continue
                    body = _read_bounded(response, max_bytes)
                    if body is None:
                        return Fetched(url, response.status_code, error=f"too_large: more than {max_bytes} bytes")
                    headers = {k.lower(): v for k, v in response.headers.items()}
                    return Fetched(str(response.url), response.status_code, headers, bytes(body))
            except httpx.TimeoutException:
                return Fetched(url, error=f"timeout: no answer within {timeout:g} s")
            except httpx.HTTPError as exc:
                return Fetched(url, error=f"connection: {type(exc).__name__}: {exc}")
        return Fetched(url, error=f"redirects: more than {MAX_REDIRECTS}")
    finally:
        if own:
            client.close()


def _read_bounded(response: httpx.Response, max_bytes: int) -> bytes | None:
    """The body, decompressed here with a bound (httpx would inflate a whole chunk at once, so a
    small gzip bomb could take gigabytes); None when it is larger than ``max_bytes``."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflater = None
    if encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        inflater = zlib.decompressobj()
    body = bytearray()
    try:
        for chunk in response.iter_raw():
            if inflater is not None:
                chunk = inflater.decompress(chunk, max_bytes + 1 - len(body))
            body += chunk
            if len(body) > max_bytes:
                return None
    except zlib.error:
        return bytes(body)
    return bytes(body)
