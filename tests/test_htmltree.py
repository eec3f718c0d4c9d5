"""crawler.htmltree: the page parsed as trafilatura's load_html parses it, and stripped of what trafilatura
drops anyway without losing the text around it."""

from __future__ import annotations

import gzip
from pathlib import Path

import lxml.html
import pytest
from trafilatura.utils import load_html

from crawler.htmltree import drop_code, drop_head, parse_html

FIXTURES = Path(__file__).parent / "fixtures"
FUNDUS = Path(__file__).parents[2] / "shared" / "corpus" / "fundus-pages"

FORM_PAGE = ("<html><body><article><h1>Мигранты вернулись домой</h1><p>Более двух тысяч трудовых мигрантов "
             "вернулись на родину за неделю, сообщили в министерстве труда.</p><p>Ещё один абзац статьи о "
             "возвращении мигрантов из России.</p><form action='/s'><label for='q'>Поиск</label>"
             "<input id='q' name='q' value='x'><select name='s'><option>a</option></select>"
             "<textarea name='t'>комментарий</textarea></form></article></body></html>")
ODD_PAGES = {
    "plain": "<html><head><title>t</title></head><body><p>Текст статьи.</p></body></html>",
    "nul-and-controls": "<html><body><p>a\x00b\x0bc\x1fd</p></body></html>",
    "noncharacter": "<html><body><p>a\ufffeb\uffffc</p></body></html>",
    "xhtml-doctype": '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
                     '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html><body><p>x</p></body></html>',
    "self-closing-html": '<!DOCTYPE html>\n<html lang="ru"/>\n<body><p>x</p></body>',
    "xml-declaration": '<?xml version="1.0" encoding="windows-1251"?>\n<html><body><p>x</p></body></html>',
    "not-html": "just some words, no markup at all",
    "fragment": "<p>one paragraph</p>",
    "carriage-returns": "<html>\r\n<body>\r\n<p>a\rb</p></body></html>",
    "form": FORM_PAGE,
}


def _same_tree(text: str) -> None:
    ours, theirs = parse_html(text), load_html(text)
    if theirs is None:
        assert ours is None
    else:
        assert lxml.html.tostring(ours, encoding="unicode") == lxml.html.tostring(theirs, encoding="unicode")


@pytest.mark.parametrize("text", ODD_PAGES.values(), ids=ODD_PAGES.keys())
def test_parse_html_is_trafilaturas_load_html(text):
    _same_tree(text)


def test_parse_html_on_fixture_and_corpus_pages():
    pages = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(FIXTURES.rglob("*.html"))]
    pages += [gzip.decompress(p.read_bytes()).decode("utf-8", errors="replace")
              for p in sorted(FUNDUS.glob("*/*.html.gz"))[::5]]
    for text in pages:
        _same_tree(text)


def test_drop_code_keeps_the_text_around_scripts_and_styles():
    tree = lxml.html.fromstring(
        '<html><head><script type="application/ld+json">{"@type": "NewsArticle"}</script>'
        "<style>p{}</style></head><body><p>one <script>var x;</script>two<style>b{}</style> three</p>"
        "<div><script>a()</script>four</div></body></html>")
    drop_code(tree)
    assert tree.find("body").text_content() == "one two threefour"
    assert [s.get("type") for s in tree.iter("script")] == ["application/ld+json"]


def test_drop_head_keeps_json_ld():
    tree = lxml.html.fromstring('<html><head><title>t</title><meta name="author" content="A B">'
                                '<script type="application/ld+json">{}</script><link rel="x" href="/"></head>'
                                "<body><p>text</p></body></html>")
    drop_head(tree)
    assert [el.tag for el in tree.find("head")] == ["script"]
    assert tree.find("body").text_content() == "text"


def test_form_elements_are_plain_html_elements_and_extract_the_same():
    # lxml.html's per-element Python lookup (FormElement, InputElement...) is skipped for speed: the
    # tree must still be an lxml.html tree and trafilatura must read the same text from it
    import trafilatura

    tree = parse_html(FORM_PAGE)
    assert all(isinstance(el, lxml.html.HtmlElement) for el in tree.iter())
    assert "Поиск" in tree.text_content()
    assert trafilatura.extract(parse_html(FORM_PAGE)) == trafilatura.extract(load_html(FORM_PAGE))
