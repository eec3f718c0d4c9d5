"""parse_feed against hostile and random bytes: XML bombs and external entities in-process, and a
property test (Hypothesis) over random and mutated feeds: no exception but ParseError escapes, and each
input is parsed within a bound (Hypothesis' deadline)."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler import feeditems
from crawler.errors import ParseError
from crawler.parse import parse_feed

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
SEEDS = [p.read_bytes() for p in sorted(FEEDS.glob("*.xml"))] + [
    (Path(__file__).parent / "fixtures" / "encoding" / "ru-feed.xml").read_text(encoding="utf-8")
    .replace("{decl}", "").encode("cp1251")]
HOSTILE_TOKENS = [
    b'<!DOCTYPE rss [<!ENTITY a "<b>&a;&a;</b>">]>', b"&a;", b"&#xD800;", b"&#1114112;", b"&#0;", b"\x00",
    b"<![CDATA[", b"]]>", b"<item>", b"</item>", b"<entry>", b"<title>", b"</title>", b"<rss version=\"2.0\">",
    b"<?xml version=\"1.0\" encoding=\"koi8-r\"?>", b"\xef\xbb\xbf", b"\xff\xfe", b"<" * 50, b"<div>" * 300,
    b'<!ENTITY % p SYSTEM "http://127.0.0.2:9/x.dtd"> %p;', b'<link>file:///etc/passwd</link>', b"&amp;" * 20,
    "Мигранты".encode("cp1251"), "Мигранты".encode("utf-8"), b"\xd0", b"<feed xmlns=\"http://www.w3.org/2005/Atom\">",
]


def check(body: bytes) -> None:
    """Parsed whole, then as at the next poll with every item but the first handled (cut out unparsed)."""
    try:
        feed = parse_feed(body, {"Content-Type": "application/rss+xml"}, "https://example.kg/rss", max_items=50,
                          handled=frozenset())
    except ParseError:
        return
    check_entries(feed)
    if feed.item_digests:
        handled = feeditems.split_digests(feed.item_digests[feeditems.DIGEST_SIZE:])
        try:
            again = parse_feed(body, {"Content-Type": "application/rss+xml"}, "https://example.kg/rss",
                               max_items=50, handled=handled)
        except ParseError:
            return
        check_entries(again)


def check_entries(feed) -> None:
    assert len(feed.entries) + feed.known <= 50
    for entry in feed.entries:
        for value in (entry.title, entry.summary, entry.author or "", entry.guid or ""):
            value.encode("utf-8")  # valid UTF-8: no lone surrogates
            assert "\x00" not in value
        assert len(entry.title) <= 1002 and len(entry.summary) <= 20002
        assert entry.url is None or entry.url.startswith(("http://", "https://"))


@st.composite
def mutated_feeds(draw):
    body = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "token"]))
        at = draw(st.integers(0, max(len(body) - 1, 0)))
        if op == "flip" and body:
            body[at] = draw(st.integers(0, 255))
        elif op == "insert":
            body[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif op == "delete":
            del body[at:at + draw(st.integers(1, 200))]
        elif op == "truncate":
            del body[at:]
        else:
            body[at:at] = draw(st.sampled_from(HOSTILE_TOKENS)) * draw(st.integers(1, 3))
    return bytes(body)


@settings(max_examples=250, deadline=timedelta(seconds=3), suppress_health_check=[HealthCheck.too_slow])
@given(mutated_feeds())
def test_mutated_feeds_never_crash_the_parser(body):
    check(body)


@settings(max_examples=150, deadline=timedelta(seconds=3))
@given(st.binary(max_size=4000))
def test_random_bytes_never_crash_the_parser(body):
    check(body)


@pytest.mark.parametrize("body", [b"&#xD800;", b"&#1114112;", b"<rss><channel><item><title>&#xDFFF;</title>"],
                         ids=["surrogate", "beyond-unicode", "surrogate-in-title"])
def test_character_references_feedparser_chokes_on(body):
    check(b'<rss version="2.0"><channel><item><title>x</title><link>http://a.kg/1</link>' + body
          + b"</item></channel></rss>")


# --- XML entities -------------------------------------------------------------------------------


@pytest.fixture
def canary():
    """A listener on 127.0.0.2 counting connections: an external entity must never reach it."""
    sock = socket.socket()
    sock.bind(("127.0.0.2", 0))
    sock.listen(8)
    sock.settimeout(0.05)
    count, stop = [0], threading.Event()

    def run():
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            count[0] += 1
            conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield sock.getsockname()[1], count
    stop.set()
    thread.join(timeout=1)
    sock.close()


def laughs(depth: int = 12, with_markup: bool = True) -> bytes:
    first = "<b>lol</b>" if with_markup else "lol"
    entities = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, depth))
    return (f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY l0 "{first}">{entities}]>\n'
            f'<rss version="2.0"><channel><title>&l{depth - 1};</title><item><title>Laughs &l{depth - 1};</title>'
            f'<link>http://a.kg/1</link><description>&l{depth - 1};</description></item></channel></rss>').encode()


@pytest.mark.parametrize("with_markup", [True, False], ids=["markup-in-entity", "plain"])
def test_billion_laughs_expands_nothing(with_markup):
    feed = parse_feed(laughs(with_markup=with_markup), {}, "http://a.kg/rss")
    [entry] = feed.entries
    assert "lollol" not in entry.title + entry.summary + feed.title


@pytest.mark.parametrize("template", [
    '<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE rss [<!ENTITY x SYSTEM "http://127.0.0.2:{port}/x">]>',
    '<!DOCTYPE rss [<!ENTITY % p SYSTEM "http://127.0.0.2:{port}/p.dtd"> %p;]>',
    '<!DOCTYPE rss SYSTEM "http://127.0.0.2:{port}/rss.dtd">',
    '<!DOCTYPE rss [<!ENTITY y "<i>">  <!ENTITY x SYSTEM "file:///etc/passwd">]>',
], ids=["file", "http-canary", "parameter-entity", "external-dtd", "markup-then-file"])
def test_external_entities_are_not_resolved(canary, template):
    port, count = canary
    body = ('<?xml version="1.0"?>\n' + template.replace("{port}", str(port)) +
            '<rss version="2.0"><channel><title>T</title><item><title>A &x;</title><link>http://a.kg/1</link>'
            '<description>&x;</description></item></channel></rss>').encode()
    feed = parse_feed(body, {}, "http://a.kg/rss")
    text = " ".join(e.title + e.summary for e in feed.entries)
    assert "root:" not in text and count[0] == 0
