"""The running daemon as an operator meets it: /healthz, /metrics, config edits and SIGHUP."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml
from conftest import WEBHOOK_SECRET, write_config

from crawler.demo.servers import free_port
from crawler.httpd import TickClock, scheduler_problem


class Daemon:
    """``newswatch run`` in a child process, its log in a file we can read while it runs."""

    def __init__(self, cfg, tmp_path):
        self.log_path = tmp_path / "daemon.log"
        self.log_file = open(self.log_path, "w")
        env = dict(os.environ, NW_TEST_WEBHOOK_SECRET=WEBHOOK_SECRET)
        self.proc = subprocess.Popen([sys.executable, "-m", "crawler", "--config", str(cfg), "run"],
                                     stdout=self.log_file, stderr=subprocess.STDOUT, env=env)

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log_file.close()


@pytest.fixture
def daemons(tmp_path):
    started = []

    def start(cfg):
        d = Daemon(cfg, tmp_path)
        started.append(d)
        return d
    yield start
    for d in started:
        d.stop()


def wait_until(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ""


def metric(text, name):
    m = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else None


def edit_sources(cfg, sources):
    (cfg / "sources.yaml").write_text(yaml.safe_dump({"sources": sources}, allow_unicode=True), encoding="utf-8")


def test_healthz_and_metrics_describe_the_crawl_and_fail_when_the_database_is_locked(tmp_path, seed_outlet, daemons):
    seed_outlet.set_response("/gone.xml", 404, b"not here", {"Content-Type": "text/plain"})
    port = free_port()
    cfg = write_config(tmp_path / "config", tick="1s", http={"port": port}, sources=[
        {"id": "timesca", "name": "TCA", "interval": "2s", "feeds": [seed_outlet.url("/feed.xml")]},
        {"id": "gone", "name": "Gone outlet", "interval": "1h", "feeds": [seed_outlet.url("/gone.xml")]}])
    daemon = daemons(cfg)
    base = f"http://127.0.0.1:{port}"

    def scraped():
        status, text = get(base + "/metrics")
        return status == 200 and (metric(text, "newswatch_articles_stored_total") or 0) >= 1
    assert wait_until(scraped), daemon.log
    assert wait_until(lambda: seed_outlet.hits("/feed.xml") >= 2)
    time.sleep(1.5)  # one more tick counts the second cycle
    _, text = get(base + "/metrics")
    assert metric(text, "newswatch_articles_stored_total") == 1
    assert metric(text, 'newswatch_fetch_errors_total{kind="http"}') == 1
    assert metric(text, "newswatch_polls_total") >= 3
    assert metric(text, "newswatch_poll_duration_seconds_count") >= 2
    assert metric(text, "newswatch_extract_duration_seconds_count") == 1
    assert metric(text, 'newswatch_outbox_alerts{state="pending"}') == 0
    assert metric(text, "newswatch_sources_failing") == 1
    assert metric(text, "newswatch_cycle_duration_seconds_count") >= 1

    status, body = get(base + "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    assert get(base + "/nothing-here")[0] == 404

    # Another process holds the write lock (a stuck writer, a backup gone wrong): unhealthy.
    locker = sqlite3.connect(cfg / "newswatch.db", timeout=1, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        status, body = get(base + "/healthz")
        assert status == 503
        details = json.loads(body)
        assert details["status"] == "failing" and "not writable" in " ".join(details["problems"])
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert wait_until(lambda: get(base + "/healthz")[0] == 200, timeout=20)
    assert daemon.log.count("event=unhealthy") == 1 and "event=healthy_again" in daemon.log


def test_valid_config_edit_takes_effect_at_the_next_tick_and_an_invalid_one_keeps_the_old(tmp_path, seed_outlet,
                                                                                          daemons):
    seed_outlet.set_response("/second.xml", 200, seed_outlet.render("/feed.xml"),
                             {"Content-Type": "application/rss+xml"})
    first = {"id": "timesca", "name": "TCA", "interval": "1s", "feeds": [seed_outlet.url("/feed.xml")]}
    second = {"id": "asiaplus", "name": "Asia-Plus", "interval": "1h", "feeds": [seed_outlet.url("/second.xml")]}
    cfg = write_config(tmp_path / "config", tick="1s", http={"enabled": False}, sources=[first])
    daemon = daemons(cfg)
    assert wait_until(lambda: seed_outlet.hits("/feed.xml") >= 1), daemon.log

    edit_sources(cfg, [first, second])
    assert wait_until(lambda: seed_outlet.hits("/second.xml") >= 1, timeout=20), daemon.log
    assert "event=config_reloaded" in daemon.log and "sources=2" in daemon.log

    (cfg / "sources.yaml").write_text("sources:\n  - id: timesca\n    feeds: [oops\n", encoding="utf-8")
    assert wait_until(lambda: "event=config_rejected" in daemon.log, timeout=20)
    polled = seed_outlet.hits("/feed.xml")
    assert wait_until(lambda: seed_outlet.hits("/feed.xml") >= polled + 2, timeout=20)  # old config still runs
    assert daemon.log.count("event=config_rejected") == 1  # said once, not every tick
    rejected = next(line for line in daemon.log.splitlines() if "event=config_rejected" in line)
    assert str(cfg / "sources.yaml") in rejected and "keeping the previous config" in rejected
    assert daemon.proc.poll() is None


def test_sighup_reloads_at_once_instead_of_waiting_for_the_tick(tmp_path, seed_outlet, daemons):
    seed_outlet.set_response("/second.xml", 200, seed_outlet.render("/feed.xml"),
                             {"Content-Type": "application/rss+xml"})
    first = {"id": "timesca", "name": "TCA", "feeds": [seed_outlet.url("/feed.xml")]}
    second = {"id": "asiaplus", "name": "Asia-Plus", "feeds": [seed_outlet.url("/second.xml")]}
    cfg = write_config(tmp_path / "config", tick="10m", http={"enabled": False}, sources=[first])
    daemon = daemons(cfg)
    assert wait_until(lambda: "event=cycle_done" in daemon.log), daemon.log
    edit_sources(cfg, [first, second])
    daemon.proc.send_signal(signal.SIGHUP)
    # The next tick is ten minutes away: only the signal can make this happen.
    assert wait_until(lambda: seed_outlet.hits("/second.xml") >= 1, timeout=60), daemon.log
    assert "event=reload_requested signal=SIGHUP" in daemon.log
    assert daemon.proc.poll() is None


def test_a_taken_http_port_is_reported_and_crawling_goes_on(tmp_path, seed_outlet, daemons):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = write_config(tmp_path / "config", tick="1s", http={"port": port}, sources=[
            {"id": "timesca", "name": "TCA", "feeds": [seed_outlet.url("/feed.xml")]}])
        daemon = daemons(cfg)
        assert wait_until(lambda: seed_outlet.hits("/feed.xml") >= 1), daemon.log
        assert "event=http_failed" in daemon.log and f"port={port}" in daemon.log


@pytest.mark.parametrize("name,clock,now,problem", [
    ("just started", TickClock(100.0, None, None), 101.0, None),
    ("ticking", TickClock(0.0, 500.0, None), 520.0, None),
    ("no tick for four ticks", TickClock(0.0, 500.0, None), 621.0, "no tick for 121 s"),
    ("never ticked since start", TickClock(0.0, None, None), 200.0, "no tick for 200 s"),
    ("long crawl cycle within its timeout", TickClock(0.0, 10.0, 20.0), 900.0, None),
    ("tick stuck past the cycle timeout", TickClock(0.0, 10.0, 20.0), 2000.0, "running for 1980 s"),
])
def test_scheduler_stall_detection(name, clock, now, problem):
    found = scheduler_problem(clock, now, tick=30, stall_ticks=3, cycle_timeout=900)
    if problem is None:
        assert found is None, name
    else:
        assert found and problem in found, name
