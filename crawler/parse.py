"""Parse stage: feed bytes -> ParsedFeed (RSS 0.9x/1.0/2.0, Atom, JSON Feed via feedparser).

Pure: no network, no database. Plain, well-formed UTF-8 RSS 2.0 and Atom go through an lxml fast
path (``crawler.feedfast``) that applies feedparser's rules and gives the same entries at a fraction
of the cost; everything else goes to feedparser, which gets the body as ``io.BytesIO`` plus the
response headers, so it never does its own I/O; its HTML sanitiser and relative-URI rewriting are
off (we keep plain text, not feed HTML, and they dominate parse time). Entries the caller already
has (``known=``), or has exactly as the fast path read them (``unchanged=``, by raw fingerprint),
are not converted at all.

>>> feed = parse_feed(b'<rss version="2.0"><channel><title>T</title><item><title>A</title>'
...                   b'<link>/a</link></item></channel></rss>', {}, "https://example.org/rss")
>>> feed.entries[0].url
'https://example.org/a'
"""

from __future__ import annotations

import calendar
import dataclasses
import functools
import html
import html.entities
import io
import json
import re
import time
from collections.abc import Callable, Container, Mapping
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import feedparser
import lxml.etree

from .encoding import charset_param, clean_text, decode, looks_like_mojibake
from . import dates
from . import feeditems, feedfast
from .errors import ParseError
from .models import FeedEntry, ParsedFeed

__all__ = ["parse_feed", "looks_like_html", "html_to_text"]

# bozo exceptions that say nothing about the feed itself: a server that labels its feed
# text/html or text/xml, or whose charset header disagrees with the XML declaration.
# feedparser recovers from these silently and correctly.
_BENIGN_BOZO = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)

_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")
_FEED_ROOTS = (b"<rss", b"<feed", b"<rdf:rdf", b"<rdf")

# elements whose boundaries separate words when HTML is flattened to text
_BREAKING_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table tbody td tfoot th thead tr ul".split()
)
_DROPPED_TAGS = frozenset(("script", "style", "noscript", "template", "iframe", "object"))
# C0/C1 control characters (and DEL) lxml refuses or that have no business in text, each replaced
# by a space (a regex: str.translate with a dict looks up every character, and was the largest
# single cost of parsing a feed with full-text items)
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")


def looks_like_html(body: bytes) -> bool:
    """True when ``body`` starts like an HTML page rather than a feed.

    Cheap: looks only at the first KB, skipping a BOM, whitespace, an XML declaration and
    comments. Used to recognise challenge/login/error pages served at a feed URL.
    """
    head = body[:1024]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16: decode just enough to look
        try:
            head = head.decode("utf-16", errors="ignore").encode("ascii", errors="ignore")
        except UnicodeError:  # pragma: no cover - errors="ignore"
            return False
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    while True:
        if head.startswith(b"<?"):  # XML declaration or processing instruction (xml-stylesheet)
            end = head.find(b"?>")
        elif head.startswith(b"<!--"):
            end = head.find(b"-->")
        else:
            break
        if end < 0:
            return False
        head = head[end + 2 :].lstrip(b"> \t\r\n")
    if head.startswith(_HTML_STARTS):
        return True
    if head.startswith(_FEED_ROOTS):
        return False
    # an XHTML page may open with a namespaced <html ...> after the doctype line
    return head.startswith(b"<!doctype") and b"<html" in head and not any(r in head for r in _FEED_ROOTS)


def _html_title(body: bytes) -> str | None:
    """The <title> of an HTML page, for error messages ("Just a moment...")."""
    head = body[:8192]
    low = head.lower()
    start = low.find(b"<title")
    if start < 0:
        return None
    start = low.find(b">", start)
    end = low.find(b"</title", start)
    if start < 0 or end < 0:
        return None
    title = " ".join(html.unescape(head[start + 1 : end].decode("utf-8", errors="replace")).split())
    return title[:80] or None


def html_to_text(fragment: str | None) -> str:
    """Flatten an HTML fragment to one line of plain text (entities decoded, whitespace collapsed).

    Block elements and <br> separate words; scripts and styles are dropped. A summary that was
    escaped twice (``&lt;p&gt;`` inside CDATA) is flattened twice.
    """
    if not fragment:
        return ""
    text = fragment
    for _ in range(2):
        if "<" not in text and "&" not in text:
            break
        text = _flatten(text)
        if "<" not in text or not _has_tag(text):
            break
    return " ".join(_CONTROL_RE.sub(" ", text).split())


def _has_tag(text: str) -> bool:
    low = text.lower()
    return any(t in low for t in ("<p>", "<p ", "<br", "</", "<div", "<img", "<a "))


def _flatten(markup: str) -> str:
    markup = _CONTROL_RE.sub(" ", markup)
    if "<" not in markup:
        return html.unescape(markup)
    simple = _flatten_simple(markup)
    if simple is not None:
        return simple
    try:
        text = _text_of(_parse_fragment(markup))
    except (lxml.etree.ParserError, ValueError, RecursionError):
        return _flatten_slowly(markup)
    if not text.strip():
        # libxml2 gives up silently on nesting deeper than 256 elements
        return _flatten_slowly(markup)
    return text


class _TextCollector(HTMLParser):
    """Stdlib tokenizer: no depth limit, used when lxml cannot cope."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in _DROPPED_TAGS:
            self._skip += 1
        elif tag in _BREAKING_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in _DROPPED_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BREAKING_TAGS:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def _flatten_slowly(markup: str) -> str:
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    return "".join(collector.parts)


# Most feed summaries are "<p>text <a href=...>link</a></p>": for those, cutting the tags out gives
# exactly what parsing gives (tests/test_parse.py checks it against the parser on real fragments),
# at a tenth of the cost. Anything else (comments, scripts, other tags, stray < or >, entities
# libxml2 might read differently) goes to the parser.
_SIMPLE_TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*"
    r"""(?:\s*=\s*(?:"[^"<>]*"|'[^'<>]*'|[^\s"'<>=`]+))?)*)\s*/?>""")
_INLINE = frozenset("b i u em strong span a img br small sup sub s strike q cite abbr".split())
_BLOCK = frozenset("p div h1 h2 h3 h4 h5 h6 ul ol li blockquote hr".split())
_VOID = frozenset(("br", "img", "hr"))
# which children each element may hold without libxml2 closing or moving anything (HTML 4 rules)
_MAY_HOLD = {**dict.fromkeys(_INLINE | {"p", "h1", "h2", "h3", "h4", "h5", "h6"}, _INLINE),
             **dict.fromkeys(("div", "blockquote", "li", None), _INLINE | _BLOCK), "ul": {"li"}, "ol": {"li"}}
_ENTITY_REF = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z][a-zA-Z0-9]*));")


def _flatten_simple(markup: str) -> str | None:
    parts, pos, open_ = [], 0, []
    for tag in _SIMPLE_TAG.finditer(markup):
        closing, name = tag.group(1), tag.group(2).lower()
        parent = open_[-1] if open_ else None
        between = markup[pos:tag.start()]
        if parent in ("ul", "ol") and between.strip():
            return None  # text straight inside a list
        if closing:
            if name != parent:
                return None  # a stray or crossed end tag: libxml2 drops or moves things
            open_.pop()
        else:
            if name not in _MAY_HOLD[parent] or (tag.group(0).endswith("/>") and name not in _VOID):
                return None
            if name not in _VOID:
                open_.append(name)
        parts.append(between)
        parts.append(" " if name in _BREAKING_TAGS else "")
        pos = tag.end()
    if open_ and open_[-1] in ("ul", "ol") and markup[pos:].strip():
        return None
    parts.append(markup[pos:])
    text = "".join(parts)
    if "<" in text or ">" in text:
        return None
    if "&" in text:
        if text.count("&") != len(_ENTITY_REF.findall(text)):
            return None  # a bare "&" or "&nbsp" without ";": leave it to libxml2's rules
        for ref in _ENTITY_REF.finditer(text):
            number, hexa, name = ref.groups()
            if name is not None:
                if name not in html.entities.name2codepoint:  # HTML 4, as libxml2 knows them
                    return None
                continue
            code = int(number) if number is not None else int(hexa, 16)
            if not (0x20 <= code < 0x7F or 0xA0 <= code < 0xD800 or 0xE000 <= code <= 0x10FFFF):
                return None
        text = html.unescape(text)
    return text


# A plain libxml2 HTML parser: lxml.html's own calls back into Python for every element it makes
# (HtmlElement class lookup), which cost more than the parsing itself on full-text feeds.
_HTML_PARSER = lxml.etree.HTMLParser()
_FULL_HTML = re.compile(r"^\s*<(?:html|!doctype)", re.IGNORECASE)


def _parse_fragment(markup: str):
    """The <body> of ``markup`` parsed as lxml.html.fragment_fromstring would parse it."""
    if not _FULL_HTML.match(markup):
        markup = f"<html><body>{markup}</body></html>"
    doc = lxml.etree.fromstring(markup, _HTML_PARSER)
    if doc is None:
        raise lxml.etree.ParserError("Document is empty")
    body = doc.find("body")
    if body is None:
        raise lxml.etree.ParserError("no body")
    return body


def _text_of(root) -> str:
    """The text of a parsed fragment, with a space at the edges of block elements and without
    scripts and styles. lxml does the walking (strip_elements, iter, itertext skip comments and
    processing instructions but keep what follows them): a Python walk over every element cost
    more than parsing a full-text feed."""
    lxml.etree.strip_elements(root, *_DROPPED_TAGS, with_tail=False)
    for el in root.iter(*_BREAKING_TAGS):
        el.text = " " + (el.text or "")
        el.tail = " " + (el.tail or "")
    return "".join(root.itertext())


def _iso_utc(struct: time.struct_time | None) -> str | None:
    if not struct:
        return None
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(calendar.timegm(struct)))
    except (OverflowError, ValueError, TypeError):
        return None


MAX_TITLE = 1000  # characters; a "title" longer than this is a broken or hostile feed
MAX_SUMMARY = 20000


def _clean_line(value: str | None, limit: int = MAX_TITLE) -> str:
    if not value:
        return ""
    return clean_text(_CONTROL_RE.sub(" ", value), limit, one_line=True)


def _entry_url(entry, feed_url: str) -> str | None:
    link = (entry.get("link") or "").strip()
    if not link:
        return None
    resolved = urljoin(feed_url, link)
    parts = urlsplit(resolved)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return resolved


def _entry_author(entry) -> str | None:
    detail = entry.get("author_detail") or {}
    author = detail.get("name") or entry.get("author") or ""
    author = _clean_line(html_to_text(author), 300)
    return author or None


def _entry_summary(entry) -> str:
    summary = entry.get("summary") or ""
    if not summary.strip():
        # Atom entries (and some RSS) carry only <content>/<content:encoded>
        for content in entry.get("content") or ():
            if content.get("value", "").strip():
                summary = content["value"]
                break
    # flattening HTML costs time per character: cut the raw markup first, well above what is kept
    return _clean_line(html_to_text(summary[: MAX_SUMMARY * 10]), MAX_SUMMARY)


def _published(entry, tz) -> str | None:
    """feedparser reads a date without a zone as UTC; an outlet that drops the zone means its own."""
    if tz is not None:
        for name in ("published", "updated"):
            raw = entry.get(name)
            if raw and not dates.has_zone(raw):
                found = dates.parse_date(raw, tz)
                if found is not None:
                    return dates.iso(found)
    return _iso_utc(entry.get("published_parsed")) or _iso_utc(entry.get("updated_parsed"))


def _entry_guid(entry) -> str | None:
    return clean_text(entry.get("id") or "", 2000).strip() or None


def _to_entry(entry, feed_url: str, tz=None) -> FeedEntry | None:
    guid = _entry_guid(entry)
    url = _entry_url(entry, feed_url)
    title = _clean_line(html_to_text((entry.get("title") or "")[: MAX_TITLE * 20]))
    summary = _entry_summary(entry)
    if not (guid or url or title or summary):
        return None
    published = _published(entry, tz)
    # dict.get: feedparser's own get() maps a missing updated_parsed to published_parsed (and warns);
    # the fast path's entries are not dicts and have no such mapping
    updated = _iso_utc(dict.get(entry, "updated_parsed") if isinstance(entry, dict) else entry.get("updated_parsed"))
    return FeedEntry(
        guid=guid,
        url=url,
        title=title,
        summary=summary,
        author=_entry_author(entry),
        published_at=published,
        updated_at=updated if updated != published else None,
    )


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    *,
    source_id: str | None = None,
    max_items: int = 500,
    timezone: str | None = None,
    known: Callable[[str | None, str | None], bool] | None = None,
    unchanged: Callable[[str | None, str | None, str], bool] | None = None,
    handled: Container[bytes] | None = None,
) -> ParsedFeed:
    """Parse a fetched feed into plain-text entries.

    ``headers`` are the HTTP response headers (any case); ``url`` is the feed URL after
    redirects, used to resolve relative links. At most ``max_items`` entries are kept, in feed
    order. Raises ParseError for an HTML page, an empty body, or XML too broken to yield any
    entry; a feed that is broken but still yields entries comes back with ``warning`` set.

    ``known(guid, url)``, when given, says whether the caller already has the entry with that guid
    (or, without one, that URL): such entries are left out of ``entries`` unconverted (no
    HTML-to-text, no dates) and counted in ``ParsedFeed.known``; they still count towards
    ``max_items``. In a changed feed most entries are known, and converting them was most of the
    cost of parsing it.

    ``unchanged(guid, url, raw_fingerprint)`` does the same for an entry read by the fast path
    given its raw fingerprint (``FeedEntry.raw_fingerprint``: a hash of the item's text as written,
    taken before any conversion): the caller says whether it has the entry exactly so. Entries of
    the feedparser path have no raw fingerprint and are always converted.

    ``handled``, when given, asks for the digests of the feed's items (``crawler.feeditems``: each
    item's bytes with the feed URL, charset and time zone), returned in ``ParsedFeed.item_digests``
    for the caller to keep once every entry of this poll is handled; items whose digest is in
    ``handled`` are cut out of the body before it is parsed at all, and counted in ``known``.
    """
    if not body or not body.strip():
        raise ParseError("not a feed (empty body)", source_id=source_id, url=url)
    if looks_like_html(body):
        title = _html_title(body)
        detail = f": {title!r}" if title else ""
        raise ParseError(f"not a feed (got an HTML page{detail})", source_id=source_id, url=url)
    tz = dates.zone(timezone) if timezone else None
    if _looks_like_json(body):
        return parse_json_feed(body, url, source_id=source_id, max_items=max_items, tz=tz)

    response_headers = {str(k).lower(): str(v) for k, v in headers.items()}
    response_headers["content-location"] = url
    cut, digests = 0, None
    if handled is not None:
        # (the charset, not the whole Content-Type: CDN nodes that differ in the media type or the
        # charset's case must not make every item look new)
        charset = charset_param(response_headers.get("content-type")) or ""
        items = feeditems.find(body, salt=f"{url}\x1f{charset}\x1f{timezone or ''}", limit=max_items)
        if items is not None:
            digests = b"".join(items.digests)
            reduced, cut = feeditems.without(body, items, handled)
            if cut and not _is_utf8(reduced):
                # another charset is chosen on all the text there is (a few new items alone may not
                # tell windows-1251 from KOI8-R): such feeds are parsed whole
                cut = 0
            else:
                body = reduced
    text, suspect = _decode_feed(body, response_headers)
    text = _cut_items(text, max_items)
    if text.count("<") > MAX_TAGS:
        raise ParseError(f"feed has more than {MAX_TAGS} tags in its first {max_items} items; not parsed "
                         f"(parsing it would hold up the whole crawl)", source_id=source_id, url=url)
    data = text.encode("utf-8")
    try:
        # Simple, well-formed RSS 2.0 / Atom (now UTF-8, its DOCTYPE gone) is read by lxml (same
        # results, ~10x faster); anything else, or anything odd, goes to feedparser.
        parsed = feedfast.parse(data, response_headers, url, empty=cut > 0)
        if parsed is None:
            parsed = feedparser.parse(
                io.BytesIO(data),
                response_headers=response_headers,
                sanitize_html=False,
                resolve_relative_uris=False,
            )
    except (ValueError, TypeError, LookupError, RecursionError, AssertionError) as exc:
        # feedparser's loose parser has crashed on hostile input before; a feed it cannot read is a
        # parse error of that feed, never a crashed crawl.
        raise ParseError(f"feed could not be parsed ({type(exc).__name__}: {exc})", source_id=source_id,
                         url=url) from None

    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(problem, _BENIGN_BOZO):
        problem = None
    raw_entries = list(parsed.get("entries") or [])
    if problem is not None and raw_entries and _last_entry_cut_off(body):
        # a body cut short mid-item: the last entry may carry half a title or summary;
        # storing it would make a duplicate once the whole item arrives next time
        raw_entries.pop()

    entries: list[FeedEntry] = []
    skipped = cut
    # the time zone decides how a zoneless date converts: a new one makes every entry new to compare
    salt = timezone or ""
    for raw in raw_entries:
        if len(entries) + skipped >= max_items:
            break
        fingerprint = raw.raw_fingerprint(salt) if isinstance(raw, feedfast.Entry) else None
        if known is not None or (unchanged is not None and fingerprint is not None):
            guid, link = _entry_guid(raw), _entry_url(raw, url)
            if (guid or link) and ((known is not None and known(guid, link)) or (
                    fingerprint is not None and unchanged is not None and unchanged(guid, link, fingerprint))):
                skipped += 1
                continue
        entry = _to_entry(raw, url, tz)
        if entry is not None:
            if fingerprint is not None:
                entry = dataclasses.replace(entry, raw_fingerprint=fingerprint)
            if suspect() or looks_like_mojibake(f"{entry.title} {entry.summary}"):
                entry = dataclasses.replace(entry, encoding_suspect=True)
            entries.append(entry)

    if not entries and not skipped:
        if problem is not None:
            raise ParseError(f"malformed XML: {_describe(problem)}", source_id=source_id, url=url)
        if not parsed.get("version"):
            raise ParseError(
                "not a feed (no RSS, Atom or JSON Feed root element)", source_id=source_id, url=url
            )
    warning = f"malformed XML: {_describe(problem)}" if problem is not None else None
    return ParsedFeed(title=_feed_title(parsed), entries=entries, warning=warning, known=skipped,
                      item_digests=digests)


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- JSON Feed 1.0 / 1.1 (https://jsonfeed.org/version/1.1), which feedparser does not read -----------


def _looks_like_json(body: bytes) -> bool:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def _json_text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def parse_json_feed(body: bytes, url: str, *, source_id: str | None = None, max_items: int = 500,
                    tz=None) -> ParsedFeed:
    """A JSON Feed (1.0 or 1.1) -> ParsedFeed, the same entries an RSS feed would give."""
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParseError(f"malformed JSON Feed: {exc}", source_id=source_id, url=url) from None
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(version, str) or "jsonfeed.org/version/1" not in version:
        raise ParseError("not a feed (JSON without a jsonfeed.org version)", source_id=source_id, url=url)
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError("malformed JSON Feed: items is not a list", source_id=source_id, url=url)
    feed_authors = _json_authors(doc)
    entries: list[FeedEntry] = []
    skipped = 0
    for item in items:
        if len(entries) >= max_items:
            break
        if not isinstance(item, dict):
            skipped += 1
            continue
        link = _json_text(item.get("url")) or _json_text(item.get("external_url"))
        resolved = urljoin(url, link) if link else None
        if resolved and (urlsplit(resolved).scheme not in ("http", "https") or not urlsplit(resolved).netloc):
            resolved = None
        guid = item.get("id")
        guid = str(guid).strip() if isinstance(guid, (str, int)) and not isinstance(guid, bool) else None
        title = _clean_line(html_to_text(_json_text(item.get("title"))))
        summary = _json_text(item.get("summary")) or _json_text(item.get("content_text")) \
            or _json_text(item.get("content_html"))
        summary = _clean_line(html_to_text(summary))
        if not (guid or resolved or title or summary):
            skipped += 1
            continue
        published = None
        for name in ("date_published", "date_modified"):
            found = dates.parse_date(_json_text(item.get(name)), tz)
            if found is not None:
                published = dates.iso(found)
                break
        authors = _json_authors(item) or feed_authors
        entries.append(FeedEntry(guid=guid or None, url=resolved, title=title, summary=summary,
                                 author=authors, published_at=published))
    warning = f"{skipped} items without id, url, title or text skipped" if skipped else None
    return ParsedFeed(title=_clean_line(_json_text(doc.get("title"))), entries=entries, warning=warning)


def _json_authors(obj: dict) -> str | None:
    people = obj.get("authors")  # 1.1
    if not isinstance(people, list):
        people = [obj.get("author")]  # 1.0
    names = [_clean_line(p.get("name")) for p in people if isinstance(p, dict) and isinstance(p.get("name"), str)]
    names = [n for n in names if n]
    return ", ".join(names) or None


def _last_entry_cut_off(body: bytes) -> bool:
    """Does the body end inside an <item>/<entry> (opened after the last one was closed)?"""
    tail = body[-65536:].lower()
    for name in (b"item", b"entry"):
        opened = max(tail.rfind(b"<" + name + b">"), tail.rfind(b"<" + name + b" "))
        if opened >= 0:
            return tail.rfind(b"</" + name + b">") < opened
    return False


_XML_DECL = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*)(["'])[^"']*\2""", re.IGNORECASE)
_DOCTYPE = re.compile(r"<!DOCTYPE", re.IGNORECASE)


def _decode_feed(body: bytes, headers: dict[str, str]) -> tuple[str, Callable[[], bool]]:
    """Decode the feed ourselves (BOM, HTTP charset, XML declaration, UTF-8, detection; see
    crawler.encoding) and hand feedparser UTF-8 saying so: feedparser alone reads undeclared
    windows-1251 as windows-1252. The DOCTYPE goes too (see _strip_doctypes). Returns the text and
    whether it looks like mojibake (``Decoded.suspect``), asked for only when needed."""
    media = headers.get("content-type", "").partition(";")[0]
    header_charset = charset_param(headers.get("content-type"))
    declared = re.match(rb"""\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)""", body[:512])
    decoded = decode(body, (header_charset, declared.group(1).decode("ascii") if declared else None), judge=False)
    if decoded.suspect is None:
        # judged as decode() would judge it, but only when an entry is converted: a changed feed
        # whose entries are all stored (a new build date) then costs no judging at all
        suspect = functools.cache(functools.partial(looks_like_mojibake, decoded.text))
    else:
        suspect = functools.partial(bool, decoded.suspect)
    text = _XML_DECL.sub(r"\1\2utf-8\2", decoded.text, count=1)
    text = _CHAR_REF.sub(_safe_char_ref, _strip_doctypes(text))
    headers["content-type"] = f"{media.strip() or 'application/xml'}; charset=utf-8"
    return text, suspect


_ITEM_END = re.compile(r"</(?:item|entry)\s*>", re.IGNORECASE)
_ROOT = re.compile(r"<(rss|feed|rdf:RDF)[\s>]", re.IGNORECASE)
MAX_TAGS = 100_000  # feedparser needs ~20 s per million tags; real 200-item full-text feeds stay far below


def _cut_items(text: str, max_items: int) -> str:
    """The feed up to its ``max_items``-th item, properly closed: feedparser reads every item it is
    given (50 000 items take it 20 s) before we could keep only the first ones."""
    ends = _ITEM_END.finditer(text)
    for count, end in enumerate(ends, start=1):
        if count == max_items:
            break
    else:
        return text
    root = _ROOT.search(text[:4096])
    name = root.group(1).lower() if root else "rss"
    closing = {"rss": "</channel></rss>", "feed": "</feed>", "rdf:rdf": "</rdf:RDF>"}[name]
    if name == "rdf:rdf" and not re.search(r"</channel\s*>", text[: end.end()], re.IGNORECASE):
        closing = "</channel></rdf:RDF>"
    return text[: end.end()] + closing


_CHAR_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,20}));")


def _safe_char_ref(m: re.Match) -> str:
    """Character references to surrogates, controls or beyond U+10FFFF crash feedparser's loose
    parser (UnicodeEncodeError / ValueError) or put NULs in titles; they become a space."""
    code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF or (code < 0x20 and code not in (9, 10, 13)) \
            or 0x7F <= code < 0xA0 or code in (0xFFFE, 0xFFFF):
        return " "
    return m.group(0)


def _strip_doctypes(text: str) -> str:
    """Remove every DOCTYPE declaration, internal subset included.

    Entity declarations are how XML bombs (billion laughs) and XXE (external entities reading
    local files or reaching internal hosts) get in, and feeds have no use for them. feedparser
    strips them too, but with a regular expression that stops at the first ``<x`` inside an
    entity value, leaving the rest of the subset to expat (35 s and 100 MB for a 2 KB feed)."""
    while True:
        found = _DOCTYPE.search(text)
        if not found:
            return text
        i, n, depth, quote = found.end(), len(text), 0, None
        while i < n:
            c = text[i]
            if quote:
                if c == quote:
                    quote = None
            elif text.startswith("<!--", i):
                end = text.find("-->", i + 4)
                i = n if end < 0 else end + 2
            elif c in "\"'":
                quote = c
            elif c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
            elif c == ">" and depth <= 0:
                break
            i += 1
        text = text[: found.start()] + text[i + 1 :]


def _feed_title(parsed) -> str:
    return _clean_line(html_to_text((parsed.get("feed") or {}).get("title")))


def _describe(exc: BaseException) -> str:
    """'undefined entity (line 19, column 38)' rather than '<unknown>:19:38: undefined entity'."""
    get_message = getattr(exc, "getMessage", None)
    if callable(get_message):  # xml.sax.SAXParseException
        try:
            return f"{get_message()} (line {exc.getLineNumber()}, column {exc.getColumnNumber()})"
        except Exception:  # pragma: no cover - locator gone
            pass
    return str(exc) or type(exc).__name__
