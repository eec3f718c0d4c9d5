"""SQLite storage: the only module that speaks SQL.

WAL journal, a busy timeout, and a schema created and upgraded by numbered migrations
(``PRAGMA user_version`` holds the last one applied). Storage returns only what is new: ``add_article``
gives back the id of a new article or None when it was already stored, and only new articles are
matched and alerted on. The article, its matches and its outbox rows commit in one transaction
(``with store.transaction():``), so an alert is never lost between storing and sending.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
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


@dataclass(frozen=True)
class FeedState:
    url: str
    source_id: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    consecutive_errors: int


class Store:
    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 10_000):
        self.path = Path(path)
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
        now = now or utcnow()
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
        now = now or utcnow()
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
        now = now or utcnow()
        next_check = now + timedelta(seconds=self._interval(url))
        self.db.execute(
            """UPDATE feeds SET etag = ?, last_modified = ?, body_hash = ?, last_status = ?,
               last_polled_at = ?, last_success_at = ?, consecutive_errors = 0, next_check_at = ? WHERE url = ?""",
            [etag, last_modified, body_hash, status, iso(now), iso(now), iso(next_check), url])

    def record_feed_error(self, url: str, *, kind: str, error: str, status: int | None = None,
                          now: datetime | None = None) -> int:
        """Record a failed poll; back off exponentially (capped at one day). Returns the error count."""
        now = now or utcnow()
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
                    watch_names: dict[str, str], now: datetime | None = None, *,
                    digests: dict[tuple[str, str], str] | None = None, hold: str | None = None) -> list[str]:
        """Record matches and queue one outbox row per (watch, channel). Returns the outbox ids.

        ``digests`` maps (watch, channel) to hourly/daily: such rows are held until their period
        ends. ``hold="storm"`` holds every row for the storm digest."""
        now = now or utcnow()
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
        if table not in ("articles", "sightings", "matches", "outbox", "sources", "feeds"):
            raise StoreError(f"unknown table {table!r}")
        return self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def recent_articles(self, limit: int = 20) -> list[dict]:
        return list(self.db.query(
            "SELECT id, source_id, title, url, published_at, language, summary_only, length(text) AS chars "
            "FROM articles ORDER BY id DESC LIMIT ?", [limit]))

    def search(self, query: str, limit: int = 20) -> list[dict]:
        return list(self.db["articles"].search(query, limit=limit, columns=["id", "title", "url"]))

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
        now = now or utcnow()
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
            [kind, source_id, channel, message, iso(now or utcnow())])
        return cur.lastrowid

    def unsent_notices(self, limit: int = 100) -> list[dict]:
        return list(self.db.query("SELECT * FROM notices WHERE sent_at IS NULL ORDER BY id LIMIT ?", [limit]))

    def mark_notice_sent(self, notice_id: int, now: datetime | None = None) -> None:
        self.db.execute("UPDATE notices SET sent_at = ? WHERE id = ?", [iso(now or utcnow()), notice_id])

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
        now = now or utcnow()
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
            [item_id, channel, attempt, iso(now or utcnow())])
        return cur.lastrowid

    def finish_attempt(self, table: str, item_id: str, attempt_id: int | None, *, outcome: str,
                       error: str | None = None, retry_at: datetime | None = None,
                       now: datetime | None = None) -> None:
        """Close an attempt and move the row on, in one transaction. ``outcome``: sent, retry,
        failed (dead letter) or skipped (failed without a send, e.g. a disabled channel)."""
        table = self._table(table)
        now = now or utcnow()
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
            [channel, iso(now or utcnow()), fingerprint, reason[:2000]])

    def enable_channel(self, channel: str) -> bool:
        return bool(self.db.execute("DELETE FROM channel_state WHERE channel = ?", [channel]).rowcount)

    def disabled_channels(self) -> list[dict]:
        return list(self.db.query("SELECT * FROM channel_state ORDER BY channel"))

    # digests
    def close_digests(self, now: datetime | None = None) -> list[str]:
        """Gather held rows whose period has ended (storm rows at once) into digests, one per
        channel and period (storms: per channel and source). Returns the new digest ids."""
        now = now or utcnow()
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
        now = now or utcnow()
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
