"""The webhook channel: POST each alert as JSON, signed the Standard Webhooks way.

Channel settings (``WebhookChannel`` in config.py): ``url``, ``secret_env`` (the *name* of the
environment variable holding the signing secret; none = unsigned), ``previous_secret_env`` (the old
secret during a rotation: each call then carries both signatures, space-separated) and ``timeout``
(seconds, per connect/read/write).

What the receiver gets::

    POST <url>
    Content-Type: application/json
    User-Agent: Newswatch/0.1
    webhook-id: <alert id>            (the same on every retry of one alert: deduplicate on it)
    webhook-timestamp: <unix seconds> (of this attempt)
    webhook-signature: v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>

    {"type": "article.matched", "id": ..., "watch": {...}, "matches": [...], "article": {...}, ...}

A secret of the form ``whsec_<base64>`` is used as the base64-decoded key (the format Standard
Webhooks libraries generate); any other secret is used as its UTF-8 bytes. Receivers written in
Python can check a request with :func:`verify`::

    from crawler.alerts.webhook import verify
    if not verify(os.environ["NEWSWATCH_SECRET"], request.headers, request.body):
        return 401

The URL must pass :func:`crawler.netpolicy.check_url` (public address, or listed in
``network.allow``). Redirects are never followed: a signed alert goes where it was configured to
go or nowhere.

Outcomes: 2xx delivered; 408, 429, 5xx, timeouts and connection errors retryable (a Retry-After
header, when present, is kept in ``RetryableAlertError.retry_after`` as seconds); 3xx and other
4xx permanent; 410 raises ChannelGoneError (the dispatcher disables the channel).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Protocol

import httpx

from .. import netpolicy
from ..dates import retry_after_seconds
from ..errors import ChannelGoneError, PermanentAlertError, PolicyError, RetryableAlertError
from . import render

USER_AGENT = "Newswatch/0.1"
SECRET_PREFIX = "whsec_"
_SNIPPET_BYTES = 300


class WebhookChannelLike(Protocol):
    name: str
    url: str
    secret_env: str | None
    timeout: float


def secret_key(secret: str) -> bytes:
    """The HMAC key for ``secret``: base64-decoded after ``whsec_``, else its UTF-8 bytes.
    Raises ValueError for a ``whsec_`` secret that is not valid base64."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"secret starts with {SECRET_PREFIX} but the rest is not base64: "
                             f"{exc}") from None
    return secret.encode("utf-8")


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) for one request."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def _header(headers: Mapping, name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        for key in headers:
            if isinstance(key, str) and key.lower() == name:
                value = headers[key]
                break
    return value


def verify(secret: str, headers: Mapping, body: bytes, tolerance: int = 300, *,
           now: float | None = None) -> bool:
    """True when ``headers`` carry a valid Standard Webhooks signature of ``body`` under
    ``secret`` and a ``webhook-timestamp`` within ``tolerance`` seconds of ``now``.

    ``headers`` may be any mapping (header names in any case); ``body`` must be the raw bytes
    received, before any JSON parsing. Several space-separated signatures are accepted (key
    rotation): one matching ``v1`` signature is enough. Raises ValueError only for a malformed
    ``whsec_`` secret, which is the receiver's configuration error.
    """
    msg_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not msg_id or not timestamp or not signatures:
        return False
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        return False
    expected = sign(secret, msg_id, timestamp, body).encode("ascii")
    for candidate in str(signatures).split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode("ascii", "replace"),
                                                               expected):
            return True
    return False


def body(alert) -> bytes:
    """The exact bytes POSTed (and signed) for ``alert``."""
    return _encode(render.payload(alert))


def _encode(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True).encode("utf-8")


def _env_secret(channel, key: str) -> str | None:
    var = getattr(channel, key, None)
    if not var:
        return None
    value = os.environ.get(var)
    if not value:
        raise PermanentAlertError(f"environment variable {var} ({key}) is not set or empty",
                                  channel=channel.name)
    return value


def _secrets(channel) -> list[tuple[str, str]]:
    """(variable name, secret) pairs to sign with: the current secret first, then the previous
    one during a rotation."""
    out = []
    for key in ("secret_env", "previous_secret_env"):
        value = _env_secret(channel, key)
        if value is not None:
            out.append((getattr(channel, key), value))
    return out


def _snippet(response: httpx.Response) -> str:
    data = b""
    try:
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= _SNIPPET_BYTES:
                break
    except httpx.HTTPError:
        pass
    text = render.one_line(data[:_SNIPPET_BYTES].decode("utf-8", "replace"))
    return f": {text}" if text else ""


def _outcome(channel, response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    name = channel.name
    url = channel.url
    if 300 <= status < 400:
        location = render.one_line(response.headers.get("location", ""))[:200]
        raise PermanentAlertError(
            f"{url}: HTTP {status} redirect to {location or '(no Location)'} not followed "
            f"(redirects are not followed; configure the final URL)", channel=name)
    if status in (408, 429) or 500 <= status < 600:
        err = RetryableAlertError(f"{url}: HTTP {status}{_snippet(response)}", channel=name)
        err.retry_after = retry_after_seconds(response.headers.get("retry-after"), datetime.now(UTC))
        raise err
    if status == 410:
        raise ChannelGoneError(f"{url}: HTTP 410 Gone: the receiver is gone; remove or "
                               f"update this channel", channel=name)
    raise PermanentAlertError(f"{url}: HTTP {status}{_snippet(response)}", channel=name)


@functools.cache
def _tls_context():
    # Loading the CA bundle costs ~30 ms, more than a whole loopback delivery: load it once per
    # process. Certificates and host names are still checked on every call.
    return httpx.create_ssl_context(trust_env=False)


def send(channel, alert, *, allow=()) -> None:
    """POST ``alert`` to ``channel.url``; raise RetryableAlertError or PermanentAlertError when
    it was not accepted. ``allow`` is ``network.allow`` (hosts/CIDRs that may be private)."""
    deliver(channel, render.alert_message(alert), allow=allow)


def deliver(channel, message: render.Message, *, allow=()) -> None:
    """POST ``message.payload`` signed with ``webhook-id: message.id``; see :func:`send`."""
    name = channel.name
    try:
        netpolicy.check_url(channel.url, allow)
    except PolicyError as exc:
        raise PermanentAlertError(f"refused by network policy: {exc.detail}: {channel.url}",
                                  channel=name) from exc
    secrets = _secrets(channel)
    data = _encode(message.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": str(message.id),
    }
    if secrets:
        timestamp = str(int(time.time()))
        signatures = []
        for var, secret in secrets:
            try:
                signatures.append(sign(secret, str(message.id), timestamp, data))
            except ValueError as exc:
                raise PermanentAlertError(f"{var}: {exc}", channel=name) from None
        headers["webhook-timestamp"] = timestamp
        headers["webhook-signature"] = " ".join(signatures)
    # trust_env=False: no proxies, .netrc credentials or SSL_CERT_* from the environment; the
    # request goes exactly where the checked URL says.
    try:
        with httpx.Client(timeout=channel.timeout, follow_redirects=False, trust_env=False,
                          verify=_tls_context()) as client:
            with client.stream("POST", channel.url, content=data, headers=headers) as response:
                _outcome(channel, response)
    except httpx.TimeoutException as exc:
        raise RetryableAlertError(f"{channel.url}: timed out after {channel.timeout:g} s "
                                  f"({type(exc).__name__})", channel=name) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise PermanentAlertError(f"{channel.url}: {exc}", channel=name) from exc
    except httpx.TransportError as exc:
        raise RetryableAlertError(f"{channel.url}: {type(exc).__name__}: {exc}",
                                  channel=name) from exc
