"""JSON Feed 1.0 and 1.1 parse to the same entries an RSS feed gives."""

from __future__ import annotations

import json

import pytest

from crawler.errors import ParseError
from crawler.parse import parse_feed

URL = "https://daryo.uz/feed.json"


def feed(version: str, items: list, **extra) -> bytes:
    return json.dumps({"version": f"https://jsonfeed.org/version/{version}", "title": "Daryo", "items": items,
                       **extra}, ensure_ascii=False).encode()


def test_json_feed_1_1():
    parsed = parse_feed(feed("1.1", [
        {"id": "2026/06/18/1", "url": "/2026/06/18/toshkentda-metro", "title": "Toshkentda <b>metro</b>",
         "content_html": "<p>Yangi bekatlar</p><p>ochildi</p>", "date_published": "2026-06-18T10:42:00+05:00",
         "authors": [{"name": "Nodira Tursunova"}]},
        {"id": 77, "external_url": "https://daryo.uz/ext", "content_text": "Faqat matn", "date_modified": "2026-06-18"},
    ]), {"content-type": "application/feed+json"}, URL)
    first, second = parsed.entries
    assert parsed.title == "Daryo"
    assert (first.guid, first.url, first.title) == ("2026/06/18/1", "https://daryo.uz/2026/06/18/toshkentda-metro",
                                                    "Toshkentda metro")
    assert first.summary == "Yangi bekatlar ochildi" and first.author == "Nodira Tursunova"
    assert first.published_at == "2026-06-18T05:42:00Z"
    assert (second.guid, second.url, second.summary) == ("77", "https://daryo.uz/ext", "Faqat matn")


def test_json_feed_1_0_author_and_source_time_zone():
    parsed = parse_feed(feed("1", [{"id": "a", "url": "https://daryo.uz/a", "title": "A",
                                    "date_published": "2026-06-18T10:00:00"}], author={"name": "Daryo"}),
                        {}, URL, timezone="Asia/Tashkent")
    assert parsed.entries[0].author == "Daryo" and parsed.entries[0].published_at == "2026-06-18T05:00:00Z"


def test_hostile_items_are_skipped_with_a_warning():
    parsed = parse_feed(feed("1.1", ["junk", {"url": "javascript:alert(1)"}, {"id": "ok", "title": "Kept"}]), {}, URL)
    assert [e.guid for e in parsed.entries] == ["ok"] and parsed.entries[0].url is None
    assert "2 items" in parsed.warning


@pytest.mark.parametrize("body, message", [(b'{"version": "1", "items": []}', "jsonfeed.org"),
                                           (b'{"version": "https://jsonfeed.org/version/1.1", "items": 3}',
                                            "items is not a list"),
                                           (b'{"version": ', "malformed JSON Feed")])
def test_not_json_feeds(body, message):
    with pytest.raises(ParseError, match=message):
        parse_feed(body, {}, URL)
