"""Loopback servers for `newswatch demo` and the test suite: an outlet, a webhook receiver, a mailbox.

Everything binds to 127.0.0.1 (or another loopback address you pass), runs in daemon threads and is
started/stopped from ordinary synchronous code, or used as a context manager::

    with OutletServer(OUTLET_DIR) as outlet, WebhookReceiver() as hook, Mailbox() as mbox:
        feed_url = outlet.url("/feed.xml")       # http://127.0.0.1:PORT/feed.xml
        ...                                      # crawl, dispatch alerts
        assert hook.wait_for(1) and mbox.wait_for(1)

- ``OutletServer`` serves a directory of static files with ETag/Last-Modified and 304 answers.
  ``name.tmpl`` files are served at ``name`` with the literal ``{base_url}`` replaced by the server's
  own base URL (plain str.replace). ``set_response()`` overrides a path (500, 404, broken XML...).
- ``WebhookReceiver`` records every POST; its ``status`` attribute simulates a failing receiver.
- ``Mailbox`` is an aiosmtpd SMTP server keeping parsed ``EmailMessage`` objects.

Only the standard library and aiosmtpd; no request logging.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import posixpath
import socket
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

__all__ = [
    "OUTLET_DIR",
    "OutletServer",
    "WebhookReceiver",
    "Mailbox",
    "Envelope",
    "free_port",
]

#: The bundled sample outlet (Steppe Wire): feed.xml.tmpl, index.html, news/*.html.
OUTLET_DIR = Path(__file__).resolve().parent / "outlet"

TEMPLATE_SUFFIX = ".tmpl"
CONTENT_TYPES = {
    ".xml": "application/rss+xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on ``host`` a moment ago (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class _QuietServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that does not print tracebacks when a client hangs up."""

    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # noqa: D401 - stdlib signature
        pass


class _QuietHandler(BaseHTTPRequestHandler):
    server_version = "NewswatchDemo/1.0"
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass

    def _headers_dict(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def _send(self, status: int, body: bytes, headers: dict[str, str], head_only: bool = False) -> None:
        self.send_response(status)
        sent = {k.lower() for k in headers}
        for key, value in headers.items():
            self.send_header(key, value)
        if "content-length" not in sent:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and not head_only:
            self.wfile.write(body)


class _ThreadedServer:
    """Start/stop plumbing shared by OutletServer and WebhookReceiver."""

    _handler_class: type[BaseHTTPRequestHandler]

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self._httpd: _QuietServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """Absolute URL of ``path`` on this server."""
        return self.base_url + ("" if path.startswith("/") else "/") + path

    def start(self):
        if self._httpd is not None:
            return self
        handler = type(self._handler_class.__name__, (self._handler_class,), {"owner": self})
        self._httpd = _QuietServer((self.host, self._requested_port), handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------------
# Outlet


class RecordedRequest(NamedTuple):
    method: str
    path: str  # as sent, query string included
    headers: dict[str, str]  # lower-cased names


@dataclass
class _Override:
    status: int
    body: bytes
    headers: dict[str, str]
    delay: float = 0.0


class _RequestLog(list):
    """A list of RecordedRequest that threads append to under a lock."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def record(self, item: RecordedRequest) -> None:
        with self.lock:
            self.append(item)

    def snapshot(self) -> list[RecordedRequest]:
        with self.lock:
            return list(self)


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def _not_modified_since(header: str, mtime: float) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since is None or since.tzinfo is None:
        return False
    return int(mtime) <= since.timestamp()


class _OutletHandler(_QuietHandler):
    owner: "OutletServer"

    def do_GET(self):
        self._serve(head_only=False)

    def do_HEAD(self):
        self._serve(head_only=True)

    def _serve(self, head_only: bool) -> None:
        outlet = self.owner
        outlet.requests.record(RecordedRequest(self.command, self.path, self._headers_dict()))
        path = urlsplit(self.path).path or "/"

        override = outlet._override_for(path)
        if override is not None:
            if override.delay:
                time.sleep(override.delay)
            headers = dict(override.headers)
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = _content_type(path)
            self._send(override.status, override.body, headers, head_only)
            return

        found = outlet._load(path)
        if found is None:
            self._send(404, b"Not Found\n", {"Content-Type": "text/plain; charset=utf-8"}, head_only)
            return
        body, mtime, served_name = found
        headers = {
            "Content-Type": _content_type(served_name),
            "ETag": _etag(body),
            "Last-Modified": formatdate(mtime, usegmt=True),
        }
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if inm is not None:
            not_modified = _etag_matches(inm, headers["ETag"])
        else:
            not_modified = ims is not None and _not_modified_since(ims, mtime)
        if not_modified:
            self._send(304, b"", {"ETag": headers["ETag"], "Last-Modified": headers["Last-Modified"],
                                  "Content-Length": "0"}, head_only=True)
            return
        self._send(200, body, headers, head_only)


def _content_type(name: str) -> str:
    suffix = posixpath.splitext(name)[1].lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return guessed + ("; charset=utf-8" if guessed.startswith("text/") else "")


class OutletServer(_ThreadedServer):
    """Serve the files under ``root`` over HTTP on loopback, like a small news site.

    - ``*.xml`` -> ``application/rss+xml; charset=utf-8``, ``*.html`` -> ``text/html; charset=utf-8``.
    - ``ETag`` (hash of the body) and ``Last-Modified`` (file mtime); 304 for a matching
      ``If-None-Match`` or, when that header is absent, ``If-Modified-Since``.
    - ``feed.xml.tmpl`` is served at ``/feed.xml`` with ``{base_url}`` replaced by :attr:`base_url`.
    - ``/`` and ``/dir/`` serve ``index.html`` when present.
    - :meth:`set_response` overrides a path (any method, checked before the files).

    Files are read on every request, so a test may rewrite them while the server runs.
    ``requests`` records (method, path, headers) of every request, in arrival order.
    """

    _handler_class = _OutletHandler

    def __init__(self, root: Path | str, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"outlet root {self.root} is not a directory")
        self.requests: _RequestLog = _RequestLog()
        self._overrides: dict[str, _Override] = {}
        self._lock = threading.Lock()

    # -- runtime overrides -------------------------------------------------------------------------
    def set_response(
        self,
        path: str,
        status: int = 200,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        delay: float = 0.0,
    ) -> None:
        """Make ``path`` answer ``status``/``body``/``headers`` (after ``delay`` seconds) until cleared.

        ``path`` is the URL path without query (``/feed.xml``). Content-Type defaults to the one the
        path's suffix would get; Content-Length is added. No ETag/304 handling for overrides.
        """
        if isinstance(body, str):
            body = body.encode("utf-8")
        with self._lock:
            self._overrides[_normalise(path)] = _Override(status, body, dict(headers or {}), delay)

    def clear_overrides(self, path: str | None = None) -> None:
        """Drop the override for ``path``, or all overrides."""
        with self._lock:
            if path is None:
                self._overrides.clear()
            else:
                self._overrides.pop(_normalise(path), None)

    def _override_for(self, path: str) -> _Override | None:
        with self._lock:
            return self._overrides.get(_normalise(path))

    # -- helpers for tests ---------------------------------------------------------------------------
    def hits(self, path: str, method: str | None = "GET") -> int:
        """How many requests (of ``method``, or any method if None) asked for ``path``."""
        wanted = _normalise(path)
        return sum(
            1
            for r in self.requests.snapshot()
            if _normalise(urlsplit(r.path).path) == wanted and (method is None or r.method == method)
        )

    def render(self, path: str) -> bytes | None:
        """The body the server would send for ``path`` (template filled in), or None if absent."""
        found = self._load(_normalise(path))
        return None if found is None else found[0]

    # -- file lookup ----------------------------------------------------------------------------
    def _load(self, url_path: str) -> tuple[bytes, float, str] | None:
        rel = _normalise(url_path).lstrip("/")
        if rel == "" or url_path.endswith("/"):
            rel = posixpath.join(rel, "index.html")
        if rel.endswith(TEMPLATE_SUFFIX):
            return None  # templates are only reachable through their rendered name
        candidate = (self.root / rel).resolve()
        if not candidate.is_relative_to(self.root):
            return None
        if candidate.is_file():
            return candidate.read_bytes(), candidate.stat().st_mtime, rel
        template = candidate.with_name(candidate.name + TEMPLATE_SUFFIX)
        if template.is_file():
            text = template.read_text(encoding="utf-8").replace("{base_url}", self.base_url)
            return text.encode("utf-8"), template.stat().st_mtime, rel
        return None


def _normalise(path: str) -> str:
    path = unquote(path or "/")
    if not path.startswith("/"):
        path = "/" + path
    norm = posixpath.normpath(path)
    return norm if norm != "." else "/"


# --------------------------------------------------------------------------------------------------
# Webhook receiver


class _WebhookHandler(_QuietHandler):
    owner: "WebhookReceiver"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            parsed = json.loads(body) if body else None
        except (ValueError, UnicodeDecodeError):
            parsed = None
        receiver = self.owner
        status = receiver.status
        receiver._record({
            "path": self.path,
            "headers": self._headers_dict(),
            "body": body,
            "json": parsed,
        })
        if receiver.delay:
            time.sleep(receiver.delay)  # recorded, not yet answered: a sender killed now resends
        headers = {"Content-Type": "application/json"}
        headers.update(receiver.response_headers)
        reply = json.dumps({"ok": 200 <= status < 300}).encode()
        self._send(status, reply, headers)

    def do_GET(self):
        self._send(405, b"", {"Allow": "POST"})

    do_PUT = do_DELETE = do_PATCH = do_GET


class WebhookReceiver(_ThreadedServer):
    """Record every POST made to it (any path; :attr:`url` points at ``/hook``).

    ``calls`` holds dicts ``{path, headers (lower-cased names), body (bytes), json (parsed or None)}``.
    Set ``status`` (default 200) to e.g. 500 to simulate a failing receiver,
    ``response_headers`` (e.g. ``{"Retry-After": "30"}``) to add headers to the reply, and
    ``delay`` (seconds) to answer slowly, after the call is recorded.
    Failed calls are recorded too.
    """

    _handler_class = _WebhookHandler

    def __init__(self, host: str = "127.0.0.1", port: int = 0, path: str = "/hook"):
        super().__init__(host, port)
        self.path = path if path.startswith("/") else "/" + path
        self.status = 200
        self.delay = 0.0
        self.response_headers: dict[str, str] = {}
        self.calls: list[dict[str, Any]] = []
        self._cond = threading.Condition()

    @property
    def url(self) -> str:
        return self.base_url + self.path

    def _record(self, call: dict[str, Any]) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def wait_for(self, n: int, timeout: float = 10) -> bool:
        """Block until at least ``n`` POSTs were received; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.calls) >= n, timeout=timeout)


# --------------------------------------------------------------------------------------------------
# Mailbox (SMTP)


class Envelope(NamedTuple):
    mail_from: str
    rcpt_tos: list[str]


@dataclass
class _MailHandler:
    mailbox: "Mailbox"

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd hook
        box = self.mailbox
        if box.reject:
            return box.reject
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        message = message_from_bytes(raw, policy=policy.default)
        box._record(message, Envelope(envelope.mail_from, list(envelope.rcpt_tos)), raw)
        return "250 Message accepted for delivery"


class Mailbox:
    """An SMTP server on loopback (aiosmtpd) that keeps what it receives.

    ``messages``: parsed :class:`email.message.EmailMessage` (``email.policy.default``), so
    ``msg["Subject"]`` and ``msg.get_body(("plain",)).get_content()`` work.
    ``envelopes``: :class:`Envelope` (mail_from, rcpt_tos), same order. ``raw``: the bytes.
    Set ``reject`` to an SMTP reply such as ``"554 Transaction failed"`` to refuse messages.
    Extra keyword arguments go to ``aiosmtpd.controller.Controller`` (e.g. auth settings).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **controller_kwargs: Any):
        self.host = host
        self.port = port or free_port(host)
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self.raw: list[bytes] = []
        self.reject: str | None = None
        self._controller_kwargs = controller_kwargs
        self._controller = None
        self._cond = threading.Condition()

    def _record(self, message: EmailMessage, envelope: Envelope, raw: bytes) -> None:
        with self._cond:
            self.messages.append(message)
            self.envelopes.append(envelope)
            self.raw.append(raw)
            self._cond.notify_all()

    def wait_for(self, n: int, timeout: float = 10) -> bool:
        """Block until at least ``n`` messages were received; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.messages) >= n, timeout=timeout)

    def start(self) -> "Mailbox":
        if self._controller is not None:
            return self
        from aiosmtpd.controller import Controller  # imported lazily: only SMTP tests need it

        controller = Controller(_MailHandler(self), hostname=self.host, port=self.port,
                                **self._controller_kwargs)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> "Mailbox":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
