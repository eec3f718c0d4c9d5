"""What ``newswatch alerts list|retry|test`` do: look at the outbox, resend dead letters, try a channel."""

from __future__ import annotations

import time

from .. import alerts
from ..config import Config
from ..errors import ConfigError
from ..models import Alert
from ..store import Store, iso, utcnow
from .dispatcher import dispatch_pending, fingerprint
from .render import one_line, truncate

STATES = {"pending": ("pending", "sending", "held"), "failed": ("failed",)}


def list_alerts(store: Store, which: str | None = None, limit: int = 50) -> list[dict]:
    return store.list_deliveries(STATES.get(which or "", None), limit=limit)


def format_alerts(rows: list[dict]) -> str:
    if not rows:
        return "no alerts"
    lines = [f"{'id':<36} {'state':<9} {'channel':<14} {'tries':>5}  {'when':<20} title / last error"]
    for r in rows:
        when = r["sent_at"] if r["state"] == "sent" else r["next_attempt_at"]
        state = r["state"] + ("*" if r["digest"] else "")
        lines.append(f"{truncate(r['id'], 36):<36} {state:<9} {truncate(r['channel'], 14):<14} "
                     f"{r['attempts']:>5}  {when or '':<20} {truncate(one_line(r['title']), 60)}")
        if r["last_error"] and r["state"] != "sent":
            lines.append(f"{'':<36}   {truncate(one_line(r['last_error']), 110)}")
    lines.append("(* held for or sent in a digest)" if any(r["digest"] for r in rows) else "")
    return "\n".join(lines).rstrip()


def retry_alerts(config: Config, store: Store, ids: tuple[str, ...], *, all_failed: bool,
                 dispatch: bool = True) -> tuple[list[str], object | None]:
    """Queue the given (or every failed) alert again with a fresh max age; send at once unless
    ``dispatch`` is False. Returns the ids queued and the dispatch result."""
    missing = [i for i in ids if (store.delivery("outbox", i) or store.delivery("digests", i) or {}).get("state")
               not in ("failed", "pending")]
    if missing:
        raise LookupError(f"not a failed or pending alert: {', '.join(missing)} (see 'newswatch alerts list')")
    queued = store.retry(ids, all_failed=all_failed)
    return queued, (dispatch_pending(config, store) if dispatch and queued else None)


def sample_alert(channel: str) -> Alert:
    now = iso(utcnow())
    return Alert(
        id=f"nw-test-{channel}-{int(time.time())}", channel=channel, watch_id="test", watch_name="Channel test",
        article_id=0, source_id="newswatch", source_name="Newswatch", url="https://example.org/newswatch-test",
        title=f"Test alert: channel {channel} works", author=None, published_at=now, language="en",
        text_excerpt="This is a test message from 'newswatch alerts test'. No article matched.",
        matches=[{"keyword": "test", "form": "test", "snippet": "This is a test message."}], created_at=now)


def try_channel(config: Config, store: Store, name: str) -> str:
    """Send a sample alert through channel ``name`` now. Raises AlertError when it is not
    accepted; a success enables a channel that a 410 had disabled."""
    channel = config.settings.channels.get(name)
    if channel is None:
        known = ", ".join(sorted(config.settings.channels)) or "none defined"
        raise ConfigError(f"no channel {name!r} in settings.yaml (channels: {known})")
    was_disabled = store.channel_disabled(name, fingerprint(channel))
    alerts.send(channel, sample_alert(name), allow=config.settings.network_allow)
    if was_disabled:
        store.enable_channel(name)
        return f"{name}: test alert accepted; the channel was {was_disabled} and is enabled again"
    return f"{name}: test alert accepted"


__all__ = ["list_alerts", "format_alerts", "retry_alerts", "try_channel"]
