"""SQLite storage: the only module that speaks SQL.

WAL journal, a busy timeout, and a schema created and upgraded by numbered migrations
(``PRAGMA user_version`` holds the last one applied). Storage returns only what is new: ``add_article``
gives back the id of a new article or None when it was already stored, and only new articles are
matched and alerted on. The article, its matches and its outbox rows commit in one transaction
(``with store.transaction():``), so an alert is never lost between storing and sending.
"""

from __future__ import annotations

import json
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
    return datetime.now(UTC).replace(microsecond=0)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
]


@dataclass(frozen=True)
class FeedState:
    url: str
    source_id: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    consecutive_errors: int


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
                for url in s.feeds:
                    self.db.execute(
                        """INSERT INTO feeds (source_id, url, next_check_at) VALUES (?, ?, ?)
                           ON CONFLICT(url) DO UPDATE SET source_id=excluded.source_id""",
                        [s.id, url, iso(now)])
            marks = ",".join("?" * len(ids))
            self.db.execute(f"UPDATE sources SET enabled = 0 WHERE id NOT IN ({marks})", ids)

    def due_sources(self, now: datetime | None = None) -> list[str]:
        now = now or self.clock()
        rows = self.db.execute(
            """SELECT DISTINCT s.id FROM sources s JOIN feeds f ON f.source_id = s.id
               WHERE s.enabled = 1 AND (f.next_check_at IS NULL OR f.next_check_at <= ?) ORDER BY s.id""",
            [iso(now)]).fetchall()
        return [r[0] for r in rows]

    def feed_state(self, url: str) -> FeedState | None:
        row = self.db.execute(
            "SELECT url, source_id, etag, last_modified, body_hash, consecutive_errors FROM feeds WHERE url = ?",
            [url]).fetchone()
        return FeedState(*row) if row else None

    def _interval(self, feed_url: str) -> float:
        row = self.db.execute(
            "SELECT s.interval FROM feeds f JOIN sources s ON s.id = f.source_id WHERE f.url = ?",
            [feed_url]).fetchone()
        return row[0] if row else 900.0

    def record_feed_success(self, url: str, *, status: int, etag: str | None, last_modified: str | None,
                            body_hash: str | None, now: datetime | None = None) -> None:
        """The feed was fetched and every entry in it handled: keep its validators for the next poll."""
        now = now or self.clock()
        next_check = now + timedelta(seconds=self._interval(url))
        self.db.execute(
            """UPDATE feeds SET etag = ?, last_modified = ?, body_hash = ?, last_status = ?,
               last_polled_at = ?, last_success_at = ?, consecutive_errors = 0, next_check_at = ? WHERE url = ?""",
            [etag, last_modified, body_hash, status, iso(now), iso(now), iso(next_check), url])

    def record_feed_error(self, url: str, *, kind: str, error: str, status: int | None = None,
                          now: datetime | None = None) -> int:
        """Record a failed poll; back off exponentially (capped at one day). Returns the error count."""
        now = now or self.clock()
        row = self.db.execute("SELECT consecutive_errors FROM feeds WHERE url = ?", [url]).fetchone()
        errors = (row[0] if row else 0) + 1
        delay = min(self._interval(url) * (2 ** min(errors - 1, 10)), 86400)
        self.db.execute(
            """UPDATE feeds SET last_status = ?, last_polled_at = ?, last_error = ?, last_error_kind = ?,
               last_error_at = ?, consecutive_errors = ?, next_check_at = ? WHERE url = ?""",
            [status, iso(now), error[:2000], kind, iso(now), errors, iso(now + timedelta(seconds=delay)), url])
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

    def add_article(self, article: Article) -> int | None:
        """Store ``article`` unless it is already stored; return the new id, or None.

        Already stored means: the same entry of the same source, the same canonical URL, or the
        same normalised text (an exact copy under another URL or on another outlet). A copy adds a
        sighting to the article it copies, so every URL and outlet that ran it is kept."""
        if self.seen(article.source_id, article.entry_key):
            return None
        row = self.db.execute("SELECT article_id FROM sightings WHERE canonical_url = ? LIMIT 1",
                              [article.canonical_url]).fetchone()
        if row is None:
            row = self.db.execute("SELECT id FROM articles WHERE content_hash = ? LIMIT 1",
                                  [article.content_hash]).fetchone()
        if row is not None:
            self._sight(row[0], article)
            return None
        record = asdict(article)
        record["summary_only"] = int(article.summary_only)
        cur = self.db.execute(
            f"INSERT INTO articles ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})",
            list(record.values()))
        article_id = cur.lastrowid
        self._sight(article_id, article)
        return article_id

    def _sight(self, article_id: int, article: Article) -> None:
        self.db.execute(
            """INSERT OR IGNORE INTO sightings (article_id, source_id, entry_key, url, canonical_url, seen_at)
               VALUES (?, ?, ?, ?, ?, ?)""",
            [article_id, article.source_id, article.entry_key, article.url, article.canonical_url,
             article.fetched_at])

    def add_matches(self, article_id: int, matches: Iterable[Match], channels_by_watch: dict[str, tuple],
                    watch_names: dict[str, str], now: datetime | None = None) -> list[str]:
        """Record matches and queue one outbox row per (watch, channel). Returns the outbox ids."""
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
                cur = self.db.execute(
                    """INSERT OR IGNORE INTO outbox (id, article_id, watch_id, watch_name, channel, created_at,
                       next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                    [alert_id, article_id, watch_id, watch_names.get(watch_id, watch_id), channel,
                     iso(now), iso(now)])
                if cur.rowcount:
                    queued.append(alert_id)
        return queued

    def article(self, article_id: int) -> dict | None:
        rows = list(self.db.query("SELECT * FROM articles WHERE id = ?", [article_id]))
        return rows[0] if rows else None

    def count(self, table: str) -> int:
        if table not in ("articles", "sightings", "matches", "outbox", "sources", "feeds"):
            raise StoreError(f"unknown table {table!r}")
        return self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def recent_articles(self, limit: int = 20) -> list[dict]:
        return list(self.db.query(
            "SELECT id, source_id, title, url, published_at, language, summary_only, length(text) AS chars "
            "FROM articles ORDER BY id DESC LIMIT ?", [limit]))

    def search(self, query: str, limit: int = 20, *, newest_first: bool = False) -> list[dict]:
        """Articles matching an FTS5 query (id, title, url): best match first (bm25), or with
        ``newest_first`` the most recently stored first. Ranking reads every match -- a common word
        in a million articles takes ~0.5 s -- while newest-first stops after ``limit`` matches and
        costs the same at any archive size (make bench: storage)."""
        if newest_first:
            return list(self.db.query(
                """SELECT a.id, a.title, a.url FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid
                   WHERE articles_fts MATCH ? ORDER BY articles_fts.rowid DESC LIMIT ?""", [query, limit]))
        return list(self.db["articles"].search(query, limit=limit, columns=["id", "title", "url"]))

    # ------------------------------------------------------------------ outbox
    def claim_due_alerts(self, now: datetime | None = None, limit: int = 100,
                         stale_after: float = 600) -> list[Alert]:
        """Claim pending alerts whose time has come. A row claimed by a process that died is
        claimed again after ``stale_after`` seconds and sent with the same id."""
        now = now or self.clock()
        stale = iso(now - timedelta(seconds=stale_after))
        with self.db.atomic():
            rows = self.db.execute(
                """SELECT id FROM outbox WHERE (state = 'pending' AND next_attempt_at <= ?)
                   OR (state = 'sending' AND claimed_at <= ?) ORDER BY created_at, id LIMIT ?""",
                [iso(now), stale, limit]).fetchall()
            ids = [r[0] for r in rows]
            for alert_id in ids:
                self.db.execute("UPDATE outbox SET state = 'sending', claimed_at = ? WHERE id = ?",
                                [iso(now), alert_id])
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
