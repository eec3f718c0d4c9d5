"""Sitemap stage on bytes: news sitemaps, indexes, gzip, text sitemaps, broken XML, hostile entries."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest

from crawler.dates import zone
from crawler.errors import ParseError
from crawler.sitemap import Sitemap, SitemapChild, parse_sitemap, select, select_children

URL = "https://kun.uz/sitemap.xml"
NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'


def urlset(*urls: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {NS}>{"".join(urls)}</urlset>'.encode()


def test_google_news_sitemap_gives_titles_and_publication_dates():
    doc = parse_sitemap(urlset(
        "<url><loc>https://kun.uz/news/2026/06/18/a</loc><lastmod>2026-06-19T00:00:00Z</lastmod><news:news>"
        "<news:publication><news:name>Kun.uz</news:name><news:language>uz</news:language></news:publication>"
        "<news:publication_date>2026-06-18T10:42:00+05:00</news:publication_date>"
        "<news:title>Toshkentda  yangi\n metro</news:title></news:news></url>"), URL)
    assert doc.kind == "urlset" and doc.news
    [entry] = doc.entries
    assert entry.title == "Toshkentda yangi metro"
    assert entry.published == datetime(2026, 6, 18, 5, 42, tzinfo=UTC)  # publication date, not lastmod


def test_naive_lastmod_is_read_in_the_source_time_zone():
    doc = parse_sitemap(urlset("<url><loc>https://kun.uz/a</loc><lastmod>2026-06-18T10:00:00</lastmod></url>"), URL,
                        tz=zone("Asia/Tashkent"))
    assert doc.entries[0].published == datetime(2026, 6, 18, 5, 0, tzinfo=UTC)


def test_relative_other_site_and_non_http_entries():
    doc = parse_sitemap(urlset(
        "<url><loc>/news/relative</loc></url>", "<url><loc>https://evil.example/x</loc></url>",
        "<url><loc>javascript:alert(1)</loc></url>", "<url><loc></loc></url>",
        "<url><loc>https://www.kun.uz/news/www</loc></url>", "<url><loc>https://en.kun.uz/news/en</loc></url>"), URL)
    assert [e.url for e in doc.entries] == ["https://kun.uz/news/relative", "https://www.kun.uz/news/www",
                                            "https://en.kun.uz/news/en"]
    assert doc.skipped == {"other site": 1, "not http(s)": 1, "no URL": 1}


def test_sitemap_index_children_newest_first_old_ones_left_out():
    body = (f'<sitemapindex {NS}>'
            '<sitemap><loc>https://kun.uz/sitemap-2019.xml</loc><lastmod>2019-01-01</lastmod></sitemap>'
            '<sitemap><loc>https://kun.uz/sitemap-day-17.xml</loc><lastmod>2026-06-17T23:00:00Z</lastmod></sitemap>'
            '<sitemap><loc>https://kun.uz/sitemap-day-18.xml</loc><lastmod>2026-06-18T12:00:00Z</lastmod></sitemap>'
            '</sitemapindex>').encode()
    doc = parse_sitemap(body, URL)
    assert doc.kind == "index" and len(doc.children) == 3
    chosen = select_children(doc, since=datetime(2026, 6, 16, tzinfo=UTC))
    assert [c.url for c in chosen] == ["https://kun.uz/sitemap-day-18.xml", "https://kun.uz/sitemap-day-17.xml"]


def test_undated_children_are_taken_from_both_ends():
    doc = Sitemap(kind="index", children=[SitemapChild(f"https://x.kz/post-sitemap{i}.xml", None) for i in range(1, 41)])
    chosen = [c.url.rsplit("/", 1)[1] for c in select_children(doc, since=datetime(2026, 1, 1, tzinfo=UTC), limit=5)]
    assert chosen == ["post-sitemap1.xml", "post-sitemap2.xml", "post-sitemap38.xml", "post-sitemap39.xml",
                      "post-sitemap40.xml"]


def test_select_orders_newest_first_then_undated_and_counts_old():
    doc = parse_sitemap(urlset(
        "<url><loc>https://kun.uz/old</loc><lastmod>2020-01-01</lastmod></url>",
        "<url><loc>https://kun.uz/undated</loc></url>",
        "<url><loc>https://kun.uz/mid</loc><lastmod>2026-06-18T08:00:00Z</lastmod></url>",
        "<url><loc>https://kun.uz/new</loc><lastmod>2026-06-18T09:00:00Z</lastmod></url>"), URL)
    chosen, too_old = select(doc, since=datetime(2026, 6, 17, tzinfo=UTC))
    assert [e.url.rsplit("/", 1)[1] for e in chosen] == ["new", "mid", "undated"] and too_old == 1


def test_gzip_sitemap_and_decompression_bound():
    body = urlset("<url><loc>https://kun.uz/a</loc></url>")
    assert parse_sitemap(gzip.compress(body), URL).entries[0].url == "https://kun.uz/a"
    bomb = gzip.compress(b"<urlset>" + b" " * 5_000_000 + b"</urlset>")
    with pytest.raises(ParseError, match="larger than 1000000 bytes"):
        parse_sitemap(bomb, URL, max_bytes=1_000_000)


def test_text_sitemap():
    doc = parse_sitemap(b"https://kun.uz/a\nhttps://kun.uz/b\n\nftp://kun.uz/c\n", URL)
    assert doc.kind == "text" and [e.url for e in doc.entries] == ["https://kun.uz/a", "https://kun.uz/b"]


def test_cut_off_sitemap_keeps_what_came_before_with_a_warning():
    body = urlset("<url><loc>https://kun.uz/a</loc></url>", "<url><loc>https://kun.uz/b</loc></url>")[:-30]
    doc = parse_sitemap(body, URL)
    assert [e.url for e in doc.entries] == ["https://kun.uz/a"] and "malformed sitemap XML" in doc.warning


@pytest.mark.parametrize("body, message", [
    (b"", "empty body"), (b"<!DOCTYPE html><html><body>Just a moment...</body></html>", "HTML page"),
    (b"<?xml version='1.0'?><rss><channel></channel></rss>", "no <urlset> or <sitemapindex>"),
    (b"<urlset><url><loc>https://kun.uz/a", "malformed sitemap XML"),
], ids=["empty", "html", "rss", "broken"])
def test_not_a_sitemap(body, message):
    with pytest.raises(ParseError, match=message):
        parse_sitemap(body, URL, source_id="kun")


def test_entities_are_not_expanded():
    body = (b'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<urlset><url><loc>https://kun.uz/&x;</loc></url></urlset>')
    try:
        doc = parse_sitemap(body, URL)
    except ParseError:
        return
    assert all("root:" not in e.url for e in doc.entries)
