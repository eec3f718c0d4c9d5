"""Listing stage: a "latest news" or section page -> the article links on it, in page order.

Pure. With ``article_links:`` (a regular expression searched in each absolute link URL) the
outlet's own URL scheme decides. Without it, a link is an article when its path looks like one:
a date (``/2025/06/18/``), a numeric id of four digits or more (``/news/123456``) or a long slug
(``/uzbekistan-sends-note-to-russia``), on the outlet's own site, and not a tag, category, page,
author, search or feed page. Links to other sites, non-http(s) links and fragments are skipped and
counted with their reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from .errors import ParseError
from .extract import decode_html
from .sitemap import same_site

__all__ = ["ListingLink", "Listing", "parse_listing", "looks_like_article"]

MAX_LINKS = 5000  # <a> elements looked at per page

# path segments of pages that list or describe, never of an article
_NAV_SEGMENTS = frozenset(
    "tag tags category categories cat rubric rubrics section sections topic topics theme themes page pages "
    "author authors avtor search poisk login register signup subscribe subscription account profile user users "
    "about contact contacts advert advertising reklama privacy terms rss feed feeds sitemap archive archives "
    "arxiv arhiv amp print share comments video-list gallery-list".split()
)
_FILE_SUFFIX = re.compile(r"\.(?:jpe?g|png|gif|webp|svg|pdf|docx?|xlsx?|zip|rar|mp[34]|xml|rss|json|css|js)$",
                          re.IGNORECASE)
_DATE = re.compile(r"/(?:19|20)\d\d[/-](?:0?[1-9]|1[0-2])(?:[/-](?:0?[1-9]|[12]\d|3[01]))?(?:/|$|-)")
_ID = re.compile(r"(?:^|[/_.:=-])\d{4,}(?:[/_.-]|$)")
_SLUG_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_PAGING = re.compile(r"(?:^|&)(?:page|p|pg|offset|start|sort|lang)=", re.IGNORECASE)


@dataclass(frozen=True)
class ListingLink:
    url: str
    text: str


@dataclass
class Listing:
    links: list[ListingLink] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def looks_like_article(url: str) -> bool:
    """Does this URL's shape say "one article" rather than navigation?"""
    parts = urlsplit(url)
    path = parts.path
    segments = [s for s in path.split("/") if s]
    if not segments or _FILE_SUFFIX.search(path):
        return False
    if any(s.lower() in _NAV_SEGMENTS for s in segments):
        return False
    if parts.query and _PAGING.search(parts.query) and not _ID.search(path):
        return False
    if _DATE.search(path + "/") or _ID.search(path):
        return True
    last = segments[-1].rsplit(".", 1)[0]
    words = _SLUG_WORD.findall(last)
    # a headline slug: several words joined by hyphens/underscores, long enough not to be a section
    return len(words) >= 4 and len(last) >= 24


def parse_listing(body: bytes, url: str, *, article_links: str | None = None, encoding: str | None = None,
                  source_id: str | None = None) -> Listing:
    """Article links of a listing page, in page order, each once. ``url`` is the page's URL after
    redirects (relative links, the site check)."""
    text = decode_html(body, encoding)
    if not text.strip():
        raise ParseError("listing page is empty", source_id=source_id, url=url)
    try:
        tree = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise ParseError(f"listing page is not HTML: {exc}", source_id=source_id, url=url) from None
    base = url
    for el in tree.iter("base"):
        if el.get("href"):
            base = urljoin(url, el.get("href").strip())
        break
    pattern = re.compile(article_links) if article_links else None
    page = url.split("#", 1)[0]
    result, seen = Listing(), {}
    for n, a in enumerate(tree.iter("a")):
        if n >= MAX_LINKS:
            result.skip("beyond the link limit")
            break
        href = (a.get("href") or "").strip()
        if not href or href.startswith("#"):
            continue
        link = urljoin(base, href).split("#", 1)[0]
        parts = urlsplit(link)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            result.skip("not http(s)")
            continue
        if link == page:
            continue
        if link in seen:
            # the same story linked from its picture, its headline and "read more": keep the headline
            text = " ".join(a.text_content().split())[:500]
            if len(text) > len(result.links[seen[link]].text):
                result.links[seen[link]] = ListingLink(link, text)
            continue
        if not same_site(link, url):
            result.skip("other site")
            continue
        if pattern is not None:
            if not pattern.search(link):
                result.skip("does not match article_links")
                continue
        elif not looks_like_article(link):
            result.skip("navigation")
            continue
        seen[link] = len(result.links)
        result.links.append(ListingLink(link, " ".join(a.text_content().split())[:500]))
    return result
