"""``newswatch status``: what an operator looking after the server sees."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from conftest import cli, crawl_once, write_config

from crawler.status import ago, build_report, until

NOW = datetime(2025, 6, 18, 12, 0, tzinfo=UTC)


def test_status_after_a_crawl_shows_the_failing_source_its_error_and_article_counts(tmp_path, seed_outlet):
    seed_outlet.set_response("/broken.xml", 503, b"maintenance", {"Content-Type": "text/plain"})
    cfg = write_config(tmp_path / "config", sources=[
        {"id": "timesca", "name": "The Times of Central Asia", "country": "KZ", "feeds": [seed_outlet.url("/feed.xml")]},
        {"id": "akipress", "name": "AKIpress", "country": "KG", "feeds": [seed_outlet.url("/broken.xml")]},
    ])
    crawl_once(cfg)
    report = json.loads(cli(cfg, "status", "--json").stdout)
    rows = {s["source_id"]: s for s in report["sources"]}
    assert rows["timesca"]["articles_24h"] == 1 and rows["timesca"]["articles_7d"] == 1
    assert rows["timesca"]["consecutive_errors"] == 0 and rows["timesca"]["last_error"] is None
    assert rows["timesca"]["last_success_at"]
    assert rows["akipress"]["consecutive_errors"] == 1
    assert rows["akipress"]["last_error_kind"] == "unavailable" and "503" in rows["akipress"]["last_error"]
    assert rows["akipress"]["last_success_at"] is None
    assert report["failing_sources"] == 1
    assert report["daemon"]["running"] is False
    assert report["outbox"] == {"pending": 0, "sending": 0, "sent": 0, "failed": 0}
    assert report["last_cycle"]["new_articles"] == 1 and report["last_cycle"]["errors"] == 1

    table = cli(cfg, "status").stdout
    for text in ("timesca", "akipress", "unavailable: HTTP 503", "never", "not running", "0 pending", "last cycle"):
        assert text in table, text


def test_status_on_a_fresh_database_lists_sources_as_due(tmp_path):
    cfg = write_config(tmp_path / "config", sources=[
        {"id": "kunuz", "name": "Kun.uz", "country": "UZ", "feeds": ["https://kun.uz/news/rss"]}])
    report = json.loads(cli(cfg, "status", "--json").stdout)
    [row] = report["sources"]
    assert row["source_id"] == "kunuz" and row["next_check_human"] == "due now"
    assert row["last_success_human"] == "never" and report["last_cycle"] is None


def test_relative_times_read_naturally():
    assert ago("2025-06-18T11:59:30Z", NOW) == "30 s ago"
    assert ago("2025-06-18T11:48:00Z", NOW) == "12 min ago"
    assert ago("2025-06-18T06:00:00Z", NOW) == "6.0 h ago"
    assert ago("2025-06-14T12:00:00Z", NOW) == "4.0 d ago"
    assert ago(None, NOW) == "never"
    assert until("2025-06-18T12:03:00Z", NOW) == "in 3 min"
    assert until("2025-06-18T11:00:00Z", NOW) == "due now"


def test_a_running_daemon_shows_its_pid_and_uptime():
    report = build_report(sources=[], outbox={"pending": 2, "sending": 0, "sent": 5, "failed": 1},
                          daemon={"pid": 4242, "host": "srv", "started_at": "2025-06-18T09:00:00Z",
                                  "heartbeat_at": "2025-06-18T11:59:40Z", "stopped_at": None, "tick": 30},
                          daemon_pid=4242, last_cycle=None, now=NOW)
    assert report["daemon"]["uptime_seconds"] == 3 * 3600
    assert report["daemon"]["summary"] == "running, pid 4242, up 3.0 h, last tick 20 s ago"
