"""The daemon's HTTP server: ``/healthz`` and ``/metrics``, on 127.0.0.1 unless told otherwise.

``/healthz`` answers 200 with a small JSON body while the scheduler ticks and the database takes
writes, 503 with the problems otherwise, so a supervisor (systemd watchdog script, Docker
HEALTHCHECK, Kubernetes, a Prometheus blackbox probe) can restart a stuck daemon. ``/metrics`` is the
Prometheus text format. Nothing else is served, nothing from the request is echoed back, and
requests are not logged (a scrape every 15 s is not an event).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST


@dataclass(frozen=True)
class TickClock:
    """What the scheduler last did, in monotonic seconds."""

    started_at: float            # when the daemon started
    last_tick_done: float | None  # when a tick last finished
    tick_running_since: float | None


def scheduler_problem(clock: TickClock, now: float, *, tick: float, stall_ticks: int,
                      cycle_timeout: float) -> str | None:
    """Why the scheduler looks stalled, or None.

    A tick that runs a crawl cycle legitimately lasts up to the cycle timeout (plus the grace the
    daemon gives the child), so a running tick is only a stall past that; an idle scheduler is a stall
    when ``stall_ticks`` ticks went by without one finishing."""
    if clock.tick_running_since is not None:
        limit = cycle_timeout + 60 + max(tick * stall_ticks, 30)
        running = now - clock.tick_running_since
        if running > limit:
            return f"scheduler: a tick has been running for {running:.0f} s (limit {limit:.0f} s)"
        return None
    since = now - (clock.last_tick_done if clock.last_tick_done is not None else clock.started_at)
    limit = tick * stall_ticks
    if since > limit:
        return f"scheduler: no tick for {since:.0f} s (tick {tick:g} s, limit {limit:.0f} s)"
    return None


class OpsServer:
    """A ThreadingHTTPServer in a daemon thread. ``health()`` returns (ok, details); ``metrics()`` bytes."""

    def __init__(self, host: str, port: int, health: Callable[[], tuple[bool, dict]], metrics: Callable[[], bytes]):
        ops = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10  # a client that opens a connection and says nothing is dropped
            server_version = "newswatch"
            sys_version = ""

            def do_GET(self):  # noqa: N802 (http.server's naming)
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    ok, details = ops.health()
                    self._send(200 if ok else 503, "application/json",
                               json.dumps(details, ensure_ascii=False).encode())
                elif path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, ops.metrics())
                else:
                    self._send(404, "text/plain; charset=utf-8", b"not found: try /healthz or /metrics\n")

            def do_HEAD(self):  # noqa: N802
                self.do_GET()

            def _send(self, status: int, content_type: str, body: bytes):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def log_message(self, format, *args):
                pass

        self.health, self.metrics = health, metrics
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="newswatch-http", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return self.server.server_address[:2]

    def start(self) -> OpsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
