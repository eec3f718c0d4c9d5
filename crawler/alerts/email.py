"""The email channel: one message per alert (plain text and HTML alternatives), sent with smtplib.

Channel settings (``EmailChannel`` in config.py): ``host``, ``port``, ``tls`` (``none``,
``starttls`` or ``ssl``; certificates and host names are always checked), ``ca_file`` (a private CA
to trust instead of the system's), ``user``, ``password_env`` (the *name* of the environment
variable that holds the password, never the password itself), ``sender``, ``to`` and ``timeout``
(seconds, per socket operation).

The Message-ID is derived from the alert id, so a retried alert that the server had in fact
accepted can be recognised as a duplicate by mail systems and people alike.

Failures map onto the channel contract (see :mod:`crawler.alerts`):

=============================================  ===========
4xx reply, timeout, refused/reset connection    retryable
5xx reply, all recipients refused with 5xx      permanent
authentication refused (5xx), no STARTTLS/AUTH  permanent
certificate verification failed                 permanent
password variable not set, unusable address     permanent
=============================================  ===========
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from email import policy as email_policy
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

from ..errors import PermanentAlertError, RetryableAlertError
from . import render

log = logging.getLogger(__name__)

TLS_MODES = ("none", "starttls", "ssl")


class EmailChannelLike(Protocol):
    name: str
    host: str
    port: int
    tls: str
    user: str | None
    password_env: str | None
    sender: str
    to: tuple[str, ...]
    timeout: float


def password(channel) -> str | None:
    """The SMTP password from ``os.environ[channel.password_env]``; None without a user."""
    if not channel.user:
        return None
    if not channel.password_env:
        raise PermanentAlertError(
            "user is set but password_env is not: name the environment variable that holds "
            "the SMTP password", channel=channel.name)
    value = os.environ.get(channel.password_env)
    if not value:
        raise PermanentAlertError(
            f"environment variable {channel.password_env} (password_env) is not set or empty",
            channel=channel.name)
    return value


class _EncodedWordsHeader(str):
    """A non-ASCII header value that folds itself with the legacy :class:`email.header.Header`
    encoder.

    CPython 3.11's policy-based folder drops the space at a fold between two RFC 2047
    encoded-words, so a long Cyrillic subject such as "Мигранты из Кыргызстана" arrives as
    "Мигранты изКыргызстана". The legacy encoder keeps spaces inside the encoded-words.
    ``EmailPolicy`` stores and folds any value that has a matching ``name`` and a ``fold``
    method as is; reading the header gives back the plain text.
    """

    name: str

    def __new__(cls, name: str, value: str):
        self = super().__new__(cls, value)
        self.name = name
        return self

    def fold(self, *, policy) -> str:
        encoded = Header(str(self), "utf-8", header_name=self.name).encode(
            linesep=policy.linesep)
        return f"{self.name}: {encoded}{policy.linesep}"


def _unstructured(name: str, value: str):
    return value if value.isascii() else _EncodedWordsHeader(name, value)


def build_message(channel, alert) -> EmailMessage:
    """The message for ``alert``: From, To, Subject, Date, Message-ID, plain text and HTML."""
    return compose(channel, render.alert_message(alert))


def compose(channel, message: render.Message) -> EmailMessage:
    """An email for any rendered message (alert, digest, operator notices)."""
    msg = EmailMessage(policy=email_policy.SMTP)
    try:
        msg["From"] = channel.sender
        msg["To"] = ", ".join(channel.to)
    except (ValueError, TypeError, IndexError) as exc:
        raise PermanentAlertError(f"unusable sender or recipient address: {exc}",
                                  channel=channel.name) from exc
    # render.subject() already made it one line; one_line() again because a digest or notice
    # subject is built from many fields and a header must never carry a line break.
    msg["Subject"] = _unstructured("Subject", render.one_line(message.subject))
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = f"<{render.message_id_local(message.id)}@newswatch>"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    msg.set_content(message.text)
    msg.add_alternative(message.html, subtype="html")
    return msg


def _reply_text(text) -> str:
    """A server reply as one clean line (servers may send anything)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return render.one_line(text)


def _code_error(channel, what: str, code: int, text) -> Exception:
    text = _reply_text(text)[:300]
    detail = f"{what}: SMTP {code} {text}".rstrip()
    if 400 <= code < 500:
        return RetryableAlertError(detail, channel=channel.name)
    if 500 <= code < 600:
        return PermanentAlertError(detail, channel=channel.name)
    # codes outside 4xx/5xx (smtplib uses -1 for "no reply"): treat as a transient fault
    return RetryableAlertError(detail, channel=channel.name)


def _tls_context(channel) -> ssl.SSLContext:
    # create_default_context checks the certificate chain and the host name; ca_file only
    # changes whom we trust, never whether we check.
    return ssl.create_default_context(cafile=getattr(channel, "ca_file", None) or None)


def _connect(channel) -> smtplib.SMTP:
    if channel.tls == "ssl":
        return smtplib.SMTP_SSL(channel.host, channel.port, timeout=channel.timeout,
                                context=_tls_context(channel))
    smtp = smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout)
    try:
        if channel.tls == "starttls":
            smtp.starttls(context=_tls_context(channel))
    except BaseException:
        smtp.close()
        raise
    return smtp


def _deliver(channel, msg: EmailMessage, secret: str | None) -> dict:
    with _connect(channel) as smtp:
        if channel.user:
            smtp.login(channel.user, secret)
        return smtp.send_message(msg)


def send(channel, alert) -> None:
    """Send ``alert`` by email through ``channel``; raise RetryableAlertError or
    PermanentAlertError when it was not accepted."""
    deliver(channel, render.alert_message(alert))


def deliver(channel, message: render.Message) -> None:
    """Send a rendered message by email; see :func:`send`."""
    name = channel.name
    if channel.tls not in TLS_MODES:
        raise PermanentAlertError(f"tls must be one of {', '.join(TLS_MODES)}, not {channel.tls!r}",
                                  channel=name)
    if not channel.to:
        raise PermanentAlertError("no recipients (to) configured", channel=name)
    ca_file = getattr(channel, "ca_file", None)
    if ca_file and not os.path.isfile(ca_file):
        raise PermanentAlertError(f"ca_file {ca_file} is not a readable file", channel=name)
    secret = password(channel)
    msg = compose(channel, message)
    where = f"{channel.host}:{channel.port}"
    try:
        refused = _deliver(channel, msg, secret)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{addr}: {code} {_reply_text(text)[:120]}"
                           for addr, (code, text) in exc.recipients.items())
        if codes and all(500 <= c < 600 for c in codes):
            raise PermanentAlertError(f"{where}: all recipients refused: {detail}",
                                      channel=name) from exc
        raise RetryableAlertError(f"{where}: recipients refused: {detail}", channel=name) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise _code_error(channel, f"{where}: login as {channel.user!r} refused",
                          exc.smtp_code, exc.smtp_error) from exc
    except smtplib.SMTPResponseException as exc:
        # SMTPSenderRefused, SMTPDataError, SMTPConnectError, SMTPHeloError and plain replies
        raise _code_error(channel, f"{where}: {type(exc).__name__}",
                          exc.smtp_code, exc.smtp_error) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentAlertError(f"{where}: server does not support what the channel needs "
                                  f"(tls={channel.tls}, user set={bool(channel.user)}): {exc}",
                                  channel=name) from exc
    except smtplib.SMTPServerDisconnected as exc:
        raise RetryableAlertError(f"{where}: server disconnected: {exc}", channel=name) from exc
    except ssl.SSLCertVerificationError as exc:
        raise PermanentAlertError(f"{where}: TLS certificate not accepted: {exc}",
                                  channel=name) from exc
    except smtplib.SMTPException as exc:
        # (SMTPException is an OSError: this must come before the OSError clause.)
        # e.g. "No suitable authentication method found": a configuration problem
        raise PermanentAlertError(f"{where}: {exc}", channel=name) from exc
    except (TimeoutError, OSError) as exc:
        # socket.timeout is TimeoutError; refused/reset connections, DNS failures and TLS
        # handshake errors are all OSErrors
        kind = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
        raise RetryableAlertError(f"{where}: {kind}: {exc}", channel=name) from exc
    if refused:
        # Some recipients took the message, so retrying would send it to them twice. Log the
        # others; the alert counts as delivered.
        log.warning("alert: %s: %s: message %s accepted, but not for %s",
                    name, where, message.id,
                    ", ".join(f"{a} ({c})" for a, (c, _) in refused.items()))
