"""Figure 6: alert latency, from an item appearing in a loopback feed to the webhook receiving it.

The real daemon (``newswatch run``) with a 1 s tick polls one loopback feed every 2 s; its watch
matches every article. Each sample moves the feed on by one item at a random moment and times the
webhook call that follows (the article page is fetched, extracted, stored and matched in a crawl
child, then the parent dispatches). Latency = waiting for the next poll (0-2 s) + one crawl cycle
(a child process: interpreter and Scrapy start-up dominate) + dispatch.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, figure, info, percentile
from bench.feeds import FeedFarm, sentences
from bench.setup import seed_seen, write_config

INTERVAL, TICK = 2, 1


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def run(quick: bool) -> dict:
    from crawler.demo.servers import WebhookReceiver

    samples = 6 if quick else 15
    pool, _ = sentences()
    rng = random.Random(5)
    with tempfile.TemporaryDirectory(prefix="nw-bench-latency-") as tmp, FeedFarm(1, pool) as farm, \
            WebhookReceiver() as hook:
        tmp = Path(tmp)
        channels = {"desk-hook": {"type": "webhook", "url": hook.url, "secret_env": "NW_BENCH_SECRET", "timeout": 5}}
        cfg = write_config(tmp / "config", [farm.feed_url(0)], interval=f"{INTERVAL}s", tick=f"{TICK}s",
                           channels=channels, watch_channels=["desk-hook"], keywords=["newswatch"])
        seed_seen(cfg, {0: [(k, f"{farm.base_url}/a/0/{k.rsplit('-', 1)[1]}.html") for k in farm.maker.item_keys(0)]})
        env = dict(os.environ, PYTHONPATH=str(ROOT), NW_BENCH_SECRET="bench-secret")
        log = open(tmp / "daemon.log", "wb")
        daemon = subprocess.Popen([sys.executable, "-m", "crawler", "--config", str(cfg), "run"], cwd=str(ROOT),
                                  env=env, stderr=log, stdout=log)
        latencies = []
        try:
            if not _wait(lambda: farm.requests >= 2, 120):  # two polls: the daemon is in its stride
                raise RuntimeError("the daemon never polled the feed")
            for _ in range(samples):
                time.sleep(rng.uniform(0, INTERVAL))  # appear at a random moment of the poll cycle
                before = len(hook.calls)
                farm.generation[0] += 1
                appeared = time.perf_counter()
                if not _wait(lambda: len(hook.calls) > before, 120):
                    log.flush()  # the temporary directory goes with the run: say what the daemon said
                    tail = (tmp / "daemon.log").read_text(errors="replace").splitlines()[-15:]
                    raise RuntimeError("no webhook call within 120 s; the daemon's log ends:\n" + "\n".join(tail))
                latencies.append(time.perf_counter() - appeared)
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
            log.close()
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    return {
        "poll_interval": info(f"{INTERVAL} s", note=f"daemon tick {TICK} s; one feed; {samples} samples"),
        "alert_latency_p50_s": figure(round(p50, 2), "s", "<= poll interval + 10 s", p50 <= INTERVAL + 10),
        "alert_latency_p95_s": figure(round(p95, 2), "s", "<= poll interval + 10 s", p95 <= INTERVAL + 10,
                                      note="max " + f"{max(latencies):.2f} s"),
    }
