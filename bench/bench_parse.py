"""Figure 2, parser side: what parsing a changed feed costs, against fastfeedparser on the same bytes.

Side by side, feed by feed: ``crawler.parse.parse_feed`` (lxml fast path, feedparser fallback, entries
as plain text), the same with the fast path off (feedparser with sanitiser and URI rewriting off: the
parser before issue 9), feedparser with its defaults (information) and ``fastfeedparser.parse``.
Bodies differ from one call to the next (a new item, or a trailing comment) so no cache helps.

Feeds: generated ~150 KB news feeds in the shape of Central Asian outlets (short HTML description,
full text in content:encoded) and the corpus's large RSS and Atom feeds (blog feeds whose description
itself carries the full HTML post: every entry's HTML is flattened to text).
"""

from __future__ import annotations

import io

from bench.common import corpus_dir, figure, info, interleaved, skipped
from bench.feeds import FeedMaker, sentences

GOAL = 3.0


def _cases():
    import fastfeedparser
    import feedparser

    from crawler import feedfast
    from crawler.parse import parse_feed

    headers = {"Content-Type": "application/rss+xml; charset=utf-8"}

    def ours(body):
        return parse_feed(body, headers, "https://outlet.example/rss")

    def feedparser_path(body):
        real = feedfast.parse
        feedfast.parse = lambda *a: None
        try:
            return parse_feed(body, headers, "https://outlet.example/rss")
        finally:
            feedfast.parse = real

    return {
        "ours": ours,
        "feedparser_path": feedparser_path,
        "feedparser_defaults": lambda body: feedparser.parse(io.BytesIO(body)),
        "fastfeedparser": lambda body: fastfeedparser.parse(body),
    }


def _measure(bodies: list[bytes], rounds: int) -> dict:
    totals = interleaved(_cases(), bodies, rounds=rounds)
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
    generated = [maker.feed(n, g) for g in range(count)]
    out = {}
    ms = _measure(generated, rounds=1 if quick else 2)
    ratio = ms["ours"] / ms["fastfeedparser"]
    items = maker.shape(n)[0]
    out["news_feed_150k_ours_vs_fastfeedparser"] = figure(
        round(ratio, 2), "x CPU", f"<= {GOAL:g}x fastfeedparser", ratio <= GOAL,
        note=f"{len(generated[0]) // 1000} KB, {items} items, text from {source}")
    out["news_feed_150k_feedparser_path_vs_fastfeedparser"] = info(
        round(ms["feedparser_path"] / ms["fastfeedparser"], 1), "x CPU", note="parse_feed before the fast path")
    for name, value in ms.items():
        out[f"news_feed_150k_{name}_ms"] = info(round(value, 2), "ms CPU")

    for name in ("large-rss.xml", "large-atom.xml"):
        folder = corpus_dir("feeds")
        if folder is None or not (folder / name).exists():
            out[f"corpus_{name}"] = info("skipped", note="corpus feeds absent")
            continue
        body = (folder / name).read_bytes()
        bodies = [body + f"<!-- {i} -->".encode() for i in range(count)]
        ms = _measure(bodies, rounds=1)
        key = name.removesuffix(".xml").replace("-", "_")
        ratio = ms["ours"] / ms["fastfeedparser"]
        out[f"corpus_{key}_ours_vs_fastfeedparser"] = figure(
            round(ratio, 2), "x CPU", f"<= {GOAL:g}x fastfeedparser", ratio <= GOAL,
            note=f"{len(body) // 1000} KB; full HTML posts flattened to text; ours {ms['ours']:.2f} ms, "
                 f"feedparser path {ms['feedparser_path']:.2f} ms, defaults {ms['feedparser_defaults']:.1f} ms, "
                 f"fastfeedparser {ms['fastfeedparser']:.2f} ms")
    return out
