"""Crash test: the daemon SIGKILLed at random points while an outlet keeps publishing.

No alert may be lost; a duplicate (same webhook-id twice) is allowed only for a kill that hit a
send in flight, which the attempts log shows as an attempt that never finished.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from conftest import WEBHOOK_SECRET, channels_for, write_config
from test_daemon import wait_until
from test_delivery import STORM_TITLES, write_feed

from crawler.demo.servers import OutletServer, WebhookReceiver

KILLS = 20


class Publisher(threading.Thread):
    """A loopback outlet's newsroom: a new matching story every ``every`` seconds."""

    def __init__(self, site, every=0.4):
        super().__init__(daemon=True)
        self.site, self.every = site, every
        self.items: list[tuple[str, str]] = []
        self.halt = threading.Event()
        self.publish()

    def publish(self):
        n = len(self.items)
        self.items.insert(0, (f"steppe-{n}", f"{STORM_TITLES[n % len(STORM_TITLES)]} — выпуск {n}"))
        write_feed(self.site, self.items)

    def run(self):
        while not self.halt.wait(self.every):
            self.publish()


def start(cfg):
    env = dict(os.environ, NW_TEST_WEBHOOK_SECRET=WEBHOOK_SECRET)
    return subprocess.Popen([sys.executable, "-m", "crawler", "--config", str(cfg), "run"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def diagnose(db, published, hook) -> str:
    conn = sqlite3.connect(db)
    try:
        guids = {r[0] for r in conn.execute("SELECT guid FROM articles")}
        states = conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall()
        stuck = conn.execute("SELECT id, state, claimed_by, claimed_at, next_attempt_at, last_error FROM outbox "
                             "WHERE state != 'sent' LIMIT 5").fetchall()
        feeds = conn.execute("SELECT consecutive_errors, last_error, next_check_at, last_polled_at FROM feeds").fetchall()
    finally:
        conn.close()
    return (f"missing articles {len(published - guids)} of {len(published)}; outbox {states}; "
            f"stuck {stuck}; feeds {feeds}; calls {len(hook.calls)}")


def integrity(db) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def test_sigkill_at_random_points_loses_no_alert(tmp_path):
    rng = random.Random(int(os.environ.get("NW_CRASH_SEED", "6")))
    site = tmp_path / "site"
    site.mkdir()
    publisher = Publisher(site)
    with OutletServer(site) as outlet, WebhookReceiver() as hook:
        cfg = write_config(tmp_path / "config", tick=0.3, channels=channels_for(hook),
                           alerts={"retry_base": 1}, limits={"request_timeout": 5},
                           # Kills can delay the first complete poll until dozens of stories are out,
                           # which the storm guard would rightly send as one digest; here every alert
                           # is to be sent on its own.
                           storm={"min_items": 100000},
                           sources=[{"id": "steppe", "name": "Steppe Wire", "interval": 1,
                                     "feeds": [outlet.url("/feed.xml")]}],
                           watches=[{"id": "migrants", "name": "Migrant workers",
                                     "keywords": ["migrant workers", "мигранты"], "channels": ["desk-hook"]}])
        db = cfg / "newswatch.db"
        hook.delay = 0.15  # answers take a moment, so some kills land during a send
        publisher.start()
        kills = 0
        try:
            for _ in range(KILLS):
                daemon = start(cfg)
                time.sleep(rng.uniform(0.4, 2.2))
                daemon.send_signal(signal.SIGKILL)
                daemon.wait(timeout=10)
                kills += 1
                assert integrity(db) == "ok"
        finally:
            publisher.halt.set()
            publisher.join()
        published = {guid for guid, _ in publisher.items}

        daemon = start(cfg)
        try:
            def all_delivered():
                conn = sqlite3.connect(db)
                try:
                    guids = {r[0] for r in conn.execute("SELECT guid FROM articles")}
                    expected = {r[0] for r in conn.execute("SELECT id FROM outbox")}
                finally:
                    conn.close()
                got = {c["headers"].get("webhook-id") for c in list(hook.calls)}
                return guids >= published and expected and got >= expected and len(expected) == len(published)
            assert wait_until(all_delivered, timeout=90), diagnose(db, published, hook)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=20)
        assert integrity(db) == "ok"

    conn = sqlite3.connect(db)
    interrupted = conn.execute("SELECT count(*) FROM alert_attempts WHERE finished_at IS NULL").fetchone()[0]
    states = dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    conn.close()
    ids = collections.Counter(c["headers"]["webhook-id"] for c in hook.calls)
    duplicates = sum(n - 1 for n in ids.values())
    print(f"kills={kills} published={len(published)} calls={len(hook.calls)} duplicates={duplicates} "
          f"interrupted_sends={interrupted}")
    assert states == {"sent": len(published)}
    assert duplicates <= interrupted <= kills
