"""Source health: backoff with jitter, Retry-After, operator notices, 410 Gone, moved feeds, HTML at a feed URL.

The schedule logic runs in-process through CrawlSession (what the spider calls) with the clock set
by NEWSWATCH_NOW; the behaviours that need Scrapy (redirects, the CLI honouring Retry-After across
restarts) run the real ``newswatch crawl`` against loopback servers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import SEED, cli, crawl_once, write_config

from crawler import config as config_mod
from crawler.crawl import CrawlSession
from crawler.dates import retry_after_seconds
from crawler.store import Store, iso

FEED_URL = "http://127.0.0.1:9/feed.xml"
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
FEED = (SEED / "feed.xml.tmpl").read_text(encoding="utf-8").replace("{base_url}", "http://127.0.0.1:9").encode()
CHALLENGE = b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>"


@pytest.fixture
def world(tmp_path, monkeypatch):
    cfg_dir = write_config(tmp_path / "config", sources=[
        {"id": "kaktus", "name": "Kaktus Media", "interval": "10m", "feeds": [FEED_URL]},
        {"id": "other", "name": "Other", "interval": "10m", "feeds": ["http://127.0.0.1:9/other.xml"]}])
    cfg = config_mod.load(cfg_dir)
    store = Store(cfg.database_path)
    store.sync_sources(cfg.sources, now=T0)

    class World:
        def at(self, when: datetime) -> None:
            monkeypatch.setenv("NEWSWATCH_NOW", iso(when))

        def session(self) -> CrawlSession:
            return CrawlSession(cfg, store, ["kaktus", "other"])

        def feed(self, url=FEED_URL) -> dict:
            return next(f for f in store.feeds() if f["url"] == url)

    w = World()
    w.store, w.config = store, cfg
    w.at(T0)
    yield w
    store.close()


def poll_ok(session: CrawlSession, body: bytes = FEED, url: str = FEED_URL) -> None:
    """A good poll as the spider makes it: the feed, then each new entry (page not fetched here)."""
    for entry in session.feed_response(url, url, 200, {"content-type": "application/rss+xml"}, body):
        session.entry_item({"feed_url": url, "entry": entry, "page": None, "error": "not fetched in this test"})


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_source_failing_eight_times_then_recovering_backs_off_and_tells_the_operator_twice(world):
    now, delays = T0, []
    for attempt in range(8):
        world.at(now)
        session = world.session()
        assert [p.url for p in session.plan() if p.source_id == "kaktus"] == [FEED_URL]
        session.feed_response(FEED_URL, FEED_URL, 500, {}, b"Internal Server Error")
        feed = world.feed()
        assert feed["consecutive_errors"] == attempt + 1
        next_check = when(feed["next_check_at"])
        delays.append((next_check - now).total_seconds())
        # not due a second before its next check, due at it
        assert "kaktus" not in world.store.due_sources(next_check - timedelta(seconds=1))
        assert "kaktus" in world.store.due_sources(next_check)
        now = next_check
    for n, delay in enumerate(delays):
        assert 0.8 * 600 * 2 ** n <= delay <= min(1.2 * 600 * 2 ** n, 86400)
    world.at(now)
    poll_ok(world.session())
    assert world.feed()["consecutive_errors"] == 0
    notices = world.store.notices()
    assert [n["kind"] for n in notices] == ["source_down", "source_recovered"]
    assert notices[0]["source_id"] == "kaktus" and "HTTP 500" in notices[0]["message"]
    assert "3 failed polls in a row" in notices[0]["message"]


def test_backoff_is_capped_at_one_day_and_jittered(world):
    for _ in range(20):
        world.session().feed_failed(FEED_URL, "connection", "Connection refused")
        world.session().feed_failed("http://127.0.0.1:9/other.xml", "connection", "Connection refused")
    a, b = world.feed(), world.feed("http://127.0.0.1:9/other.xml")
    assert (when(a["next_check_at"]) - T0).total_seconds() <= 86400
    delays = set()
    for _ in range(10):
        world.session().feed_failed(FEED_URL, "connection", "Connection refused")
        world.store.db.execute("UPDATE feeds SET consecutive_errors = 1 WHERE url = ?", [FEED_URL])
        delays.add(world.feed()["next_check_at"])
    assert len(delays) > 1  # feeds that fail together do not all come back at the same second


def test_single_failure_is_no_notice(world):
    world.session().feed_response(FEED_URL, FEED_URL, 502, {}, b"")
    poll_ok(world.session())
    assert world.feed()["consecutive_errors"] == 0
    assert world.store.notices() == []


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_is_stored_and_the_feed_not_polled_before(world, status):
    world.session().feed_response(FEED_URL, FEED_URL, status, {"retry-after": "7200"}, b"slow down")
    feed = world.feed()
    assert feed["retry_after_until"] == iso(T0 + timedelta(hours=2))
    assert feed["last_error_kind"] == ("rate_limited" if status == 429 else "unavailable")
    world.at(T0 + timedelta(minutes=119))
    session = world.session()
    assert FEED_URL not in [p.url for p in session.plan()]  # not even a manual crawl
    assert session.summary.feeds_deferred == 1
    assert "kaktus" not in world.store.due_sources(T0 + timedelta(minutes=119))
    world.at(T0 + timedelta(hours=2))
    assert FEED_URL in [p.url for p in world.session().plan()]


def test_retry_after_http_date_is_understood():
    assert retry_after_seconds("Mon, 02 Mar 2026 07:30:00 GMT", T0) == 5400
    assert retry_after_seconds("120", T0) == 120
    assert retry_after_seconds("soon", T0) is None
    assert retry_after_seconds("Mon, 02 Mar 2026 05:00:00 GMT", T0) == 0


def test_absurd_retry_after_is_capped_at_one_day(world):
    world.session().feed_response(FEED_URL, FEED_URL, 429, {"retry-after": "31536000"}, b"")
    assert world.feed()["retry_after_until"] == iso(T0 + timedelta(days=1))


def test_html_challenge_at_feed_url_is_an_error_and_loses_nothing(world):
    poll_ok(world.session())
    stored = world.store.count("articles")
    body_hash = world.feed()["body_hash"]
    session = world.session()
    assert session.feed_response(FEED_URL, FEED_URL, 200, {"content-type": "text/html"}, CHALLENGE) == []
    feed = world.feed()
    assert feed["last_error_kind"] == "parse" and "Just a moment..." in feed["last_error"]
    assert feed["consecutive_errors"] == 1 and feed["body_hash"] == body_hash
    assert world.store.count("articles") == stored
    # the real feed comes back byte-identical: nothing to re-read, nothing lost
    session = world.session()
    assert session.feed_response(FEED_URL, FEED_URL, 200, {}, FEED) == []
    assert session.summary.feeds_unchanged == 1 and world.feed()["consecutive_errors"] == 0


# --- end to end ---------------------------------------------------------------------------------


def test_retry_after_survives_a_restart_with_an_injected_clock(tmp_path, seed_outlet):
    seed_outlet.set_response("/feed.xml", 429, b"Too Many Requests", {"Retry-After": "3600"})
    cfg = write_config(tmp_path / "config", sources=[{"id": "timesca", "name": "Times of CA",
                                                       "feeds": [seed_outlet.url("/feed.xml")]}])
    start = datetime.now(UTC).replace(microsecond=0)

    def crawl(*args, at):
        return crawl_once_at(cfg, at, *args)

    first = crawl(at=start)
    assert first["errors"][0].startswith("rate_limited: [timesca]") and seed_outlet.hits("/feed.xml") == 1
    seed_outlet.clear_overrides()
    half_way = crawl("--due", at=start + timedelta(minutes=30))
    assert half_way["sources_polled"] == 0
    manual = crawl(at=start + timedelta(minutes=59))
    assert manual["feeds_deferred"] == 1 and manual["feeds_polled"] == 0
    assert seed_outlet.hits("/feed.xml") == 1
    after = crawl("--due", at=start + timedelta(minutes=61))
    assert after["new_articles"] == 1 and seed_outlet.hits("/feed.xml") == 2


def crawl_once_at(cfg, at: datetime, *args) -> dict:
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, NEWSWATCH_NOW=iso(at))
    proc = subprocess.run([sys.executable, "-m", "crawler", "--config", str(cfg), "crawl", "--once", "--json",
                           "--no-dispatch", *args], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_gone_feed_is_disabled_until_its_source_is_named(tmp_path, seed_outlet):
    seed_outlet.set_response("/feed.xml", 410, b"Gone")
    cfg = write_config(tmp_path / "config", sources=[{"id": "timesca", "name": "Times of CA",
                                                       "feeds": [seed_outlet.url("/feed.xml")]}])
    first = crawl_once(cfg)
    assert first["errors"][0].startswith("gone: [timesca]")
    store = Store(cfg / "newswatch.db")
    assert store.feeds()[0]["gone_at"] and [n["kind"] for n in store.notices()] == ["feed_gone"]
    assert store.due_sources(datetime.now(UTC) + timedelta(days=30)) == []
    again = crawl_once(cfg)
    assert again["feeds_deferred"] == 1 and seed_outlet.hits("/feed.xml") == 1
    seed_outlet.clear_overrides()
    named = crawl_once(cfg, "--source", "timesca")
    assert named["new_articles"] == 1 and store.feeds()[0]["gone_at"] is None
    store.close()


def test_permanent_redirect_moves_the_feed_once_the_new_url_works(tmp_path, seed_outlet):
    seed_outlet.set_response("/old-rss", 301, b"", {"Location": seed_outlet.url("/feed.xml")})
    seed_outlet.set_response("/temporary", 302, b"", {"Location": seed_outlet.url("/feed.xml")})
    old, temporary = seed_outlet.url("/old-rss"), seed_outlet.url("/temporary")
    cfg = write_config(tmp_path / "config", sources=[
        {"id": "moved", "name": "Moved", "feeds": [old]},
        {"id": "hopping", "name": "Hopping", "feeds": [temporary]}])
    first = crawl_once(cfg)
    assert first["errors"] == [] and first["new_articles"] == 1
    store = Store(cfg / "newswatch.db")
    feeds = {f["url"]: f for f in store.feeds()}
    assert feeds[old]["effective_url"] == seed_outlet.url("/feed.xml")  # the config keeps the old one
    assert feeds[temporary]["effective_url"] is None  # a 302 is not a move
    assert [n["kind"] for n in store.notices()] == ["feed_moved"]
    crawl_once(cfg)
    assert seed_outlet.hits("/old-rss") == 1 and seed_outlet.hits("/temporary") == 2
    # the new address dies: back to the address the user wrote
    seed_outlet.set_response("/feed.xml", 404, b"Not Found")
    crawl_once(cfg, "--source", "moved")
    assert {f["url"]: f for f in store.feeds()}[old]["effective_url"] is None
    store.close()


def test_robots_txt_is_obeyed_per_source(tmp_path):
    from crawler.demo.servers import OutletServer

    site = tmp_path / "site"
    (site / "news").mkdir(parents=True)
    (site / "free").mkdir()
    (site / "robots.txt").write_text("User-agent: *\nDisallow: /news/\n")
    page = (SEED / "article.html").read_text(encoding="utf-8")
    (site / "news" / "a.html").write_text(page, encoding="utf-8")
    (site / "free" / "b.html").write_text(page.replace("Strogino", "Strogino (north-west)"), encoding="utf-8")
    with OutletServer(site) as outlet:
        def feed(path, guid):
            return (f'<rss version="2.0"><channel><title>T</title><item><title>Story {guid}</title>'
                    f'<link>{outlet.url(path)}</link><guid>{guid}</guid><description>Summary {guid}</description>'
                    f'</item></channel></rss>')
        (site / "polite.xml").write_text(feed("/news/a.html", "p1"))
        (site / "rude.xml").write_text(feed("/free/b.html", "r1").replace("Story r1", "Other r1"))
        cfg = write_config(tmp_path / "config", politeness={"obey_robots": True}, sources=[
            {"id": "polite", "name": "Polite", "feeds": [outlet.url("/polite.xml")]},
            {"id": "rude", "name": "Rude", "obey_robots": False, "feeds": [outlet.url("/rude.xml")]}])
        summary = crawl_once(cfg, "--no-dispatch")
        store = Store(cfg / "newswatch.db")
        rows = {r["source_id"]: r for r in store.db.query("SELECT source_id, summary_only FROM articles")}
        assert rows["polite"]["summary_only"] == 1  # /news/ is disallowed: the feed summary is kept
        assert rows["rude"]["summary_only"] == 0
        assert outlet.hits("/news/a.html") == 0 and outlet.hits("/robots.txt") >= 1
        assert summary["feeds_polled"] == 2
        store.close()
