"""A 50,000-URL sitemap: Newswatch's reader (parse + newest-first selection in the date window) against
Scrapy's own sitemap reader (scrapy.utils.sitemap.Sitemap, which builds the whole tree and gives
neither dates nor order), side by side on the same bytes in one run. Reported as ratios."""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from crawler.sitemap import parse_sitemap, select

N = 50_000
ROUNDS = 5


def body() -> bytes:
    now = datetime.now(UTC)
    rows = [f"<url><loc>https://kun.uz/news/{(now - timedelta(minutes=7 * i)):%Y/%m/%d}/story-{i}</loc>"
            f"<lastmod>{(now - timedelta(minutes=7 * i)):%Y-%m-%dT%H:%M:%S}+05:00</lastmod></url>" for i in range(N)]
    rows.reverse()
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(rows) + "</urlset>").encode()


def ours(data: bytes) -> int:
    doc = parse_sitemap(data, "https://kun.uz/sitemap.xml")
    chosen, _ = select(doc, since=datetime.now(UTC) - timedelta(days=3))
    return len(chosen[:30])


def scrapy_reader(data: bytes) -> int:
    from scrapy.utils.sitemap import Sitemap

    return sum(1 for _ in Sitemap(data))


def timed(fn, data) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn(data)
        best = min(best, time.perf_counter() - start)
    return best


def peak(fn, data) -> int:
    tracemalloc.start()
    fn(data)
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


def run() -> dict:
    """Figures for the bench runner (bench/__main__.py)."""
    data = body()
    t_ours, t_scrapy = timed(ours, data), timed(scrapy_reader, data)
    return {
        "sitemap_50k_ms": {"value": t_ours * 1000, "unit": "ms", "goal": "within the per-poll budget", "ok": None},
        "sitemap_50k_vs_scrapy": {"value": t_ours / t_scrapy, "unit": "x Scrapy's Sitemap on the same bytes",
                                  "goal": "about the same cost (<= 2x)", "ok": t_ours / t_scrapy <= 2},
        "sitemap_50k_peak_mb": {"value": peak(ours, data) / 1e6, "unit": "MB of Python objects", "goal": "bounded",
                                "ok": None},
    }


def main() -> None:
    data = body()
    t_ours, t_scrapy = timed(ours, data), timed(scrapy_reader, data)
    m_ours = peak(ours, data)
    print(f"sitemap of {N} URLs ({len(data) / 1e6:.1f} MB), best of {ROUNDS}:")
    print(f"  newswatch parse+select  {t_ours * 1000:7.0f} ms   (dates parsed, newest first, {ours(data)} to fetch; "
          f"peak {m_ours / 1e6:.1f} MB of Python objects)")
    print(f"  scrapy Sitemap          {t_scrapy * 1000:7.0f} ms   (URLs only, whole tree built)")
    print(f"  time ratio newswatch/scrapy {t_ours / t_scrapy:.2f}")


if __name__ == "__main__":
    main()
