"""parse_feed: real-world feed shapes -> plain-text entries, and clear errors for non-feeds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crawler.errors import ParseError
from crawler.models import FeedEntry, ParsedFeed
from crawler.parse import html_to_text, looks_like_html, parse_feed

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
CORPUS = Path(__file__).parents[2] / "shared" / "corpus" / "feeds"
FEED_URL = "https://news.example.kg/rss/main.xml"
RSS_HEADERS = {"Content-Type": "application/rss+xml; charset=utf-8"}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def corpus(name: str) -> bytes:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"shared corpus not available ({path})")
    return path.read_bytes()


@pytest.fixture(scope="module")
def russian_feed() -> ParsedFeed:
    return parse_feed(fixture("rss20-ru.xml"), RSS_HEADERS, FEED_URL, source_id="kg-news")


# --- RSS 2.0 in Russian -------------------------------------------------------------------------


def test_russian_rss_keeps_feed_title_and_entries_in_order(russian_feed):
    assert russian_feed.title == "Новости Бишкека — Главное"
    assert russian_feed.warning is None
    assert [e.title for e in russian_feed.entries] == [
        "Трудовые мигранты из Кыргызстана вернулись домой после отмены рейсов",
        "В Оше задержан журналист «Азаттыка»",
        "Пограничный инцидент на кыргызско-таджикской границе: что известно",
    ]
    assert all(isinstance(e, FeedEntry) for e in russian_feed.entries)


def test_relative_links_are_resolved_against_the_feed_url(russian_feed):
    first, _, third = russian_feed.entries
    assert first.url == "https://news.example.kg/news/2024/05/14/migranty-vernulis"
    # a path without a leading slash is relative to the feed's folder, as a browser would do
    assert third.url == "https://news.example.kg/rss/news/2024/05/13/granica.html"


def test_absolute_links_are_kept_as_published(russian_feed):
    # tracking parameters are dedup's business, not the parser's
    assert russian_feed.entries[1].url.endswith("zhurnalist-zaderzhan?utm_source=rss&utm_medium=feed")


def test_summary_html_becomes_one_line_of_plain_text(russian_feed):
    summary = russian_feed.entries[0].summary
    assert summary == (
        "Более двух тысяч трудовых мигрантов вернулись в Кыргызстан за неделю. "
        "В Минтруда рассказали, что большинство из них работали в Москве & Екатеринбурге."
    )
    assert "\xa0" not in summary and "<" not in summary


def test_escaped_html_in_description_is_flattened_too(russian_feed):
    assert russian_feed.entries[2].summary == "На участке Баткенской области произошла перестрелка."


def test_pubdate_with_bishkek_offset_becomes_utc(russian_feed):
    assert russian_feed.entries[0].published_at == "2024-05-14T04:30:00Z"
    # late evening in Bishkek (+06:00) is afternoon UTC of the same day
    assert russian_feed.entries[2].published_at == "2024-05-13T17:40:00Z"


def test_guid_is_the_feed_id_or_none(russian_feed):
    assert russian_feed.entries[0].guid == "news-example-kg-48213"
    assert russian_feed.entries[1].guid is None
    assert russian_feed.entries[2].guid == "https://news.example.kg/news/2024/05/13/granica.html"


def test_author_from_dc_creator_or_rss_author_name(russian_feed):
    assert russian_feed.entries[0].author == "Айгуль Омурбекова"
    assert russian_feed.entries[1].author == "Редакция"  # "desk@... (Редакция)"
    assert russian_feed.entries[2].author is None


def test_header_names_are_case_insensitive():
    lower = parse_feed(fixture("rss20-ru.xml"), {"content-type": "application/rss+xml"}, FEED_URL)
    upper = parse_feed(fixture("rss20-ru.xml"), {"CONTENT-TYPE": "application/rss+xml"}, FEED_URL)
    assert lower == upper


def test_max_items_keeps_the_first_entries():
    feed = parse_feed(fixture("rss20-ru.xml"), RSS_HEADERS, FEED_URL, max_items=2)
    assert [e.guid for e in feed.entries] == ["news-example-kg-48213", None]


# --- other formats -------------------------------------------------------------------------------


def test_atom_feed_in_kazakh():
    feed = parse_feed(fixture("atom-kk.xml"), {"content-type": "application/atom+xml"},
                      "https://kz.example.org/kk/atom.xml")
    assert feed.title == "Жаңалықтар — Қазақстан"
    first, second = feed.entries
    assert first.url == "https://kz.example.org/kk/news/1201"
    assert second.url == "https://kz.example.org/kk/news/1199"
    assert first.guid == "tag:kz.example.org,2024-05-14:/kk/news/1201"
    assert first.author == "Әсел Нұрланқызы"
    assert first.published_at == "2024-05-14T08:00:00Z"  # <published>, not <updated>
    assert second.published_at == "2024-05-13T12:45:30Z"  # only <updated> given
    assert first.summary == "Орталық шетелдік жұмысшыларға тегін кеңес береді."


def test_atom_html_title_and_content_only_entry_come_out_as_text():
    feed = parse_feed(fixture("atom-kk.xml"), {}, "https://kz.example.org/kk/atom.xml")
    second = feed.entries[1]
    assert second.title == "Астанада шекара қызметінің жиыны өтті"
    assert second.summary == "Жиында шекарадағы кедендік бақылау талқыланды."  # script dropped


def test_rss_1_0_rdf_feed_in_uzbek_latin():
    feed = parse_feed(fixture("rss10-uz.xml"), {}, "https://uz.example.net/rss")
    assert feed.title == "Oʻzbekiston yangiliklari"
    (entry,) = feed.entries
    assert entry.url == entry.guid == "https://uz.example.net/news/77"
    assert entry.published_at == "2024-05-14T04:00:00Z"  # dc:date


def test_rss_0_91_feed_in_latin1():
    feed = parse_feed(fixture("rss091-en.xml"), {"content-type": "text/xml"}, "http://wire.example.com/rss")
    (entry,) = feed.entries
    assert entry.title == "Dushanbe hosts regional water summit"
    assert entry.guid is None and entry.published_at is None


def test_empty_but_valid_feed_has_no_entries_and_no_error():
    feed = parse_feed(fixture("empty-channel.xml"), RSS_HEADERS, "https://empty.example.kz/rss")
    assert feed == ParsedFeed(title="Пустая лента", entries=[], warning=None)


# --- encodings -----------------------------------------------------------------------------------

CP1251_FEED = """<?xml version="1.0" encoding="windows-1251"?>
<rss version="2.0"><channel><title>Вечерний Бишкек</title>
<item><title>Мигранты и пограничники: итоги недели</title><link>https://vb.example.kg/1</link></item>
</channel></rss>"""


def test_windows_1251_feed_served_as_utf8_still_reads_as_cyrillic():
    body = CP1251_FEED.encode("cp1251")
    feed = parse_feed(body, {"Content-Type": "text/xml; charset=utf-8"}, "https://vb.example.kg/rss")
    assert feed.title == "Вечерний Бишкек"
    assert feed.entries[0].title == "Мигранты и пограничники: итоги недели"
    assert feed.warning is None  # a lying charset header is the server's quirk, not a broken feed


def test_utf8_feed_served_as_windows_1251_is_not_mojibake():
    body = CP1251_FEED.replace('encoding="windows-1251"', 'encoding="utf-8"').encode("utf-8")
    feed = parse_feed(body, {"Content-Type": "application/rss+xml; charset=windows-1251"},
                      "https://vb.example.kg/rss")
    assert feed.entries[0].title == "Мигранты и пограничники: итоги недели"


def test_feed_served_as_text_html_is_still_parsed_without_warning():
    feed = parse_feed(fixture("rss20-ru.xml"), {"Content-Type": "text/html"}, FEED_URL)
    assert len(feed.entries) == 3 and feed.warning is None


# --- not feeds and broken feeds ---------------------------------------------------------------------


def test_challenge_page_at_feed_url_is_a_parse_error_naming_the_source():
    with pytest.raises(ParseError) as caught:
        parse_feed(fixture("challenge.html"), {"Content-Type": "text/html"}, FEED_URL, source_id="kg-news")
    message = str(caught.value)
    assert message.startswith("parse: [kg-news] https://news.example.kg/rss/main.xml: ")
    assert "not a feed (got an HTML page: 'Just a moment...')" in message
    assert caught.value.source_id == "kg-news" and caught.value.url == FEED_URL


def test_html_page_is_recognised_even_when_labelled_as_rss():
    with pytest.raises(ParseError, match="got an HTML page"):
        parse_feed(fixture("challenge.html"), RSS_HEADERS, FEED_URL)


def test_malformed_feed_with_entries_returns_them_with_a_warning():
    feed = parse_feed(fixture("malformed-with-entries.xml"), RSS_HEADERS, "https://osh.example.kg/rss")
    assert [e.title for e in feed.entries] == ["Ошто жаңы көпүрө ачылды", "Бизнес & бийлик: жолугушуу"]
    assert feed.warning is not None and feed.warning.startswith("malformed XML: ")


def test_html_entities_in_xml_still_parse_with_a_warning():
    body = fixture("rss20-ru.xml").replace("«Азаттыка»".encode(), b"&laquo;\xd0\x90&raquo;")
    feed = parse_feed(body, RSS_HEADERS, FEED_URL)
    assert feed.entries[1].title == "В Оше задержан журналист «А»"
    assert "undefined entity" in feed.warning


def test_feed_cut_off_mid_item_drops_the_incomplete_item():
    full = fixture("rss20-ru.xml")
    cut = full[: full.index("произошла перестрелка".encode())]  # connection lost inside item 3
    feed = parse_feed(cut, RSS_HEADERS, FEED_URL)
    assert [e.guid for e in feed.entries] == ["news-example-kg-48213", None]
    assert feed.warning.startswith("malformed XML: ")


def test_feed_cut_off_between_items_keeps_them_all():
    full = fixture("rss20-ru.xml")
    cut = full[: full.index(b"</channel>")]
    assert len(parse_feed(cut, RSS_HEADERS, FEED_URL).entries) == 3


def test_feed_cut_off_inside_its_only_item_is_a_parse_error():
    body = b"<?xml version='1.0'?><rss><channel><item><title>broken"
    with pytest.raises(ParseError, match="malformed XML: no element found"):
        parse_feed(body, RSS_HEADERS, FEED_URL)


def test_malformed_xml_without_entries_is_a_parse_error():
    with pytest.raises(ParseError, match=r"malformed XML: .*line 3"):
        parse_feed(fixture("malformed-no-entries.xml"), RSS_HEADERS, FEED_URL, source_id="kg-news")


@pytest.mark.parametrize(
    "body, message",
    [
        (b"", "not a feed (empty body)"),
        (b"  \n ", "not a feed (empty body)"),
        (b'{"error": "rate limited"}', "not a feed (JSON without a jsonfeed.org version)"),
        (b"<?xml version='1.0'?><sitemap><loc>x</loc></sitemap>", "not a feed"),
    ],
    ids=["empty", "whitespace", "json-error", "unknown-xml"],
)
def test_non_feed_bodies_are_parse_errors(body, message):
    with pytest.raises(ParseError, match=re.escape(message)):
        parse_feed(body, {}, FEED_URL)


# --- helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><html><body>x</body></html>",
        b"\xef\xbb\xbf\n  <!doctype HTML>\n<html>",
        b"<html lang='ru'><head>",
        b"<!-- served by nginx -->\n<html>",
        b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "x">\n<html xmlns="http://www.w3.org/1999/xhtml">',
        "<!DOCTYPE html><html>".encode("utf-16"),
    ],
    ids=["doctype", "bom-and-space", "html-tag", "comment-first", "xhtml", "utf-16"],
)
def test_looks_like_html_spots_pages(body):
    assert looks_like_html(body)


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><rss version="2.0">',
        b'<?xml version="1.0"?>\n<?xml-stylesheet type="text/xsl" href="/rss.xsl"?>\n<rss>',
        b'<feed xmlns="http://www.w3.org/2005/Atom">',
        b"<rdf:RDF>",
        b"",
    ],
    ids=["rss", "rss-with-xsl", "atom", "rdf", "empty"],
)
def test_looks_like_html_leaves_feeds_alone(body):
    assert not looks_like_html(body)


def test_html_to_text_separates_blocks_and_drops_scripts():
    assert html_to_text("<p>Один</p><p>Два<br>Три</p><script>x()</script> хвост") == "Один Два Три хвост"
    assert html_to_text("Цена < 100 тенге") == "Цена < 100 тенге"
    assert html_to_text("&lt;p&gt;Двойное &amp;amp; экранирование&lt;/p&gt;") == "Двойное & экранирование"
    assert html_to_text(None) == ""


def test_html_to_text_survives_absurdly_deep_nesting():
    # libxml2 silently drops content nested deeper than 256 elements; the fallback keeps it
    deep = "<div>" * 1000 + "глубоко<script>x()</script>" + "</div>" * 1000 + " после"
    assert html_to_text(deep) == "глубоко после"


# --- real feeds from the shared corpus ------------------------------------------------------------


def test_corpus_large_rss_feed():
    feed = parse_feed(corpus("large-rss.xml"), {"content-type": "application/rss+xml"},
                      "https://dustri.org/b/feed.xml")
    assert len(feed.entries) == 25
    first = feed.entries[0]
    assert first.title == "Using vale with vim"
    assert first.url == "https://dustri.org/b/using-vale-with-vim.html"
    assert first.published_at == "2024-03-10T16:15:00Z"
    # markup is gone; "<Leader>" written as text in a code sample stays, as the author wrote it
    assert first.summary.startswith("LWN recently published an excellent")
    assert "<p>" not in first.summary and "<code>" not in first.summary
    assert "nnoremap <Leader>M" in first.summary


def test_corpus_large_atom_feed():
    feed = parse_feed(corpus("large-atom.xml"), {"content-type": "application/atom+xml"},
                      "https://dustri.org/b/atom.xml")
    assert len(feed.entries) == 25
    assert feed.entries[0].guid == "tag:dustri.org,2024-03-10:/b/using-vale-with-vim.html"
    assert all(e.url and e.url.startswith("https://") for e in feed.entries)


def test_corpus_windows_1251_feed_has_cyrillic_titles():
    feed = parse_feed(corpus("ibash-windows-1251.xml"), {"content-type": "text/xml"},
                      "http://ibash.org.ru/rss.xml")
    assert len(feed.entries) == 50
    assert feed.title == "iBash.Org.Ru"
    assert all(e.title.startswith("Цитата #") for e in feed.entries)
    assert feed.entries[0].published_at == "2018-03-21T07:27:32Z"
    assert "программер" in feed.entries[0].summary


# --- fast path (crawler.feedfast): the same entries as feedparser, or no answer at all ----------


def _feedparser_only(monkeypatch, body, headers, url=FEED_URL, **kw):
    from crawler import feedfast

    with monkeypatch.context() as m:
        m.setattr(feedfast, "parse", lambda *args, **kw: None)
        return parse_feed(body, headers, url, **kw)


def _both(monkeypatch, body, headers, url=FEED_URL, **kw):
    """(fast path answered?, result with the fast path, result with feedparser only)."""
    from crawler import feedfast

    prepared = {k.lower(): v for k, v in headers.items()}
    answered = feedfast.parse(body, prepared, url) is not None
    return answered, parse_feed(body, headers, url, **kw), _feedparser_only(monkeypatch, body, headers, url, **kw)


CONTENT_TYPES = ["application/rss+xml; charset=utf-8", "application/xml", "text/xml", "text/html", None]


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
@pytest.mark.parametrize("name", ["rss20-ru.xml", "atom-kk.xml"])
def test_fast_path_reads_fixtures_exactly_as_feedparser(monkeypatch, name, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    answered, fast, slow = _both(monkeypatch, fixture(name), headers)
    assert answered, "a plain UTF-8 feed should take the fast path"
    assert fast == slow


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
@pytest.mark.parametrize("name", ["large-rss.xml", "large-atom.xml", "ibash-windows-1251.xml"])
def test_fast_path_reads_corpus_feeds_exactly_as_feedparser(monkeypatch, name, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    answered, fast, slow = _both(monkeypatch, corpus(name), headers, "https://example.org/feed/")
    assert answered == (name != "ibash-windows-1251.xml")  # windows-1251 is feedparser's
    assert fast == slow
    assert len(fast.entries) > 10 and all(e.url and e.title and e.published_at for e in fast.entries)


@pytest.mark.parametrize("name", ["empty-channel.xml", "malformed-no-entries.xml", "malformed-with-entries.xml",
                                  "rss091-en.xml", "rss10-uz.xml"])
def test_feeds_the_fast_path_leaves_to_feedparser(monkeypatch, name):
    from crawler import feedfast

    assert feedfast.parse(fixture(name), {"content-type": "application/rss+xml"}, FEED_URL) is None


def _rss(items: str, ns: str = "", decl: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return (f'{decl}<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            f'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:media="http://search.yahoo.com/mrss/" '
            f'{ns}><channel><title> Лента &amp; Co </title><image><title>logo</title></image>'
            f'{items}</channel></rss>').encode("utf-8")


def _atom(entries: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f'<title type="html">Qazaq &lt;b&gt;News&lt;/b&gt;</title>{entries}</feed>').encode("utf-8")


ITEM = "<item><title>Заголовок</title><link>/a/1</link><pubDate>Tue, 14 May 2024 10:30:00 +0600</pubDate></item>"

# Each: (name, body, does the fast path answer?)
SHAPES = [
    ("relative link", _rss(ITEM), True),
    ("permalink guid stands in for a missing link, resolved like one",
     _rss("<item><title>T</title><guid>news/7.html</guid></item>"), True),
    ("guid isPermaLink=false is kept verbatim", _rss('<item><title>T</title><guid isPermaLink="false">7</guid></item>'), True),
    ("permalink spelled oddly", _rss('<item><title>T</title><guid ispermalink="False">x/7</guid><link>/l</link></item>'), True),
    ("link given after guid wins", _rss("<item><guid>https://a.kz/g</guid><link>https://a.kz/l</link></item>"), True),
    ("empty link keeps the guid out", _rss("<item><title>T</title><link></link><guid>https://a.kz/g</guid></item>"), True),
    ("query string with &amp;", _rss("<item><title>T</title><link>/a?x=1&amp;amp;y=2&amp;z;=3</link></item>"), True),
    ("author e-mail and name", _rss("<item><title>T</title><author>desk@a.kz (Редакция)</author></item>"), True),
    ("author e-mail only", _rss("<item><title>T</title><author>desk@a.kz</author></item>"), True),
    ("dc:creator and dc:date only", _rss("<item><title>T</title><dc:creator> Айгуль </dc:creator>"
                                       "<dc:date>2024-05-14T10:30:00+06:00</dc:date></item>"), True),
    ("content:encoded without description", _rss("<item><title>T</title><content:encoded><![CDATA[<p>Full "
                                               "<b>text</b></p>]]></content:encoded></item>"), True),
    ("blank description, then content", _rss("<item><title>T</title><description> </description>"
                                            "<content:encoded>&lt;p&gt;Body&lt;/p&gt;</content:encoded></item>"), True),
    ("escaped HTML and CDATA in title", _rss("<item><title>&lt;b&gt;Bold&lt;/b&gt; <![CDATA[& raw]]></title></item>"), True),
    ("windows-1252 code points and double-encoded UTF-8",
     _rss("<item><title>&#147;quoted&#148; â€” CafÃ©</title><description>Ã©t&#233;</description></item>"), True),
    ("odd and missing dates", _rss("<item><title>A</title><pubDate>yesterday</pubDate></item>"
                                   "<item><title>B</title><pubDate>2024-05-14</pubDate></item><item><title>C</title></item>"), True),
    ("media pictures and categories", _rss('<item><title>T</title><category>Politics</category>'
                                          '<media:content url="https://a.kz/p.jpg"/><media:thumbnail url="/t.jpg"/>'
                                          '<enclosure url="/e.mp3" type="audio/mpeg" length="1"/></item>'), True),
    ("unknown extension (yandex:full-text)", _rss("<item><title>T</title><yandex:full-text>Весь текст</yandex:full-text>"
                                                 "</item>", 'xmlns:yandex="http://news.yandex.ru"'), True),
    ("comment in a title", _rss("<item><title>A<!-- c -->B</title></item>"), False),
    ("processing instruction in a title", _rss("<item><title>A<?x y?>B</title><link>/l</link></item>"), True),
    ("DOCTYPE after a long comment", _rss(ITEM).replace(b"<rss", b"<!--" + b"x" * 5000 + b"--><!DOCTYPE rss><rss"),
     False),
    ("media:title may rename the item", _rss("<item><title>T</title><media:title>M</media:title></item>"), False),
    ("itunes:summary may replace the description", _rss(
        '<item><title>T</title><itunes:summary>S</itunes:summary></item>',
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'), False),
    ("media:content holding a title", _rss('<item><title>T</title><media:content url="/p"><media:title>M'
                                          '</media:title></media:content></item>'), False),
    ("an unknown namespace under a known prefix", _rss('<item><title>T</title><dc:creator>A</dc:creator>'
                                                      '<x:creator>B</x:creator></item>', 'xmlns:x="urn:x"'), True),
    ("an unknown namespace spelling a known handler", _rss('<item><title>T</title><media:title>M</media:title></item>')
     .replace(b'xmlns:media="http://search.yahoo.com/mrss/"', b'xmlns:media="urn:not-media"'), False),
    ("atom:link inside an RSS item", _rss('<item><title>T</title><atom:link href="/x"/></item>',
                                          'xmlns:atom="http://www.w3.org/2005/Atom"'), False),
    ("repeated title", _rss("<item><title>A</title><title>B</title></item>"), False),
    ("xml:base", _rss('<item xml:base="https://other.kz/"><title>T</title><link>a</link></item>'), False),
    ("raw HTML markup in a description", _rss("<item><title>T</title><description><p>x</p></description></item>"), False),
    ("windows-1251 declaration", _rss(ITEM, decl='<?xml version="1.0" encoding="windows-1251"?>'), False),
    ("atom: last alternate link wins, self and enclosure ignored, id is the guid", _atom(
        '<entry><title>E</title><id>tag:a.kz,2024:1</id><link rel="self" href="/self"/><link href="/first"/>'
        '<link rel="ALTERNATE" type="text/html" href="/second"/><link rel="enclosure" href="/e.mp3"/>'
        '<updated>2024-05-14T10:30:00Z</updated><author><name> Асель </name><uri>https://a.kz</uri></author>'
        '<summary type="html">&lt;p&gt;S&lt;/p&gt;</summary><content type="html">&lt;p&gt;C&lt;/p&gt;</content></entry>'),
     True),
    ("atom: id stands in for a missing link", _atom("<entry><title>E</title><id>https://a.kz/7</id>"
                                                    "<published>2024-05-14T10:30:00+05:00</published></entry>"), True),
    ("atom: content only, type text", _atom('<entry><title type="text">E</title><id>x</id>'
                                            '<content type="text">a &lt; b</content></entry>'), True),
    ("atom: author with e-mail", _atom("<entry><title>E</title><id>x</id><author><name>N</name>"
                                       "<email>n@a.kz</email></author></entry>"), False),
    ("atom: xhtml content", _atom('<entry><title>E</title><id>x</id><content type="xhtml"><div '
                                  'xmlns="http://www.w3.org/1999/xhtml"><p>C</p></div></content></entry>'), False),
]


@pytest.mark.parametrize("name, body, fast", SHAPES, ids=[s[0] for s in SHAPES])
def test_fast_path_matches_feedparser_on_each_shape(monkeypatch, name, body, fast):
    answered, with_fast, slow = _both(monkeypatch, body, {"Content-Type": "application/rss+xml"})
    assert answered == fast
    assert with_fast == slow


def test_fast_path_never_expands_entities_or_reads_a_dtd(monkeypatch, tmp_path):
    from crawler import feedfast

    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    laughs = ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
              f'<!ENTITY s SYSTEM "file://{secret}">]><rss version="2.0"><channel><title>&b;</title>'
              '<item><title>&s;&b;</title><link>https://a.kz/1</link></item></channel></rss>').encode()
    assert feedfast.parse(laughs, {}, FEED_URL) is None
    # even when handed such a document directly, its parser leaves entities alone
    import lxml.etree

    root = lxml.etree.fromstring(laughs, lxml.etree.XMLParser(**feedfast._PARSER_OPTIONS))
    assert "top secret" not in lxml.etree.tostring(root, encoding="unicode")
    assert "aaaaaaaaaa" not in "".join(root.itertext())


# --- known entries (what the crawl already stored) are left out unconverted ----------------------


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "feedparser"])
def test_known_entries_are_left_out_and_counted(monkeypatch, fast):
    from crawler import feedfast

    if not fast:
        monkeypatch.setattr(feedfast, "parse", lambda *args, **kw: None)
    body = fixture("rss20-ru.xml")
    everything = parse_feed(body, RSS_HEADERS, FEED_URL)
    asked = []

    def known(guid, url):
        asked.append((guid, url))
        return guid == "news-example-kg-48213"  # the first item

    partial = parse_feed(body, RSS_HEADERS, FEED_URL, known=known)
    assert partial.entries == everything.entries[1:]
    assert partial.known == 1 and everything.known == 0
    assert asked == [(e.guid, e.url) for e in everything.entries]


def test_known_entries_count_towards_max_items_and_are_never_converted(monkeypatch):
    from crawler import parse

    converted = []
    real = parse._to_entry
    monkeypatch.setattr(parse, "_to_entry", lambda raw, url, tz=None: converted.append(1) or real(raw, url, tz))
    body = corpus("large-rss.xml")
    feed = parse_feed(body, {}, "https://example.org/feed/", max_items=10, known=lambda guid, url: True)
    assert feed.entries == [] and feed.known == 10 and converted == []
    feed = parse_feed(body, {}, "https://example.org/feed/", max_items=10,
                      known=lambda guid, url: not url.endswith("using-vale-with-vim.html"))
    assert [e.url for e in feed.entries] == ["https://dustri.org/b/using-vale-with-vim.html"]
    assert feed.known == 9 and len(converted) == 1


def test_an_entry_without_guid_or_link_is_never_taken_for_known():
    body = _rss("<item><title>Only a title</title></item><item><title>T</title><link>/a</link></item>")
    feed = parse_feed(body, RSS_HEADERS, FEED_URL, known=lambda guid, url: True)
    assert [e.title for e in feed.entries] == ["Only a title"] and feed.known == 1


# --- html_to_text: simple markup is cut out without a parser, with the parser's result ------------


def _parser_text(markup: str) -> str:
    from crawler import parse

    return " ".join(parse._text_of(parse._parse_fragment(markup)).split())


def _simple_text(markup: str) -> str | None:
    from crawler import parse

    text = parse._flatten_simple(markup)
    return None if text is None else " ".join(text.split())


def _nested_fragments(count: int, seed: int = 7) -> list[str]:
    import random

    rng = random.Random(seed)
    words = ["Москва", "a", " ", "\n", "  x  ", "&amp;", "&nbsp;", "&#171;", "&#x41;", "&quot;", "&lt;", "&apos;",
             "&#150;", "&copy;", "«ё»", "\t", "&hellip;", "a & b", "&nbsp", "1 > 0"]
    inline = "b i u em strong span a small sup sub s q cite abbr".split()
    blocks = "p div h1 h2 ul ol blockquote".split()

    def tree(depth, parent):
        out = []
        for _ in range(rng.randint(0, 4)):
            r = rng.random()
            if r < 0.45 or depth > 4:
                out.append(rng.choice(words))
            elif r < 0.55:
                out.append(rng.choice(["<br>", "<br/>", "<img src='x'>", "<hr>", "</br>", "<!-- c -->"]))
            else:
                if parent in ("ul", "ol"):
                    tag = "li" if rng.random() < 0.9 else "p"
                elif parent in ("div", "blockquote", "li", None) or rng.random() < 0.05:
                    tag = rng.choice(inline + blocks)
                else:
                    tag = rng.choice(inline)
                attr = rng.choice(["", ' href="/x?a=1&amp;b=2"', " class=lead", " title='t'", " data-x='a>b'"])
                ws = rng.choice(["", " ", "\n"])
                close = f"</{tag}>" if rng.random() < 0.95 else ""
                out.append(f"{ws}<{tag}{attr}>{tree(depth + 1, tag)}{close}{ws}")
        return "".join(out)

    return [tree(0, None) for _ in range(count)]


def test_simple_markup_path_gives_what_the_parser_gives_on_generated_fragments():
    taken = 0
    for markup in _nested_fragments(3000):
        simple = _simple_text(markup)
        if simple is not None:
            taken += 1
            assert simple == _parser_text(markup), markup
    assert taken > 1000  # the shortcut is actually taken


def test_simple_markup_path_gives_what_the_parser_gives_on_real_feed_html():
    import lxml.etree

    fragments = [fixture("rss20-ru.xml").decode()]
    for name in ("large-rss.xml", "large-atom.xml"):
        root = lxml.etree.fromstring(corpus(name))
        fragments += [el.text for el in root.iter() if el.text and "<" in el.text]
    checked = 0
    for markup in fragments:
        for piece in [markup] + [markup[i:i + 400] for i in range(0, len(markup), 97)]:
            simple = _simple_text(piece)
            if simple is not None:
                checked += 1
                assert simple == _parser_text(piece), piece
    assert checked > 50


@pytest.mark.parametrize("markup", ["<p>a</p>b", "<b>a</b> <i>b</i>", "a<br>b", "<ul><li>a</li><li>b</li></ul>",
                                    "<p>x &amp; y &#171;z&#187;</p>", '<a href="/x?a=1&b=2">link</a> text'])
def test_common_summaries_take_the_simple_path(markup):
    assert _simple_text(markup) is not None and _simple_text(markup) == _parser_text(markup)


# --- raw fingerprints: entries the crawl stored from exactly the same raw item are not converted ---------


def _fingerprints(body: bytes, timezone: str | None = None) -> dict:
    return {e.guid: e.raw_fingerprint for e in parse_feed(body, RSS_HEADERS, FEED_URL, timezone=timezone).entries}


_ITEM = ('<item><title>{title}</title><link>/news/{n}</link><guid isPermaLink="false">n-{n}</guid>'
         '<pubDate>{date}</pubDate><dc:creator>Айгуль</dc:creator>'
         '<description>{desc}</description><content:encoded>{full}</content:encoded></item>')
_VALUES = dict(title="Мигранты вернулись", date="Tue, 14 May 2024 09:30:00 +0600",
               desc="&lt;p&gt;Более двух тысяч&lt;/p&gt;", full="&lt;p&gt;Весь текст&lt;/p&gt;")


def _feed_of(**changes) -> bytes:
    return _rss("".join(_ITEM.format(n=n, **dict(_VALUES, **(changes if n == 2 else {}))) for n in (1, 2, 3)))


def test_a_reserialised_feed_keeps_every_raw_fingerprint():
    before = _fingerprints(_feed_of())
    assert all(before.values()) and len(set(before.values())) == 3
    # CDATA instead of escaping, attributes in another order, other indentation, comments, new build date
    again = _rss("\n  <lastBuildDate>Wed, 15 May 2024 10:00:00 +0600</lastBuildDate><!-- cache 2 -->" + "".join(
        f'\n  <item>\n    <guid isPermaLink="false">n-{n}</guid><title>Мигранты вернулись</title>'
        f'\n    <link>/news/{n}</link><pubDate>Tue, 14 May 2024 09:30:00 +0600</pubDate>'
        f'<dc:creator>Айгуль</dc:creator>\n    <description><![CDATA[<p>Более двух тысяч</p>]]></description>'
        f'<!-- ad --><content:encoded><![CDATA[<p>Весь текст</p>]]></content:encoded>\n  </item>'
        for n in (1, 2, 3)))
    assert _fingerprints(again) == before


@pytest.mark.parametrize("change", [
    dict(title="Мигранты вернулись домой"),
    dict(desc="&lt;p&gt;Более трёх тысяч&lt;/p&gt;"),
    dict(desc="&lt;p&gt;Более  двух тысяч&lt;/p&gt;"),  # not an edit, but a raw change: compared after conversion
    dict(date="Tue, 14 May 2024 11:45:00 +0600"),
], ids=["title", "summary", "summary-spacing", "date"])
def test_a_change_to_what_an_entry_is_made_of_changes_only_its_raw_fingerprint(change):
    before, after = _fingerprints(_feed_of()), _fingerprints(_feed_of(**change))
    assert after["n-2"] != before["n-2"]
    assert after["n-1"] == before["n-1"] and after["n-3"] == before["n-3"]


def test_the_full_text_counts_only_where_it_stands_in_for_a_missing_description():
    full = dict(full="&lt;p&gt;Весь текст, исправленный&lt;/p&gt;")
    assert _fingerprints(_feed_of(**full))["n-2"] == _fingerprints(_feed_of())["n-2"]
    assert _fingerprints(_feed_of(desc="", **full))["n-2"] != _fingerprints(_feed_of(desc=""))["n-2"]


def test_another_source_time_zone_changes_every_raw_fingerprint():
    # a zoneless date is read in the source's zone: a new zone can change every entry's date
    utc, almaty = _fingerprints(_feed_of(), None), _fingerprints(_feed_of(), "Asia/Almaty")
    assert not set(utc.values()) & set(almaty.values())


def test_unchanged_entries_are_left_out_unconverted_and_counted(monkeypatch):
    from crawler import parse

    body = _feed_of()
    stored = _fingerprints(body)
    converted = []
    real = parse._to_entry
    monkeypatch.setattr(parse, "_to_entry", lambda raw, url, tz=None: converted.append(1) or real(raw, url, tz))
    asked = []

    def unchanged(guid, url, raw_fingerprint):
        asked.append((guid, url))
        return stored.get(guid) == raw_fingerprint

    feed = parse_feed(_feed_of(title="Мигранты вернулись домой"), RSS_HEADERS, FEED_URL, unchanged=unchanged)
    assert [e.guid for e in feed.entries] == ["n-2"] and feed.known == 2 and len(converted) == 1
    assert feed.entries[0].title == "Мигранты вернулись домой" and feed.entries[0].raw_fingerprint
    assert asked == [("n-1", "https://news.example.kg/news/1"), ("n-2", "https://news.example.kg/news/2"),
                     ("n-3", "https://news.example.kg/news/3")]


def test_feedparser_path_entries_have_no_raw_fingerprint_and_are_always_converted():
    # RSS 1.0 is feedparser's: nothing there to fingerprint before converting, so nothing is skipped
    feed = parse_feed(fixture("rss10-uz.xml"), {}, FEED_URL, unchanged=lambda guid, url, raw: True)
    assert feed.entries and feed.known == 0
    assert all(e.raw_fingerprint is None for e in feed.entries)


def test_raw_fingerprint_is_not_part_of_entry_equality():
    # the two parser paths must keep giving equal entries (compared above on every fixture)
    a = FeedEntry(guid="g", url=None, title="T", raw_fingerprint="x")
    assert a == FeedEntry(guid="g", url=None, title="T") and hash(a) == hash(FeedEntry(guid="g", url=None, title="T"))
