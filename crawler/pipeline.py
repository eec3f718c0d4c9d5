"""From a feed entry (and its page, if it could be fetched) to a stored, matched article.

``build_article`` is pure: extraction, canonical URL, content hash. ``save`` is the one place where
an article, its story, its matches and its outbox rows are written, in a single transaction.

Stories: a new article joins the story of a stored near-duplicate (``crawler.neardup``), else it
starts one. A watch with ``once_per_story`` (the default) queues alerts only for the first article of
a story it matches; later copies record their matches but queue nothing. An edited article (the
same entry of the same outlet, with changed text) keeps its id and story, gets the new text and a
revision count, and alerts only watches that had not matched its story before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import dates, dedup, match, neardup, search
from .config import Config
from .errors import ExtractError
from .encoding import charset_param, clean_text, looks_like_mojibake
from .extract import extract_article
from .models import Article, FeedEntry, Match
from .parse import MAX_TITLE
from .store import Store, iso, utcnow


def build_article(*, source_id: str, feed_url: str, entry: FeedEntry, page: bytes | None,
                  page_url: str | None, content_type: str | None = None, languages: tuple[str, ...] = (),
                  fetched_at: str | None = None, max_text: int = 200_000, language: str | None = None,
                  entry_key: str | None = None) -> tuple[Article, str | None]:
    """Merge the entry with what extraction finds on the page. Returns the article and, when only
    the feed summary could be kept, the reason why. Text is cut at ``max_text`` characters; every
    field is valid UTF-8 without control characters; text that still looks like mojibake is
    flagged ``encoding_suspect``. ``language`` is the edition's tag: it wins over what the page
    says, since outlets often serve every edition with one template's ``lang``."""
    url = page_url or entry.url or feed_url
    extracted, problem = None, None
    if page is not None:
        try:
            extracted = extract_article(page, url, source_id=source_id, encoding=charset_param(content_type))
        except ExtractError as exc:
            problem = str(exc)
    canonical = url
    if extracted and dedup.usable_canonical(extracted.canonical_url, url):
        canonical = extracted.canonical_url
    text = clean_text(extracted.text if extracted else (entry.summary or entry.title or ""), max_text)
    language = language or (extracted.language if extracted else None) or \
        (languages[0] if len(languages) == 1 else None)
    fetched_at = fetched_at or iso(utcnow())
    published, date_note = dates.clamp_future(
        entry.published_at or (extracted.published_at if extracted else None), fetched_at)
    entry_key = entry_key or dedup.entry_key(entry.guid, entry.url, title=entry.title, summary=entry.summary)
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
        encoding_suspect=bool(suspect), date_note=date_note,
        fingerprint=dedup.entry_fingerprint(entry.title, entry.summary, entry.updated_at, entry.published_at),
        raw_fingerprint=entry.raw_fingerprint)
    return article, problem


@dataclass
class Saved:
    article_id: int | None  # None: already stored (same entry, URL or text) and not edited
    matches: list[Match] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    story_id: int | None = None
    joined: bool = False  # a near-duplicate that joined a story another article started
    revised: bool = False  # an edit of a stored article (article_id is the stored one)
    rechecked: bool = False  # a stored entry fetched again because its feed entry changed; text the same


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
        self.once_per_story = {w.id for w in watches if w.once_per_story}
        channels = config.settings.channels
        # A digest asked for by the watch wins over the channel's.
        self.digests = {(w.id, ch): w.digest or getattr(channels.get(ch), "digest", None)
                        for w in watches for ch in w.channels}

    def run(self, article: Article) -> list[Match]:
        source = self.sources.get(article.source_id)
        return match.find_all(self.index, article.title, article.text, source_id=article.source_id,
                              country=source.country if source else None, language=article.language,
                              source_languages=source.languages if source else ())

    def alerting_channels(self, already_fired: set[str]) -> dict[str, tuple]:
        """Channels per watch, without the once-per-story watches that fired for this story already."""
        return {w: ch for w, ch in self.channels.items() if not (w in self.once_per_story and w in already_fired)}


def save(store: Store, matcher: Matcher, article: Article, *, hold: str | None = None) -> Saved:
    """Store the article if new (or its edit); cluster it into a story; match it; queue its alerts,
    all in the same transaction. Text flagged as mojibake is stored and clustered but not matched:
    garbled words would only match by accident, and an alert full of "РџСЂРёРІРµС‚" gets a tool muted.
    ``hold="storm"``: the alerts are held for the storm digest instead of sent one by one."""
    sig = neardup.signature(article.text)
    with store.transaction():
        own = store.own_entry(article.source_id, article.entry_key, article.canonical_url)
        if own is not None:
            return _revise(store, matcher, article, own, sig, hold=hold)
        article_id = store.add_article(article, match_text=sig is not None)
        if article_id is None:
            return Saved(None)
        _index(store, article_id, article)
        story_id, joined = _cluster(store, article_id, article, sig)
        return _match(store, matcher, article, article_id, story_id, joined=joined, hold=hold)


def _index(store: Store, article_id: int, article: Article, old: dict | None = None) -> None:
    """File the article for `newswatch search` (``old``: the stored row it replaces, for an edit)."""
    before = None
    if old is not None:  # what it was filed under: garbled text was filed as nothing
        before = (None, None) if old["encoding_suspect"] else (old["title"], old["text"])
    search.index_article(store, article_id, article.title, article.text, suspect=article.encoding_suspect,
                         old=before)


def _cluster(store: Store, article_id: int, article: Article, sig: neardup.Signature | None) -> tuple[int, bool]:
    """Join the story of the closest stored near-duplicate, or start a story."""
    if sig is not None:
        best, best_score = None, 0.0
        for cand in store.near_candidates(sig.bands):
            if cand["article_id"] == article_id or cand["story_id"] is None:
                continue
            other = neardup.shingles(cand["text"])
            if neardup.same_story(sig.shingles, other):
                score = max(neardup.similarity(sig.shingles, other))
                if score > best_score:
                    best, best_score = cand, score
        store.add_bands(article_id, sig.bands)
        if best is not None:
            store.join_story(article_id, best["story_id"], article.fetched_at)
            return best["story_id"], True
    return store.new_story(article_id, article.source_id, article.fetched_at), False


def _match(store: Store, matcher: Matcher, article: Article, article_id: int, story_id: int | None, *,
           joined: bool = False, revised: bool = False, hold: str | None = None) -> Saved:
    if article.encoding_suspect:
        return Saved(article_id, story_id=story_id, joined=joined, revised=revised)
    matches = matcher.run(article)
    alerts = []
    if matches:
        fired = store.story_watches(story_id, article_id) if (joined or revised) else set()
        alerts = store.add_matches(article_id, matches, matcher.alerting_channels(fired), matcher.names,
                                   digests=matcher.digests, hold=hold)
    return Saved(article_id, matches, alerts, story_id=story_id, joined=joined, revised=revised)


def _revise(store: Store, matcher: Matcher, article: Article, own: dict, sig: neardup.Signature | None,
            hold: str | None = None) -> Saved:
    """The same entry again (its feed description changed): store an edit, if the text changed."""
    store.set_fingerprint(own["sighting_id"], article.fingerprint, article.raw_fingerprint)
    unchanged = own["content_hash"] == article.content_hash
    # an entry this outlet ran as an exact copy of another outlet's article is not that article's editor
    not_its_own = own["source_id"] != article.source_id
    # a page that could not be fetched this time must not replace the full text with the feed summary
    degraded = article.summary_only and not own["summary_only"]
    if unchanged or not_its_own or degraded:
        return Saved(None, rechecked=True)
    article_id, story_id = own["article_id"], own["story_id"]
    old = neardup.signature(own["text"])
    if old is not None:
        store.drop_bands(article_id, old.bands)
    store.revise_article(article_id, article)
    _index(store, article_id, article, old=own)
    if story_id is None:  # stored before stories existed
        story_id, _ = _cluster(store, article_id, article, sig)
    elif sig is not None:
        store.add_bands(article_id, sig.bands)
    return _match(store, matcher, article, article_id, story_id, revised=True, hold=hold)
