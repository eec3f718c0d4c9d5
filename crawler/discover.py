"""Discovery: from an outlet's homepage to a sources.yaml block that works.

The pure part reads HTML and robots.txt: feed links (``<link rel=alternate>`` for RSS, Atom and JSON
Feed), language editions (``<link rel=alternate hreflang>``), ``Sitemap:`` lines, the outlet's name,
and a URL pattern for its article links. ``discover`` does the fetching (crawler.fetch: the network
policy holds, sizes and times are bounded) and checks that every feed and sitemap it reports parses.
``render_yaml`` prints the block; nothing from the page goes into it unquoted.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from .config import LANGUAGE_TAGS
from .errors import ParseError
from .extract import decode_html, guess_language, reconcile_language
from .fetch import fetch
from .listing import parse_listing
from .parse import parse_feed
from .sitemap import parse_sitemap, same_site, select
from .store import utcnow

__all__ = ["Discovery", "discover", "feed_links", "alternates", "robots_sitemaps", "language_tag",
           "article_pattern", "render_yaml", "source_id_for"]

FEED_TYPES = {"application/rss+xml": "RSS", "application/atom+xml": "Atom", "application/feed+json": "JSON Feed",
              "application/json": "JSON Feed", "application/rdf+xml": "RSS", "text/xml": "RSS",
              "application/xml": "RSS"}
COMMON_FEED_PATHS = ("/rss", "/feed", "/rss.xml", "/feed/", "/rss/", "/atom.xml", "/feed.json", "/index.xml")
COMMON_SITEMAP_PATHS = ("/sitemap.xml", "/sitemap_index.xml", "/sitemap-news.xml", "/news-sitemap.xml")
MAX_FEEDS = 8
MAX_SITEMAPS = 5
MAX_EDITIONS = 8
_CCTLD = {"kz": "KZ", "kg": "KG", "uz": "UZ", "tj": "TJ", "tm": "TM"}
_LANG_ALIASES = {"uz-latn": "uz-Latn", "uz-latin": "uz-Latn", "uz-lat": "uz-Latn", "oz": "uz-Latn",
                 "uz-cyrl": "uz-Cyrl", "uz-cyr": "uz-Cyrl", "uz-cyrillic": "uz-Cyrl", "kz": "kk", "qq": "kk",
                 "kg": "ky", "kir": "ky", "tj": "tg", "tm": "tk"}


@dataclass
class FoundFeed:
    url: str
    kind: str  # RSS | Atom | JSON Feed
    items: int = 0
    error: str | None = None


@dataclass
class FoundSitemap:
    url: str
    kind: str = "sitemap"  # news | index | sitemap
    entries: int = 0
    recent: int = 0
    error: str | None = None


@dataclass
class FoundEdition:
    language: str
    url: str
    feeds: list[FoundFeed] = field(default_factory=list)


@dataclass
class Discovery:
    homepage: str
    name: str | None = None
    language: str | None = None
    feeds: list[FoundFeed] = field(default_factory=list)
    sitemaps: list[FoundSitemap] = field(default_factory=list)
    editions: list[FoundEdition] = field(default_factory=list)
    article_links: str | None = None  # for a listing-page source
    listing_links: int = 0
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def working_feeds(self) -> list[FoundFeed]:
        return [f for f in self.feeds if not f.error]

    @property
    def working_sitemaps(self) -> list[FoundSitemap]:
        return [s for s in self.sitemaps if not s.error]


# --------------------------------------------------------------------------- pure helpers


def _tree(html: bytes | str, encoding: str | None = None):
    try:
        return lxml.html.document_fromstring(decode_html(html, encoding) or "<html></html>")
    except (lxml.etree.ParserError, ValueError):
        return None


def feed_links(html: bytes | str, page_url: str) -> list[tuple[str, str, str | None]]:
    """(url, kind, hreflang) of every feed the page declares, in page order."""
    tree = _tree(html)
    out, seen = [], set()
    if tree is None:
        return out
    for link in tree.iter("link", "a"):
        rel = (link.get("rel") or "").lower().split()
        kind = FEED_TYPES.get((link.get("type") or "").split(";")[0].strip().lower())
        href = (link.get("href") or "").strip()
        if "alternate" not in rel or not kind or not href:
            continue
        url = urljoin(page_url, href)
        if urlsplit(url).scheme in ("http", "https") and url not in seen:
            seen.add(url)
            out.append((url, kind, link.get("hreflang")))
    return out


def alternates(html: bytes | str, page_url: str) -> list[tuple[str, str]]:
    """(hreflang, url) of the page's language editions on the same site (x-default left out)."""
    tree = _tree(html)
    out, seen = [], set()
    if tree is None:
        return out
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        lang = (link.get("hreflang") or "").strip()
        href = (link.get("href") or "").strip()
        if "alternate" not in rel or not lang or not href or lang.lower() == "x-default" or link.get("type"):
            continue
        url = urljoin(page_url, href)
        if same_site(url, page_url) and url not in seen:
            seen.add(url)
            out.append((lang, url))
    return out


def robots_sitemaps(text: str, base: str) -> list[str]:
    """The ``Sitemap:`` lines of a robots.txt."""
    out = []
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "sitemap" and value.strip():
            url = urljoin(base, value.strip())
            if urlsplit(url).scheme in ("http", "https") and url not in out:
                out.append(url)
    return out


def language_tag(value: str | None, text: str = "") -> str | None:
    """hreflang / lang value -> one of Newswatch's tags; ``uz`` gets its script from the text."""
    if not value:
        return guess_language(text) if text else None
    low = value.strip().replace("_", "-").lower()
    if low in _LANG_ALIASES:
        return _LANG_ALIASES[low]
    base = low.split("-")[0]
    if base == "uz":
        guessed = guess_language(text) if text else None
        if guessed in ("uz-Latn", "uz-Cyrl"):
            return guessed
        cyrillic = sum(1 for c in text if "\u0400" <= c <= "\u04ff")
        return "uz-Cyrl" if cyrillic > len(text) / 4 else "uz-Latn"
    base = _LANG_ALIASES.get(base, base)
    return base if base in LANGUAGE_TAGS else None


def _signature(url: str) -> str | None:
    """``/news/245611-osh-...`` -> ``/news/\\d+``: the literal path up to the first number."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    out = []
    for seg in segments:
        m = re.match(r"^([^\d]*?)(\d+)", seg)
        if m:
            out.append(re.escape(m.group(1)) + r"\d+")
            return "/" + "/".join(out)
        out.append(re.escape(seg))
    return None


def article_pattern(urls: list[str]) -> str | None:
    """A regular expression for ``article_links:`` when most article-like links share one shape;
    it keeps out the odd sponsored or video link that only looks like an article."""
    shapes = Counter(s for s in map(_signature, urls) if s)
    if not shapes:
        return None
    shape, n = shapes.most_common(1)[0]
    if n >= 2 and n * 2 > len(urls) and shape.count("/") >= 2:
        return shape
    return None


def site_name(html: bytes | str) -> str | None:
    tree = _tree(html)
    if tree is None:
        return None
    for meta in tree.iter("meta"):
        if (meta.get("property") or "").lower() == "og:site_name" and (meta.get("content") or "").strip():
            return " ".join(meta.get("content").split())[:80]
    title = tree.findtext(".//title") or ""
    title = re.split(r"\s+[-—|–:]\s+", " ".join(title.split()))[0]
    return title[:80] or None


def _page_text(html: bytes | str) -> str:
    tree = _tree(html)
    if tree is None:
        return ""
    for bad in tree.xpath("//script|//style"):
        bad.drop_tree()
    return " ".join(tree.text_content().split())[:20000]


def source_id_for(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "source").lower()
    host = host[4:] if host.startswith("www.") else host
    sid = re.sub(r"[^a-z0-9]+", "-", host).strip("-")
    if parts.port and parts.port not in (80, 443):
        sid += f"-{parts.port}"
    return sid or "source"


def country_for(url: str) -> str | None:
    host = urlsplit(url).hostname or ""
    return _CCTLD.get(host.rsplit(".", 1)[-1])


# --------------------------------------------------------------------------- fetching


class _Fetcher:
    def __init__(self, settings):
        self.allow = settings.network_allow
        self.user_agent = settings.user_agent
        self.timeout = min(settings.limits["request_timeout"], 20)
        self.max_bytes = settings.limits["max_feed_bytes"]
        self.cache: dict[str, object] = {}

    def __call__(self, url: str):
        if url not in self.cache:
            self.cache[url] = fetch(url, allow=self.allow, user_agent=self.user_agent, timeout=self.timeout,
                                    max_bytes=self.max_bytes)
        return self.cache[url]


def _check_feed(get, url: str, kind: str) -> FoundFeed:
    got = get(url)
    if not got.ok:
        return FoundFeed(url, kind, error=got.error or f"HTTP {got.status}")
    try:
        parsed = parse_feed(got.body, got.headers, got.url)
    except ParseError as exc:
        return FoundFeed(url, kind, error=exc.detail)
    head = got.body.lstrip()[:1]
    kind = "JSON Feed" if head == b"{" else ("Atom" if b"<feed" in got.body[:2000] else kind)
    return FoundFeed(got.url if same_site(got.url, url) else url, kind, items=len(parsed.entries))


def _check_sitemap(get, url: str, max_age: float) -> FoundSitemap:
    got = get(url)
    if not got.ok:
        return FoundSitemap(url, error=got.error or f"HTTP {got.status}")
    try:
        doc = parse_sitemap(got.body, got.url, max_bytes=50_000_000)
    except ParseError as exc:
        return FoundSitemap(url, error=exc.detail)
    if doc.kind == "index":
        return FoundSitemap(url, "index", entries=len(doc.children))
    recent, _ = select(doc, since=utcnow() - timedelta(seconds=max_age))
    return FoundSitemap(url, "news" if doc.news else "sitemap", entries=len(doc.entries), recent=len(recent))


def discover(url: str, settings, *, max_age: float = 259200.0) -> Discovery:
    """Fetch the homepage and what it points at; report feeds, sitemaps, editions, a listing rule."""
    get = _Fetcher(settings)
    result = Discovery(homepage=url)
    home = get(url)
    if not home.ok:
        result.error = home.error or f"HTTP {home.status}"
        return result
    result.homepage = home.url
    text = _page_text(home.body)
    result.name = site_name(home.body)
    tree = _tree(home.body)
    declared = tree.get("lang") if tree is not None else None
    result.language = reconcile_language(language_tag(declared, text), guess_language(text))

    # language editions: each edition page is read for its own feeds; the homepage's own edition
    # last, so a homepage that lists every edition's feed does not take them all
    editions = alternates(home.body, home.url)
    if len({lang.lower() for lang, _ in editions}) >= 2:
        claimed: set[str] = set()
        pages = sorted(editions[:MAX_EDITIONS], key=lambda e: e[1] == home.url)
        for lang, page_url in pages:
            page = home if page_url == home.url else get(page_url)
            if not page.ok:
                result.notes.append(f"edition {lang} at {page_url}: {page.error or f'HTTP {page.status}'}")
                continue
            tag = language_tag(lang, _page_text(page.body))
            if tag is None or any(e.language == tag for e in result.editions):
                continue
            edition = FoundEdition(tag, page_url)
            for feed_url, kind, _ in feed_links(page.body, page.url)[:MAX_FEEDS]:
                if feed_url not in claimed:
                    found = _check_feed(get, feed_url, kind)
                    edition.feeds.append(found)
                    claimed.add(feed_url)
            result.editions.append(edition)
        order = {u: i for i, (_, u) in enumerate(editions)}
        result.editions.sort(key=lambda e: order.get(e.url, 0))

    if not result.editions:
        for feed_url, kind, _ in feed_links(home.body, home.url)[:MAX_FEEDS]:
            result.feeds.append(_check_feed(get, feed_url, kind))
        if not result.working_feeds:
            for path in COMMON_FEED_PATHS:
                candidate = urljoin(home.url, path)
                if any(f.url == candidate for f in result.feeds):
                    continue
                found = _check_feed(get, candidate, "RSS")
                if not found.error:
                    result.feeds.append(found)
                    break

    robots = get(urljoin(home.url, "/robots.txt"))
    candidates = robots_sitemaps(robots.body.decode("utf-8", "replace"), home.url) if robots.ok else []
    if not candidates:
        candidates = [urljoin(home.url, p) for p in COMMON_SITEMAP_PATHS]
        tried = [_check_sitemap(get, u, max_age) for u in candidates]
        result.sitemaps = [s for s in tried if not s.error]
    else:
        result.sitemaps = [_check_sitemap(get, u, max_age) for u in candidates[:MAX_SITEMAPS]]

    has_feeds = result.working_feeds or any(not f.error for e in result.editions for f in e.feeds)
    if not has_feeds and not result.working_sitemaps:
        listing = parse_listing(home.body, home.url, encoding=None)
        links = [link.url for link in listing.links]
        result.listing_links = len(links)
        result.article_links = article_pattern(links)
        if result.article_links:
            result.listing_links = sum(1 for u in links if re.search(result.article_links, u))
    return result


# --------------------------------------------------------------------------- YAML

_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:/._~%?&=+,;@!$*()\[\]-]*$")


def _q(value: str) -> str:
    """A YAML scalar: plain when it is safely plain, else a JSON string (valid YAML)."""
    if _PLAIN.match(value) and ": " not in value and not value.endswith(":") and "[" not in value[:1]:
        return value
    return json.dumps(value, ensure_ascii=False)


def _feeds_yaml(feeds: list[FoundFeed], pad: str) -> list[str]:
    lines = []
    working = [f for f in feeds if not f.error]
    if working:
        lines.append(f"{pad}feeds:")
        lines += [f"{pad}  - {_q(f.url)}    # {f.kind}, {f.items} items" for f in working]
    return lines


def render_yaml(d: Discovery, source_id: str | None = None, indent: str = "  ") -> str:
    """The block to paste under ``sources:`` (items indented by ``indent``)."""
    sid = source_id or source_id_for(d.homepage)
    p, q = indent, indent + "  "
    lines = [f"{p}- id: {_q(sid)}", f"{q}name: {_q(d.name or sid)}", f"{q}homepage: {_q(d.homepage)}"]
    country = country_for(d.homepage)
    lines.append(f"{q}country: {country}" if country else f"{q}# country: KZ    # KZ, KG, UZ, TJ, TM or a region")
    languages = [e.language for e in d.editions] or ([d.language] if d.language else [])
    if languages:
        lines.append(f"{q}languages: [{', '.join(languages)}]")
    news = [s for s in d.working_sitemaps if s.kind == "news"]
    indexes = [s for s in d.working_sitemaps if s.kind == "index"]
    plain = [s for s in d.working_sitemaps if s.kind == "sitemap"]
    if d.editions:
        lines.append(f"{q}editions:")
        for e in d.editions:
            lines.append(f"{q}  - language: {e.language}")
            feeds = _feeds_yaml(e.feeds, q + "    ")
            lines += feeds or [f"{q}    listings:    # no feed found on {_q(e.url)}: its links are crawled",
                               f"{q}      - {_q(e.url)}"]
    elif d.working_feeds:
        lines += _feeds_yaml(d.feeds, q)
    chosen = news or indexes or plain
    if not d.editions and not d.working_feeds and chosen:
        lines.append(f"{q}sitemaps:")
        for s in chosen:
            what = {"news": f"Google News sitemap, {s.entries} entries, {s.recent} recent",
                    "index": f"sitemap index of {s.entries} sitemaps",
                    "sitemap": f"sitemap, {s.entries} entries, {s.recent} recent"}[s.kind]
            lines.append(f"{q}  - {_q(s.url)}    # {what}")
    else:
        for s in d.working_sitemaps:
            lines.append(f"{q}# also found: sitemap {_q(s.url)} ({s.kind}); add it under sitemaps: to read both")
    if not d.editions and not d.working_feeds and not chosen:
        lines.append(f"{q}listings:    # no feed and no sitemap: the homepage's article links are crawled")
        lines.append(f"{q}  - url: {_q(d.homepage)}")
        if d.article_links:
            lines.append(f"{q}    article_links: {json.dumps(d.article_links)}")
    return "\n".join(lines) + "\n"


def report(d: Discovery) -> list[str]:
    """What was found, for people (printed above the YAML block)."""
    out = [f"homepage  {d.homepage}" + (f"  ({d.name})" if d.name else "")]
    for e in d.editions:
        out.append(f"edition   {e.language:<8}{e.url}")
        for f in e.feeds:
            out.append(f"  feed    {f.url}  " + (f"{f.kind}, {f.items} items" if not f.error else f"not usable: {f.error}"))
    for f in d.feeds:
        out.append(f"feed      {f.url}  " + (f"{f.kind}, {f.items} items" if not f.error else f"not usable: {f.error}"))
    for s in d.sitemaps:
        if s.error:
            out.append(f"sitemap   {s.url}  not usable: {s.error}")
        elif s.kind == "index":
            out.append(f"sitemap   {s.url}  index of {s.entries} sitemaps")
        else:
            label = "Google News sitemap" if s.kind == "news" else "sitemap"
            out.append(f"sitemap   {s.url}  {label}, {s.entries} entries, {s.recent} recent")
    has_feeds = d.working_feeds or any(not f.error for e in d.editions for f in e.feeds)
    if not has_feeds and not d.working_sitemaps:
        out.append("no feed and no sitemap found: the homepage can be crawled as a listing page "
                   f"({d.listing_links} article links" + (f", pattern {d.article_links})" if d.article_links else ")"))
    out += [f"note      {n}" for n in d.notes]
    return out
