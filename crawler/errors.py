"""Newswatch's exception tree.

Every message starts with the stage that failed (``config: ``, ``fetch: ``, ``parse: ``,
``extract: ``, ``store: ``, ``alert: ``) and, where there is one, carries the source id and URL,
so one log line says what broke and where::

    NewswatchError
     ├── ConfigError            config: <file>: <yaml.path>: what is wrong      (nothing starts)
     ├── FetchError             fetch: [source] url: status or transport error  (feed status records it)
     │    └── PolicyError       fetch: [source] url: refused by network policy   (never retried)
     ├── ParseError             parse: [source] url: feed is not RSS/Atom/...    (feed status records it)
     ├── ExtractError           extract: [source] url: no article text           (summary stored instead)
     ├── StoreError             store: ...                                       (transaction rolled back)
     └── AlertError             alert: <channel>: ...                            (outbox row keeps it)
          ├── RetryableAlertError   try again later (timeouts, 4xx SMTP, 5xx/429 HTTP)
          └── PermanentAlertError   do not retry (bad address, 4xx HTTP, 5xx SMTP)
               └── ChannelGoneError   the receiver is gone (HTTP 410): disable the channel

A failure in one stage never escapes past the stage that owns it: a fetch or parse error marks the
feed, an alert error marks the outbox row, and crawling goes on.
"""

from __future__ import annotations


class NewswatchError(Exception):
    """Base of every error Newswatch raises on purpose."""

    stage = "newswatch"

    def __init__(self, message: str, *, source_id: str | None = None, url: str | None = None):
        self.detail = message
        self.source_id = source_id
        self.url = url
        where = ""
        if source_id:
            where += f"[{source_id}] "
        if url:
            where += f"{url}: "
        super().__init__(f"{self.stage}: {where}{message}")


class ConfigError(NewswatchError):
    stage = "config"

    def __init__(self, message: str, *, file: str | None = None, path: str | None = None):
        self.file = file
        self.path = path
        prefix = ""
        if file:
            prefix += f"{file}: "
        if path:
            prefix += f"{path}: "
        super().__init__(prefix + message)


class FetchError(NewswatchError):
    stage = "fetch"

    def __init__(self, message: str, *, source_id=None, url=None, status: int | None = None):
        self.status = status
        super().__init__(message, source_id=source_id, url=url)


class PolicyError(FetchError):
    """A URL the network policy refuses (scheme, private address, ...)."""


class ParseError(NewswatchError):
    stage = "parse"


class ExtractError(NewswatchError):
    stage = "extract"


class StoreError(NewswatchError):
    stage = "store"


class AlertError(NewswatchError):
    stage = "alert"

    def __init__(self, message: str, *, channel: str | None = None):
        self.channel = channel
        super().__init__(f"{channel}: {message}" if channel else message)


class RetryableAlertError(AlertError):
    """The channel may accept the same alert later."""


class PermanentAlertError(AlertError):
    """Retrying the same alert cannot succeed."""


class ChannelGoneError(PermanentAlertError):
    """The receiver said it is gone for good (HTTP 410): stop using the channel until it is edited."""
