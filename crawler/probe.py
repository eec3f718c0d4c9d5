"""`newswatch sources check`: does each feed, sitemap and listing page of the catalogue answer,
parse and yield articles? One fetch per URL (crawler.fetch: network policy, bounded), no storing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from . import dates
from .config import Endpoint, Source
from .errors import ParseError
from .fetch import fetch
from .listing import parse_listing
from .parse import parse_feed
from .encoding import charset_param
from .sitemap import parse_sitemap, select
from .store import utcnow


@dataclass
class Checked:
    source_id: str
    endpoint: Endpoint
    ok: bool
    status: str  # "200", "-" when there was no answer
    result: str


def check_endpoint(source: Source, ep: Endpoint, settings) -> Checked:
    got = fetch(ep.url, allow=settings.network_allow, user_agent=settings.user_agent,
                timeout=settings.limits["request_timeout"], max_bytes=settings.limits["max_feed_bytes"])
    status = str(got.status) if got.status is not None else "-"
    if got.error:
        return Checked(source.id, ep, False, status, got.error)
    if not got.ok:
        return Checked(source.id, ep, False, status, f"HTTP {got.status}")
    try:
        if ep.kind == "feed":
            feed = parse_feed(got.body, got.headers, got.url, source_id=source.id, timezone=source.timezone)
            newest = max((e.published_at for e in feed.entries if e.published_at), default=None)
            if not feed.entries:
                return Checked(source.id, ep, False, status, "feed has no items")
            return Checked(source.id, ep, True, status, f"{len(feed.entries)} items, newest {newest or '?'}")
        if ep.kind == "sitemap":
            doc = parse_sitemap(got.body, got.url, source_id=source.id, tz=dates.zone(source.timezone),
                                max_bytes=settings.limits["max_feed_bytes"])
            if doc.kind == "index":
                return Checked(source.id, ep, bool(doc.children), status, f"index of {len(doc.children)} sitemaps")
            recent, _ = select(doc, since=utcnow() - timedelta(seconds=source.max_age))
            label = "Google News sitemap" if doc.news else "sitemap"
            return Checked(source.id, ep, bool(recent), status,
                           f"{label}: {len(doc.entries)} entries, {len(recent)} recent")
        page = parse_listing(got.body, got.url, article_links=ep.article_links, source_id=source.id,
                             encoding=charset_param(got.headers.get("content-type")))
        if not page.links:
            return Checked(source.id, ep, False, status, "no article links")
        return Checked(source.id, ep, True, status, f"{len(page.links)} article links")
    except ParseError as exc:
        return Checked(source.id, ep, False, status, f"parse: {exc.detail}")


def check_sources(sources: list[Source], settings, workers: int = 8) -> list[Checked]:
    jobs = [(s, ep) for s in sources for ep in s.endpoints()]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda job: check_endpoint(job[0], job[1], settings), jobs))


def format_table(rows: list[Checked]) -> str:
    out = [f"{'source':<16} {'kind':<8} {'lang':<8} {'status':<6} {'ok':<4} result / url"]
    for r in rows:
        out.append(f"{r.source_id:<16} {r.endpoint.kind:<8} {r.endpoint.language or '-':<8} {r.status:<6} "
                   f"{'yes' if r.ok else 'NO':<4} {r.result}")
        out.append(f"{'':<46}{r.endpoint.url}")
    good = sum(1 for r in rows if r.ok)
    out.append(f"{good} of {len(rows)} URLs answer, parse and yield articles")
    return "\n".join(out)
