"""Send what the outbox holds. Runs after a crawl and on every daemon tick.

A row is claimed, sent through its channel, and marked sent, retried later (exponential backoff
with jitter) or failed. A channel's failure only touches its own rows: crawling and the other
channels go on. The alert id is the same on every retry, so receivers can drop a repeat.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import timedelta

from .. import alerts
from ..config import Config
from ..errors import AlertError, PermanentAlertError
from ..logs import event
from ..store import Store


@dataclass
class DispatchResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def dispatch_pending(config: Config, store: Store, *, stop: threading.Event | None = None) -> DispatchResult:
    result = DispatchResult()
    settings = config.settings
    max_attempts = settings.alerts["max_attempts"]
    base = settings.alerts["retry_base"]
    for alert in store.claim_due_alerts():
        if stop is not None and stop.is_set():
            store.mark_attempt_failed(alert.id, "interrupted by shutdown", retry_at=store.clock())
            continue
        channel = settings.channels.get(alert.channel)
        try:
            if channel is None:
                raise PermanentAlertError("channel is no longer in settings.yaml", channel=alert.channel)
            alerts.send(channel, alert, allow=settings.network_allow)
        except AlertError as exc:
            attempts = store.attempts(alert.id) + 1
            if isinstance(exc, PermanentAlertError) or attempts >= max_attempts:
                store.mark_attempt_failed(alert.id, str(exc), retry_at=None)
                result.failed += 1
                event("alert_failed", 40, channel=alert.channel, alert_id=alert.id, stage="alert",
                      attempts=attempts, error=str(exc))
            else:
                delay = base * 2 ** (attempts - 1) * random.uniform(0.8, 1.2)
                store.mark_attempt_failed(alert.id, str(exc), retry_at=store.clock() + timedelta(seconds=delay))
                result.retrying += 1
                event("alert_retry", 30, channel=alert.channel, alert_id=alert.id, stage="alert",
                      attempts=attempts, retry_in=int(delay), error=str(exc))
        else:
            store.mark_sent(alert.id)
            result.sent += 1
            event("alert_sent", channel=alert.channel, alert_id=alert.id, stage="alert", url=alert.url)
    return result
