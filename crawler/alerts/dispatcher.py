"""Send what the outbox holds. Runs after a crawl and on every daemon tick.

One pass: held rows whose digest period has ended (and storm-held rows) become digests; due rows
and digests are claimed, sent through their channel and marked sent, retried later or failed (a
dead letter). Every send is logged in ``alert_attempts`` before it starts, so a crash mid-send
leaves a trace and the row is sent again, with the same id, by the next process. A channel's
failure only touches its own rows: crawling and the other channels go on. Last, the operator's
notices (dead letters, a channel disabled, storms, sources down...) go to the operator channels.

Retry rules: a retryable failure waits ``retry_base × 2^(n-1)`` seconds (±20 % jitter, at most
``retry_max_delay``), or what the receiver's Retry-After asked for; an alert is dead-lettered when
the failure is permanent, after ``max_attempts`` sends, or once it is ``max_age`` old. HTTP 410
disables the channel (until its settings change or ``newswatch alerts retry``) and tells the
operator once.
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from .. import alerts
from ..config import Config
from ..errors import AlertError, ChannelGoneError, PermanentAlertError
from ..logs import event
from ..store import Store, parse_iso
from . import render

NOTICES_PER_MESSAGE = 50
BATCH = 50
MAX_BATCHES = 40  # one pass sends at most 2000 alerts; the next tick goes on


@dataclass
class DispatchResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    digests: int = 0
    notices_sent: int = 0
    dead_letters: dict[str, list[str]] = field(default_factory=dict)


def fingerprint(channel) -> str:
    """Identifies a channel's settings: a 410-disabled channel comes back when they change."""
    return hashlib.sha256(repr(channel).encode()).hexdigest()[:16]


def retry_delay(settings_alerts: dict, attempt: int, retry_after: float | None, rng=random) -> float:
    """Seconds before attempt ``attempt + 1``: the receiver's Retry-After when it gave one, else
    exponential backoff with ±20 % jitter; never more than ``retry_max_delay``."""
    cap = settings_alerts["retry_max_delay"]
    if retry_after is not None:
        return min(max(retry_after, 1.0), cap)
    base = settings_alerts["retry_base"] * 2 ** min(attempt - 1, 30)
    return min(base * rng.uniform(0.8, 1.2), cap)


class _Pass:
    def __init__(self, config: Config, store: Store, stop, clock, rng):
        self.config = config
        self.settings = config.settings
        self.store = store
        self.stop = stop
        self.clock = clock
        self.rng = rng
        self.result = DispatchResult()

    def run(self) -> DispatchResult:
        for digest_id in self.store.close_digests(self.clock()):
            self.result.digests += 1
            event("digest_closed", digest_id=digest_id, stage="alert")
        # Claimed in batches so that a crash leaves few rows claimed; a burst is drained in one pass.
        for _ in range(MAX_BATCHES):
            batch = self.store.claim_due("outbox", self.clock(), limit=BATCH)
            for alert_id in batch:
                alert = self.store._alert(alert_id)
                self._send("outbox", alert_id, alert.channel, lambda a=alert: render.alert_message(a),
                           url=alert.url)
            if len(batch) < BATCH or (self.stop is not None and self.stop.is_set()):
                break
        for digest_id in self.store.claim_due("digests", self.clock(), limit=BATCH):
            row = self.store.delivery("digests", digest_id)
            self._send("digests", digest_id, row["channel"],
                       lambda r=row: render.digest_message(r["id"], r["kind"], self.store.digest_alerts(r["id"]),
                                                           created_at=r["created_at"]))
        for channel, ids in self.result.dead_letters.items():
            shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
            row = self.store.delivery("outbox", ids[-1]) or self.store.delivery("digests", ids[-1])
            self.store.add_notice(
                "dead_letter", f"{len(ids)} alert(s) could not be delivered through {channel} and were given up: "
                f"{shown}. Last error: {row['last_error'] if row else '?'}. Resend them with "
                f"'newswatch alerts retry --all-failed' once the channel works.", channel=channel)
        self._send_notices()
        return self.result

    def _send(self, table: str, item_id: str, channel_name: str, message, *, url: str | None = None) -> None:
        store, clock = self.store, self.clock
        row = store.delivery(table, item_id)
        if self.stop is not None and self.stop.is_set():
            store.finish_attempt(table, item_id, None, outcome="retry", error="interrupted by shutdown",
                                 retry_at=clock())
            return
        channel = self.settings.channels.get(channel_name)
        if channel is None:
            self._dead(table, item_id, channel_name, None,
                       f"alert: {channel_name}: channel is no longer in settings.yaml", row["attempts"])
            return
        disabled = store.channel_disabled(channel_name, fingerprint(channel))
        if disabled:
            # Told once when it was disabled; its rows wait as failed for `alerts retry`.
            store.finish_attempt(table, item_id, None, outcome="failed",
                                 error=f"alert: {channel_name}: channel {disabled}")
            self.result.failed += 1
            return
        attempt = row["attempts"] + 1
        attempt_id = store.start_attempt(item_id, channel_name, attempt, clock())
        try:
            alerts.deliver(channel, message, allow=self.settings.network_allow)
        except ChannelGoneError as exc:
            store.disable_channel(channel_name, fingerprint(channel), exc.detail, clock())
            store.finish_attempt(table, item_id, attempt_id, outcome="failed", error=str(exc), now=clock())
            store.add_notice("channel_disabled", f"channel {channel_name} is disabled: {exc.detail}. Its alerts "
                             f"are kept as failed; edit the channel in settings.yaml, then run "
                             f"'newswatch alerts retry --all-failed'.", channel=channel_name)
            self.result.failed += 1
            event("channel_disabled", 40, channel=channel_name, alert_id=item_id, stage="alert", error=str(exc))
        except AlertError as exc:
            now = clock()
            age_from = parse_iso(row["age_from"] or row["created_at"])
            deadline = age_from + timedelta(seconds=self.settings.alerts["max_age"])
            if isinstance(exc, PermanentAlertError) or attempt >= self.settings.alerts["max_attempts"] \
                    or now >= deadline:
                self._dead(table, item_id, channel_name, attempt_id, str(exc), attempt)
                return
            delay = retry_delay(self.settings.alerts, attempt, getattr(exc, "retry_after", None), self.rng)
            # The last try is made at the deadline rather than skipped past it.
            retry_at = min(now + timedelta(seconds=delay), max(deadline, now + timedelta(seconds=1)))
            store.finish_attempt(table, item_id, attempt_id, outcome="retry", error=str(exc), retry_at=retry_at,
                                 now=now)
            self.result.retrying += 1
            event("alert_retry", 30, channel=channel_name, alert_id=item_id, stage="alert", attempts=attempt,
                  retry_in=int((retry_at - now).total_seconds()), error=str(exc))
        else:
            store.finish_attempt(table, item_id, attempt_id, outcome="sent", now=clock())
            self.result.sent += 1
            event("alert_sent", channel=channel_name, alert_id=item_id, stage="alert", url=url)

    def _dead(self, table, item_id, channel_name, attempt_id, error: str, attempts: int) -> None:
        self.store.finish_attempt(table, item_id, attempt_id, outcome="failed", error=error,
                                  now=self.clock())
        self.result.failed += 1
        self.result.dead_letters.setdefault(channel_name, []).append(item_id)
        event("alert_failed", 40, channel=channel_name, alert_id=item_id, stage="alert", attempts=attempts,
              error=error)

    def _send_notices(self) -> None:
        """All unsent notices in one message per operator channel. A notice counts as told once
        a channel took it (or every channel refused it for good); otherwise the next pass retries."""
        names = [n for n in self.settings.operator_channels if n in self.settings.channels]
        if not names:
            return
        notices = self.store.unsent_notices(limit=NOTICES_PER_MESSAGE)
        if not notices:
            return
        message = render.notices_message(notices)
        delivered, permanent = False, 0
        for name in names:
            channel = self.settings.channels[name]
            if self.store.channel_disabled(name, fingerprint(channel)):
                permanent += 1
                continue
            try:
                alerts.deliver(channel, message, allow=self.settings.network_allow)
            except PermanentAlertError as exc:
                permanent += 1
                event("notice_failed", 40, channel=name, stage="alert", error=str(exc))
            except AlertError as exc:
                event("notice_retry", 30, channel=name, stage="alert", error=str(exc))
            else:
                delivered = True
        if delivered or permanent == len(names):
            for n in notices:
                self.store.mark_notice_sent(n["id"], self.clock())
            self.result.notices_sent += len(notices) if delivered else 0


def dispatch_pending(config: Config, store: Store, *, stop: threading.Event | None = None,
                     clock=None, rng=random) -> DispatchResult:
    """One dispatch pass; ``clock`` (returning an aware datetime; default: the store's) and ``rng``
    are seams for tests and benchmarks."""
    return _Pass(config, store, stop, clock or store.clock, rng).run()


__all__ = ["dispatch_pending", "DispatchResult", "fingerprint", "retry_delay"]
