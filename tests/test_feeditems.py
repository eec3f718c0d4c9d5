"""Items found in a feed's bytes: the ones handled at the last poll are cut out before parsing, and what
is left parses to exactly the entries a full parse gives for those items."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler import feeditems
from crawler.errors import ParseError
from crawler.parse import parse_feed

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
CORPUS = Path(__file__).parents[2] / "shared" / "corpus" / "feeds"
FEED_URL = "https://news.example.kg/rss/main.xml"
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}


def _item(n: int, title: str | None = None) -> str:
    title = title or f"Мигранты вернулись домой, выпуск {n}"
    return (f'<item><title>{title}</title><link>/news/{n}</link><guid isPermaLink="false">n-{n}</guid>'
            f"<pubDate>Tue, 14 May 2024 0{n % 10}:30:00 +0600</pubDate>"
            f"<description><![CDATA[<p>Текст {n}: более двух тысяч трудовых мигрантов.</p>]]></description></item>")


def _rss(items: str, build: int = 1, ns: str = "", head: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"'
            f'{ns}><channel><title>Лента</title><lastBuildDate>Wed, 18 Jun 2025 10:{build:02d}:00 GMT'
            f"</lastBuildDate>{head}\n{items}\n</channel></rss>").encode("utf-8")


def _feed(numbers, build: int = 1, **titles) -> bytes:
    return _rss("\n  ".join(_item(n, titles.get(f"t{n}")) for n in numbers), build)


def _digests(body: bytes, url: str = FEED_URL, headers=RSS, timezone: str | None = None, max_items: int = 500):
    parsed = parse_feed(body, headers, url, timezone=timezone, handled=frozenset(), max_items=max_items)
    return parsed.item_digests and [parsed.item_digests[i:i + 16] for i in range(0, len(parsed.item_digests), 16)]


FEEDS = [*(pytest.param(path, id=path.name) for path in sorted(FIXTURES.glob("*.xml"))),
         *(pytest.param(CORPUS / name, id=f"corpus-{name}")
           for name in ("large-rss.xml", "large-atom.xml", "ibash-windows-1251.xml"))]


def _read(path: Path) -> bytes:
    if not path.exists():
        pytest.skip(f"shared corpus not available ({path})")
    return path.read_bytes()


@pytest.mark.parametrize("path", FEEDS)
def test_every_item_of_a_real_feed_is_found(path):
    body = _read(path)
    items = feeditems.find(body, salt="", limit=500)
    if items is None:  # no entries, or a broken body: parsed whole, as before
        assert path.name in ("empty-channel.xml", "malformed-no-entries.xml")
        return
    full = parse_feed(body, {}, FEED_URL)
    assert len(items.spans) == len(full.entries) + full.known
    assert all(body[s:e].lstrip(b"<").startswith((b"item", b"entry")) for s, e in items.spans)


@pytest.mark.parametrize("path", FEEDS)
def test_cutting_the_handled_items_leaves_the_other_entries_exactly_as_a_full_parse_gives_them(path):
    body = _read(path)
    try:
        full = parse_feed(body, {}, FEED_URL)
    except ParseError:  # and just as much of one when asked for digests
        with pytest.raises(ParseError):
            parse_feed(body, {}, FEED_URL, handled=frozenset())
        return
    digests = _digests(body, headers={})
    if not digests:
        assert not full.entries
        return
    handled = frozenset(digests[1::2])  # every other item, the first kept
    cut = parse_feed(body, {}, FEED_URL, handled=handled)
    if path.name == "ibash-windows-1251.xml":  # another charset: parsed whole (see below)
        assert cut.entries == full.entries and cut.known == 0
    else:
        assert cut.entries == full.entries[0::2]
        assert cut.known == len(digests[1::2]) and cut.title == full.title
    assert cut.item_digests == b"".join(digests)  # all of them, to keep for the next poll


def test_a_new_item_on_top_of_a_changed_feed_is_the_only_one_parsed():
    before = _feed(range(5, 0, -1), build=1)
    after = _feed(range(6, 1, -1), build=2)  # item 6 new, item 1 gone, a new build date
    handled = frozenset(_digests(before))
    parsed = parse_feed(after, RSS, FEED_URL, handled=handled)
    assert [e.guid for e in parsed.entries] == ["n-6"] and parsed.known == 4
    assert parsed.entries == parse_feed(after, RSS, FEED_URL).entries[:1]


def test_nothing_new_gives_no_entries_and_no_error():
    body = _feed(range(3), build=1)
    parsed = parse_feed(_feed(range(3), build=2), RSS, FEED_URL, handled=frozenset(_digests(body)))
    assert parsed.entries == [] and parsed.known == 3 and parsed.title == "Лента" and parsed.warning is None


def test_feedparser_path_feeds_are_cut_too():
    body = (FIXTURES / "rss10-uz.xml").read_bytes()
    parsed = parse_feed(body, {}, FEED_URL, handled=frozenset(_digests(body, headers={})))
    assert parsed.entries == [] and parsed.known == len(parse_feed(body, {}, FEED_URL).entries)


def test_only_the_edited_item_gets_a_new_digest():
    before, after = _digests(_feed(range(3))), _digests(_feed(range(3), build=7, t1="Мигранты задержаны на границе"))
    assert [a == b for a, b in zip(before, after)] == [True, False, True]


@pytest.mark.parametrize("other", [
    dict(url="https://news.example.kg/rss/other.xml"),  # relative links resolve elsewhere
    dict(timezone="Asia/Almaty"),  # a zoneless date means another instant
    dict(headers={"Content-Type": "application/rss+xml; charset=windows-1251"}),  # bytes read otherwise
], ids=["feed URL", "time zone", "charset"])
def test_what_else_decides_an_item_changes_every_digest(other):
    body = _feed(range(3))
    assert not set(_digests(body)) & set(_digests(body, **other))


def test_another_media_type_or_charset_spelling_keeps_the_digests():
    body = _feed(range(3))
    assert _digests(body, headers={"Content-Type": "text/xml; charset=UTF-8"}) == _digests(body)


def test_other_namespace_declarations_change_every_digest():
    items = "".join(_item(n) for n in range(3))
    plain, declared = _rss(items), _rss(items, ns=' xmlns:media="http://search.yahoo.com/mrss/"')
    assert not set(_digests(plain)) & set(_digests(declared))


def test_an_item_quoted_in_cdata_or_a_comment_is_text():
    quoted = ("<description><![CDATA[Examples: <item><title>x</title></item>]]></description>"
              "<!-- <item><title>old</title></item> -->")
    body = _rss("".join(_item(n) for n in range(3)), head=quoted)
    items = feeditems.find(body, salt="", limit=500)
    assert len(items.spans) == 3
    full = parse_feed(body, RSS, FEED_URL)
    digests = _digests(body)
    assert parse_feed(body, RSS, FEED_URL, handled={digests[0]}).entries == full.entries[1:]


@pytest.mark.parametrize("body", [
    _rss(_item(1) + "<!-- ad -->" + _item(2)),
    _rss(_item(1) + "<image><url>/logo.png</url></image>" + _item(2)),
    _rss(_item(1) + _item(2))[:-40],
    _rss(_item(1) + "<item/>" + _item(2)),
    _rss(_item(1).replace("</item>", _item(2))),
    _rss(_item(1)).replace(b"<rss ", b'<!DOCTYPE rss [<!ENTITY t "x">]><rss '),
    b'<?xml version="1.0"?><atom:feed xmlns:atom="http://www.w3.org/2005/Atom"><atom:entry><atom:id>1</atom:id>'
    b"</atom:entry></atom:feed>",
], ids=["comment between items", "element between items", "cut off mid-item", "empty item", "nested item",
        "DOCTYPE", "prefixed Atom"])
def test_a_document_not_of_the_plain_shape_is_parsed_whole(body):
    assert feeditems.find(body, salt="", limit=500) is None
    parsed = parse_feed(body, RSS, FEED_URL, handled=frozenset({b"x" * 16}))
    assert parsed.item_digests is None and parsed.known == 0


def test_rss_1_0_table_of_contents_is_not_an_item():
    body = (FIXTURES / "rss10-uz.xml").read_bytes()
    assert b"<items>" in body
    assert len(feeditems.find(body, salt="", limit=500).spans) == len(parse_feed(body, {}, FEED_URL).entries)


def test_items_past_max_items_are_neither_hashed_nor_parsed():
    body = _feed(range(10))
    digests = _digests(body, max_items=4)
    assert len(digests) == 4
    parsed = parse_feed(body, RSS, FEED_URL, max_items=4, handled={digests[1]})
    assert [e.guid for e in parsed.entries] == ["n-0", "n-2", "n-3"] and parsed.known == 1


def test_digests_are_asked_for_only_by_handled():
    assert parse_feed(_feed(range(3)), RSS, FEED_URL).item_digests is None


def test_an_element_named_like_the_other_kind_of_item_is_ordinary_markup():
    item = _item(1).replace("</item>", '<entry xmlns="urn:example:vote">42</entry></item>')
    body = _rss(item + _item(2))
    assert len(feeditems.find(body, salt="", limit=500).spans) == 2
    digests = _digests(body)
    assert parse_feed(body, RSS, FEED_URL, handled={digests[1]}).entries == parse_feed(body, RSS, FEED_URL).entries[:1]


def test_a_feed_in_another_charset_is_parsed_whole_so_its_charset_is_judged_on_all_its_text():
    body = _feed(range(4)).decode("utf-8").replace(' encoding="utf-8"', "").encode("koi8_r")  # undeclared
    full = parse_feed(body, {}, FEED_URL)
    digests = _digests(body, headers={})
    parsed = parse_feed(body, {}, FEED_URL, handled=frozenset(digests[1:]))
    assert parsed.known == 0 and parsed.entries == full.entries  # every entry read, as a full parse reads it
    assert parsed.item_digests == b"".join(digests)  # kept all the same: they only ever lead back here


def test_a_body_of_countless_tiny_items_is_left_to_the_parser_bounds():
    # no Python loop turn per item for a hostile body: parse_feed reads its first max_items as before
    body = _rss("<item><title>x</title></item>" * 60_000)
    assert feeditems.find(body, salt="", limit=500) is None
    parsed = parse_feed(body, RSS, FEED_URL, handled=frozenset())
    assert len(parsed.entries) == 500 and parsed.item_digests is None
