"""``newswatch run``: polls on its own, alerts once, stops on SIGTERM within seconds, one per database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from conftest import WEBHOOK_SECRET, channels_for, write_config

from crawler.store import Store


def start_daemon(cfg):
    env = dict(os.environ, NW_TEST_WEBHOOK_SECRET=WEBHOOK_SECRET)
    return subprocess.Popen([sys.executable, "-m", "crawler", "--config", str(cfg), "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_until(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_daemon_polls_alerts_once_and_stops_on_sigterm(tmp_path, seed_outlet, hook):
    cfg = write_config(tmp_path / "config", tick="1s", channels=channels_for(hook),
                       sources=[{"id": "timesca", "name": "TCA", "interval": "2s",
                                 "feeds": [seed_outlet.url("/feed.xml")]}],
                       watches=[{"id": "migrants", "name": "Migrants", "keywords": ["migrant workers"],
                                 "channels": ["desk-hook"]}])
    daemon = start_daemon(cfg)
    try:
        assert wait_until(lambda: len(hook.calls) == 1), daemon.stderr.read() if daemon.poll() is not None else ""
        # Interval 2 s: let it poll the unchanged feed a few more times.
        assert wait_until(lambda: seed_outlet.hits("/feed.xml") >= 3, timeout=30)
        assert len(hook.calls) == 1

        second = start_daemon(cfg)
        assert second.wait(timeout=30) == 2
        assert f"pid {daemon.pid}" in second.stderr.read()

        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
    finally:
        if daemon.poll() is None:
            daemon.kill()
    log = daemon.stderr.read()
    assert "event=daemon_started" in log and "event=daemon_stopped" in log
    store = Store(cfg / "newswatch.db")
    assert store.count("articles") == 1
    assert store.outbox_counts()["sent"] == 1


def test_sigterm_during_a_hanging_poll_stops_within_seconds(tmp_path, seed_outlet):
    seed_outlet.set_response("/feed.xml", 200, seed_outlet.render("/feed.xml"),
                             {"Content-Type": "application/rss+xml"}, delay=30)
    cfg = write_config(tmp_path / "config", tick="1s", limits={"request_timeout": 60},
                       sources=[{"id": "slow", "name": "Slow outlet", "feeds": [seed_outlet.url("/feed.xml")]}])
    daemon = start_daemon(cfg)
    try:
        assert wait_until(lambda: seed_outlet.hits("/feed.xml") >= 1, timeout=60)
        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=20) == 0
        assert time.monotonic() - started < 10
    finally:
        if daemon.poll() is None:
            daemon.kill()
    # The interrupted poll left the feed due, so the next start polls it again.
    store = Store(cfg / "newswatch.db")
    assert store.due_sources() == ["slow"]


def test_daemon_judges_due_sources_by_its_clock(tmp_path, seed_outlet):
    from datetime import UTC, datetime, timedelta

    from crawler import config as config_mod
    from crawler.daemon import Daemon

    cfg = write_config(tmp_path / "config", sources=[{"id": "timesca", "name": "TCA", "interval": "10m",
                                                      "feeds": [seed_outlet.url("/feed.xml")]}])
    now = datetime.now(UTC)
    started = []

    class Recording(Daemon):
        def _run_child(self, due):
            started.append(due)
            Store(self.config.database_path, clock=self.clock).record_feed_success(
                seed_outlet.url("/feed.xml"), status=200, etag=None, last_modified=None, body_hash=None)

    daemon = Recording(cfg, config_mod.load(cfg), clock=lambda: now)
    daemon.tick()
    daemon.tick()
    now += timedelta(minutes=11)
    daemon.tick()
    assert started == [["timesca"], ["timesca"]]
