"""Figure 5: daemon memory over simulated hours with 1,000 sources.

The real ``Daemon.tick`` (config reload, source sync, due query, crawl child, alert dispatch) runs
240 times with its clock moved on by the 30 s tick each time (bench.daemon_driver), in its own
process, against 1,000 loopback feeds polled every 5, 10, 15, 30 or 60 minutes; a few feeds gain an
item every half second of real time, so articles are stored, matched and sent to a loopback webhook
along the way. Reported: the parent's RSS through the first hour (it climbs to the high-water mark of
the largest tick, every source due at 60 minutes), its growth through the second hour (it must stay
flat), its peak and CPU, and the peak RSS of each crawl child. ``NEWSWATCH_BENCH_DAEMON_TICKS``
changes the number of ticks.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench.common import ROOT, figure, info, median
from bench.feeds import FeedFarm, sentences
from bench.setup import seed_seen, write_config

# 30 s each: two hours. The first hour reaches the high-water mark of the largest tick (every
# source due at once at 60 minutes); the second shows whether memory keeps growing.
TICKS = int(os.environ.get("NEWSWATCH_BENCH_DAEMON_TICKS", "240"))
HOUR = 120
GROWTH_GOAL_MB = 1.0


def _keywords(pool: list[str]) -> list[str]:
    """Three words that turn up in a few percent of the articles, so some alerts go out."""
    from collections import Counter

    words = Counter(w.strip(".,«»()\"—:;!?").lower() for s in pool for w in set(s.split()))
    fitting = [w for w, c in words.most_common() if w.isalpha() and len(w) > 5 and 0.01 < c / len(pool) < 0.03]
    return fitting[:3] or ["граница"]


def run(quick: bool) -> dict:
    from crawler.demo.servers import WebhookReceiver
    from crawler.store import Store

    count = 300 if quick else 1000
    pool, _ = sentences()
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="nw-bench-daemon-") as tmp, FeedFarm(count, pool) as farm, \
            WebhookReceiver() as hook:
        tmp = Path(tmp)
        channels = {"desk-hook": {"type": "webhook", "url": hook.url, "secret_env": "NW_BENCH_SECRET", "timeout": 5}}
        cfg = write_config(tmp / "config", [farm.feed_url(n) for n in range(count)], tick="30s",
                           interval=["5m", "10m", "15m", "30m", "60m"], channels=channels,
                           watch_channels=["desk-hook"], keywords=_keywords(pool))
        seeds = {n: [(k, f"{farm.base_url}/a/{n}/{k.rsplit('-', 1)[1]}.html") for k in farm.maker.item_keys(n)]
                 for n in range(count)}
        seed_seen(cfg, seeds)
        stop = threading.Event()

        def churn():
            rng = random.Random(3)
            while not stop.wait(0.5):
                for n in rng.sample(range(count), 2):
                    farm.generation[n] += 1

        churner = threading.Thread(target=churn, daemon=True)
        churner.start()
        result = tmp / "driver.json"
        env = dict(os.environ, PYTHONPATH=str(ROOT), NW_BENCH_SECRET="bench-secret", NEWSWATCH_LOG_LEVEL="WARNING")
        with open(tmp / "daemon.log", "wb") as log:
            proc = subprocess.run([sys.executable, "-m", "bench.daemon_driver", str(cfg), str(TICKS), str(result)],
                                  cwd=str(ROOT), env=env, stderr=log, timeout=1800)
        stop.set()
        if proc.returncode != 0:
            raise RuntimeError("daemon driver failed:\n" + (tmp / "daemon.log").read_text()[-3000:])
        data = json.loads(result.read_text())
        store = Store(tmp / "config" / "newswatch.db")
        stored, sent = store.count("articles"), store.outbox_counts()["sent"]
        store.close()

    ticks = data["ticks"]
    children = [t["child_peak_mb"] for t in ticks if t["child_peak_mb"]]
    first_hour = ticks[:HOUR + 1]
    later = ticks[HOUR:]
    start, hour, end = ticks[0]["rss_mb"], ticks[min(HOUR, len(ticks) - 1)]["rss_mb"], ticks[-1]["rss_mb"]
    growth = end - hour
    out["sources"] = info(count, note=f"{len(ticks)} ticks of 30 s simulated ({len(ticks) / HOUR:g} h), "
                                      f"intervals 5-60 min")
    out["parent_peak_rss_first_hour_mb"] = info(max(t["rss_mb"] for t in first_hour), "MB",
                                                note=f"{start:.1f} MB after the first tick, {hour:.1f} MB at 60 min "
                                                     f"(the largest tick: every source due)")
    out["parent_rss_growth_after_first_hour_mb"] = figure(
        round(growth, 1), "MB", f"<= {GROWTH_GOAL_MB:g} MB (flat)", growth <= GROWTH_GOAL_MB,
        note=f"{hour:.1f} MB at 60 min, {end:.1f} MB at {len(ticks) / 2:g} min, highest after the first hour "
             f"{max(t['rss_mb'] for t in later):.1f} MB")
    out["parent_cpu_per_hour_s"] = info(round(data["parent_cpu_s"] / (len(ticks) / HOUR), 1), "CPU s",
                                        note="config reload, source sync, due query, dispatch; crawl children "
                                             "not included")
    out["parent_peak_rss_mb"] = info(data["parent_peak_mb"], "MB", note="VmHWM of the daemon process")
    out["child_peak_rss_mb"] = info(max(children), "MB", note=f"largest of {len(children)} crawl children; "
                                                             f"median {median(children):.0f} MB; the first cycle "
                                                             f"polls every source")
    out["cycles"] = info(len(children), note=f"{stored - sum(len(v) for v in seeds.values())} "
                                             f"new articles stored, {sent} webhook alerts sent")
    out["rss_series_mb"] = info(" ".join(f"{t['rss_mb']:.0f}" for t in ticks[::10]), note="every 10th tick")
    return out
