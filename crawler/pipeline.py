"""From a feed entry (and its page, if it could be fetched) to a stored, matched article.

``build_article`` is pure: extraction, canonical URL, content hash. ``save`` is the one place where
an article, its matches and its outbox rows are written, in a single transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import urlsplit

from . import dedup, match
from .config import Config
from .errors import ExtractError
from .extract import extract_article
from .models import Article, FeedEntry, Match
from .store import Store, iso, utcnow


def _same_site(a: str, b: str) -> bool:
    """rel=canonical is trusted only within one site, so a page cannot claim another outlet's URL."""
    def site(u):
        host = (urlsplit(u).hostname or "").lower()
        for prefix in ("www.", "m.", "amp."):
            if host.startswith(prefix):
                host = host[len(prefix):]
        return host
    return site(a) == site(b)


def charset_of(content_type: str | None) -> str | None:
    """``text/html; charset=windows-1251`` -> ``windows-1251``."""
    if not content_type:
        return None
    msg = Message()
    msg["content-type"] = content_type
    return msg.get_content_charset()


def build_article(*, source_id: str, feed_url: str, entry: FeedEntry, page: bytes | None,
                  page_url: str | None, content_type: str | None = None, languages: tuple[str, ...] = (),
                  fetched_at: str | None = None) -> tuple[Article, str | None]:
    """Merge the entry with what extraction finds on the page. Returns the article and, when only
    the feed summary could be kept, the reason why."""
    url = page_url or entry.url or feed_url
    extracted, problem = None, None
    if page is not None:
        try:
            extracted = extract_article(page, url, source_id=source_id, encoding=charset_of(content_type))
        except ExtractError as exc:
            problem = str(exc)
    canonical = url
    if extracted and extracted.canonical_url and _same_site(extracted.canonical_url, url):
        canonical = extracted.canonical_url
    text = extracted.text if extracted else (entry.summary or entry.title or "")
    language = (extracted.language if extracted else None) or (languages[0] if len(languages) == 1 else None)
    article = Article(
        source_id=source_id, feed_url=feed_url, url=entry.url or url,
        canonical_url=dedup.canonical_url(canonical), guid=entry.guid,
        entry_key=dedup.entry_key(entry.guid, entry.url, title=entry.title, summary=entry.summary),
        title=(entry.title or (extracted.title if extracted else None) or ""),
        author=(extracted.author if extracted and extracted.author else entry.author),
        published_at=entry.published_at or (extracted.published_at if extracted else None),
        fetched_at=fetched_at or iso(utcnow()), language=language, text=text,
        summary_only=extracted is None, content_hash=dedup.content_hash(text or entry.title or url))
    return article, problem


@dataclass
class Saved:
    article_id: int | None  # None: already stored (same entry, URL or text)
    matches: list[Match] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)


class Matcher:
    """The config's watches, compiled once per crawl."""

    def __init__(self, config: Config):
        self.watches = [(w, match.compile_watch(w.id, w.keywords)) for w in config.watches]
        self.channels = {w.id: w.channels for w in config.watches}
        self.names = {w.id: w.name for w in config.watches}
        channels = config.settings.channels
        # A digest asked for by the watch wins over the channel's.
        self.digests = {(w.id, ch): w.digest or getattr(channels.get(ch), "digest", None)
                        for w in config.watches for ch in w.channels}

    def run(self, article: Article) -> list[Match]:
        found = []
        for _, compiled in self.watches:
            found.extend(match.find_matches(compiled, article.title, article.text))
        return found


def save(store: Store, matcher: Matcher, article: Article, *, hold: str | None = None) -> Saved:
    """Store the article if new; match new articles only; queue their alerts in the same transaction.
    ``hold="storm"``: the alerts are held for the storm digest instead of sent one by one."""
    with store.transaction():
        article_id = store.add_article(article)
        if article_id is None:
            return Saved(None)
        matches = matcher.run(article)
        alerts = store.add_matches(article_id, matches, matcher.channels, matcher.names,
                                   digests=matcher.digests, hold=hold) if matches else []
    return Saved(article_id, matches, alerts)
