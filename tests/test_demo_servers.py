"""The loopback servers behind `newswatch demo` and the tests, and the bundled sample pages."""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import pytest
import trafilatura

from crawler.demo.servers import OUTLET_DIR, Mailbox, OutletServer, WebhookReceiver, free_port

SEED_DIR = Path(__file__).parent / "fixtures" / "seed"
SEED_TITLE = "Uzbekistan Sends Diplomatic Note to Russia Over Treatment of Migrant Workers in Moscow"
SIDEBAR_HEADLINES = [
    "Saiga",
    "Hydrogen Sulfide",
    "Kazakhstanis on Vacation in Egypt",
    "Second Nuclear Plant",
    "Almex Holding",
    "Taraz: Court Hands Down Sentence",
]


def get(url: str, headers: dict[str, str] | None = None):
    """(status, headers, body) of a GET, without raising on 3xx/4xx/5xx."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers, err.read()


@pytest.fixture
def outlet():
    with OutletServer(OUTLET_DIR) as server:
        yield server


def test_free_port_returns_a_bindable_port():
    port = free_port()
    assert 1024 <= port <= 65535


def test_outlet_serves_feed_with_base_url_replaced_by_its_real_port(outlet):
    status, headers, body = get(outlet.base_url + "/feed.xml")
    assert status == 200
    assert headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    text = body.decode("utf-8")
    assert "{base_url}" not in text
    assert f"http://127.0.0.1:{outlet.port}/news/" in text
    assert text.count("<item>") == 3
    # every item link points at a page the same server serves
    links = [line.split("<link>")[1].split("</link>")[0] for line in text.splitlines() if "<link>" in line]
    article_links = [link for link in links if "/news/" in link]
    assert len(article_links) == 3
    for link in article_links:
        page_status, page_headers, _ = get(link)
        assert page_status == 200
        assert page_headers["Content-Type"] == "text/html; charset=utf-8"


def test_outlet_hides_template_files_and_404s_unknown_paths(outlet):
    assert get(outlet.base_url + "/feed.xml.tmpl")[0] == 404
    assert get(outlet.base_url + "/news/no-such-story.html")[0] == 404
    assert get(outlet.base_url + "/../../etc/passwd")[0] == 404


def test_second_get_with_etag_returns_304_with_empty_body(outlet):
    status, headers, body = get(outlet.base_url + "/feed.xml")
    assert status == 200 and body
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert etag and last_modified

    status, headers304, body304 = get(outlet.base_url + "/feed.xml", {"If-None-Match": etag})
    assert status == 304
    assert body304 == b""
    assert headers304["ETag"] == etag

    status, _, body = get(outlet.base_url + "/feed.xml", {"If-Modified-Since": last_modified})
    assert (status, body) == (304, b"")
    # a stale validator gets the full body again
    status, _, body = get(outlet.base_url + "/feed.xml", {"If-None-Match": '"stale"'})
    assert status == 200 and body
    assert outlet.hits("/feed.xml") == 4


def test_requests_are_recorded_with_headers(outlet):
    get(outlet.base_url + "/feed.xml", {"User-Agent": "newswatch-test"})
    method, path, headers = outlet.requests[-1]
    assert (method, path) == ("GET", "/feed.xml")
    assert headers["user-agent"] == "newswatch-test"


def test_set_response_makes_a_path_return_500_until_cleared(outlet):
    outlet.set_response("/feed.xml", 500, b"boom", {"Retry-After": "120"})
    status, headers, body = get(outlet.base_url + "/feed.xml")
    assert (status, body) == (500, b"boom")
    assert headers["Retry-After"] == "120"

    outlet.set_response("/feed.xml", 200, b"<rss><channel><item>broken")
    status, _, body = get(outlet.base_url + "/feed.xml")
    assert (status, body) == (200, b"<rss><channel><item>broken")

    outlet.clear_overrides()
    status, _, body = get(outlet.base_url + "/feed.xml")
    assert status == 200 and b"Steppe Wire" in body


def test_webhook_receiver_records_a_json_post():
    with WebhookReceiver() as hook:
        payload = {"event": "match", "title": SEED_TITLE}
        request = urllib.request.Request(
            hook.url,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "X-Newswatch-Signature": "sha256=abc"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        assert hook.wait_for(1, timeout=5)
        call = hook.calls[0]
        assert call["path"] == "/hook"
        assert call["json"] == payload
        assert call["body"] == json.dumps(payload).encode()
        assert call["headers"]["x-newswatch-signature"] == "sha256=abc"


def test_webhook_receiver_can_simulate_a_failing_receiver():
    with WebhookReceiver() as hook:
        hook.status = 503
        request = urllib.request.Request(hook.url, data=b"not json", method="POST")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=5)
        err.value.close()
        assert err.value.code == 503
        assert hook.wait_for(1, timeout=5)
        assert hook.calls[0]["json"] is None
        assert hook.wait_for(2, timeout=0.1) is False


def test_mailbox_receives_a_message_sent_with_smtplib():
    with Mailbox() as mailbox:
        msg = EmailMessage()
        msg["From"] = "newswatch@localhost"
        msg["To"] = "desk@example.org"
        msg["Subject"] = "[Newswatch] migrant workers: Uzbekistan sends note — Москва"
        msg.set_content("Strogino raid: the embassy sent a diplomatic note.\n")
        with smtplib.SMTP(mailbox.host, mailbox.port, timeout=5) as smtp:
            smtp.send_message(msg)
        assert mailbox.wait_for(1, timeout=5)
        received = mailbox.messages[0]
        assert received["Subject"] == "[Newswatch] migrant workers: Uzbekistan sends note — Москва"
        assert "diplomatic note" in received.get_body(("plain",)).get_content()
        assert mailbox.envelopes[0].mail_from == "newswatch@localhost"
        assert mailbox.envelopes[0].rcpt_tos == ["desk@example.org"]


def test_seed_fixture_feed_links_to_the_article_on_the_fixture_server():
    with OutletServer(SEED_DIR) as server:
        status, _, body = get(server.base_url + "/feed.xml")
        assert status == 200
        text = body.decode("utf-8")
        assert text.count("<item>") == 1
        assert f"<link>{server.base_url}/article.html</link>" in text
        assert f"<title>{SEED_TITLE}</title>" in text
        status, _, page = get(server.base_url + "/article.html")
        assert status == 200 and SEED_TITLE.encode() in page


@pytest.mark.parametrize(
    "page",
    [SEED_DIR / "article.html", *sorted((OUTLET_DIR / "news").glob("uzbekistan-*.html"))],
    ids=lambda p: p.parent.name + "/" + p.name,
)
def test_trafilatura_extracts_the_seed_story_without_the_latest_news_sidebar(page: Path):
    html = page.read_text(encoding="utf-8")
    assert "Saiga" in html and "Hydrogen Sulfide" in html  # the sidebar is on the page...
    text = trafilatura.extract(html, output_format="txt", include_comments=False)
    assert text is not None
    assert "Strogino" in text
    assert "diplomatic note" in text
    assert "the Uzbek Foreign Ministry empasized" in text  # blockquote attribution kept
    for headline in SIDEBAR_HEADLINES:  # ...but not in the extracted article
        assert headline not in text
    assert "Latest news" not in text
    assert "All rights reserved" not in text


def test_demo_outlet_has_three_distinct_stories_for_matching():
    pages = {p.name: p.read_text(encoding="utf-8") for p in (OUTLET_DIR / "news").glob("*.html")}
    assert len(pages) == 3
    texts = {name: trafilatura.extract(html, output_format="txt") for name, html in pages.items()}
    seed = next(t for n, t in texts.items() if n.startswith("uzbekistan-"))
    water = next(t for n, t in texts.items() if n.startswith("kyrgyzstan-"))
    press = next(t for n, t in texts.items() if n.startswith("journalist-"))
    assert "migrant" in seed.lower()
    assert "migrant" not in pages[next(n for n in pages if n.startswith("kyrgyzstan-"))].lower()
    assert "journalist" in press.lower() and "detained" in press.lower()
    assert "migrant" not in press.lower()
    for text in texts.values():
        assert 4 <= len([line for line in text.splitlines() if line.strip()]) <= 16
    assert "Toktogul" in water
