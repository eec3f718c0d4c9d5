"""``newswatch run``: one long-lived process, an APScheduler tick, a child process per crawl cycle.

Each tick reloads the config (an invalid edit is logged and the previous config kept), asks SQLite
which sources are due, runs ``newswatch crawl --once --due --no-dispatch`` in a child process (the
Twisted reactor cannot restart, and a child's memory is returned when it exits), then sends pending
alerts. ``max_instances=1`` and ``coalesce=True`` keep a slow cycle from overlapping the next.
SIGINT/SIGTERM stop the child (SIGKILL after a grace period) and the scheduler within seconds;
everything committed stays committed.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.blocking import BlockingScheduler

from . import config as config_mod
from .alerts.dispatcher import dispatch_pending
from .errors import ConfigError, StoreError
from .logs import event
from .store import Store

GRACE_SECONDS = 5


class InstanceLock:
    """A second daemon on the same database refuses to start, naming the holder's pid."""

    def __init__(self, db_path: Path):
        self.path = Path(str(db_path) + ".lock")
        self.fd = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StoreError(f"another newswatch daemon (pid {holder}) is running on this database "
                             f"(lock {self.path})") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _now() -> datetime:
    return datetime.now(UTC)


class Daemon:
    def __init__(self, config_dir: Path, config: config_mod.Config, *, clock: Callable[[], datetime] = _now):
        self.config_dir = Path(config_dir)
        self.config = config
        # which sources are due is judged by this clock: the memory benchmark runs an hour of
        # ticks in minutes by advancing it instead of waiting
        self.clock = clock
        self.stop = threading.Event()
        self.child: subprocess.Popen | None = None
        self._child_lock = threading.Lock()
        self.scheduler = BlockingScheduler(timezone=UTC)
        self.started_at = datetime.now(UTC)

    def _reload(self) -> None:
        try:
            self.config = config_mod.load(self.config_dir)
        except ConfigError as exc:
            event("config_rejected", 40, stage="config", error=str(exc), note="keeping the previous config")

    def crawl_command(self, due: list[str]) -> list[str]:
        """The child asks SQLite itself which sources are due (``--due``), so it sees the latest state;
        ``due`` is what the parent saw, for a subclass that passes it on (the benchmark's clock)."""
        return [sys.executable, "-m", "crawler", "--config", str(self.config_dir), "crawl", "--once", "--due",
                "--no-dispatch", "--log-summary"]

    def tick(self) -> None:
        if self.stop.is_set():
            return
        self._reload()
        store = Store(self.config.database_path, clock=self.clock)
        try:
            store.sync_sources(self.config.sources)
            due = store.due_sources()
            if due and not self.stop.is_set():
                event("cycle_start", sources=len(due))
                self._run_child(due)
            if not self.stop.is_set():
                result = dispatch_pending(self.config, store, stop=self.stop)
                if result.sent or result.failed or result.retrying:
                    event("dispatch", sent=result.sent, retrying=result.retrying, failed=result.failed)
        finally:
            store.close()

    def _run_child(self, due: list[str]) -> None:
        timeout = self.config.settings.limits["cycle_timeout"] + 60
        with self._child_lock:
            if self.stop.is_set():
                return
            self.child = subprocess.Popen(self.crawl_command(due))
        try:
            code = self.child.wait(timeout=timeout)
            if code != 0 and not self.stop.is_set():
                event("cycle_failed", 40, exit_code=code)
        except subprocess.TimeoutExpired:
            event("cycle_timeout", 40, seconds=timeout)
            self._end_child()
        finally:
            self.child = None

    def _end_child(self) -> None:
        with self._child_lock:
            child = self.child
        if child is None or child.poll() is not None:
            return
        child.terminate()
        try:
            child.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()

    def shutdown(self, signum=None, frame=None) -> None:
        if self.stop.is_set():
            return
        self.stop.set()
        event("stopping", signal=signal.Signals(signum).name if signum else None)
        threading.Thread(target=self._end_child, daemon=True).start()
        self.scheduler.shutdown(wait=False)

    def run(self) -> None:
        lock = InstanceLock(self.config.database_path)
        lock.acquire()
        try:
            Store(self.config.database_path).close()  # create / migrate before the first tick
            signal.signal(signal.SIGINT, self.shutdown)
            signal.signal(signal.SIGTERM, self.shutdown)
            self.scheduler.add_job(self.tick, "interval", seconds=self.config.settings.tick, id="tick",
                                   max_instances=1, coalesce=True, misfire_grace_time=None,
                                   next_run_time=datetime.now(UTC))
            event("daemon_started", pid=os.getpid(), database=self.config.database_path,
                  sources=len(self.config.sources), watches=len(self.config.watches), tick=self.config.settings.tick)
            self.scheduler.start()
            self._end_child()
        finally:
            lock.release()
            event("daemon_stopped")
