"""From a feed entry (and its page, if it could be fetched) to a stored, matched article.

``build_article`` is pure: extraction, canonical URL, content hash. ``save`` is the one place where
an article, its matches and its outbox rows are written, in a single transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import urlsplit

from . import dates, dedup, match
from .config import Config
from .errors import ExtractError
from .encoding import clean_text, looks_like_mojibake
from .extract import extract_article
from .models import Article, FeedEntry, Match
from .parse import MAX_TITLE
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
                  fetched_at: str | None = None, max_text: int = 200_000, language: str | None = None
                  ) -> tuple[Article, str | None]:
    """Merge the entry with what extraction finds on the page. Returns the article and, when only
    the feed summary could be kept, the reason why. Text is cut at ``max_text`` characters; every
    field is valid UTF-8 without control characters; text that still looks like mojibake is
    flagged ``encoding_suspect``. ``language`` is the edition's tag: it wins over what the page
    says, since outlets often serve every edition with one template's ``lang``."""
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
    text = clean_text(extracted.text if extracted else (entry.summary or entry.title or ""), max_text)
    language = language or (extracted.language if extracted else None) or \
        (languages[0] if len(languages) == 1 else None)
    fetched_at = fetched_at or iso(utcnow())
    published, date_note = dates.clamp_future(
        entry.published_at or (extracted.published_at if extracted else None), fetched_at)
    entry_key = dedup.entry_key(entry.guid, entry.url, title=entry.title, summary=entry.summary)
    canonical_url = dedup.canonical_url(canonical)
    if not entry.url and not page_url:
        # A linkless entry has only the feed's URL: without its own key in the fragment, every such
        # entry of the feed would look like a copy of the first one and be dropped.
        canonical_url = f"{canonical_url}#{entry_key}"
    title = entry.title
    if extracted and extracted.title and not extracted.encoding_suspect and (
            not title or (entry.encoding_suspect and not looks_like_mojibake(extracted.title))):
        title = extracted.title  # the page may be readable where the feed was not
    title = clean_text(title or "", MAX_TITLE, one_line=True)
    suspect = looks_like_mojibake(title) or (extracted.encoding_suspect if extracted else entry.encoding_suspect)
    article = Article(
        source_id=source_id, feed_url=feed_url, url=entry.url or url,
        canonical_url=canonical_url, guid=entry.guid, entry_key=entry_key,
        title=title,
        author=clean_text(extracted.author if extracted and extracted.author else entry.author, 300,
                          one_line=True) or None,
        published_at=published, fetched_at=fetched_at, language=language, text=text,
        summary_only=extracted is None, content_hash=dedup.content_hash(text or entry.title or url),
        encoding_suspect=bool(suspect), date_note=date_note)
    return article, problem


@dataclass
class Saved:
    article_id: int | None  # None: already stored (same entry, URL or text)
    matches: list[Match] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)


class Matcher:
    """The config's watches, compiled once per crawl into one index. The daemon, ``watches test`` and
    ``watches backfill`` all match through ``run``, so they give the same answer for the same article."""

    def __init__(self, config: Config, watch_ids: list[str] | None = None):
        watches = [w for w in config.watches if watch_ids is None or w.id in watch_ids]
        self.index = match.compile_watches(
            match.WatchRule(w.id, w.rule, w.sources, w.countries, w.languages) for w in watches)
        self.channels = {w.id: w.channels for w in watches}
        self.names = {w.id: w.name for w in watches}
        self.sources = {s.id: s for s in config.sources}

    def run(self, article: Article) -> list[Match]:
        source = self.sources.get(article.source_id)
        return match.find_all(self.index, article.title, article.text, source_id=article.source_id,
                              country=source.country if source else None, language=article.language,
                              source_languages=source.languages if source else ())


def save(store: Store, matcher: Matcher, article: Article) -> Saved:
    """Store the article if new; match new articles only; queue their alerts in the same transaction.
    Text flagged as mojibake is stored but not matched: garbled words would only match by accident,
    and an alert full of "РџСЂРёРІРµС‚" is the kind that gets a tool muted."""
    with store.transaction():
        article_id = store.add_article(article)
        if article_id is None or article.encoding_suspect:
            return Saved(article_id)
        matches = matcher.run(article)
        alerts = store.add_matches(article_id, matches, matcher.channels, matcher.names) if matches else []
    return Saved(article_id, matches, alerts)
