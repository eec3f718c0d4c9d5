"""Figure 2, parser side: what parsing a changed feed costs, against fastfeedparser on the same bytes.

Side by side, feed by feed: ``crawler.parse.parse_feed`` as the crawl calls it (``handled=``: the
items whose bytes are as at the last fully handled poll are cut out before anything is parsed; lxml
fast path, feedparser fallback; ``unchanged=``: a stored entry whose raw item -- its fingerprint taken
before any conversion -- is as last seen is left out unconverted, the rest are converted and
compared), the same without item digests (raw fingerprints only: the crawl before item digests, and a
feed whose items cannot be told apart in its bytes), the same converting every entry (a feed seen for the first time, or a database from before raw
fingerprints), the same with the fast path off (the feedparser fallback, which converts every entry:
the parser before issue 9 with sanitiser and URI rewriting off), feedparser with its defaults
(information) and ``fastfeedparser.parse``. Bodies differ from one call to the next (a new item, or
a trailing comment) so no cache helps.

Feeds: generated ~150 KB news feeds in the shape of Central Asian outlets (short HTML description,
full text in content:encoded) and the corpus's large RSS and Atom feeds (blog feeds whose description
itself carries the full HTML post: every entry's HTML is flattened to text).
"""

from __future__ import annotations

import io

from bench.common import CORPUS, corpus_dir, figure, info, interleaved, skipped
from bench.feeds import FeedMaker, sentences

GOAL = 3.0


def _cases():
    import fastfeedparser
    import feedparser

    from crawler import feedfast
    from crawler.parse import parse_feed

    headers = {"Content-Type": "application/rss+xml; charset=utf-8"}

    def ours(item):
        return parse_feed(item[0], headers, "https://outlet.example/rss")

    def ours_in_crawl(item):
        # as CrawlSession calls it; the store's look-up (an indexed SQL query per entry parsed) is a
        # dict look-up here
        body, stored, handled = item
        return parse_feed(body, headers, "https://outlet.example/rss", handled=handled,
                          unchanged=lambda guid, url, raw: stored.get(guid) == raw)

    def raw_fingerprints_only(item):
        body, stored, _ = item
        return parse_feed(body, headers, "https://outlet.example/rss",
                          unchanged=lambda guid, url, raw: stored.get(guid) == raw)

    def feedparser_path(item):
        real = feedfast.parse
        feedfast.parse = lambda *a, **kw: None
        try:
            return parse_feed(item[0], headers, "https://outlet.example/rss")
        finally:
            feedfast.parse = real

    return {
        "ours_in_crawl": ours_in_crawl,
        "raw_fingerprints_only": raw_fingerprints_only,
        "ours": ours,
        "feedparser_path": feedparser_path,
        "feedparser_defaults": lambda item: feedparser.parse(io.BytesIO(item[0])),
        "fastfeedparser": lambda item: fastfeedparser.parse(item[0]),
    }


def _stored(body: bytes, skip_first: int = 1) -> tuple[bytes, dict[str, str], frozenset[bytes]]:
    """The body, and what the crawl holds for its entries after the previous poll: every entry but
    the newest, each with the raw fingerprint it was last seen with, and their items' digests."""
    from crawler.parse import parse_feed

    parsed = parse_feed(body, {"Content-Type": "application/rss+xml; charset=utf-8"},
                        "https://outlet.example/rss", handled=frozenset())
    entries, digests = parsed.entries, parsed.item_digests
    assert all(e.raw_fingerprint for e in entries), "the benchmark feed left the fast path"
    assert digests and len(digests) == 16 * len(entries), "the benchmark feed's items were not found in its bytes"
    return (body, {e.guid: e.raw_fingerprint for e in entries[skip_first:]},
            frozenset(digests[i:i + 16] for i in range(16 * skip_first, len(digests), 16)))


def _measure(items: list, rounds: int) -> dict:
    totals = interleaved(_cases(), items, rounds=rounds)
    ms = {name: t["cpu"] / t["n"] * 1000 for name, t in totals.items()}
    return ms


def run(quick: bool) -> dict:
    try:
        import fastfeedparser  # noqa: F401
    except ImportError:
        return skipped("fastfeedparser is not installed (pip install -e '.[bench]')")
    pool, source = sentences()
    maker = FeedMaker("https://outlet.example", pool)
    n = next(i for i in range(1000) if 145_000 <= len(maker.feed(i)) <= 155_000)
    count = 10 if quick else 30
    # each body is the next generation of the feed: one new item on top, the rest stored at the
    # previous poll (the crawl's store holds them with their raw fingerprints)
    generated = [_stored(body) for body in (maker.feed(n, g) for g in range(count))]
    out = {}
    ms = _measure(generated, rounds=1 if quick else 2)
    items = maker.shape(n)[0]
    ratio = ms["ours_in_crawl"] / ms["fastfeedparser"]
    out["changed_news_feed_150k_vs_fastfeedparser"] = figure(
        round(ratio, 2), "x CPU", f"<= {GOAL:g}x fastfeedparser", ratio <= GOAL,
        note=f"{len(generated[0][0]) // 1000} KB, {items} items of which 1 new, parsed as the crawl does (items "
             f"as at the last handled poll cut out unparsed); ours {ms['ours_in_crawl']:.2f} ms, "
             f"fastfeedparser {ms['fastfeedparser']:.2f} ms; text from {source}")
    ratio = ms["raw_fingerprints_only"] / ms["fastfeedparser"]
    out["news_feed_150k_raw_fingerprints_only_vs_fastfeedparser"] = info(
        round(ratio, 2), "x CPU", note="without item digests: every item parsed, stored entries whose raw item is "
                                       "unchanged not converted (the crawl before item digests)")
    ratio = ms["ours"] / ms["fastfeedparser"]
    out["news_feed_150k_every_entry_converted_vs_fastfeedparser"] = info(
        round(ratio, 2), "x CPU", note="a feed polled for the first time, or the first poll after the upgrade "
                                       "(stored entries without a raw fingerprint)")
    out["news_feed_150k_feedparser_path_vs_fastfeedparser"] = info(
        round(ms["feedparser_path"] / ms["fastfeedparser"], 1), "x CPU",
        note="the feedparser fallback (feeds the fast path does not read): every entry converted")
    for name, value in ms.items():
        out[f"news_feed_150k_{name}_ms"] = info(round(value, 2), "ms CPU")
    # the same bodies with every entry stored already (a new build date, a re-rendered template)
    cases = {k: v for k, v in _cases().items() if k in ("ours_in_crawl", "fastfeedparser")}
    totals = interleaved(cases, [_stored(body, skip_first=0) for body, _, _ in generated])
    out["news_feed_150k_nothing_new_vs_fastfeedparser"] = info(
        round(totals["ours_in_crawl"]["cpu"] / totals["fastfeedparser"]["cpu"], 2), "x CPU",
        note="changed body (a new build date), every item as at the last poll: none parsed")

    for name in ("large-rss.xml", "large-atom.xml"):
        folder = corpus_dir("feeds")
        if folder is None or not (folder / name).exists():
            out[f"corpus_{name.removesuffix('.xml').replace('-', '_')}"] = info("skipped", note=f"no {name} in {CORPUS}/feeds")
            continue
        body = (folder / name).read_bytes()
        _, stored, handled = _stored(body)  # all but the first entry already stored
        bodies = [(body + f"<!-- {i} -->".encode(), stored, handled) for i in range(count)]
        ms = _measure(bodies, rounds=1)
        key = name.removesuffix(".xml").replace("-", "_")
        ratio = ms["ours_in_crawl"] / ms["fastfeedparser"]
        out[f"corpus_{key}_changed_vs_fastfeedparser"] = figure(
            round(ratio, 2), "x CPU", f"<= {GOAL:g}x fastfeedparser", ratio <= GOAL,
            note=f"{len(body) // 1000} KB, one new entry, parsed as the crawl does; ours {ms['ours_in_crawl']:.2f} ms, "
                 f"every entry converted {ms['ours']:.2f} ms, feedparser path {ms['feedparser_path']:.2f} ms, "
                 f"defaults {ms['feedparser_defaults']:.1f} ms, fastfeedparser {ms['fastfeedparser']:.2f} ms")
        ratio = ms["ours"] / ms["fastfeedparser"]
        out[f"corpus_{key}_every_entry_converted_vs_fastfeedparser"] = info(
            round(ratio, 2), "x CPU", note="first poll, full HTML posts flattened to text")
    return out
