"""Sitemap stage: sitemap bytes -> entries (newest first) or child sitemaps.

Pure. Reads Google News sitemaps (``news:publication_date``, ``news:title``), ordinary sitemaps
(``lastmod``), sitemap indexes, gzip-compressed sitemaps and plain-text sitemaps (one URL a line).
lxml's iterparse walks the document element by element and frees each one, so a 50,000-URL
sitemap costs a few megabytes; entities and DTDs are never loaded, and decompression is bounded.

Which entries are worth fetching is decided by :func:`select`: newest first, within a date
window, bounded by the page budget. Entries outside the outlet's site, with a scheme other than
http(s), or without a URL are counted under ``skipped`` with the reason.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from urllib.parse import urljoin, urlsplit

import lxml.etree

from . import dates
from .errors import ParseError
from .parse import looks_like_html

__all__ = ["SitemapEntry", "SitemapChild", "Sitemap", "parse_sitemap", "select", "same_site", "MAX_CHILDREN"]

MAX_CHILDREN = 5  # child sitemaps of an index read per poll (newest first)
MAX_URLS = 100_000  # protocol limit is 50,000 per file; stop reading well after that


@dataclass(frozen=True)
class SitemapEntry:
    url: str
    published: datetime | None  # news:publication_date, else lastmod
    title: str = ""


@dataclass(frozen=True)
class SitemapChild:
    url: str
    lastmod: datetime | None


@dataclass
class Sitemap:
    kind: str  # urlset | index | text
    news: bool = False
    entries: list[SitemapEntry] = field(default_factory=list)
    children: list[SitemapChild] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    warning: str | None = None

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def _site(host: str) -> str:
    host = host.lower().rstrip(".")
    for prefix in ("www.", "m."):
        if host.startswith(prefix):
            return host[len(prefix):]
    return host


def same_site(a: str, b: str) -> bool:
    """Same host, or one a subdomain of the other (www.x.kz, en.x.kz and x.kz are one outlet)."""
    ha, hb = _site(urlsplit(a).hostname or ""), _site(urlsplit(b).hostname or "")
    if not ha or not hb:
        return False
    return ha == hb or ha.endswith("." + hb) or hb.endswith("." + ha)


def _gunzip(body: bytes, max_bytes: int, source_id, url) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise ParseError(f"broken gzip sitemap: {exc}", source_id=source_id, url=url) from None
    if len(out) > max_bytes:
        raise ParseError(f"sitemap larger than {max_bytes} bytes once decompressed", source_id=source_id, url=url)
    return out


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


class _UrlChecker:
    """Resolve and check sitemap URLs; the common case (absolute, on the sitemap's own host) is a
    string prefix test, which matters at 50,000 URLs."""

    def __init__(self, base: str, doc: Sitemap):
        self.base, self.doc = base, doc
        parts = urlsplit(base)
        self.prefix = f"{parts.scheme}://{parts.netloc}/"

    def __call__(self, raw: str | None) -> str | None:
        raw = (raw or "").strip()
        if raw.startswith(self.prefix):
            return raw
        if not raw:
            self.doc.skip("no URL")
            return None
        url = urljoin(self.base, raw)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.doc.skip("not http(s)")
            return None
        if not same_site(url, self.base):
            self.doc.skip("other site")
            return None
        return url


def parse_sitemap(body: bytes, url: str, *, source_id: str | None = None, tz: tzinfo | None = None,
                  max_bytes: int = 50_000_000) -> Sitemap:
    """Parse a fetched sitemap. ``url`` is where it was fetched (relative URLs, the site check);
    dates without a zone are read in ``tz``. Raises ParseError for an HTML page, an empty body or
    XML too broken to yield anything; a sitemap cut off midway keeps what came before, with a warning."""
    if body[:2] == b"\x1f\x8b":
        body = _gunzip(body, max_bytes, source_id, url)
    if not body.strip():
        raise ParseError("not a sitemap (empty body)", source_id=source_id, url=url)
    if looks_like_html(body):
        raise ParseError("not a sitemap (got an HTML page)", source_id=source_id, url=url)
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<"):
        return _parse_text(head, url)

    doc = Sitemap(kind="urlset")
    root = None
    # only the elements that matter raise events: much cheaper than walking every <loc> and <lastmod>
    context = lxml.etree.iterparse(
        io.BytesIO(body), events=("start", "end"), tag=("{*}urlset", "{*}sitemapindex", "{*}url", "{*}sitemap"),
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True)
    checker = _UrlChecker(url, doc)
    count = 0
    try:
        for event, el in context:
            name = _local(el.tag)
            if event == "start":
                if root is None:
                    root = name
                    doc.kind = "index" if name == "sitemapindex" else "urlset"
                continue
            if name == root:
                continue
            count += 1
            fields = {}
            for child in el:
                local = _local(child.tag)
                if local == "news":
                    doc.news = True
                    for item in child:
                        local = _local(item.tag)
                        if item.text and local in ("publication_date", "title"):
                            fields[local] = item.text
                elif child.text and local in ("loc", "lastmod"):
                    fields[local] = child.text
            if name == "sitemap" and doc.kind == "index":
                child_url = checker(fields.get("loc"))
                if child_url:
                    doc.children.append(SitemapChild(child_url, dates.parse_date(fields.get("lastmod"), tz)))
            elif name == "url" and doc.kind == "urlset":
                entry_url = checker(fields.get("loc"))
                if entry_url:
                    when = dates.parse_date(fields.get("publication_date"), tz) or \
                        dates.parse_date(fields.get("lastmod"), tz)
                    title = " ".join((fields.get("title") or "").split())
                    doc.entries.append(SitemapEntry(entry_url, when, title))
            # free what was read: memory stays flat however long the sitemap is
            el.clear()
            while el.getprevious() is not None:
                del el.getparent()[0]
            if count >= MAX_URLS:
                doc.warning = f"stopped after {MAX_URLS} entries"
                break
    except lxml.etree.XMLSyntaxError as exc:
        if not (doc.entries or doc.children):
            raise ParseError(f"malformed sitemap XML: {exc}", source_id=source_id, url=url) from None
        doc.warning = f"malformed sitemap XML, kept the {len(doc.entries) + len(doc.children)} entries before: {exc}"
    if root is None:
        raise ParseError("not a sitemap (no <urlset> or <sitemapindex> root element)", source_id=source_id, url=url)
    return doc


def _parse_text(body: bytes, url: str) -> Sitemap:
    doc = Sitemap(kind="text")
    checker = _UrlChecker(url, doc)
    for line in body.decode("utf-8", errors="replace").splitlines()[:MAX_URLS]:
        if line.strip():
            entry_url = checker(line)
            if entry_url:
                doc.entries.append(SitemapEntry(entry_url, None))
    if not doc.entries and not doc.skipped:
        raise ParseError("not a sitemap (no XML and no URLs)", url=url)
    return doc


def select(doc: Sitemap, *, since: datetime) -> tuple[list[SitemapEntry], int]:
    """Entries worth looking at, newest first: dated ones no older than ``since``, then undated
    ones in document order (outlets list newest first more often than not). Returns them and how
    many were left out as too old."""
    dated = [e for e in doc.entries if e.published is not None]
    recent = sorted((e for e in dated if e.published >= since), key=lambda e: e.published, reverse=True)
    undated = [e for e in doc.entries if e.published is None]
    return recent + undated, len(dated) - len(recent)


def select_children(doc: Sitemap, *, since: datetime, limit: int = MAX_CHILDREN) -> list[SitemapChild]:
    """Child sitemaps of an index worth reading: changed since ``since``, newest first; at most
    ``limit``. Undated ones fill what is left, taken from both ends of the index, since some
    outlets list their newest sitemap first and others (WordPress: post-sitemap1, 2, ...) last."""
    dated = sorted((c for c in doc.children if c.lastmod is not None and c.lastmod >= since),
                   key=lambda c: c.lastmod, reverse=True)[:limit]
    undated = [c for c in doc.children if c.lastmod is None]
    room = limit - len(dated)
    if len(undated) > room:
        undated = undated[: room // 2] + (undated[-(room - room // 2):] if room - room // 2 else [])
    return dated + undated
