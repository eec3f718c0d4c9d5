"""The parsed page, made ready for trafilatura: parsed once, then stripped of what trafilatura would
drop anyway, before it copies the tree three times and runs its XPath prunes over it.

Pure. ``parse_html`` is trafilatura's ``load_html`` for a str, without its scan for characters XML
cannot hold when a cheaper check finds none; ``drop_code`` and ``drop_head`` remove scripts, styles
and the head (JSON-LD kept). The text trafilatura extracts is the same on every corpus page
(tests/test_pagemeta.py, tests/test_htmltree.py).
"""

from __future__ import annotations

from lxml import etree
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HTMLParser, HtmlProcessingInstruction, fromstring
from trafilatura.utils import load_html

from .pagemeta import JSON_LD_TYPES

try:  # internals of trafilatura 2.x's load_html; without them, load_html itself
    from trafilatura.utils import DOCTYPE_TAG, FAULTY_HTML, HTML_PARSER, is_dubious_html
except ImportError:  # pragma: no cover - depends on the installed trafilatura
    HTML_PARSER = None

__all__ = ["parse_html", "drop_code", "drop_head"]

# trafilatura's HTML_PARSER, but every element an HtmlElement chosen in C: lxml.html's own lookup is a
# Python call for each element handed to Python (~4,500 per page as trafilatura walks and copies the
# tree), to give <form>, <input>, <label>... their own classes, which neither trafilatura nor we use
_PARSER = HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True,
                     remove_pis=True)
_PARSER.set_element_class_lookup(etree.ElementDefaultClassLookup(
    element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction, entity=HtmlEntity))

# what trafilatura's INVALID_XML_CHARS removes: C0 controls but tab, LF and CR; U+FFFE, U+FFFF
_C0_INVALID = bytes(c for c in range(0x20) if c not in (9, 10, 13))


def parse_html(text: str):
    """The page's lxml.html tree, or None when it is not HTML: trafilatura's ``load_html``.

    Its first step deletes characters XML cannot hold with a regex over the whole page, a third of
    the parse time; almost no page has any. Checked in C on the UTF-8 bytes instead, and when there
    are some, ``load_html`` does it all."""
    if HTML_PARSER is None or "\ufffe" in text or "\uffff" in text:
        return load_html(text)
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw.translate(None, _C0_INVALID)) != len(raw):
        return load_html(text)
    # the rest of load_html and repair_faulty_html, as trafilatura 2.3 writes them
    beginning = text[:50].lower()
    if "doctype" in beginning:
        firstline, _, rest = text.partition("\n")
        text = DOCTYPE_TAG.sub("", firstline, count=1) + "\n" + rest
    for line in text[:4096].splitlines()[:4]:
        if "<html" in line and line.endswith("/>"):
            text = FAULTY_HTML.sub(r"\1>", text, count=1)
            break
    tree, fallback_parse = None, False
    try:
        tree = fromstring(text, parser=_PARSER)
    except ValueError:  # a str with an encoding declaration
        tree, fallback_parse = _from_bytes(text), True
    except Exception:  # noqa: BLE001 - as load_html: lxml's own errors mean "no tree"
        pass
    if (tree is None or len(tree) < 1) and not fallback_parse:
        tree = _from_bytes(text)
    if tree is not None and is_dubious_html(beginning) and len(tree) < 2:
        return None
    return tree


def _from_bytes(text: str):
    """trafilatura's ``fromstring_bytes`` with our parser."""
    try:
        return fromstring(text.encode("utf8", "surrogatepass"), parser=_PARSER)
    except Exception:  # noqa: BLE001 - as trafilatura: no tree
        return None


def drop_code(tree) -> None:
    """Remove ``<script>`` (but JSON-LD) and ``<style>`` elements, keeping the text after them.

    trafilatura drops them too, but only after copying the tree three times and running its
    XPath prunes over them: removed first, the same text comes out ~7% sooner (every corpus page
    gives the same text; tests/test_pagemeta.py checks it). JSON-LD stays: trafilatura reads it to
    tell forum threads from articles, and crawler.pagemeta reads it for the byline."""
    doomed = [el for el in tree.iter("script", "style")
              if el.tag == "style" or (el.get("type") or "").strip().lower() not in JSON_LD_TYPES]
    for el in doomed:
        parent = el.getparent()
        if parent is None:
            continue
        if el.tail:  # keep the text that follows the element
            previous = el.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + el.tail
            else:
                parent.text = (parent.text or "") + el.tail
        parent.remove(el)


def drop_head(tree) -> None:
    """Empty ``<head>`` but for JSON-LD, once the metadata has been read from it.

    trafilatura's own first step removes the head; its readability and jusText fallbacks ignore it
    (jusText drops it, readability scores paragraphs). Removed before the tree is copied, the same
    text comes out ~3% sooner. JSON-LD stays for trafilatura's forum-thread test."""
    head = tree.find("head")
    if head is not None:
        for el in list(head):
            if el.tag != "script":  # the scripts left are JSON-LD (see drop_code)
                head.remove(el)
