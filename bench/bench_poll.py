"""Figure 2, cycle side: what one poll cycle over 1,000 loopback feeds costs, in three cases.

1,000 feeds of 50-200 KB and 20-100 items (bench.feeds) on one loopback server, one source each,
polled by the real ``newswatch crawl --once`` in a child process, as the daemon does. Its CPU comes
from getrusage(RUSAGE_CHILDREN); "per feed" subtracts the cost of a one-feed cycle measured in the
same run (interpreter, Scrapy and config start-up), so it is the marginal cost of a feed.

Before the cycles every item is stored as seen (Store.add_article), so the first poll is:
- changed, nothing new: every body is new to the crawler and parsed, every entry already seen (the
  feed stage alone: fetch, hash, parse, seen-check); the seeded sightings have no raw fingerprint
  and the feeds no item digests, like a database from before them (or a first poll), so every
  entry is converted once and compared;
then
- unchanged, 304: validators sent, nothing parsed;
- unchanged, same body, no validators: the server drops ETag/Last-Modified, the body hash matches;
- changed, one new item per feed: only the new item is parsed (the others are as at the last poll,
  whose entries were all handled: cut out of the body unparsed) and one article per feed is fetched
  (a small page from the same server), extracted, deduplicated, matched and stored;
- changed, nothing new, after that: a new build date in every feed, the same items (none parsed).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import cpu_self, figure, info
from bench.feeds import FeedFarm, sentences
from bench.setup import crawl_cycle, seed_seen, write_config


def run(quick: bool) -> dict:
    count = 200 if quick else 1000
    pool, source = sentences()
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="nw-bench-poll-") as tmp, FeedFarm(count, pool) as farm:
        tmp = Path(tmp)
        log = tmp / "crawl.log"
        sizes = [len(farm.body(n)) for n in range(count)]
        items = [farm.maker.shape(n)[0] for n in range(count)]
        out["feeds"] = info(count, note=f"{min(sizes) // 1000}-{max(sizes) // 1000} KB (mean "
                                        f"{sum(sizes) // count // 1000} KB), {min(items)}-{max(items)} items "
                                        f"(mean {sum(items) // count}); text from {source}")
        cfg = write_config(tmp / "config", [farm.feed_url(n) for n in range(count)])
        keys = {n: [(k, f"{farm.base_url}/a/{n}/{k.rsplit('-', 1)[1]}.html") for k in farm.maker.item_keys(n)]
                for n in range(count)}
        seeded = seed_seen(cfg, keys)
        out["seed_seconds"] = info(round(seeded, 1), "s", note=f"{sum(len(v) for v in keys.values())} articles "
                                                             "stored as seen before the first poll")
        # one-feed cycle: the fixed cost of a cycle (the feed answers 304 after a first poll)
        one = write_config(tmp / "one", [farm.feed_url(0)])
        seed_seen(one, {0: keys[0]})
        crawl_cycle(one, log=log)
        baseline = min(crawl_cycle(one, log=log)["cpu"] for _ in range(2))
        out["cycle_fixed_cpu_s"] = info(round(baseline, 2), "CPU s", note="a one-feed cycle: interpreter, "
                                                                         "Scrapy, config, database")

        def cycle(name: str, expect: dict, note: str) -> None:
            server0 = cpu_self()
            result = crawl_cycle(cfg, log=log)
            summary = result["summary"]
            for key, wanted in expect.items():
                if summary[key] != wanted:
                    raise RuntimeError(f"{name}: expected {key}={wanted}, got {summary[key]} ({summary})")
            per_feed_ms = (result["cpu"] - baseline) / count * 1000
            out[f"{name}_cycle_cpu_s"] = info(round(result["cpu"], 2), "CPU s",
                                              note=f"wall {result['wall']:.1f} s; server {cpu_self() - server0:.1f} "
                                                   f"CPU s; {note}")
            out[f"{name}_per_feed_ms"] = info(round(per_feed_ms, 2), "CPU ms")

        cycle("changed_nothing_new", {"feeds_polled": count, "new_articles": 0, "errors": []},
              "every feed parsed, every entry already seen: the feed stage")
        farm.requests = farm.not_modified = 0
        cycle("unchanged_304", {"feeds_unchanged": count}, "conditional GET answered 304")
        farm.validators = False
        cycle("unchanged_same_body", {"feeds_unchanged": count}, "no validators; body hash unchanged")
        farm.validators = True
        for n in range(count):
            farm.generation[n] += 1
        cycle("changed_one_new_item", {"new_articles": count, "errors": []},
              "each feed parsed; one new article per feed fetched, extracted, matched, stored")
        farm.build += 1
        cycle("changed_build_date_only", {"feeds_polled": count, "new_articles": 0, "errors": []},
              "a new build date in every feed, the same items as at the last poll: none parsed")
        changed = out["changed_nothing_new_per_feed_ms"]["value"]
        unchanged = out["unchanged_304_per_feed_ms"]["value"]
        out["changed_vs_304_per_feed"] = info(round(changed / max(unchanged, 1e-6), 1), "x",
                                              note="what parsing and comparing every entry of a changed feed "
                                                   "adds over a 304 (a first poll)")
        rebuilt = out["changed_build_date_only_per_feed_ms"]["value"]
        out["changed_build_date_only_vs_304_per_feed"] = info(
            round(rebuilt / max(unchanged, 1e-6), 2), "x", note="a changed body whose items are as at the last poll")
    return out
