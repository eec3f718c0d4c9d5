"""Fast path of the parse stage: plain, well-formed UTF-8 RSS 2.0 and Atom 1.0 read with lxml.

feedparser reads every character through Python SAX callbacks: a 170 KB feed costs ~30 ms even with
its sanitiser off, which made feed parsing the largest cost of a poll cycle. Most feeds are simple:
well-formed UTF-8 XML whose items hold a title, link, guid, date, author and HTML description.
``parse`` reads those with lxml (C) and returns the same shape as ``feedparser.parse`` -- a dict
with ``feed``, ``entries`` and ``version`` -- applying feedparser's own rules (whitespace strip,
relative links and permalink guids resolved with its ``_urljoin``, its date parser, its
windows-1252 and double-encoded UTF-8 repairs, "guid is the link when there is no link", last
alternate Atom link wins), so ``parse_feed`` turns both into identical entries
(tests/test_parse.py compares them on every fixture and corpus feed).

Anything else returns None and ``parse_feed`` uses feedparser, which stays the robust path: another
encoding, a DOCTYPE or entity declaration, xml:base, broken XML, RSS 0.9x/1.0, an element in an item
whose meaning feedparser would apply to our fields in a way not reproduced here (media:title,
itunes:summary, an atom:link inside an RSS item, XHTML content...), repeated fields, no entries.

Safety: the lxml parser never loads a DTD, never expands entities and never touches the network
(``resolve_entities=False``, ``load_dtd=False``, ``no_network=True``, ``huge_tree=False``); a
document that declares anything is not ours to read in the first place.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping

import lxml.etree as etree
from feedparser.datetimes import _parse_date  # feedparser's own date parser: identical dates
from feedparser.html import _cp1252  # feedparser's windows-1252 repair table
from feedparser.mixin import _FeedParserMixin as _Mixin  # its handlers and known namespaces
from feedparser.urls import _urljoin  # feedparser's relative-URI rule

from .encoding import charset_param

__all__ = ["parse", "Entry"]

ATOM = "http://www.w3.org/2005/Atom"
_CONTENT = "http://purl.org/rss/1.0/modules/content/"
_DC = "http://purl.org/dc/elements/1.1/"
_A = "{" + ATOM + "}"

# Namespaces feedparser knows: an element in one of them may feed a field we read (itunes:summary,
# media:title...). Elements of namespaces it does not know are kept under a prefixed key and
# cannot touch our fields, so they are harmless -- when they carry a prefix.
_KNOWN_NS = frozenset(uri.lower() for uri in _Mixin.namespaces)

# RSS item children and what feedparser does with them for our fields ("-" = nothing).
_RSS_FIELDS = {
    "title": "title", "link": "link", "guid": "guid", "description": "description",
    "pubDate": "published", "author": "author",
    "{%s}encoded" % _CONTENT: "content", "{%s}creator" % _DC: "author", "{%s}date" % _DC: "updated",
    "category": "-", "comments": "-", "enclosure": "-", "{%s}subject" % _DC: "-",
    # Media RSS pictures: feedparser lists them apart (media:title or media:description would not be)
    **{"{%s}%s" % (ns, name): "-" for ns in ("http://search.yahoo.com/mrss/", "http://search.yahoo.com/mrss")
       for name in ("content", "thumbnail")},
}
# known-namespace RSS children that feedparser keeps apart from our fields
_HARMLESS_NS = frozenset({
    "http://purl.org/rss/1.0/modules/slash/", "http://wellformedweb.org/commentapi/",
})
_ATOM_FIELDS = {
    _A + "title": "title", _A + "link": "link", _A + "id": "guid", _A + "summary": "summary",
    _A + "content": "content", _A + "published": "published", _A + "updated": "updated",
    _A + "author": "author", _A + "category": "-", _A + "rights": "-",
}
_TEXT_TYPES = {None: "text/plain", "text": "text/plain", "html": "text/html", "text/plain": "text/plain",
               "text/html": "text/html"}

_C1 = re.compile("[\x80-\x9f]")
_BEYOND_LATIN1 = re.compile("[^\x00-\xff]")
_ENTITY_LIKE = re.compile("&([A-Za-z0-9_]+);")
# feedparser's e-mail pattern for RSS authors (mixin._sync_author_detail)
_EMAIL = re.compile(r"""(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"""
                    r"""([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?""")
_PARSER_OPTIONS = dict(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False,
                       recover=False, remove_pis=True, remove_comments=False, strip_cdata=True)


class _NotSimple(Exception):
    """This feed needs feedparser."""


def parse(body: bytes, headers: Mapping[str, str], url: str, *, empty: bool = False) -> dict | None:
    """A feedparser-shaped result for a simple feed, or None when feedparser must read it.

    ``headers`` are the lower-cased response headers as ``parse_feed`` hands them to feedparser.
    ``empty``: a feed without entries is read too (parse_feed cut out every item it had handled).
    """
    try:
        return _parse(body, headers, url, empty)
    except (_NotSimple, etree.LxmlError, ValueError, UnicodeError, RecursionError):
        return None


def _parse(body: bytes, headers: Mapping[str, str], url: str, empty: bool) -> dict | None:
    if not _utf8_declared(body, headers.get("content-type", "")):
        return None
    # a DTD, entity declarations or xml:base: feedparser's business (and the safe path for them)
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body or b"xml:base" in body:
        return None
    # no separate UTF-8 check: libxml2 refuses invalid bytes in a UTF-8 document (XMLSyntaxError)
    root = etree.fromstring(body, etree.XMLParser(**_PARSER_OPTIONS))
    if root.tag == "rss" and root.get("version", "").strip() in ("2.0", "2.0.1", "2.00"):
        channel = _only(root, "channel")
        if channel is None:
            return None
        feed_title = _feed_title(channel, "title")
        entries = [_rss_item(item, url) for item in channel.iterchildren("item")]
        version = "rss20"
    elif root.tag == _A + "feed":
        feed_title = _feed_title(root, _A + "title")
        entries = [_atom_entry(entry, url) for entry in root.iterchildren(_A + "entry")]
        version = "atom10"
    else:
        return None
    if not entries and not empty:
        return None  # "no entries" has its own wording on the feedparser path
    return {"feed": {"title": feed_title}, "entries": entries, "version": version, "bozo": 0}


def _utf8_declared(body: bytes, content_type: str) -> bool:
    """UTF-8 by every account: the HTTP charset (if any) and the XML declaration (if any)."""
    charset = charset_param(content_type) or ""
    # (text/xml without a charset is us-ascii by RFC 3023; feedparser then reads the UTF-8
    # declaration all the same, as the comparison tests show)
    if charset not in ("", "utf-8", "utf8"):
        return False
    decl = body[:200]
    if decl.startswith(b"\xef\xbb\xbf"):
        decl = decl[3:]
    if decl.startswith(b"<?xml"):
        end = decl.find(b"?>")
        if end < 0:
            return False
        low = decl[:end].lower().replace(b"'", b'"')
        if b"encoding" in low and not (b'encoding="utf-8"' in low or b'encoding="utf8"' in low):
            return False
    return body[:2] not in (b"\xff\xfe", b"\xfe\xff")


def _only(parent, tag):
    found = list(parent.iterchildren(tag))
    if len(found) != 1:
        return None
    return found[0]


def _text(el) -> str:
    """feedparser's value of a text element: stripped, cp1252 and double-UTF-8 repaired."""
    if len(el):
        raise _NotSimple("markup inside a text element")  # feedparser re-serialises it
    text = el.text
    return _repair(text.strip()) if text else ""


def _repair(value: str) -> str:
    # the same two repairs feedparser's pop() applies to every value of a UTF-8 document; both
    # are no-ops on ASCII, and translate() looks up every character: only run them when needed
    if value.isascii():
        return value
    if not _BEYOND_LATIN1.search(value):  # (Cyrillic text cannot be Latin-1-encoded: skip the try)
        try:
            value = value.encode("iso-8859-1").decode("utf-8")
        except UnicodeDecodeError:
            pass
    return value.translate(_cp1252) if _C1.search(value) else value


def _feed_title(parent, tag) -> str:
    for el in parent.iterchildren(tag):
        if len(el):
            raise _NotSimple("markup in the feed title")
        return _repair((el.text or "").strip())  # the first title wins in feedparser
    return ""


def _fields(item, table: dict, nested: frozenset = frozenset()) -> dict:
    """Map children to our field names; refuse anything unknown, repeated, or holding markup where
    feedparser would re-serialise it. Everything that can send a feed to feedparser is decided
    here, before any entry is handed out."""
    out: dict[str, list] = {}
    for child in item.iterchildren(etree.Element):  # elements only: comments and PIs skipped
        field = table.get(child.tag)
        if field is None and not _harmless(child):
            raise _NotSimple(f"item child {child.tag}")
        if len(child) and field not in nested:
            # markup in a text field, or a skipped element with children (media:content holding a
            # media:title): feedparser would read those children
            raise _NotSimple(f"markup inside {child.tag}")
        if field is None or field == "-":
            continue
        out.setdefault(field, []).append(child)
    for field, elements in out.items():
        if len(elements) > 1:
            raise _NotSimple(f"repeated {field}")
    return {k: v[0] for k, v in out.items()}


class Entry:
    """A feedparser-shaped entry (read with ``.get``) whose guid and link are known at once and whose
    other fields are read from the tree on first use. parse_feed asks every entry for its guid and
    link, and the rest only of entries it converts: in a changed feed, the new ones."""

    __slots__ = ("_ids", "_rest", "_fill", "_raw")

    def __init__(self, ids: dict, fill, raw):
        self._ids, self._rest, self._fill, self._raw = ids, None, fill, raw

    def _fields_for(self, key) -> dict:
        if key in ("id", "link"):
            return self._ids
        if self._rest is None:
            self._rest = self._fill()
        return self._rest

    def get(self, key, default=None):
        return self._fields_for(key).get(key, default)

    # the rest of the mapping protocol parse.py might use, as on a FeedParserDict
    def __getitem__(self, key):
        return self._fields_for(key)[key]

    def __contains__(self, key) -> bool:
        return key in self._fields_for(key)

    def raw_fingerprint(self, salt: str = "") -> str:
        """A hash of the item's own text as the feed wrote it -- every value the converted entry is
        made from (title, summary or the full text standing in for it, author, dates, guid, link)
        -- without flattening HTML or parsing dates. Equal fingerprints give equal entries, so a
        stored entry whose fingerprint has not changed need not be converted to be compared."""
        parts = [salt, self._ids.get("id", "\x00"), self._ids.get("link", "\x00"), *self._raw()]
        return hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _raw_values(fields: dict, summary_field: str, names: tuple, author_el=None):
    """The raw-fingerprint reader for an item: the values ``fill`` would read, tagged by field,
    unconverted. The full text counts only where ``_summary`` would use it (no description)."""

    def raw() -> list[str]:
        out = []
        for name in names:
            el = fields.get(name)
            if el is not None:
                out.append(f"{name}\x1e{el.text or ''}\x1e{_attrs(el)}")
        summary = fields.get(summary_field)
        if summary is not None:
            out.append(f"s\x1e{summary.text or ''}\x1e{_attrs(summary)}")
        if "content" in fields and (summary is None or not _text(summary).strip()):
            out.append(f"c\x1e{fields['content'].text or ''}\x1e{_attrs(fields['content'])}")
        if author_el is not None:
            out.append(f"n\x1e{author_el.text or ''}")
        return out

    return raw


def _attrs(el) -> str:
    # sorted: attribute order is not a change
    return repr(sorted(el.attrib.items())) if len(el.attrib) else ""


def _harmless(child) -> bool:
    """An extension element feedparser files under its own prefixed key, away from our fields."""
    if not child.tag.startswith("{") or not child.prefix:
        return False
    ns, local = child.tag[1:].split("}", 1)
    if ns.lower() in _HARMLESS_NS:
        return True
    if ns.lower() in _KNOWN_NS:
        return False
    # feedparser dispatches on "<prefix>_<name>": an unknown namespace whose prefix happens to
    # spell a known one (dc:creator, media:title) would still reach a handler
    name = f"{child.prefix}_{local}".lower()
    return not (hasattr(_Mixin, "_start_" + name) or hasattr(_Mixin, "_end_" + name))


def _author(entry: dict, value: str) -> None:
    """RSS <author>/<dc:creator>: feedparser's split of "desk@example.kg (Name)" into name and e-mail."""
    entry["author"] = value
    name = value
    if not name:
        return
    found = _EMAIL.search(name)
    if found:
        name = name.replace(found.group(0), "").replace("()", "").replace("<>", "").replace("&lt;&gt;", "")
        name = name.strip()
        if name and name[0] == "(":
            name = name[1:]
        if name and name[-1] == ")":
            name = name[:-1]
        name = name.strip()
    entry["author_detail"] = {"name": name} if name else {}


def _guid(entry: dict, el, base: str) -> None:
    value = _text(el)
    attrs = {k.lower(): v for k, v in el.attrib.items()}  # feedparser lower-cases attribute names
    is_link = attrs.get("ispermalink", "true") == "true"
    if is_link and value:
        value = _repair(_urljoin(base, (el.text or "").strip()))
    entry["id"] = value
    if is_link and "link" not in entry:
        entry["link"] = value  # feedparser: a permalink guid is the link when there is none


def _dates(entry: dict, fields: dict) -> None:
    for name in ("published", "updated"):
        if name in fields:
            raw = _text(fields[name])
            entry[name] = raw  # as feedparser keeps it: parse_feed reads a zoneless date in the source's zone
            entry[name + "_parsed"] = _parse_date(raw)


def _summary(entry: dict, fields: dict, summary_field: str) -> None:
    if summary_field in fields:
        entry["summary"] = _text(fields[summary_field])
    if "content" in fields and not entry.get("summary", "").strip():
        # full text is read only when there is no description to summarise the item: parse_feed
        # would not look at it otherwise, and it is most of a feed's bytes
        value = _text(fields["content"])
        entry["content"] = [{"value": value}]
        entry.setdefault("summary", value)


def _filler(fields: dict, summary_field: str, author) -> Callable[[], dict]:
    """The reader of an entry's other fields (Entry reads them only if the entry is converted)."""

    def fill() -> dict:
        entry: dict = {}
        if "title" in fields:
            entry["title"] = _text(fields["title"])
        _summary(entry, fields, summary_field)
        author(entry)
        _dates(entry, fields)
        return entry

    return fill


def _rss_item(item, base: str) -> Entry:
    fields = _fields(item, _RSS_FIELDS)
    ids: dict = {}
    if "link" in fields:
        raw = (fields["link"].text or "").strip()
        link = _repair(_urljoin(base, raw)) if raw else ""
        # feedparser's repair of query strings taken for entity references ("?a=1&b;=2")
        ids["link"] = _ENTITY_LIKE.sub(r"&\g<1>", link.replace("&amp;", "&"))
    if "guid" in fields:
        _guid(ids, fields["guid"], base)

    def author(entry: dict) -> None:
        if "author" in fields:
            _author(entry, _text(fields["author"]))

    return Entry(ids, _filler(fields, "description", author),
                 _raw_values(fields, "description", ("title", "author", "published", "updated")))


def _atom_type(el) -> str:
    kind = el.get("type")
    kind = kind.lower() if kind is not None else None
    if kind not in _TEXT_TYPES or el.get("src") is not None or el.get("mode") is not None:
        raise _NotSimple(f"content type {kind!r}")
    return _TEXT_TYPES[kind]


def _atom_entry(item, base: str) -> Entry:
    fields = _fields(item, dict(_ATOM_FIELDS, **{_A + "link": "-"}), nested=frozenset({"author"}))
    for name in ("title", "summary", "content"):
        if name in fields:
            _atom_type(fields[name])
    name_el = None
    if "author" in fields:
        parts = [c for c in fields["author"].iterchildren(etree.Element)]
        tags = [c.tag for c in parts]
        if tags.count(_A + "name") != 1 or set(tags) - {_A + "name", _A + "uri"} or any(len(c) for c in parts):
            raise _NotSimple("atom author without one name, or with e-mail or extensions")
        name_el = fields["author"].find(_A + "name")
    ids: dict = {}
    link = None
    for el in item.iterchildren(_A + "link"):
        href = el.get("href")
        if href is None:
            raise _NotSimple("atom link without href")
        rel = (el.get("rel") or "alternate").lower()
        kind = (el.get("type") or ("application/atom+xml" if rel == "self" else "text/html")).lower()
        kind = {"html": "text/html", "xhtml": "application/xhtml+xml"}.get(kind, kind)
        if rel == "alternate" and kind in ("text/html", "application/xhtml+xml"):
            link = _urljoin(base, href)  # feedparser: the last alternate link wins
    if link is not None:
        ids["link"] = link
    if "guid" in fields:
        _guid(ids, fields["guid"], base)

    def author(entry: dict) -> None:
        if name_el is not None:
            name = _text(name_el)
            entry["author"] = name
            entry["author_detail"] = {"name": name}

    return Entry(ids, _filler(fields, "summary", author),
                 _raw_values(fields, "summary", ("title", "published", "updated"), name_el))
