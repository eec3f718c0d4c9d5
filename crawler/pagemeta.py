"""Page metadata: title, author and publication date of a parsed article page.

Pure. The same sources, in the same order, as trafilatura's ``extract_metadata``, without the parts
Newswatch does not store (site name, categories, tags, licence), which cost a third as much as the
text extraction itself:

1. ``<meta>`` tags (OpenGraph, ``name=author``, ``article:author``, ``itemprop=headline``...),
   read by trafilatura's ``examine_meta`` rules from the head's children (:func:`meta_tags`);
2. JSON-LD (``NewsArticle`` and friends: ``headline``, ``author``), parsed with ``json.loads`` as
   written. trafilatura first rewrites the whole script (unescapes ``\\uXXXX`` and HTML entities,
   drops ``\\n``), which breaks valid JSON holding an escaped quote and then sends it to a regex
   reader that took 0.6 s on one live blog's 840 KB of JSON-LD; that rewrite and reader are kept
   only for JSON that does not parse as written;
3. only when those say nothing: trafilatura's title (``<h1>``, ``<title>``) and author (byline)
   searches over the page;
4. the date from htmldate, asked as trafilatura asks it (URL, then ``<meta>`` and JSON-LD, then the
   page's text), with the canonical URL when the page gives no ``og:url``. htmldate stops at the
   first source that answers, so the meta tags and JSON-LD cost it little (~0.6 ms a page).

On the 258 corpus pages: the title search ran for 1 page, the byline search for 37 (6 ms each, half
of this module's time), and 1 page had JSON-LD that does not parse as written; trafilatura's rewrite
broke 6 that do. Titles, authors and dates are trafilatura's on every page but the 2 of those 6
where the byline it missed is now read (tests/test_pagemeta.py).

When trafilatura's internals are not there (another version), ``extract_metadata`` does it all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from htmldate import find_date

try:  # internals of trafilatura 2.x; extract_metadata is the fallback
    from courlan import is_valid_url
    from trafilatura.json_metadata import extract_json, extract_json_parse_error, normalize_authors, normalize_json
    from trafilatura.metadata import (
        JSON_MINIFY,
        METANAME_AUTHOR,
        METANAME_TITLE,
        OG_AUTHOR,
        PROPERTY_AUTHOR,
        extract_author,
        extract_title,
    )
    from trafilatura.settings import Document, set_date_params
    from trafilatura.utils import HTML_STRIP_TAGS
except ImportError:  # pragma: no cover - depends on the installed trafilatura
    Document = None

from trafilatura.metadata import extract_metadata

__all__ = ["JSON_LD_TYPES", "PageMeta", "page_metadata"]

JSON_LD_TYPES = frozenset({"application/ld+json", "application/settings+json"})


@dataclass(frozen=True)
class PageMeta:
    title: str | None
    author: str | None
    date: str | None  # YYYY-MM-DD


def page_metadata(tree, url: str, canonical: str | None = None) -> PageMeta:
    """Title, author and publication date of the page ``tree`` (an lxml.html tree; not modified)."""
    if Document is None:  # pragma: no cover
        document = extract_metadata(tree, url)
        return PageMeta(document.title, document.author, document.date)
    document = meta_tags(tree)
    if document.author and " " not in document.author:
        document.author = None  # as trafilatura: a single word is a site or a handle, not a byline
    for script in tree.iter("script"):
        if script.text and (script.get("type") or "").strip().lower() in JSON_LD_TYPES:
            document = _json_ld(script.text, document)
    if not document.title:
        document.title = extract_title(tree)
    if not document.author:
        document.author = extract_author(tree)
    date_params = set_date_params(True)
    date_params["url"] = document.url or canonical or url
    document.date = find_date(tree, **date_params)
    document.clean_and_trim()
    return PageMeta(document.title or None, document.author or None, document.date or None)


def meta_tags(tree):
    """Title, author and URL from ``<head>``'s ``<meta>`` tags, by the rules of trafilatura's
    ``examine_meta`` (OpenGraph first; then ``property``, ``name`` or ``itemprop``, the first title
    and every author), without the fields we do not store. examine_meta finds the tags with
    ``.//head/meta`` paths, two walks over the whole page; the head is a child of the root."""
    document = Document()
    head = tree.find("head")
    if head is None:
        return document
    metas = list(head.iterchildren("meta"))
    for el in metas:  # OpenGraph: the last of each wins
        prop, content = el.get("property"), el.get("content")
        if prop and prop.startswith("og:") and content and not content.isspace():
            if prop == "og:title":
                document.title = content
            elif prop == "og:url" and is_valid_url(content):
                document.url = content
            elif prop in OG_AUTHOR:
                document.author = normalize_authors(None, content)
    for el in metas:
        content = el.get("content")
        if content is None:
            continue
        content = HTML_STRIP_TAGS.sub("", content).strip()
        if not content:
            continue
        if "property" in el.attrib:
            if el.get("property", "").lower() in PROPERTY_AUTHOR:
                document.author = normalize_authors(document.author, content)
        elif "name" in el.attrib:
            name = el.get("name", "").lower()
            if name in METANAME_AUTHOR:
                document.author = normalize_authors(document.author, content)
            elif name in METANAME_TITLE:
                document.title = document.title or content
            elif name == "twitter:url" and not document.url and is_valid_url(content):
                document.url = content
        elif "itemprop" in el.attrib:
            itemprop = el.get("itemprop", "").lower()
            if itemprop == "author":
                document.author = normalize_authors(document.author, content)
            elif itemprop == "headline":
                document.title = document.title or content
    return document


def _json_ld(text: str, document):
    try:
        return extract_json(json.loads(text, strict=False), document)
    except json.JSONDecodeError:
        pass
    except (AttributeError, TypeError, KeyError, ValueError):
        return document  # valid JSON of a shape trafilatura's reader does not expect
    # Not JSON as written (comments, CDATA, trailing commas...): trafilatura's rewrite, then its regexes.
    rewritten = normalize_json(JSON_MINIFY.sub(r"\1", text))
    try:
        return extract_json(json.loads(rewritten, strict=False), document)
    except json.JSONDecodeError:
        return extract_json_parse_error(rewritten, document)
    except (AttributeError, TypeError, KeyError, ValueError):
        return document
