"""Alert channels: deliver one :class:`crawler.models.Alert` through one configured channel.

The channel contract, which every channel module (``email``, ``webhook``, ...) keeps and the
dispatcher relies on::

    send(channel, alert, *, allow=()) -> None
        returns          the channel accepted the alert (delivered; mark the outbox row sent)
        RetryableAlertError   not delivered, may succeed later with the same alert: timeouts,
                              refused connections, SMTP 4xx, HTTP 408/429/5xx. May carry
                              ``retry_after`` (seconds) when the receiver said when to come back.
        PermanentAlertError   retrying the same alert cannot succeed: SMTP 5xx, refused login,
                              HTTP 3xx/4xx, a URL the network policy refuses, a missing secret or
                              password environment variable, an unknown channel type.

    Nothing else escapes: any other exception is a bug or an unforeseen fault and is wrapped as
    RetryableAlertError (the outbox's attempt limit stops endless retries).

``alert.id`` is stable across retries, and channels pass it on (email Message-ID, webhook-id) so
that receivers can drop duplicates when a retry follows a delivery whose reply was lost.
Messages name the channel (``alert: <channel>: ...``) and never contain passwords or secrets.

``allow`` is ``network.allow`` from settings.yaml: hosts and CIDRs that may be contacted although
they are not public (only the webhook channel checks it; SMTP servers are the operator's own).
"""

from __future__ import annotations

from ..errors import PermanentAlertError, RetryableAlertError
from . import email, webhook

__all__ = ["send", "CHANNEL_TYPES"]

CHANNEL_TYPES = ("email", "webhook")


def send(channel, alert, *, allow=()) -> None:
    """Deliver ``alert`` through ``channel``, dispatching on ``channel.type``; see the module
    docstring for the contract."""
    name = getattr(channel, "name", None) or "?"
    kind = getattr(channel, "type", None)
    try:
        if kind == "email":
            email.send(channel, alert)
        elif kind == "webhook":
            webhook.send(channel, alert, allow=allow)
        else:
            raise PermanentAlertError(
                f"unknown channel type {kind!r} (known: {', '.join(CHANNEL_TYPES)})", channel=name)
    except (RetryableAlertError, PermanentAlertError):
        raise
    except Exception as exc:  # the contract: nothing but AlertErrors escapes
        raise RetryableAlertError(f"unexpected {type(exc).__name__}: {exc}",
                                  channel=name) from exc
