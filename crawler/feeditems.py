"""Items of a feed found in its bytes: a changed feed's items that were handled before are cut out unparsed.

Part of the parse stage; pure. A feed that changed since the last poll is nearly always the same items
as before plus one or two new ones (or a new build date). The crawl already skips a body identical to
the last fully handled one (its hash); this does the same per item. Each ``<item>`` (RSS) or
``<entry>`` (Atom) element's bytes are hashed together with everything else that decides what the
item converts to -- the feed URL its relative links resolve against, the HTTP charset, the source's
time zone, the root element with its namespace declarations -- and the caller keeps the digests of a
poll whose entries were all handled. At the next poll the items whose digest is among them are cut
out of the body before it is parsed: the parser (lxml or feedparser) only ever sees the feed's head,
its new and changed items, and its tail.

The items are found by a small lexer over the bytes (CDATA sections, comments and processing
instructions are stepped over whole; item tags are the boundaries), not by parsing, so the spans are
trusted only when the document has the plain shape every feed generator writes: no DOCTYPE; the root
is ``<rss>``, ``<rdf:RDF>`` or ``<feed>``; items follow each other with nothing but whitespace between
them; no item holds another; every item is closed; at most 20,000 items. Anything else (a comment or
another element between items, a body cut off mid-item, ``<item/>``, a prefixed ``<atom:entry>``) gives
no spans, and the whole feed is parsed as before. An ``<item>`` quoted inside a CDATA section is text,
as in XML.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Container
from dataclasses import dataclass

__all__ = ["Items", "find", "without", "DIGEST_SIZE", "split_digests"]

DIGEST_SIZE = 16
# bumped when the parse stage starts reading an unchanged item differently: every item then counts
# as unhandled once
VERSION = b"1"
_ROOT = re.compile(rb"<(rss|rdf:RDF|feed)[\s>]")
# what starts markup the lexer in find() must know about: CDATA, comment, processing instruction,
# another <! declaration, and item tags
_MARKUP = re.compile(rb"<(?:!\[CDATA\[|!--|!|\?|(/?)(item|entry)(?=[\s>/]))")
_CLOSERS = {b"<![CDATA[": b"]]>", b"<!--": b"-->", b"<?": b"?>"}
# items looked at before the feed is left to parse_feed's own bounds (it reads the first max_items and
# refuses more than 100,000 tags): a hostile body of countless tiny items must not cost a Python loop
# turn each here first
_MAX_SCANNED = 20_000


@dataclass(frozen=True)
class Items:
    spans: list[tuple[int, int]]  # every item's bytes, (start, end), in document order
    digests: list[bytes]  # of the first ``limit`` items


def find(body: bytes, *, salt: str, limit: int) -> Items | None:
    """The items of ``body`` and the digests of the first ``limit``, or None when the document does
    not have the plain shape (see the module docstring). ``salt``: what else decides how an item
    converts (feed URL, charset, time zone)."""
    root = _ROOT.search(body, 0, 4096)
    if root is None or b"<!DOCTYPE" in body[: root.start()]:  # (entities: the parser's business)
        return None
    root_end = body.find(b">", root.start())
    if root_end < 0:
        return None
    tag = b"entry" if root.group(1) == b"feed" else b"item"
    spans: list[tuple[int, int]] = []
    opened = None
    pos = root_end + 1
    search = _MARKUP.search
    # A lexer for just what matters here: CDATA sections, comments and processing instructions are
    # stepped over whole (an <item> inside one is text), item tags are the boundaries, anything else
    # markup-like (a DOCTYPE, an entity declaration) is not the plain shape.
    while (found := search(body, pos)) is not None:
        name = found.group(2)
        if name is None:
            closer = _CLOSERS.get(found.group(0))
            if closer is None:
                return None
            end = body.find(closer, found.end())
            if end < 0:
                return None
            pos = end + len(closer)
        elif name != tag:
            pos = found.end()
        elif found.group(1):  # </item>
            end = body.find(b">", found.end())
            if opened is None or end < 0 or body[found.end(): end].strip():
                return None
            spans.append((opened, end + 1))
            opened, pos = None, end + 1
            if len(spans) > _MAX_SCANNED:
                return None  # tens of thousands of items: parsed (or refused) whole
        else:  # <item ...>: not inside another, and only whitespace since the last one
            if opened is not None or (spans and body[spans[-1][1]: found.start()].strip()):
                return None
            opened, pos = found.start(), found.end()
    if opened is not None or not spans:  # cut off mid-item (or <item/>), or no items
        return None
    base = hashlib.sha256(b"\x1f".join((VERSION, salt.encode("utf-8", "surrogatepass"),
                                         body[root.start(): root_end + 1])))
    view = memoryview(body)
    digests = []
    for start, end in spans[:limit]:
        h = base.copy()
        h.update(view[start:end])
        digests.append(h.digest()[:DIGEST_SIZE])
    return Items(spans, digests)


def without(body: bytes, items: Items, handled: Container[bytes]) -> tuple[bytes, int]:
    """``body`` without its handled items and without any item after the first ``limit`` (those
    would not be read anyway), and how many handled items were cut. The items left keep their
    order: the n-th entry parsed from the result is the n-th unhandled item."""
    spans = items.spans
    keep = [span for span, digest in zip(spans, items.digests) if digest not in handled]
    cut = len(items.digests) - len(keep)
    if not cut and len(spans) == len(items.digests):
        return body, 0
    view = memoryview(body)
    parts = [view[: spans[0][0]], *(view[s:e] for s, e in keep), view[spans[-1][1]:]]
    return b"".join(parts), cut


def split_digests(blob: bytes | None) -> frozenset[bytes]:
    """The digests a caller kept as one blob (``b"".join(items.digests)``)."""
    if not blob:
        return frozenset()
    return frozenset(blob[i: i + DIGEST_SIZE] for i in range(0, len(blob), DIGEST_SIZE))
