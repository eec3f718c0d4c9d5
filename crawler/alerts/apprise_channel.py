"""The apprise channel: Telegram, Slack, Matrix, ntfy, Discord and the rest through an apprise URL.

Channel settings (``AppriseChannel`` in config.py): ``url_env`` names the environment variable that
holds the apprise URL (``tgram://bottoken/chatid``, ``slack://...``, ``ntfy://host/topic``...):
those URLs carry tokens, so they never sit in settings.yaml. ``timeout`` bounds connecting and
reading.

apprise says only "delivered" or "not delivered", so a failed notify is retryable (the outbox's
max age ends it) and an URL apprise cannot load is permanent. The message is plain text: title
and body go to apprise as values (``body_format=text``), never as a template.

For the generic HTTP services (``json://``, ``xml://``, ``form://`` and their ``s`` forms) and any
URL whose host is an IP address or ``localhost``, the target obeys ``network.allow`` like webhooks.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from urllib.parse import urlsplit

from .. import netpolicy
from ..errors import PermanentAlertError, PolicyError, RetryableAlertError
from . import render

_HTTP_SCHEMES = {"json": "http", "jsons": "https", "xml": "http", "xmls": "https",
                 "form": "http", "forms": "https"}
_BODY_MAX = 3500  # chat services cut long messages (Telegram: 4096); keep the link visible


def apprise_url(channel) -> str:
    value = os.environ.get(channel.url_env or "")
    if not value:
        raise PermanentAlertError(f"environment variable {channel.url_env} (url_env) is not set or empty",
                                  channel=channel.name)
    return value.strip()


def _check_target(channel, url: str, allow) -> None:
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    try:
        literal = host == "localhost" or bool(ipaddress.ip_address(host))
    except ValueError:
        literal = False
    if scheme not in _HTTP_SCHEMES and not literal:
        return
    http_scheme = _HTTP_SCHEMES.get(scheme, "https" if scheme.endswith("s") else "http")
    try:
        netpolicy.check_url(f"{http_scheme}://{parts.netloc.rsplit('@', 1)[-1]}/", allow)
    except PolicyError as exc:
        # exc.detail only: the URL itself may carry a token
        raise PermanentAlertError(f"refused by network policy: {exc.detail}", channel=channel.name) from exc


def deliver(channel, message: render.Message, *, allow=()) -> None:
    import apprise  # imported lazily: it loads a plugin per service

    url = apprise_url(channel)
    _check_target(channel, url, allow)
    plugin = apprise.Apprise.instantiate(url)
    if not plugin:
        # never echo the URL: it carries the service's token
        raise PermanentAlertError(f"apprise cannot use the URL in {channel.url_env} (unknown service or "
                                  f"malformed URL)", channel=channel.name)
    for attr in ("socket_connect_timeout", "socket_read_timeout"):
        if hasattr(plugin, attr):
            setattr(plugin, attr, channel.timeout)
    notifier = apprise.Apprise()
    notifier.add(plugin)
    body = message.text if len(message.text) <= _BODY_MAX else render.truncate(message.text, _BODY_MAX)
    logging.getLogger("apprise").setLevel(logging.CRITICAL)  # it logs URLs, tokens included
    ok = notifier.notify(body=body, title=render.one_line(message.subject),
                         body_format=apprise.NotifyFormat.TEXT, interpret_escapes=False)
    if not ok:
        raise RetryableAlertError(f"apprise service {plugin.service_name or type(plugin).__name__} did not "
                                  f"accept the message", channel=channel.name)


def send(channel, alert, *, allow=()) -> None:
    deliver(channel, render.alert_message(alert), allow=allow)
