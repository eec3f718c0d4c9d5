"""SQLite storage: the only module that speaks SQL.

WAL journal, a busy timeout, and a schema created and upgraded by numbered migrations
(``PRAGMA user_version`` holds the last one applied). Storage returns only what is new: ``add_article``
gives back the id of a new article or None when it was already stored, and only new articles are
matched and alerted on. The article, its matches and its outbox rows commit in one transaction
(``with store.transaction():``), so an alert is never lost between storing and sending.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlite_utils

from .errors import StoreError
from .models import Alert, Article, Match


def utcnow() -> datetime:
    """Now, in UTC. ``NEWSWATCH_NOW`` (ISO 8601) replaces the clock, to replay or test schedules
    (Retry-After, backoff) without waiting."""
    fixed = os.environ.get("NEWSWATCH_NOW")
    if fixed:
        try:
            when = datetime.fromisoformat(fixed.replace("Z", "+00:00"))
        except ValueError:
            raise StoreError(f"NEWSWATCH_NOW={fixed!r} is not an ISO 8601 time") from None
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).replace(microsecond=0)
    return datetime.now(UTC).replace(microsecond=0)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


MAX_BACKOFF = 86400.0  # a failing feed is still tried at least once a day: never parked silently

# Each migration is a list of statements; never edit one that has shipped, add the next.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE sources (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, homepage TEXT, country TEXT, languages TEXT,
            interval REAL NOT NULL, enabled INTEGER NOT NULL DEFAULT 1, updated_at TEXT)""",
        """CREATE TABLE feeds (
            id INTEGER PRIMARY KEY, source_id TEXT NOT NULL REFERENCES sources(id), url TEXT NOT NULL UNIQUE,
            etag TEXT, last_modified TEXT, body_hash TEXT,
            last_status INTEGER, last_polled_at TEXT, last_success_at TEXT,
            last_error TEXT, last_error_kind TEXT, last_error_at TEXT,
            consecutive_errors INTEGER NOT NULL DEFAULT 0, next_check_at TEXT)""",
        "CREATE INDEX feeds_source ON feeds(source_id)",
        """CREATE TABLE articles (
            id INTEGER PRIMARY KEY, source_id TEXT NOT NULL REFERENCES sources(id), feed_url TEXT,
            url TEXT NOT NULL, canonical_url TEXT NOT NULL, guid TEXT, entry_key TEXT NOT NULL,
            title TEXT, author TEXT, published_at TEXT, fetched_at TEXT NOT NULL, language TEXT,
            text TEXT, summary_only INTEGER NOT NULL DEFAULT 0, content_hash TEXT NOT NULL)""",
        "CREATE INDEX articles_canonical ON articles(canonical_url)",
        "CREATE INDEX articles_hash ON articles(content_hash)",
        "CREATE INDEX articles_fetched ON articles(fetched_at)",
        # Every (source, entry) that led to an article, duplicates included: the seen-check and
        # the list of outlets that ran a story both read it.
        """CREATE TABLE sightings (
            id INTEGER PRIMARY KEY, article_id INTEGER NOT NULL REFERENCES articles(id),
            source_id TEXT NOT NULL, entry_key TEXT NOT NULL, url TEXT NOT NULL, canonical_url TEXT NOT NULL,
            seen_at TEXT NOT NULL, UNIQUE (source_id, entry_key))""",
        "CREATE INDEX sightings_canonical ON sightings(canonical_url)",
        """CREATE TABLE matches (
            id INTEGER PRIMARY KEY, article_id INTEGER NOT NULL REFERENCES articles(id),
            watch_id TEXT NOT NULL, keyword TEXT NOT NULL, form TEXT, snippet TEXT, matched_at TEXT NOT NULL,
            UNIQUE (article_id, watch_id, keyword))""",
        """CREATE TABLE outbox (
            id TEXT PRIMARY KEY, article_id INTEGER NOT NULL REFERENCES articles(id),
            watch_id TEXT NOT NULL, watch_name TEXT NOT NULL, channel TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL, next_attempt_at TEXT NOT NULL, claimed_at TEXT,
            sent_at TEXT, last_error TEXT, UNIQUE (article_id, watch_id, channel))""",
        "CREATE INDEX outbox_due ON outbox(state, next_attempt_at)",
    ],
    [
        # The daemon's own notices for the operator (source down / recovered, dead letters, channel
        # disabled). Stages write them; the operator channel sends them and sets sent_at.
        """CREATE TABLE notices (
            id INTEGER PRIMARY KEY, kind TEXT NOT NULL, source_id TEXT, channel TEXT, message TEXT NOT NULL,
            created_at TEXT NOT NULL, sent_at TEXT)""",
        "CREATE INDEX notices_unsent ON notices(sent_at)",
    ],
    [
        # Operations (issue 8). The daemon's own state (one row): status shows uptime, the daemon's
        # HTTP server reads its heartbeat.
        """CREATE TABLE daemon (
            id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER, host TEXT, started_at TEXT, heartbeat_at TEXT,
            stopped_at TEXT, tick REAL)""",
        # One row per crawl cycle, written by the process that ran it; the daemon turns new rows into
        # Prometheus counters and histograms (the cycle runs in a child process that cannot serve them).
        """CREATE TABLE cycles (
            id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT NOT NULL, seconds REAL NOT NULL,
            sources_polled INTEGER NOT NULL, feeds_polled INTEGER NOT NULL, feeds_unchanged INTEGER NOT NULL,
            new_articles INTEGER NOT NULL, duplicates INTEGER NOT NULL, summary_only INTEGER NOT NULL,
            matches INTEGER NOT NULL, alerts_queued INTEGER NOT NULL, alerts_sent INTEGER NOT NULL,
            alerts_failed INTEGER NOT NULL, errors INTEGER NOT NULL,
            error_kinds TEXT NOT NULL, poll_seconds TEXT NOT NULL, extract_seconds TEXT NOT NULL)""",
        "CREATE INDEX cycles_finished ON cycles(finished_at)",
        # prune drops old article text but keeps the row: mark it so nobody mistakes it for an empty page.
        "ALTER TABLE articles ADD COLUMN text_pruned_at TEXT",
        "CREATE INDEX matches_watch ON matches(watch_id, matched_at)",
        "CREATE INDEX sightings_article ON sightings(article_id)",
        # Readable views for `newswatch browse` (Datasette shows column names as headings).
        """CREATE VIEW article_list AS
           SELECT a.id AS id, a.title AS "Title", coalesce(s.name, a.source_id) AS "Outlet",
                  s.country AS "Country", a.language AS "Language", a.published_at AS "Published",
                  a.fetched_at AS "Stored", a.url AS "Link", a.author AS "Author",
                  CASE WHEN a.text_pruned_at IS NOT NULL THEN 'pruned'
                       WHEN a.summary_only THEN 'feed summary' ELSE 'full text' END AS "Text",
                  (SELECT json_group_array(DISTINCT m.watch_id) FROM matches m WHERE m.article_id = a.id) AS "Watches"
           FROM articles a LEFT JOIN sources s ON s.id = a.source_id""",
        """CREATE VIEW match_list AS
           SELECT m.id AS id, m.watch_id AS "Watch", a.title AS "Title", coalesce(s.name, a.source_id) AS "Outlet",
                  s.country AS "Country", a.language AS "Language", m.keyword AS "Keyword",
                  m.form AS "Found as", m.snippet AS "Sentence", m.matched_at AS "Matched", a.url AS "Link",
                  a.id AS article_id
           FROM matches m JOIN articles a ON a.id = m.article_id LEFT JOIN sources s ON s.id = a.source_id""",
    ],
    [
        # Hostile web (issue 7): where a permanent redirect led, Retry-After, 410 Gone, the start of
        # a failure streak, whether the operator was told a source is down, and mojibake flags.
        "ALTER TABLE feeds ADD COLUMN effective_url TEXT",
        "ALTER TABLE feeds ADD COLUMN retry_after_until TEXT",
        "ALTER TABLE feeds ADD COLUMN gone_at TEXT",
        "ALTER TABLE feeds ADD COLUMN failing_since TEXT",
        "ALTER TABLE sources ADD COLUMN down_since TEXT",
        "ALTER TABLE articles ADD COLUMN encoding_suspect INTEGER NOT NULL DEFAULT 0",
    ],
    [
        # Sources are polled at feeds, sitemaps and listing pages (all rows of `feeds`); each row
        # keeps its kind, its edition's language, and how many entries it last yielded (a listing
        # page that suddenly yields none is reported). Articles keep a note when their date was
        # corrected (a date in the future clamped to the fetch time).
        "ALTER TABLE feeds ADD COLUMN kind TEXT NOT NULL DEFAULT 'feed'",
        "ALTER TABLE feeds ADD COLUMN language TEXT",
        "ALTER TABLE feeds ADD COLUMN last_entries INTEGER",
        "ALTER TABLE articles ADD COLUMN date_note TEXT",
    ],
    [
        # Stories: near-duplicate clusters across outlets. A story keeps its first-seen article and
        # outlet; size counts every copy (sighting) of every article in it.
        """CREATE TABLE stories (
            id INTEGER PRIMARY KEY, first_article_id INTEGER NOT NULL REFERENCES articles(id),
            first_source_id TEXT NOT NULL, first_seen_at TEXT NOT NULL, last_seen_at TEXT NOT NULL,
            size INTEGER NOT NULL DEFAULT 1)""",
        "CREATE INDEX stories_last_seen ON stories(last_seen_at)",
        "ALTER TABLE articles ADD COLUMN story_id INTEGER REFERENCES stories(id)",
        "CREATE INDEX articles_story ON articles(story_id)",
        # Edits: the same entry with changed text updates the article and counts a revision.
        "ALTER TABLE articles ADD COLUMN revisions INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE articles ADD COLUMN revised_at TEXT",
        # What the feed said about the entry (title, summary, dates) when it was stored: a change
        # is how an edit is noticed without fetching every known page again.
        "ALTER TABLE sightings ADD COLUMN fingerprint TEXT",
        "CREATE INDEX sightings_source_canonical ON sightings(source_id, canonical_url)",
        # MinHash LSH band keys (crawler/neardup.py): finding near-duplicate candidates is an index
        # lookup on (band_no, band_hash), whatever the size of the archive.
        """CREATE TABLE story_bands (
            band_no INTEGER NOT NULL, band_hash INTEGER NOT NULL, article_id INTEGER NOT NULL,
            PRIMARY KEY (band_no, band_hash, article_id)) WITHOUT ROWID""",
        # Re-index the search text only when title or text change, not when an article gets its
        # story id (every article, right after it is stored).
        "DROP TRIGGER IF EXISTS articles_au",
        """CREATE TRIGGER articles_au AFTER UPDATE OF title, text ON articles BEGIN
            INSERT INTO articles_fts (articles_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text);
            INSERT INTO articles_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
        END""",
    ],
    [
        # Delivery bookkeeping. Every send is logged before it starts and finished after it, so an
        # attempt with no finished_at is a send a crash interrupted (a possible duplicate).
        """CREATE TABLE alert_attempts (
            id INTEGER PRIMARY KEY, alert_id TEXT NOT NULL, channel TEXT NOT NULL, attempt INTEGER NOT NULL,
            started_at TEXT NOT NULL, finished_at TEXT, outcome TEXT, error TEXT)""",
        "CREATE INDEX alert_attempts_alert ON alert_attempts(alert_id)",
        # A channel whose receiver answered 410 Gone; fingerprint is its config at the time, so
        # editing the channel in settings.yaml enables it again.
        """CREATE TABLE channel_state (
            channel TEXT PRIMARY KEY, disabled_at TEXT, fingerprint TEXT, reason TEXT)""",
        # One message standing for many outbox rows (hourly/daily digests, storms).
        """CREATE TABLE digests (
            id TEXT PRIMARY KEY, channel TEXT NOT NULL, kind TEXT NOT NULL, items INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL, next_attempt_at TEXT NOT NULL, claimed_at TEXT, claimed_by INTEGER,
            sent_at TEXT, last_error TEXT, age_from TEXT)""",
        "CREATE INDEX digests_due ON digests(state, next_attempt_at)",
        # claimed_by: pid of the sender, so a row claimed by a dead process is taken over at once.
        # age_from: where alerts.max_age counts from (reset by `alerts retry`).
        # digest: hourly/daily/storm for rows held for a digest (state 'held'); digest_id once sent in one.
        "ALTER TABLE outbox ADD COLUMN claimed_by INTEGER",
        "ALTER TABLE outbox ADD COLUMN age_from TEXT",
        "ALTER TABLE outbox ADD COLUMN digest TEXT",
        "ALTER TABLE outbox ADD COLUMN digest_id TEXT",
        "CREATE INDEX outbox_digest ON outbox(digest_id)",
        # The storm guard's idea of "usual": a moving average of new items per poll.
        "ALTER TABLE feeds ADD COLUMN new_items_avg REAL",
        "ALTER TABLE feeds ADD COLUMN new_items_polls INTEGER NOT NULL DEFAULT 0",
    ],
    [
        # A hash of the feed item as written (before HTML-to-text and date parsing), kept beside the
        # fingerprint and always updated with it: a stored entry whose raw item has not changed is
        # not even converted (crawler/crawl.py). NULL (sightings from before, feedparser-path
        # entries) means "convert and compare".
        "ALTER TABLE sightings ADD COLUMN raw_fingerprint TEXT",
    ],
    [
        # `newswatch search` (crawler/search.py): every word filed under the lookup keys the watches
        # use, so a search finds inflections and the other script. Contentless (the keys are only an
        # index, recomputed from the article when needed): a row can only be taken out with the very
        # terms it went in with, so search_docs keeps a checksum of them and the normalisation
        # version they were made with; when either does not fit, the index is rebuilt instead.
        """CREATE VIRTUAL TABLE search_fts USING fts5(title, body, content='',
           tokenize='unicode61 remove_diacritics 0')""",
        """CREATE TABLE search_docs (
            article_id INTEGER PRIMARY KEY REFERENCES articles(id), version INTEGER NOT NULL,
            checksum TEXT NOT NULL)""",
        # every crawl cycle asks how many articles are not filed under the current version: two counts
        "CREATE INDEX search_docs_version ON search_docs(version)",
    ],
    [
        # The digests of the feed's items at the last poll whose entries were all handled (saved with
        # body_hash): items whose bytes are the same at the next poll are not parsed (crawler/feeditems.py).
        "ALTER TABLE feeds ADD COLUMN item_digests BLOB",
    ],
]


PERIODS = {"hourly": 3600, "daily": 86400}


def period_end(kind: str, when: datetime) -> datetime:
    """End of the UTC hour or day ``when`` falls in: when an hourly or daily digest closes."""
    start = when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if kind == "daily":
        start = start.replace(hour=0)
    return start + timedelta(seconds=PERIODS[kind])


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# Best-match-first ranks the newest this many matches of a query. bm25 scores every match it is given,
# so ranking all of them grows with the archive (a common word in a million articles: ~0.4 s); the
# newest matches come in the FTS index's own order and stop at the window: ~the same cost at any size.
# A query with fewer matches (nearly all of them) is ranked whole.
RANK_WINDOW = 5_000


def _window(rank_all: bool, rowid: str = "rowid") -> str:
    return "" if rank_all else f"ORDER BY {rowid} DESC LIMIT {int(RANK_WINDOW)}"


@dataclass(frozen=True)
class FeedState:
    url: str
    source_id: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    consecutive_errors: int
    effective_url: str | None = None
    retry_after_until: str | None = None
    gone_at: str | None = None
    item_digests: bytes | None = None  # see record_feed_success


class Store:
    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 10_000,
                 clock: Callable[[], datetime] = utcnow):
        self.path = Path(path)
        # "now" for every timestamp and due-ness decision the store makes when the caller gives none;
        # `newswatch crawl --now` sets it so a benchmark can run an hour of cycles in minutes
        self.clock = clock
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=busy_timeout_ms / 1000)
            self.db = sqlite_utils.Database(conn)
            self.db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self.db.enable_wal()
            self.db.execute("PRAGMA foreign_keys = ON")
            self.migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from None

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ schema
    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise StoreError(f"database {self.path} has schema {version}, newer than this Newswatch "
                             f"({len(MIGRATIONS)}); upgrade Newswatch")
        for number in range(version + 1, len(MIGRATIONS) + 1):
            with self.db.atomic():
                for statement in MIGRATIONS[number - 1]:
                    self.db.execute(statement)
                if number == 1:
                    self.db["articles"].enable_fts(["title", "text"], create_triggers=True,
                                                   tokenize="unicode61 remove_diacritics 2")
                self.db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        with self.db.atomic():
            yield self

    # ------------------------------------------------------------------ sources and feeds
    def sync_sources(self, sources: Iterable, now: datetime | None = None) -> None:
        """Make the sources and feeds tables mirror the config. Feeds that left the config stay
        (their articles point at them) but their source is disabled when the source left too."""
        now = now or self.clock()
        sources = list(sources)
        with self.db.atomic():
            ids = []
            for s in sources:
                ids.append(s.id)
                self.db.execute(
                    """INSERT INTO sources (id, name, homepage, country, languages, interval, enabled, updated_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT(id) DO UPDATE SET name=excluded.name, homepage=excluded.homepage,
                       country=excluded.country, languages=excluded.languages, interval=excluded.interval,
                       enabled=excluded.enabled, updated_at=excluded.updated_at""",
                    [s.id, s.name, s.homepage, s.country, json.dumps(list(s.languages)), s.interval,
                     int(s.enabled), iso(now)])
                for ep in s.endpoints():
                    self.db.execute(
                        """INSERT INTO feeds (source_id, url, kind, language, next_check_at) VALUES (?, ?, ?, ?, ?)
                           ON CONFLICT(url) DO UPDATE SET source_id=excluded.source_id, kind=excluded.kind,
                           language=excluded.language""",
                        [s.id, ep.url, ep.kind, ep.language, iso(now)])
            marks = ",".join("?" * len(ids))
            self.db.execute(f"UPDATE sources SET enabled = 0 WHERE id NOT IN ({marks})", ids)

    def due_sources(self, now: datetime | None = None) -> list[str]:
        now = now or self.clock()
        rows = self.db.execute(
            """SELECT DISTINCT s.id FROM sources s JOIN feeds f ON f.source_id = s.id
               WHERE s.enabled = 1 AND f.gone_at IS NULL AND (f.next_check_at IS NULL OR f.next_check_at <= ?)
               ORDER BY s.id""",
            [iso(now)]).fetchall()
        return [r[0] for r in rows]

    def feed_state(self, url: str) -> FeedState | None:
        row = self.db.execute(
            "SELECT url, source_id, etag, last_modified, body_hash, consecutive_errors, effective_url, "
            "retry_after_until, gone_at, item_digests FROM feeds WHERE url = ?",
            [url]).fetchone()
        return FeedState(*row) if row else None

    def _interval(self, feed_url: str) -> float:
        row = self.db.execute(
            "SELECT s.interval FROM feeds f JOIN sources s ON s.id = f.source_id WHERE f.url = ?",
            [feed_url]).fetchone()
        return row[0] if row else 900.0

    def record_feed_success(self, url: str, *, status: int, etag: str | None, last_modified: str | None,
                            body_hash: str | None, item_digests: bytes | None = None,
                            now: datetime | None = None) -> None:
        """The feed was fetched and every entry in it handled: keep its validators for the next poll,
        and the digests of its items (``ParsedFeed.item_digests``; None keeps the last ones, which
        stay true of the poll they came from)."""
        now = now or self.clock()
        next_check = now + timedelta(seconds=self._interval(url))
        self.db.execute(
            """UPDATE feeds SET etag = ?, last_modified = ?, body_hash = ?, last_status = ?,
               last_polled_at = ?, last_success_at = ?, consecutive_errors = 0, next_check_at = ?,
               failing_since = NULL, retry_after_until = NULL, gone_at = NULL,
               item_digests = coalesce(?, item_digests) WHERE url = ?""",
            [etag, last_modified, body_hash, status, iso(now), iso(now), iso(next_check), item_digests, url])

    def record_feed_error(self, url: str, *, kind: str, error: str, status: int | None = None,
                          now: datetime | None = None, retry_after: float | None = None,
                          gone: bool = False) -> int:
        """Record a failed poll and return the error count. The next check backs off exponentially
        from the source's interval with ±20 % jitter (so feeds that failed together do not return
        together), capped at one day; a ``retry_after`` (seconds, from a 429/503) pushes it later,
        also at most a day. ``gone`` (410) takes the feed out of scheduled polls."""
        now = now or self.clock()
        row = self.db.execute("SELECT consecutive_errors FROM feeds WHERE url = ?", [url]).fetchone()
        errors = (row[0] if row else 0) + 1
        delay = min(self._interval(url) * (2 ** min(errors - 1, 16)) * random.uniform(0.8, 1.2), MAX_BACKOFF)
        retry_until = None
        if retry_after is not None:
            retry_after = min(max(retry_after, 0.0), MAX_BACKOFF)
            retry_until = iso(now + timedelta(seconds=retry_after))
            delay = max(delay, retry_after)
        self.db.execute(
            """UPDATE feeds SET last_status = ?, last_polled_at = ?, last_error = ?, last_error_kind = ?,
               last_error_at = ?, consecutive_errors = ?, next_check_at = ?, retry_after_until = ?,
               failing_since = coalesce(failing_since, ?), gone_at = CASE WHEN ? THEN ? ELSE gone_at END
               WHERE url = ?""",
            [status, iso(now), error[:2000], kind, iso(now), errors, iso(now + timedelta(seconds=delay)),
             retry_until, iso(now), int(gone), iso(now), url])
        return errors

    def feeds(self) -> list[dict]:
        return list(self.db.query("SELECT * FROM feeds ORDER BY source_id, url"))

    # ------------------------------------------------------------------ articles
    def seen(self, source_id: str, entry_key: str, canonical_url: str | None = None) -> bool:
        """Has this entry (or this URL) of this source led to a stored article already?"""
        row = self.db.execute(
            "SELECT 1 FROM sightings WHERE source_id = ? AND entry_key = ? LIMIT 1", [source_id, entry_key]
        ).fetchone()
        if row is None and canonical_url:
            row = self.db.execute("SELECT 1 FROM sightings WHERE canonical_url = ? LIMIT 1",
                                  [canonical_url]).fetchone()
        return row is not None

    def add_article(self, article: Article, *, match_text: bool = True) -> int | None:
        """Store ``article`` unless it is already stored; return the new id, or None.

        Already stored means: the same entry of the same source, the same canonical URL, or the
        same normalised text (an exact copy under another URL or on another outlet). A copy adds a
        sighting to the article it copies, so every URL and outlet that ran it is kept.
        ``match_text=False`` (a text too short to tell stories apart) skips the text comparison."""
        if self.seen(article.source_id, article.entry_key):
            return None
        row = self.db.execute("SELECT article_id FROM sightings WHERE canonical_url = ? LIMIT 1",
                              [article.canonical_url]).fetchone()
        if row is None and match_text:
            row = self.db.execute("SELECT id FROM articles WHERE content_hash = ? LIMIT 1",
                                  [article.content_hash]).fetchone()
        if row is not None:
            self._sight(row[0], article)
            return None
        record = asdict(article)
        record.pop("fingerprint", None)  # kept per sighting, not per article
        record.pop("raw_fingerprint", None)
        record["summary_only"] = int(article.summary_only)
        cur = self.db.execute(
            f"INSERT INTO articles ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})",
            list(record.values()))
        article_id = cur.lastrowid
        self._sight(article_id, article)
        return article_id

    def _sight(self, article_id: int, article: Article) -> None:
        cur = self.db.execute(
            """INSERT OR IGNORE INTO sightings (article_id, source_id, entry_key, url, canonical_url, seen_at,
               fingerprint, raw_fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            [article_id, article.source_id, article.entry_key, article.url, article.canonical_url,
             article.fetched_at, getattr(article, "fingerprint", None), getattr(article, "raw_fingerprint", None)])
        if cur.rowcount:
            # an exact copy is one more copy of the story its article belongs to
            self.db.execute(
                """UPDATE stories SET size = size + 1, last_seen_at = max(last_seen_at, ?)
                   WHERE id = (SELECT story_id FROM articles WHERE id = ?)""", [article.fetched_at, article_id])

    def add_matches(self, article_id: int, matches: Iterable[Match], channels_by_watch: dict[str, tuple],
                    watch_names: dict[str, str], now: datetime | None = None, *,
                    digests: dict[tuple[str, str], str] | None = None, hold: str | None = None) -> list[str]:
        """Record matches and queue one outbox row per (watch, channel). Returns the outbox ids.

        ``digests`` maps (watch, channel) to hourly/daily: such rows are held until their period
        ends. ``hold="storm"`` holds every row for the storm digest."""
        now = now or self.clock()
        queued = []
        for m in matches:
            self.db.execute(
                """INSERT OR IGNORE INTO matches (article_id, watch_id, keyword, form, snippet, matched_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                [article_id, m.watch_id, m.keyword, m.form, m.snippet, iso(now)])
        for watch_id in dict.fromkeys(m.watch_id for m in matches):
            for channel in channels_by_watch.get(watch_id, ()):
                # Stable across retries and restarts: receivers deduplicate on it.
                alert_id = f"nw-{article_id}-{watch_id}-{channel}"
                digest = hold or (digests or {}).get((watch_id, channel))
                due = period_end(digest, now) if digest in PERIODS else now
                cur = self.db.execute(
                    """INSERT OR IGNORE INTO outbox (id, article_id, watch_id, watch_name, channel, created_at,
                       next_attempt_at, state, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [alert_id, article_id, watch_id, watch_names.get(watch_id, watch_id), channel,
                     iso(now), iso(due), "held" if digest else "pending", digest])
                if cur.rowcount:
                    queued.append(alert_id)
        return queued

    def article(self, article_id: int) -> dict | None:
        rows = list(self.db.query("SELECT * FROM articles WHERE id = ?", [article_id]))
        return rows[0] if rows else None

    def count(self, table: str) -> int:
        if table not in ("articles", "sightings", "matches", "outbox", "sources", "feeds", "stories", "story_bands"):
            raise StoreError(f"unknown table {table!r}")
        return self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def recent_articles(self, limit: int = 20) -> list[dict]:
        return list(self.db.query(
            "SELECT id, source_id, title, url, published_at, language, summary_only, length(text) AS chars "
            "FROM articles ORDER BY id DESC LIMIT ?", [limit]))

    def search(self, query: str, limit: int = 20, *, newest_first: bool = False, rank_all: bool = False) -> list[dict]:
        """Articles matching an FTS5 query (id, title, url): best match first (bm25) among the newest
        RANK_WINDOW matches (``rank_all``: among all), or with ``newest_first`` the most recently stored first.
        Ranking every match reads every match -- a common word in a million articles took ~0.4 s --
        while the window and newest-first stop early and cost about the same at any archive size
        (make bench: storage)."""
        if newest_first:
            return list(self.db.query(
                """SELECT a.id, a.title, a.url FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid
                   WHERE articles_fts MATCH ? ORDER BY articles_fts.rowid DESC LIMIT ?""", [query, limit]))
        return list(self.db.query(
            f"""SELECT a.id, a.title, a.url FROM (SELECT rowid AS id, bm25(articles_fts) AS score FROM articles_fts
                WHERE articles_fts MATCH ? {_window(rank_all)}) h JOIN articles a ON a.id = h.id
                ORDER BY h.score, h.id DESC LIMIT ?""", [query, limit]))

    # ------------------------------------------------------------------ normalised search (crawler/search.py)
    @staticmethod
    def _terms_checksum(title_terms: str, text_terms: str) -> str:
        return hashlib.blake2b(f"{title_terms}\x00{text_terms}".encode("utf-8"), digest_size=8).hexdigest()

    def index_search(self, article_id: int, title_terms: str, text_terms: str, version: int, *,
                     old: tuple[str, str] | None = None) -> None:
        """File an article in the search index under ``title_terms`` / ``text_terms`` (search.terms).
        An article filed before is taken out first with ``old``, the terms it was filed under
        (recomputed by the caller); when they do not match what went in (another normalisation
        version), its row is marked stale instead and search.catch_up rebuilds the index."""
        row = self.db.execute("SELECT version, checksum FROM search_docs WHERE article_id = ?",
                              [article_id]).fetchone()
        checksum = self._terms_checksum(title_terms, text_terms)
        if row is not None:
            if row[0] == version and row[1] == checksum:
                return  # filed so already (two catch-ups, a crawl child's and a search's, crossed)
            if row[0] != version or old is None or self._terms_checksum(*old) != row[1]:
                self.db.execute("UPDATE search_docs SET version = -1 WHERE article_id = ?", [article_id])
                return
            self.db.execute("INSERT INTO search_fts (search_fts, rowid, title, body) VALUES ('delete', ?, ?, ?)",
                            [article_id, *old])
        self.db.execute("INSERT INTO search_fts (rowid, title, body) VALUES (?, ?, ?)",
                        [article_id, title_terms, text_terms])
        self.db.execute("INSERT OR REPLACE INTO search_docs (article_id, version, checksum) VALUES (?, ?, ?)",
                        [article_id, version, checksum])

    def _unindex_text(self, article_ids: list[int], terms: Callable[[str | None], str] | None,
                      version: int) -> None:
        """Keep only the titles of these articles in the search index (their text is being dropped)."""
        marks = ", ".join("?" * len(article_ids))
        filed = self.db.execute(f"""SELECT a.id, a.title, a.text FROM articles a JOIN search_docs d
                                    ON d.article_id = a.id WHERE a.id IN ({marks}) AND NOT a.encoding_suspect""",
                                article_ids).fetchall()
        for article_id, title, text in filed:
            if terms is None:
                self.db.execute("UPDATE search_docs SET version = -1 WHERE article_id = ?", [article_id])
            else:
                title_terms = terms(title)
                self.index_search(article_id, title_terms, "", version, old=(title_terms, terms(text)))

    def search_stale_count(self, version: int) -> int:
        """Articles filed under another normalisation version (or whose entry could not be updated)."""
        return self.db.execute("SELECT (SELECT count(*) FROM search_docs) - (SELECT count(*) FROM search_docs "
                               "WHERE version = ?)", [version]).fetchone()[0]

    def clear_search_index(self) -> None:
        self.db.execute("INSERT INTO search_fts (search_fts) VALUES ('delete-all')")
        self.db.execute("DELETE FROM search_docs")

    def search_backlog_count(self, version: int) -> int:
        """Articles not in the search index (stored before it existed) or filed under another version.
        Two counts, not a join: the crawl asks after every cycle, whatever the size of the archive."""
        return self.db.execute("SELECT (SELECT count(*) FROM articles) - (SELECT count(*) FROM search_docs "
                               "WHERE version = ?)", [version]).fetchone()[0]

    def search_backlog(self, version: int, limit: int = 500, after: int = 0) -> list[dict]:
        """The next ``limit`` of those articles with an id above ``after`` (so that a long backlog is read
        in one pass, not from the start for every batch)."""
        return list(self.db.query(
            """SELECT a.id, a.title, a.text, a.encoding_suspect FROM articles a
               LEFT JOIN search_docs d ON d.article_id = a.id
               WHERE a.id > ? AND (d.article_id IS NULL OR d.version != ?) ORDER BY a.id LIMIT ?""",
            [after, version, limit]))

    def search_candidates(self, fts_query: str, *, limit: int = 50, offset: int = 0, newest_first: bool = False,
                          since: datetime | None = None, sources: Iterable[str] = (),
                          languages: Iterable[str] = (), rank_all: bool = False) -> list[dict]:
        """Articles whose indexed keys satisfy ``fts_query`` (crawler/search.py builds it), best first
        (bm25; a title word weighs like four text words) among the newest RANK_WINDOW matches
        (``rank_all``: among all), or newest first, with their text."""
        where, params = ["search_fts MATCH ?"], [fts_query]
        if since is not None:
            where.append("coalesce(f.published_at, f.fetched_at) >= ?")
            params.append(iso(since))
        sources = list(sources)
        if sources:
            where.append(f"f.source_id IN ({', '.join('?' * len(sources))})")
            params += sources
        languages = list(languages)
        if languages:
            where.append("(" + " OR ".join(["f.language = ? OR f.language LIKE ?"] * len(languages)) + ")")
            for lang in languages:
                params += [lang, f"{lang}-%"]
        filters = " JOIN articles f ON f.id = search_fts.rowid" if len(where) > 1 else ""
        order = "id DESC" if newest_first else "score, id DESC"
        try:
            # ranked on row ids and scores alone: the sorter must not carry every match's text
            return list(self.db.query(
                f"""SELECT a.id, a.title, a.text, a.url, a.source_id, coalesce(s.name, a.source_id) AS outlet,
                           a.published_at, a.fetched_at, a.language, a.text_pruned_at, round(h.score, 3) AS score
                    FROM (SELECT id, score FROM (
                            SELECT search_fts.rowid AS id, bm25(search_fts, 4.0, 1.0) AS score
                            FROM search_fts{filters} WHERE {' AND '.join(where)}
                            {"" if newest_first else _window(rank_all, "search_fts.rowid")})
                          ORDER BY {order} LIMIT ? OFFSET ?) h
                    JOIN articles a ON a.id = h.id LEFT JOIN sources s ON s.id = a.source_id
                    ORDER BY {"h.id DESC" if newest_first else "h.score, h.id DESC"}""",
                [*params, limit, offset]))
        except sqlite3.OperationalError as exc:
            raise StoreError(f"search failed ({exc}) for {fts_query!r}") from None

    # ------------------------------------------------------------------ outbox
    def claim_due_alerts(self, now: datetime | None = None, limit: int = 100,
                         stale_after: float = 600) -> list[Alert]:
        """Claim pending alerts whose time has come. A row claimed by a process that died is
        claimed again (at once when that process is known dead, else after ``stale_after``
        seconds) and sent with the same id."""
        ids = self.claim_due("outbox", now=now, limit=limit, stale_after=stale_after)
        return [self._alert(alert_id) for alert_id in ids]

    def _alert(self, alert_id: str) -> Alert:
        row = next(self.db.query(
            """SELECT o.id, o.channel, o.watch_id, o.watch_name, o.created_at, a.id AS article_id, a.source_id,
               coalesce(s.name, a.source_id) AS source_name, a.url, a.title, a.author, a.published_at,
               a.language, substr(a.text, 1, 600) AS excerpt
               FROM outbox o JOIN articles a ON a.id = o.article_id LEFT JOIN sources s ON s.id = a.source_id
               WHERE o.id = ?""", [alert_id]))
        matches = [dict(r) for r in self.db.query(
            "SELECT keyword, form, snippet FROM matches WHERE article_id = ? AND watch_id = ? ORDER BY id",
            [row["article_id"], row["watch_id"]])]
        return Alert(id=row["id"], channel=row["channel"], watch_id=row["watch_id"], watch_name=row["watch_name"],
                     article_id=row["article_id"], source_id=row["source_id"], source_name=row["source_name"],
                     url=row["url"], title=row["title"] or "", author=row["author"],
                     published_at=row["published_at"], language=row["language"], text_excerpt=row["excerpt"] or "",
                     matches=matches, created_at=row["created_at"])

    def mark_sent(self, alert_id: str, now: datetime | None = None) -> None:
        now = now or self.clock()
        self.db.execute("UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, "
                        "last_error = NULL WHERE id = ?", [iso(now), alert_id])

    def mark_attempt_failed(self, alert_id: str, error: str, *, retry_at: datetime | None) -> None:
        """A failed send: back to pending until ``retry_at``, or failed for good when it is None."""
        if retry_at is None:
            self.db.execute("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ? "
                            "WHERE id = ?", [error[:2000], alert_id])
        else:
            self.db.execute("UPDATE outbox SET state = 'pending', attempts = attempts + 1, last_error = ?, "
                            "next_attempt_at = ? WHERE id = ?", [error[:2000], iso(retry_at), alert_id])

    def attempts(self, alert_id: str) -> int:
        row = self.db.execute("SELECT attempts FROM outbox WHERE id = ?", [alert_id]).fetchone()
        return row[0] if row else 0

    def outbox_counts(self) -> dict[str, int]:
        counts = {"pending": 0, "sending": 0, "sent": 0, "failed": 0}
        for state, n in self.db.execute("SELECT state, count(*) FROM outbox GROUP BY state"):
            counts[state] = n
        return counts

    def outbox(self) -> list[dict]:
        return list(self.db.query("SELECT * FROM outbox ORDER BY created_at, id"))

    # ------------------------------------------------------------------ operator notices
    def add_notice(self, kind: str, message: str, *, source_id: str | None = None, channel: str | None = None,
                   now: datetime | None = None) -> int:
        """Queue a notice for the operator (kinds: source_down, source_recovered, dead_letter,
        channel_disabled, ...)."""
        cur = self.db.execute(
            "INSERT INTO notices (kind, source_id, channel, message, created_at) VALUES (?, ?, ?, ?, ?)",
            [kind, source_id, channel, message, iso(now or self.clock())])
        return cur.lastrowid

    def unsent_notices(self, limit: int = 100) -> list[dict]:
        return list(self.db.query("SELECT * FROM notices WHERE sent_at IS NULL ORDER BY id LIMIT ?", [limit]))

    def mark_notice_sent(self, notice_id: int, now: datetime | None = None) -> None:
        self.db.execute("UPDATE notices SET sent_at = ? WHERE id = ?", [iso(now or self.clock()), notice_id])

    # ------------------------------------------------------------------ watches backfill (issue 4)
    def iter_articles(self, *, since: str | None = None, batch: int = 500) -> Iterator[dict]:
        """Stored articles, oldest id first, in batches (a large archive is never loaded whole).
        ``since``: only articles published (or, lacking a date, fetched) on or after this ISO date."""
        last = 0
        while True:
            rows = list(self.db.query(
                """SELECT id, source_id, title, text, language FROM articles
                   WHERE id > ? AND (? IS NULL OR coalesce(published_at, fetched_at) >= ?)
                   ORDER BY id LIMIT ?""", [last, since, since, batch]))
            if not rows:
                return
            yield from rows
            last = rows[-1]["id"]

    def matched_article_ids(self, watch_id: str) -> set[int]:
        """Articles that already have a match for this watch."""
        return {r[0] for r in self.db.execute("SELECT DISTINCT article_id FROM matches WHERE watch_id = ?",
                                              [watch_id])}

    # ------------------------------------------------------------------ operations (issue 8): daemon state,
    # cycle records, status, export, prune
    def daemon_started(self, pid: int, host: str, tick: float, now: datetime | None = None) -> None:
        now = iso(now or self.clock())
        self.db.execute(
            """INSERT INTO daemon (id, pid, host, started_at, heartbeat_at, stopped_at, tick)
               VALUES (1, ?, ?, ?, ?, NULL, ?) ON CONFLICT(id) DO UPDATE SET pid=excluded.pid, host=excluded.host,
               started_at=excluded.started_at, heartbeat_at=excluded.heartbeat_at, stopped_at=NULL,
               tick=excluded.tick""", [pid, host, now, now, tick])

    def daemon_heartbeat(self, tick: float | None = None, now: datetime | None = None) -> None:
        """A write, on purpose: the health check uses it to prove the database is writable."""
        try:
            self.db.execute("UPDATE daemon SET heartbeat_at = ?, tick = coalesce(?, tick) WHERE id = 1",
                            [iso(now or self.clock()), tick])
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path} is not writable: {exc}") from None

    def daemon_stopped(self, now: datetime | None = None) -> None:
        self.db.execute("UPDATE daemon SET stopped_at = ? WHERE id = 1", [iso(now or self.clock())])

    def daemon_state(self) -> dict | None:
        rows = list(self.db.query("SELECT pid, host, started_at, heartbeat_at, stopped_at, tick FROM daemon"))
        return rows[0] if rows else None

    def record_cycle(self, *, started_at: datetime, finished_at: datetime, summary: dict,
                     error_kinds: dict[str, int], poll_seconds: list[float], extract_seconds: list[float]) -> int:
        keys = ("sources_polled", "feeds_polled", "feeds_unchanged", "new_articles", "duplicates", "summary_only",
                "matches", "alerts_queued", "alerts_sent", "alerts_failed")
        values = [summary[k] for k in keys]
        cur = self.db.execute(
            f"""INSERT INTO cycles (started_at, finished_at, seconds, {", ".join(keys)}, errors, error_kinds,
                poll_seconds, extract_seconds) VALUES ({", ".join("?" * (len(keys) + 7))})""",
            [iso(started_at), iso(finished_at), round((finished_at - started_at).total_seconds(), 3), *values,
             len(summary["errors"]), json.dumps(error_kinds), json.dumps([round(x, 4) for x in poll_seconds]),
             json.dumps([round(x, 4) for x in extract_seconds])])
        return cur.lastrowid

    def cycles_after(self, cycle_id: int, limit: int = 1000) -> list[dict]:
        rows = list(self.db.query("SELECT * FROM cycles WHERE id > ? ORDER BY id LIMIT ?", [cycle_id, limit]))
        for r in rows:
            for key in ("error_kinds", "poll_seconds", "extract_seconds"):
                r[key] = json.loads(r[key])
        return rows

    def trim_cycles(self, keep_days: float = 30, now: datetime | None = None) -> int:
        """Cycle records are for metrics and status, not an archive: a month is plenty."""
        cutoff = iso((now or self.clock()) - timedelta(days=keep_days))
        return self.db.execute("DELETE FROM cycles WHERE finished_at < ?", [cutoff]).rowcount

    def last_cycle_id(self) -> int:
        return self.db.execute("SELECT coalesce(max(id), 0) FROM cycles").fetchone()[0]

    def source_status(self, now: datetime | None = None) -> list[dict]:
        """One row per enabled source: feed health folded together, articles stored in 24 h and 7 days."""
        now = now or self.clock()
        day, week = iso(now - timedelta(days=1)), iso(now - timedelta(days=7))
        return list(self.db.query(
            """SELECT s.id AS source_id, s.name, s.country, count(f.id) AS feeds,
                      max(f.last_success_at) AS last_success_at, max(f.last_polled_at) AS last_polled_at,
                      max(f.consecutive_errors) AS consecutive_errors, min(f.next_check_at) AS next_check_at,
                      (SELECT f2.last_error_kind FROM feeds f2 WHERE f2.source_id = s.id AND f2.consecutive_errors > 0
                       ORDER BY f2.consecutive_errors DESC, f2.last_error_at DESC LIMIT 1) AS last_error_kind,
                      (SELECT f2.last_error FROM feeds f2 WHERE f2.source_id = s.id AND f2.consecutive_errors > 0
                       ORDER BY f2.consecutive_errors DESC, f2.last_error_at DESC LIMIT 1) AS last_error,
                      (SELECT max(f2.last_error_at) FROM feeds f2 WHERE f2.source_id = s.id) AS last_error_at,
                      (SELECT count(*) FROM articles a WHERE a.source_id = s.id AND a.fetched_at >= ?) AS articles_24h,
                      (SELECT count(*) FROM articles a WHERE a.source_id = s.id AND a.fetched_at >= ?) AS articles_7d
               FROM sources s LEFT JOIN feeds f ON f.source_id = s.id
               WHERE s.enabled = 1 GROUP BY s.id ORDER BY s.id""", [day, week]))

    def archive_state(self) -> dict:
        """What /metrics reports as gauges: outbox by state, failing sources, articles."""
        failing = self.db.execute(
            """SELECT count(DISTINCT f.source_id) FROM feeds f JOIN sources s ON s.id = f.source_id
               WHERE s.enabled = 1 AND f.consecutive_errors > 0""").fetchone()[0]
        return {"outbox": self.outbox_counts(), "failing_sources": failing, "articles": self.count("articles")}

    def last_cycle(self) -> dict | None:
        rows = self.cycles_after(self.last_cycle_id() - 1, limit=1)
        return rows[0] if rows else None

    def export_rows(self, since: datetime, watch_id: str | None = None) -> Iterator[dict]:
        """Articles stored since ``since`` (oldest first), with their outlet and the watches they matched."""
        where, params = "a.fetched_at >= ?", [iso(since)]
        if watch_id:
            where += " AND EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.watch_id = ?)"
            params.append(watch_id)
        for row in self.db.query(
                f"""SELECT a.id, a.source_id, coalesce(s.name, a.source_id) AS outlet, s.country, a.url,
                           a.canonical_url, a.title, a.author, a.published_at, a.fetched_at, a.language,
                           a.summary_only, a.text_pruned_at, a.text,
                           (SELECT json_group_array(json_object('watch', m.watch_id, 'keyword', m.keyword,
                                   'form', m.form, 'snippet', m.snippet))
                            FROM matches m WHERE m.article_id = a.id) AS matches
                    FROM articles a LEFT JOIN sources s ON s.id = a.source_id
                    WHERE {where} ORDER BY a.fetched_at, a.id""", params):
            row["matches"] = json.loads(row["matches"])
            yield row

    def prunable(self, before: datetime) -> dict:
        """Articles stored before ``before`` whose text is still there and whose alerts are all settled."""
        row = self.db.execute(
            f"""SELECT count(*), coalesce(sum(length(CAST(text AS BLOB))), 0), min(fetched_at), max(fetched_at)
                FROM articles a WHERE {self._PRUNABLE}""", [iso(before)]).fetchone()
        return {"articles": row[0], "text_bytes": row[1], "oldest": row[2], "newest": row[3]}

    # Pending alerts still need their article's excerpt, so their text stays until they are settled.
    _PRUNABLE = """a.fetched_at < ? AND a.text_pruned_at IS NULL AND a.text IS NOT NULL AND a.text != ''
                   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.article_id = a.id
                                   AND o.state IN ('pending', 'sending'))"""

    def prune_text(self, before: datetime, now: datetime | None = None, *,
                   search_terms: Callable[[str | None], str] | None = None, search_version: int = 0) -> dict:
        """Drop the text of old articles (the FTS triggers keep the index in step: titles stay searchable),
        keep every other column, sightings and matches, drop cycle records as old, then reclaim space.
        ``search_terms`` (search.terms) re-files the pruned articles in the normalised search index
        under their titles only; without it their entries are marked stale for search.catch_up."""
        report = self.prunable(before)
        size_before = self.file_bytes()
        with self.db.atomic():
            ids = [r[0] for r in self.db.execute(f"SELECT a.id FROM articles a WHERE {self._PRUNABLE}",
                                                 [iso(before)]).fetchall()]
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                self._unindex_text(chunk, search_terms, search_version)
                self.db.execute(f"UPDATE articles SET text = NULL, text_pruned_at = ? WHERE id IN "
                                f"({', '.join('?' * len(chunk))})", [iso(now or self.clock()), *chunk])
            report["cycles"] = self.db.execute("DELETE FROM cycles WHERE finished_at < ?", [iso(before)]).rowcount
        self.db.execute("INSERT INTO articles_fts(articles_fts) VALUES ('optimize')")
        self.db.execute("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.execute("VACUUM")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        report["bytes_before"], report["bytes_after"] = size_before, self.file_bytes()
        return report

    def file_bytes(self) -> int:
        """Database file plus its WAL: what the archive takes on disk."""
        total = 0
        for suffix in ("", "-wal"):
            p = Path(str(self.path) + suffix)
            total += p.stat().st_size if p.exists() else 0
        return total

    # ------------------------------------------------------------------ feed health (hostile web)
    def set_effective_url(self, url: str, effective_url: str | None) -> None:
        """Where the feed configured as ``url`` is fetched from after a permanent redirect (None: as
        configured). The config keeps what the user wrote; only this column follows the move."""
        self.db.execute("UPDATE feeds SET effective_url = ? WHERE url = ?", [effective_url, url])

    def source_health(self, source_id: str, *, down_after: int, now: datetime | None = None) -> str | None:
        """Compare the source's feeds with what the operator was told; queue one notice on a change.

        A source is down when one of its feeds (not taken out by 410 Gone) has failed
        ``down_after`` polls in a row, and recovered when all of them answer again. Returns
        "source_down", "source_recovered" or None; each state change gives exactly one notice."""
        now = now or self.clock()
        row = self.db.execute("SELECT down_since FROM sources WHERE id = ?", [source_id]).fetchone()
        if row is None:
            return None
        down_since = row[0]
        failing = list(self.db.query(
            """SELECT url, consecutive_errors, failing_since, last_error_kind, last_error, next_check_at FROM feeds
               WHERE source_id = ? AND gone_at IS NULL AND consecutive_errors >= ? ORDER BY url""",
            [source_id, down_after]))
        if failing and down_since is None:
            with self.db.atomic():
                self.db.execute("UPDATE sources SET down_since = ? WHERE id = ?",
                                [failing[0]["failing_since"] or iso(now), source_id])
                lines = [f"{f['url']}: {f['consecutive_errors']} failed polls in a row since {f['failing_since']}, "
                         f"last error {f['last_error_kind']}: {(f['last_error'] or '')[:300]}; "
                         f"next try {f['next_check_at']}" for f in failing]
                self.add_notice("source_down", f"source {source_id} is down: " + "; ".join(lines),
                                source_id=source_id, now=now)
            return "source_down"
        still_failing = self.db.execute(
            "SELECT count(*) FROM feeds WHERE source_id = ? AND gone_at IS NULL AND consecutive_errors > 0",
            [source_id]).fetchone()[0]
        if down_since is not None and not still_failing:
            with self.db.atomic():
                self.db.execute("UPDATE sources SET down_since = NULL WHERE id = ?", [source_id])
                self.add_notice("source_recovered", f"source {source_id} has recovered: all its feeds answer "
                                f"again (down since {down_since})", source_id=source_id, now=now)
            return "source_recovered"
        return None

    def sighting_urls(self, source_id: str, entry_key: str) -> list[str]:
        """The URLs under which this entry of this source was seen (to spot a GUID given to two stories)."""
        return [r[0] for r in self.db.execute(
            "SELECT url FROM sightings WHERE source_id = ? AND entry_key = ?", [source_id, entry_key])]

    def notices(self, kind: str | None = None) -> list[dict]:
        if kind is None:
            return list(self.db.query("SELECT * FROM notices ORDER BY id"))
        return list(self.db.query("SELECT * FROM notices WHERE kind = ? ORDER BY id", [kind]))

    # ------------------------------------------------------------------ sitemaps, listing pages, source overview
    def last_entries(self, url: str) -> int | None:
        """How many entries this sitemap or listing page yielded at its last successful poll."""
        row = self.db.execute("SELECT last_entries FROM feeds WHERE url = ?", [url]).fetchone()
        return row[0] if row else None

    def set_last_entries(self, url: str, count: int) -> None:
        self.db.execute("UPDATE feeds SET last_entries = ? WHERE url = ?", [count, url])

    def source_overview(self, now: datetime | None = None) -> dict[str, dict]:
        """Per source id: endpoints, last success, failing endpoints, worst error, articles of the last day."""
        since = iso((now or self.clock()) - timedelta(days=1))
        out: dict[str, dict] = {}
        for row in self.db.query(
                """SELECT source_id, count(*) AS endpoints, max(last_success_at) AS last_success,
                   sum(consecutive_errors > 0) AS failing, max(consecutive_errors) AS errors
                   FROM feeds GROUP BY source_id"""):
            out[row["source_id"]] = {**row, "last_error": None, "articles_24h": 0}
        for row in self.db.query(
                """SELECT source_id, last_error_kind || ': ' || last_error AS error FROM feeds
                   WHERE consecutive_errors > 0 ORDER BY consecutive_errors"""):
            out[row["source_id"]]["last_error"] = row["error"]
        for row in self.db.query("SELECT source_id, count(*) AS n FROM articles WHERE fetched_at >= ? "
                                 "GROUP BY source_id", [since]):
            out.setdefault(row["source_id"], {"endpoints": 0, "last_success": None, "failing": 0, "errors": 0,
                                              "last_error": None})["articles_24h"] = row["n"]
        return out

    # ------------------------------------------------------------------ stories, near-duplicates and edits
    # (issue 5) Band keys come from crawler/neardup.py; the pipeline decides, these methods only
    # read and write.
    def own_entry(self, source_id: str, entry_key: str, canonical_url: str) -> dict | None:
        """The sighting through which this source stored this entry before (same entry key, else the
        same canonical URL on this source), with the article it led to; None for a new entry."""
        sql = """SELECT si.id AS sighting_id, si.fingerprint, si.url AS sighting_url, a.id AS article_id,
                        a.source_id, a.canonical_url, a.title, a.text, a.content_hash, a.summary_only, a.story_id,
                        a.encoding_suspect
                 FROM sightings si JOIN articles a ON a.id = si.article_id
                 WHERE si.source_id = ? AND {} ORDER BY si.id LIMIT 1"""
        rows = list(self.db.query(sql.format("si.entry_key = ?"), [source_id, entry_key]))
        if not rows:
            rows = list(self.db.query(sql.format("si.canonical_url = ?"), [source_id, canonical_url]))
        return rows[0] if rows else None

    def _own_sighting(self, source_id: str, entry_key: str, canonical_url: str | None):
        """(id, fingerprint, raw_fingerprint) of the sighting through which this source stored this
        entry (same key, else same canonical URL), or None."""
        row = self.db.execute(
            "SELECT id, fingerprint, raw_fingerprint FROM sightings WHERE source_id = ? AND entry_key = ? "
            "ORDER BY id LIMIT 1", [source_id, entry_key]).fetchone()
        if row is None and canonical_url:
            row = self.db.execute(
                "SELECT id, fingerprint, raw_fingerprint FROM sightings WHERE source_id = ? AND canonical_url = ? "
                "ORDER BY id LIMIT 1", [source_id, canonical_url]).fetchone()
        return row

    def entry_changed(self, source_id: str, entry_key: str, canonical_url: str | None, fingerprint: str,
                      raw_fingerprint: str | None = None) -> bool:
        """Does the feed describe a stored entry of this source differently than when it was stored?
        A sighting from before fingerprints were kept gets this one and counts as unchanged.

        When it is unchanged, ``raw_fingerprint`` is kept as the item's raw form from now on (so the
        next poll skips converting it); when it changed, both fingerprints stay as they were until the
        edit is stored (``set_fingerprint``), so a cycle cut short notices the edit again."""
        row = self._own_sighting(source_id, entry_key, canonical_url)
        if row is None:
            return False
        if row[1] is None:
            self.set_fingerprint(row[0], fingerprint, raw_fingerprint)
            return False
        if row[1] != fingerprint:
            return True
        if row[2] != raw_fingerprint:
            self.db.execute("UPDATE sightings SET raw_fingerprint = ? WHERE id = ?", [raw_fingerprint, row[0]])
        return False

    def entry_raw_unchanged(self, source_id: str, entry_key: str, canonical_url: str | None,
                            raw_fingerprint: str) -> bool:
        """Was this entry of this source last stored or checked from exactly this raw feed item?"""
        row = self._own_sighting(source_id, entry_key, canonical_url)
        return row is not None and row[2] == raw_fingerprint

    def entry_key_taken(self, source_id: str, entry_key: str, canonical_url: str) -> bool:
        """Is ``entry_key`` (a GUID) already used by this source for another URL? Feeds that repeat
        one GUID for every item, or for the homepage, must not hide their other entries."""
        row = self.db.execute(
            "SELECT 1 FROM sightings WHERE source_id = ? AND entry_key = ? AND canonical_url != ? LIMIT 1",
            [source_id, entry_key, canonical_url]).fetchone()
        return row is not None

    def set_fingerprint(self, sighting_id: int, fingerprint: str | None, raw_fingerprint: str | None = None) -> None:
        self.db.execute("UPDATE sightings SET fingerprint = ?, raw_fingerprint = ? WHERE id = ?",
                        [fingerprint, raw_fingerprint, sighting_id])

    def revise_article(self, article_id: int, article: Article, now: datetime | None = None) -> None:
        """The article's own page changed: keep the new text (search index follows) and count it."""
        self.db.execute(
            """UPDATE articles SET title = ?, author = coalesce(?, author), text = ?, content_hash = ?,
               language = coalesce(?, language), summary_only = ?, revisions = revisions + 1, revised_at = ?
               WHERE id = ?""",
            [article.title, article.author, article.text, article.content_hash, article.language,
             int(article.summary_only), iso(now or self.clock()), article_id])

    def near_candidates(self, bands: Iterable[tuple[int, int]], limit: int = 20) -> list[dict]:
        """Stored articles sharing at least one LSH band key with ``bands``, most shared first.
        One primary-key probe per band: the cost does not grow with the archive."""
        bands = list(bands)
        if not bands:
            return []
        values = ", ".join("(?, ?)" for _ in bands)
        ids = self.db.execute(
            f"""WITH q(band_no, band_hash) AS (VALUES {values})
                SELECT b.article_id, count(*) AS shared FROM q
                JOIN story_bands b ON b.band_no = q.band_no AND b.band_hash = q.band_hash
                GROUP BY b.article_id ORDER BY shared DESC, b.article_id LIMIT ?""",
            [v for band in bands for v in band] + [limit]).fetchall()
        out = []
        for article_id, shared in ids:
            row = self.db.execute("SELECT story_id, text FROM articles WHERE id = ?", [article_id]).fetchone()
            if row is not None:
                out.append({"article_id": article_id, "story_id": row[0], "text": row[1] or "", "shared": shared})
        return out

    def add_bands(self, article_id: int, bands: Iterable[tuple[int, int]]) -> None:
        self.db.conn.executemany("INSERT OR IGNORE INTO story_bands (band_no, band_hash, article_id) VALUES (?, ?, ?)",
                            [(b, h, article_id) for b, h in bands])

    def drop_bands(self, article_id: int, bands: Iterable[tuple[int, int]]) -> None:
        self.db.conn.executemany("DELETE FROM story_bands WHERE band_no = ? AND band_hash = ? AND article_id = ?",
                            [(b, h, article_id) for b, h in bands])

    def bulk_add_bands(self, rows: Iterable[tuple[int, int, int]]) -> None:
        """(band_no, band_hash, article_id) rows in one statement stream (benchmarks, re-indexing)."""
        self.db.conn.executemany("INSERT OR IGNORE INTO story_bands (band_no, band_hash, article_id) VALUES (?, ?, ?)",
                            rows)

    def new_story(self, article_id: int, source_id: str, seen_at: str) -> int:
        cur = self.db.execute(
            """INSERT INTO stories (first_article_id, first_source_id, first_seen_at, last_seen_at, size)
               VALUES (?, ?, ?, ?, 1)""", [article_id, source_id, seen_at, seen_at])
        story_id = cur.lastrowid
        self.db.execute("UPDATE articles SET story_id = ? WHERE id = ?", [story_id, article_id])
        return story_id

    def join_story(self, article_id: int, story_id: int, seen_at: str) -> None:
        self.db.execute("UPDATE articles SET story_id = ? WHERE id = ?", [story_id, article_id])
        self.db.execute("UPDATE stories SET size = size + 1, last_seen_at = max(last_seen_at, ?) WHERE id = ?",
                        [seen_at, story_id])

    def story_watches(self, story_id: int | None, article_id: int) -> set[str]:
        """Watches that matched an article of this story already (or this article, when it has none)."""
        if story_id is None:
            rows = self.db.execute("SELECT DISTINCT watch_id FROM matches WHERE article_id = ?", [article_id])
        else:
            rows = self.db.execute(
                """SELECT DISTINCT m.watch_id FROM matches m JOIN articles a ON a.id = m.article_id
                   WHERE a.story_id = ?""", [story_id])
        return {r[0] for r in rows}

    def stories(self, since: datetime, *, watch_id: str | None = None, min_size: int = 1,
                limit: int = 50) -> list[dict]:
        """Stories with a copy seen since ``since``, newest first, each with its copies in the order
        they were seen (the first one first)."""
        where, params = ["s.last_seen_at >= ?", "s.size >= ?"], [iso(since), min_size]
        if watch_id:
            where.append("""EXISTS (SELECT 1 FROM matches m JOIN articles ma ON ma.id = m.article_id
                                    WHERE ma.story_id = s.id AND m.watch_id = ?)""")
            params.append(watch_id)
        rows = list(self.db.query(
            f"""SELECT s.id, s.first_seen_at, s.last_seen_at, s.size, s.first_source_id, s.first_article_id,
                       a.title, a.url, a.published_at
                FROM stories s JOIN articles a ON a.id = s.first_article_id
                WHERE {' AND '.join(where)} ORDER BY s.first_seen_at DESC, s.id DESC LIMIT ?""",
            params + [limit]))
        for story in rows:
            story["copies"] = list(self.db.query(
                """SELECT si.source_id, coalesce(src.name, si.source_id) AS source_name, si.url, si.seen_at,
                          si.article_id, a.title, a.published_at, a.revisions
                   FROM sightings si JOIN articles a ON a.id = si.article_id
                   LEFT JOIN sources src ON src.id = si.source_id
                   WHERE a.story_id = ? ORDER BY si.seen_at, si.id""", [story["id"]]))
            story["outlets"] = list(dict.fromkeys(c["source_id"] for c in story["copies"]))
        return rows

    def bulk_load_archive(self, articles: Iterable[Article], bands: Iterable[tuple[int, int, int]] = ()) -> int:
        """Fast path for benchmarks and imports: append articles, one story each (story id = article id)
        and (band_no, band_hash, article_id) rows, without the per-article duplicate checks. Returns the
        number of articles loaded. Meant for an archive whose ids start after the last stored one."""
        start = self.db.execute("SELECT coalesce(max(id), 0) + 1 FROM articles").fetchone()[0]
        if self.db.execute("SELECT 1 FROM stories WHERE id >= ? LIMIT 1", [start]).fetchone():
            raise StoreError("bulk load needs story ids free after the last article id")
        n = 0

        def rows():
            nonlocal n
            for n, a in enumerate(articles, start=1):
                yield (start + n - 1, a.source_id, a.feed_url, a.url, a.canonical_url, a.guid, a.entry_key,
                       a.title, a.author, a.published_at, a.fetched_at, a.language, a.text, int(a.summary_only),
                       a.content_hash, start + n - 1)

        cache = self.db.execute("PRAGMA cache_size").fetchone()[0]
        self.db.execute("PRAGMA cache_size = -262144")  # 256 MB while loading
        try:
            with self.db.atomic():
                # articles point at their stories and stories at their articles: check both at commit
                self.db.execute("PRAGMA defer_foreign_keys = ON")
                self.db.conn.executemany(
                    """INSERT INTO articles (id, source_id, feed_url, url, canonical_url, guid, entry_key, title,
                       author, published_at, fetched_at, language, text, summary_only, content_hash, story_id)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""", rows())
                self.db.execute(
                    """INSERT INTO stories (id, first_article_id, first_source_id, first_seen_at, last_seen_at, size)
                       SELECT id, id, source_id, fetched_at, fetched_at, 1 FROM articles WHERE id >= ?""", [start])
                self.bulk_add_bands(bands)
            # move the bulk write out of the WAL now rather than in the next small transaction's commit
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self.db.execute(f"PRAGMA cache_size = {int(cache)}")
        return n

    # ------------------------------------------------------------------ delivery bookkeeping (issue 6)
    # Outbox rows and digests go through the same states: pending -> sending -> sent | pending
    # (retry) | failed (dead letter). Each send is logged in alert_attempts.
    _DELIVERABLE = ("outbox", "digests")

    def _table(self, table: str) -> str:
        if table not in self._DELIVERABLE:
            raise StoreError(f"unknown delivery table {table!r}")
        return table

    def claim_due(self, table: str, now: datetime | None = None, limit: int = 100,
                  stale_after: float = 600) -> list[str]:
        """Claim due rows of ``table`` for this process; return their ids, oldest first."""
        table = self._table(table)
        now = now or self.clock()
        stale = iso(now - timedelta(seconds=stale_after))
        with self.db.atomic():
            rows = self.db.execute(
                f"""SELECT id, state, claimed_at, claimed_by FROM {table}
                    WHERE (state = 'pending' AND next_attempt_at <= ?) OR state = 'sending'
                    ORDER BY created_at, id""", [iso(now)]).fetchall()
            ids = [r[0] for r in rows
                   if r[1] == "pending" or (r[2] or "") <= stale or not _alive(r[3])][:limit]
            for item_id in ids:
                self.db.execute(f"UPDATE {table} SET state = 'sending', claimed_at = ?, claimed_by = ? WHERE id = ?",
                                [iso(now), os.getpid(), item_id])
        return ids

    def delivery(self, table: str, item_id: str) -> dict | None:
        rows = list(self.db.query(f"SELECT * FROM {self._table(table)} WHERE id = ?", [item_id]))
        return rows[0] if rows else None

    def start_attempt(self, item_id: str, channel: str, attempt: int, now: datetime | None = None) -> int:
        """Log a send before it starts (committed), so a crash mid-send leaves a trace."""
        cur = self.db.execute(
            "INSERT INTO alert_attempts (alert_id, channel, attempt, started_at) VALUES (?, ?, ?, ?)",
            [item_id, channel, attempt, iso(now or self.clock())])
        return cur.lastrowid

    def finish_attempt(self, table: str, item_id: str, attempt_id: int | None, *, outcome: str,
                       error: str | None = None, retry_at: datetime | None = None,
                       now: datetime | None = None) -> None:
        """Close an attempt and move the row on, in one transaction. ``outcome``: sent, retry,
        failed (dead letter) or skipped (failed without a send, e.g. a disabled channel)."""
        table = self._table(table)
        now = now or self.clock()
        error = error[:2000] if error else None
        counted = 1 if attempt_id is not None else 0
        with self.db.atomic():
            if attempt_id is not None:
                self.db.execute("UPDATE alert_attempts SET finished_at = ?, outcome = ?, error = ? WHERE id = ?",
                                [iso(now), outcome, error, attempt_id])
            if outcome == "sent":
                self.db.execute(f"UPDATE {table} SET state = 'sent', sent_at = ?, attempts = attempts + 1, "
                                "last_error = NULL, claimed_by = NULL WHERE id = ?", [iso(now), item_id])
            elif outcome == "retry":
                self.db.execute(f"UPDATE {table} SET state = 'pending', attempts = attempts + ?, last_error = ?, "
                                "next_attempt_at = ?, claimed_by = NULL WHERE id = ?",
                                [counted, error, iso(retry_at or now), item_id])
            else:
                self.db.execute(f"UPDATE {table} SET state = 'failed', attempts = attempts + ?, last_error = ?, "
                                "claimed_by = NULL WHERE id = ?", [counted, error, item_id])

    def attempts_log(self, item_id: str | None = None) -> list[dict]:
        if item_id is None:
            return list(self.db.query("SELECT * FROM alert_attempts ORDER BY id"))
        return list(self.db.query("SELECT * FROM alert_attempts WHERE alert_id = ? ORDER BY id", [item_id]))

    # channels disabled by 410 Gone
    def channel_disabled(self, channel: str, fingerprint: str) -> str | None:
        """Why ``channel`` is disabled, or None. A channel edited since it was disabled is enabled."""
        row = self.db.execute("SELECT reason, fingerprint, disabled_at FROM channel_state WHERE channel = ?",
                              [channel]).fetchone()
        if row is None or row[1] != fingerprint:
            return None
        return f"disabled since {row[2]}: {row[0]}"

    def disable_channel(self, channel: str, fingerprint: str, reason: str, now: datetime | None = None) -> None:
        self.db.execute(
            """INSERT INTO channel_state (channel, disabled_at, fingerprint, reason) VALUES (?, ?, ?, ?)
               ON CONFLICT(channel) DO UPDATE SET disabled_at = excluded.disabled_at,
               fingerprint = excluded.fingerprint, reason = excluded.reason""",
            [channel, iso(now or self.clock()), fingerprint, reason[:2000]])

    def enable_channel(self, channel: str) -> bool:
        return bool(self.db.execute("DELETE FROM channel_state WHERE channel = ?", [channel]).rowcount)

    def disabled_channels(self) -> list[dict]:
        return list(self.db.query("SELECT * FROM channel_state ORDER BY channel"))

    # digests
    def close_digests(self, now: datetime | None = None) -> list[str]:
        """Gather held rows whose period has ended (storm rows at once) into digests, one per
        channel and period (storms: per channel and source). Returns the new digest ids."""
        now = now or self.clock()
        created = []
        with self.db.atomic():
            rows = self.db.execute(
                """SELECT o.rowid, o.id, o.channel, o.digest, o.next_attempt_at, a.source_id, o.article_id
                   FROM outbox o JOIN articles a ON a.id = o.article_id
                   WHERE o.state = 'held' AND o.next_attempt_at <= ? ORDER BY o.article_id, o.id""",
                [iso(now)]).fetchall()
            groups: dict[tuple, list] = {}
            for row in rows:
                kind = row[3] or "hourly"
                key = (row[2], kind, row[5] if kind == "storm" else row[4])
                groups.setdefault(key, []).append(row)
            for (channel, kind, _), members in groups.items():
                # Named after its first row: unique, since a row joins one digest only.
                digest_id = f"nw-{kind}-{members[0][6]}-{channel}"
                self.db.execute(
                    """INSERT INTO digests (id, channel, kind, items, created_at, next_attempt_at)
                       VALUES (?, ?, ?, ?, ?, ?)""", [digest_id, channel, kind, len(members), iso(now), iso(now)])
                for m in members:
                    self.db.execute("UPDATE outbox SET state = 'digested', digest_id = ? WHERE id = ?",
                                    [digest_id, m[1]])
                created.append(digest_id)
        return created

    def digest_alerts(self, digest_id: str) -> list[Alert]:
        ids = [r[0] for r in self.db.execute(
            "SELECT id FROM outbox WHERE digest_id = ? ORDER BY article_id, id", [digest_id])]
        return [self._alert(i) for i in ids]

    # listing and retrying (newswatch alerts ...)
    def list_deliveries(self, states: Iterable[str] | None = None, limit: int = 100) -> list[dict]:
        """Outbox rows and digests, newest first, with the article title for rows."""
        where, params = "", []
        if states:
            states = list(states)
            where = f"WHERE state IN ({', '.join('?' * len(states))})"
            params = states
        return list(self.db.query(
            f"""SELECT * FROM (
                  SELECT o.id, o.state, o.channel, o.attempts, o.created_at, o.next_attempt_at, o.sent_at,
                         o.last_error, o.digest, o.digest_id, a.title AS title
                  FROM outbox o JOIN articles a ON a.id = o.article_id
                  UNION ALL
                  SELECT d.id, d.state, d.channel, d.attempts, d.created_at, d.next_attempt_at, d.sent_at,
                         d.last_error, d.kind, NULL, d.items || ' alerts' FROM digests d)
                {where} ORDER BY created_at DESC, id DESC LIMIT ?""", [*params, limit]))

    def retry(self, ids: Iterable[str] = (), *, all_failed: bool = False, now: datetime | None = None) -> list[str]:
        """Queue failed rows (these ids, or every failed one) again, with a fresh max age and the
        same ids. Returns the ids queued; their channels are enabled again."""
        now = now or self.clock()
        done = []
        with self.db.atomic():
            for table in self._DELIVERABLE:
                if all_failed:
                    found = [r[0] for r in self.db.execute(f"SELECT id FROM {table} WHERE state = 'failed'")]
                else:
                    found = [i for i in ids if self.db.execute(
                        f"SELECT 1 FROM {table} WHERE id = ? AND state IN ('failed', 'pending')", [i]).fetchone()]
                for item_id in found:
                    channel = self.db.execute(f"SELECT channel FROM {table} WHERE id = ?", [item_id]).fetchone()[0]
                    self.enable_channel(channel)
                    self.db.execute(
                        f"""UPDATE {table} SET state = 'pending', next_attempt_at = ?, age_from = ?, claimed_by = NULL
                            WHERE id = ?""", [iso(now), iso(now), item_id])
                    done.append(item_id)
        return done

    # storm guard: the usual number of new items per poll of a feed
    def new_items_usual(self, feed_url: str) -> tuple[float | None, int]:
        row = self.db.execute("SELECT new_items_avg, new_items_polls FROM feeds WHERE url = ?", [feed_url]).fetchone()
        return (row[0], row[1]) if row else (None, 0)

    def record_new_items(self, feed_url: str, count: int, weight: float = 0.2) -> None:
        """Fold one ordinary poll's new-item count into the feed's moving average."""
        self.db.execute(
            """UPDATE feeds SET new_items_avg = CASE WHEN new_items_avg IS NULL THEN ? ELSE
               new_items_avg * (1 - ?) + ? * ? END, new_items_polls = new_items_polls + 1 WHERE url = ?""",
            [float(count), weight, weight, float(count), feed_url])
