"""Dataclasses passed between pipeline stages. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed, as the feed describes it (parse stage output)."""

    guid: str | None
    url: str | None
    title: str = ""
    summary: str = ""  # plain text, HTML stripped
    author: str | None = None
    published_at: str | None = None  # ISO 8601, UTC, seconds
    encoding_suspect: bool = False  # title/summary still look like mojibake after decoding
    updated_at: str | None = None  # the entry's own "updated" date (Atom <updated>), when it gives one
    # a hash of the item as the feed wrote it (lxml fast path only, else None): the crawl compares it
    # with the stored one to skip converting entries that have not changed at all; not part of equality
    raw_fingerprint: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    entries: list[FeedEntry]
    # feedparser's "bozo" note when the feed was malformed but still yielded entries
    warning: str | None = None
    # entries left out because the caller already has them (parse_feed's ``known``, ``unchanged``
    # and ``handled``)
    known: int = 0
    # the digests of the feed's items (parse_feed's ``handled``), joined; None when not asked for or
    # the items could not be told apart in the bytes
    item_digests: bytes | None = None


@dataclass(frozen=True)
class Extracted:
    """What the extract stage got from an article page."""

    title: str | None
    author: str | None
    published_at: str | None  # ISO 8601 (date or datetime)
    text: str
    language: str | None
    canonical_url: str | None = None
    encoding_suspect: bool = False  # the page text still looks like mojibake after decoding


@dataclass
class Article:
    """An article ready to store: feed metadata merged with the extracted page."""

    source_id: str
    feed_url: str
    url: str
    canonical_url: str
    guid: str | None
    entry_key: str
    title: str
    author: str | None
    published_at: str | None
    fetched_at: str
    language: str | None
    text: str
    summary_only: bool
    content_hash: str
    encoding_suspect: bool = False  # stored flagged; never matched or alerted on
    date_note: str | None = None  # why published_at is not what the outlet wrote (e.g. clamped future date)
    # dedup.entry_fingerprint of the feed entry: stored per sighting, tells an edited entry apart
    fingerprint: str | None = None
    raw_fingerprint: str | None = None  # FeedEntry.raw_fingerprint, stored beside it


@dataclass(frozen=True)
class Match:
    """One watch hitting one article: which keyword, the form in the text, the sentence around it."""

    watch_id: str
    keyword: str
    form: str
    snippet: str


@dataclass(frozen=True)
class Alert:
    """One outbox row, as channels see it. ``id`` is stable across retries."""

    id: str
    channel: str
    watch_id: str
    watch_name: str
    article_id: int
    source_id: str
    source_name: str
    url: str
    title: str
    author: str | None
    published_at: str | None
    language: str | None
    text_excerpt: str
    matches: list[dict] = field(default_factory=list)  # [{keyword, form, snippet}]
    created_at: str = ""
