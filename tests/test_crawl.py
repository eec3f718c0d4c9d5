"""End to end: feed -> article page -> extract -> store -> match -> webhook + email, on loopback."""

from __future__ import annotations

import time

from conftest import SEED, channels_for, cli, crawl_once, write_config

from crawler.alerts.webhook import verify
from crawler.demo.servers import OutletServer, free_port
from crawler.store import Store
from conftest import WEBHOOK_SECRET

LATEST_NEWS = [
    "Kazakhstanis on Vacation in Egypt Witness Missile Strikes Over Israel",
    "Kazakhstan to Help China Restore Saiga Population",
    "Atyrau: Hydrogen Sulfide Levels Soar 11 Times Above Norm Due to Fire",
    "Taraz: Court Hands Down Sentence in Assault Case Involving Minors",
]


def seed_config(tmp_path, outlet, hook=None, mailbox=None, extra_sources=(), **settings):
    sources = [{"id": "timesca", "name": "The Times of Central Asia", "country": "KZ", "languages": ["en"],
                "feeds": [outlet.url("/feed.xml")]}, *extra_sources]
    watches = [{"id": "migrant-workers", "name": "Migrant workers", "keywords": ["migrant workers"],
                "channels": list(channels_for(hook, mailbox))}]
    return write_config(tmp_path / "config", sources=sources, watches=watches,
                        channels=channels_for(hook, mailbox), **settings)


def articles(config_dir):
    store = Store(config_dir / "newswatch.db")
    try:
        return list(store.db.query("SELECT * FROM articles ORDER BY id"))
    finally:
        store.close()


def test_seed_story_stored_once_and_alerted_once_by_webhook_and_email(tmp_path, seed_outlet, hook, mailbox):
    cfg = seed_config(tmp_path, seed_outlet, hook, mailbox)
    summary = crawl_once(cfg)
    assert summary["new_articles"] == 1 and summary["errors"] == []
    assert summary["alerts_sent"] == 2

    [article] = articles(cfg)
    assert article["title"] == "Uzbekistan Sends Diplomatic Note to Russia Over Treatment of Migrant Workers in Moscow"
    assert article["summary_only"] == 0
    assert "Strogino district of Moscow" in article["text"]
    assert "requesting a legal assessment of the law enforcement officers" in article["text"]
    assert "human rights violation" in article["text"]
    for headline in LATEST_NEWS:
        assert headline not in article["text"]
    assert article["language"] == "en"
    assert article["published_at"].startswith("2025-06-18")

    assert len(hook.calls) == 1
    call = hook.calls[0]
    body = call["json"]
    assert body["watch"]["id"] == "migrant-workers"
    assert body["matches"][0]["keyword"] == "migrant workers"
    assert "migrant workers" in body["matches"][0]["snippet"].lower()
    assert body["article"]["url"] == seed_outlet.url("/article.html")
    assert verify(WEBHOOK_SECRET, call["headers"], call["body"])

    assert len(mailbox.messages) == 1
    msg = mailbox.messages[0]
    assert "Migrant workers" in msg["Subject"] and "Uzbekistan Sends Diplomatic Note" in msg["Subject"]
    assert seed_outlet.url("/article.html") in msg.get_body(("plain",)).get_content()


def test_second_crawl_of_unchanged_feed_stores_and_sends_nothing(tmp_path, seed_outlet, hook, mailbox):
    cfg = seed_config(tmp_path, seed_outlet, hook, mailbox)
    crawl_once(cfg)
    page_hits = seed_outlet.hits("/article.html")
    again = crawl_once(cfg)
    assert again["new_articles"] == 0 and again["alerts_sent"] == 0
    assert again["feeds_unchanged"] == 1  # answered 304 to the stored ETag
    assert seed_outlet.hits("/article.html") == page_hits
    assert len(articles(cfg)) == 1 and len(hook.calls) == 1 and len(mailbox.messages) == 1


def test_byte_identical_feed_without_validators_costs_no_parsing(tmp_path, seed_outlet, hook):
    body = seed_outlet.render("/feed.xml")
    seed_outlet.set_response("/feed.xml", 200, body, {"Content-Type": "application/rss+xml"})
    cfg = seed_config(tmp_path, seed_outlet, hook)
    assert crawl_once(cfg)["new_articles"] == 1
    again = crawl_once(cfg)
    assert again["feeds_unchanged"] == 1 and again["new_articles"] == 0
    assert len(hook.calls) == 1


def test_new_item_in_feed_is_the_only_thing_fetched_and_a_rerun_of_the_story_is_not_alerted_again(tmp_path, hook):
    site = tmp_path / "site"
    site.mkdir()
    (site / "article.html").write_bytes((SEED / "article.html").read_bytes())
    feed = (SEED / "feed.xml.tmpl").read_text(encoding="utf-8")
    (site / "feed.xml.tmpl").write_text(feed, encoding="utf-8")
    with OutletServer(site) as outlet:
        cfg = seed_config(tmp_path, outlet, hook)
        crawl_once(cfg)
        # The outlet republishes the story under a second URL with tracking parameters and adds a new one.
        second = (SEED / "article.html").read_text(encoding="utf-8").replace(
            "Uzbekistan Sends Diplomatic Note", "Tashkent Protests Moscow Raid; Uzbekistan Sends Diplomatic Note")
        second = second.replace('href="/article.html"', 'href="/other.html"')
        (site / "other.html").write_text(second.replace("Strogino", "Strogino (north-west Moscow)"), encoding="utf-8")
        item = ("<item><title>Migrant workers: Tashkent protests</title><link>{base_url}/other.html?utm_source=rss"
                "</link><guid>other-1</guid><description>Migrant workers raid.</description></item>")
        (site / "feed.xml.tmpl").write_text(feed.replace("<item>", item + "<item>", 1), encoding="utf-8")
        summary = crawl_once(cfg)
        assert summary["new_articles"] == 1 and summary["story_copies"] == 1
        assert outlet.hits("/article.html") == 1
        # the same story under another headline joins the story: recorded, not alerted a second time
        assert len(hook.calls) == 1
        assert summary["matches"] == 1 and summary["alerts_queued"] == 0


def test_unreachable_feed_is_recorded_and_other_sources_still_crawled(tmp_path, seed_outlet, hook):
    dead = f"http://127.0.0.1:{free_port()}/feed.xml"
    cfg = seed_config(tmp_path, seed_outlet, hook, extra_sources=[{"id": "dead", "name": "Dead", "feeds": [dead]}])
    summary = crawl_once(cfg)
    assert summary["new_articles"] == 1 and len(hook.calls) == 1
    assert len(summary["errors"]) == 1 and "[dead]" in summary["errors"][0] and dead in summary["errors"][0]
    store = Store(cfg / "newswatch.db")
    feed = next(f for f in store.feeds() if f["url"] == dead)
    assert feed["consecutive_errors"] == 1 and feed["last_error_kind"] == "connection"
    assert feed["next_check_at"] > feed["last_polled_at"]


def test_http_error_and_malformed_xml_recorded_without_losing_stored_articles(tmp_path, seed_outlet):
    cfg = seed_config(tmp_path, seed_outlet)
    crawl_once(cfg)
    seed_outlet.set_response("/feed.xml", 500, b"oops")
    summary = crawl_once(cfg)
    assert "HTTP 500" in summary["errors"][0]
    seed_outlet.set_response("/feed.xml", 200, b"<?xml version='1.0'?><rss><channel><item><title>broken",
                             {"Content-Type": "application/rss+xml"})
    summary = crawl_once(cfg)
    assert summary["errors"][0].startswith("parse: [timesca]")
    store = Store(cfg / "newswatch.db")
    [feed] = store.feeds()
    assert feed["consecutive_errors"] == 2 and feed["last_error_kind"] == "parse"
    assert len(articles(cfg)) == 1  # nothing stored before is lost


def test_page_without_article_text_stores_feed_summary_marked_summary_only(tmp_path, seed_outlet, hook):
    seed_outlet.set_response("/article.html", 200, b"<html><body><nav>Home | News</nav></body></html>",
                             {"Content-Type": "text/html; charset=utf-8"})
    cfg = seed_config(tmp_path, seed_outlet, hook)
    summary = crawl_once(cfg)
    assert summary["new_articles"] == 1 and summary["summary_only"] == 1
    [article] = articles(cfg)
    assert article["summary_only"] == 1
    assert article["text"].startswith("The Embassy of Uzbekistan sent a note")
    # The title still names the topic, so the watch still fires: a story is not missed for a bad page.
    assert len(hook.calls) == 1


def test_feed_on_private_address_refused_unless_allowed(tmp_path, seed_outlet):
    cfg = seed_config(tmp_path, seed_outlet, network={"allow": []})
    summary = crawl_once(cfg)
    assert summary["new_articles"] == 0
    assert "not public" in summary["errors"][0]
    assert seed_outlet.hits("/feed.xml") == 0
    store = Store(cfg / "newswatch.db")
    assert store.feeds()[0]["last_error_kind"] == "policy"


def test_failing_webhook_is_retried_next_cycle_and_email_is_not_held_back(tmp_path, seed_outlet, hook, mailbox):
    hook.status = 503
    cfg = seed_config(tmp_path, seed_outlet, hook, mailbox, alerts={"retry_base": 1})
    summary = crawl_once(cfg)
    assert summary["alerts_sent"] == 1 and len(mailbox.messages) == 1
    first_id = hook.calls[0]["headers"]["webhook-id"]
    hook.status = 200
    time.sleep(1.5)
    again = crawl_once(cfg)
    assert again["alerts_sent"] == 1 and again["new_articles"] == 0
    assert len(hook.calls) == 2 and hook.calls[1]["headers"]["webhook-id"] == first_id
    assert len(mailbox.messages) == 1


def test_crawl_unknown_source_is_a_clear_error(tmp_path, seed_outlet):
    cfg = seed_config(tmp_path, seed_outlet)
    proc = cli(cfg, "crawl", "--once", "--source", "nope", check=False)
    assert proc.returncode == 2
    assert "no source with id 'nope'" in proc.stderr


def test_feed_larger_than_the_limit_is_an_error_not_a_partial_parse(tmp_path, seed_outlet):
    cfg = seed_config(tmp_path, seed_outlet, limits={"max_feed_bytes": 1000})
    summary = crawl_once(cfg)
    assert summary["new_articles"] == 0 and len(summary["errors"]) == 1
    store = Store(cfg / "newswatch.db")
    assert store.feeds()[0]["last_error_kind"] == "too_large"


def test_dns_failure_is_recorded_as_dns(tmp_path, seed_outlet):
    cfg = seed_config(tmp_path, seed_outlet, extra_sources=[
        {"id": "nowhere", "name": "Nowhere", "feeds": ["http://no-such-host.invalid/feed.xml"]}],
        network={"allow": ["127.0.0.1", "no-such-host.invalid"]})
    summary = crawl_once(cfg)
    assert summary["new_articles"] == 1
    store = Store(cfg / "newswatch.db")
    feed = next(f for f in store.feeds() if f["source_id"] == "nowhere")
    assert feed["last_error_kind"] == "dns"


def test_crawl_now_moves_the_clock_for_due_sources_and_feed_state(tmp_path, seed_outlet):
    """The seam the daemon benchmark uses to run hours of cycles in minutes (`crawl --now`)."""
    cfg = seed_config(tmp_path, seed_outlet)
    assert crawl_once(cfg, "--due")["feeds_polled"] == 1
    assert crawl_once(cfg, "--due")["feeds_polled"] == 0  # next check is default_interval away
    later = "2099-01-01T00:00:00Z"
    assert crawl_once(cfg, "--due", "--now", later)["feeds_polled"] == 1
    store = Store(cfg / "newswatch.db")
    [feed] = store.feeds()
    assert feed["last_polled_at"] == later and feed["next_check_at"] > later
    store.close()
