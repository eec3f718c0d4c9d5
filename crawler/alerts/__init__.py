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
          ChannelGoneError    (a PermanentAlertError) HTTP 410: the dispatcher disables the channel
                              and tells the operator.

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
from . import apprise_channel, email, render, webhook

__all__ = ["send", "deliver", "CHANNEL_TYPES"]

CHANNEL_TYPES = ("email", "webhook", "apprise")


def send(channel, alert, *, allow=()) -> None:
    """Deliver ``alert`` through ``channel``, dispatching on ``channel.type``; see the module
    docstring for the contract."""
    deliver(channel, lambda: render.alert_message(alert), allow=allow)


def deliver(channel, message, *, allow=()) -> None:
    """Deliver a rendered :class:`render.Message` (an alert, a digest, operator notices), or a
    callable returning one, through ``channel``; same contract as :func:`send`."""
    name = getattr(channel, "name", None) or "?"
    kind = getattr(channel, "type", None)
    try:
        if kind not in CHANNEL_TYPES:
            raise PermanentAlertError(
                f"unknown channel type {kind!r} (known: {', '.join(CHANNEL_TYPES)})", channel=name)
        if callable(message):
            message = message()
        if kind == "email":
            email.deliver(channel, message)
        elif kind == "webhook":
            webhook.deliver(channel, message, allow=allow)
        else:
            apprise_channel.deliver(channel, message, allow=allow)
    except (RetryableAlertError, PermanentAlertError):
        raise
    except Exception as exc:  # the contract: nothing but AlertErrors escapes
        raise RetryableAlertError(f"unexpected {type(exc).__name__}: {exc}",
                                  channel=name) from exc
