"""A hostile web on loopback: servers that misbehave the way real ones do, for tests/test_hostile.py.

- ``Canary`` listens on an address the crawler must never reach (127.0.0.2) and counts every TCP
  connection it accepts, HTTP or not.
- ``HostileServer`` serves named behaviours on any loopback address: a gzip bomb (1 GiB inflated,
  ~1 MB on the wire, streamed so neither side holds it), an endless chunked body, a drip feed (one
  byte every few seconds), redirects (loops, to the canary, to file://), Retry-After answers and
  plain static answers. Every request and every client hang-up is logged with a monotonic time,
  so tests can check ordering without timing assertions.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from crawler.demo.servers import _QuietServer, _ThreadedServer

GIB = 1 << 30
_BLOCK = b"\0" * (1 << 20)


def _gzip_bomb_parts(total: int = GIB) -> tuple[bytes, bytes, int, bytes]:
    """(head, repeated middle, repeat count, tail) of a gzip stream inflating to ``total`` zero bytes.

    After a full flush deflate forgets its history, so compressing the same 1 MiB block again gives
    the same bytes: the middle can be sent over and over without compressing 1 GiB."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = c.compress(_BLOCK) + c.flush(zlib.Z_FULL_FLUSH)
    middle = c.compress(_BLOCK) + c.flush(zlib.Z_FULL_FLUSH)
    blocks = total // len(_BLOCK)
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(_BLOCK, crc)
    tail = b"\x03\x00" + struct.pack("<II", crc & 0xFFFFFFFF, total & 0xFFFFFFFF)  # empty final block, trailer
    return head, middle, blocks - 1, tail


_BOMB: tuple | None = None


def gzip_bomb() -> tuple[bytes, bytes, int, bytes]:
    global _BOMB
    if _BOMB is None:
        _BOMB = _gzip_bomb_parts()
    return _BOMB


@dataclass
class Route:
    kind: str  # static, redirect, bomb, endless, drip
    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    drip_every: float = 2.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: "HostileServer"

    def log_message(self, format, *args):  # noqa: A002
        pass

    def do_GET(self):
        server = self.owner
        path = urlsplit(self.path).path
        server._log("request", path)
        route = server.routes.get(path)
        try:
            if route is None:
                self._plain(404, b"not here\n", {})
            elif route.kind == "static":
                self._plain(route.status, route.body, route.headers)
            elif route.kind == "bomb":
                self._bomb()
            elif route.kind == "endless":
                self._endless()
            elif route.kind == "drip":
                self._drip(route.drip_every)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            server._log("closed", path)
            self.close_connection = True

    def _plain(self, status, body, headers):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _bomb(self):
        head, middle, repeat, tail = gzip_bomb()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(head) + len(middle) * repeat + len(tail)))
        self.end_headers()
        self.wfile.write(head)
        for _ in range(repeat):
            self.wfile.write(middle)
        self.wfile.write(tail)
        self.owner._log("done", "bomb")

    def _endless(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        item = b"<item><title>again</title><link>http://127.0.0.1/x</link></item>" * 200
        chunk = b"%x\r\n%s\r\n" % (len(item), item)
        start = b'<?xml version="1.0"?><rss><channel><title>endless</title>'
        self.wfile.write(b"%x\r\n%s\r\n" % (len(start), start))
        while not self.owner._stopping.is_set():
            self.wfile.write(chunk)
        raise BrokenPipeError

    def _drip(self, every: float):
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.flush()
        while not self.owner._stopping.is_set():
            self.wfile.write(b"<")
            self.wfile.flush()
            self.owner._stopping.wait(every)
        raise BrokenPipeError


class HostileServer(_ThreadedServer):
    """An HTTP/1.1 server on ``host`` whose paths misbehave as configured with the methods below."""

    _handler_class = _Handler

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self.routes: dict[str, Route] = {}
        self.log: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def _log(self, what: str, path: str) -> None:
        with self._lock:
            self.log.append((time.monotonic(), what, path))

    def events(self, what: str, path: str | None = None) -> list[float]:
        with self._lock:
            return [t for t, w, p in self.log if w == what and (path is None or p == path)]

    def hits(self, path: str) -> int:
        return len(self.events("request", path))

    # -- behaviours ------------------------------------------------------------------------
    def static(self, path: str, body: bytes | str, status: int = 200, headers: dict | None = None) -> str:
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.routes[path] = Route("static", status, body, {"Content-Type": "application/rss+xml; charset=utf-8",
                                                           **(headers or {})})
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self.routes[path] = Route("static", status, b"", {"Location": location})
        return self.url(path)

    def bomb(self, path: str = "/bomb.xml") -> str:
        gzip_bomb()  # built before the crawl starts, not while it waits
        self.routes[path] = Route("bomb")
        return self.url(path)

    def endless(self, path: str = "/endless.xml") -> str:
        self.routes[path] = Route("endless")
        return self.url(path)

    def drip(self, path: str = "/drip.xml", every: float = 2.0) -> str:
        self.routes[path] = Route("drip", drip_every=every)
        return self.url(path)

    def stop(self) -> None:
        self._stopping.set()
        super().stop()


class Canary:
    """A TCP listener that must never be reached: counts accepted connections and closes them."""

    def __init__(self, host: str = "127.0.0.2"):
        self.host = host
        self.connections = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self.port = self._sock.getsockname()[1]
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"Canary:{self.port}")

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            conn.close()

    def __enter__(self) -> "Canary":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()
