"""``newswatch run``: one long-lived process, an APScheduler tick, a child process per crawl cycle.

Each tick reloads the config (an invalid edit is logged and the previous config kept), asks SQLite
which sources are due, runs ``newswatch crawl --once --due --no-dispatch`` in a child process (the
Twisted reactor cannot restart, and a child's memory is returned when it exits), then sends pending
alerts. ``max_instances=1`` and ``coalesce=True`` keep a slow cycle from overlapping the next.
SIGINT/SIGTERM stop the child (SIGKILL after a grace period) and the scheduler within seconds;
everything committed stays committed. SIGHUP runs a tick at once, which reloads the config.

Alongside, an HTTP server (``crawler.httpd``) serves ``/healthz`` and ``/metrics``; every tick
writes a heartbeat to the ``daemon`` table, which ``newswatch status`` reads for the uptime.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.blocking import BlockingScheduler

from . import config as config_mod
from .alerts.dispatcher import dispatch_pending
from .errors import ConfigError, StoreError
from .httpd import OpsServer, TickClock, scheduler_problem
from .logs import event
from .metrics import Metrics
from .store import Store, utcnow

GRACE_SECONDS = 5


def _die_with_parent() -> None:
    """In the crawl child, before exec: be killed when the daemon dies, however it dies. A
    SIGKILLed daemon would otherwise leave its child crawling while the restarted daemon starts
    another one on the same feeds. (Linux ties this to the thread that started the child: the
    scheduler's worker threads live as long as the daemon.)"""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


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


def lock_holder(db_path: Path) -> int | None:
    """The pid of the daemon running on this database, or None. (Probes the lock for an instant.)"""
    path = Path(str(db_path) + ".lock")
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class Daemon:
    def __init__(self, config_dir: Path, config: config_mod.Config, *, clock: Callable[[], datetime] = utcnow):
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
        self.started_mono = time.monotonic()
        self.last_tick_done: float | None = None
        self.tick_running_since: float | None = None
        self.metrics = Metrics(self._archive_state)
        self.cycle_cursor = 0
        self.http: OpsServer | None = None
        self._config_error: str | None = None
        self._wake_pending = False
        self._healthy = True
        self._config_signature: tuple | None = None
        self._synced: config_mod.Config | None = None  # the config last written to the sources table
        self.snapshot_root: Path | None = None

    def _signature(self) -> tuple:
        files = sorted(p for p in self.config_dir.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
        return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)

    def _load_snapshot(self) -> config_mod.Config:
        """Copy the config files aside and load the copy. The crawl child reads the copy, so it runs on
        the config the daemon accepted, never on a half-saved or invalid edit of the user's files."""
        if self.snapshot_root is None:  # a tick outside run() (tests, the memory benchmark)
            self.snapshot_root = Path(tempfile.mkdtemp(prefix="newswatch-config-"))
        staging = Path(tempfile.mkdtemp(prefix="staging-", dir=self.snapshot_root))
        try:
            for p in self.config_dir.iterdir():
                if p.is_file() and p.suffix in (".yaml", ".yml"):
                    shutil.copyfile(p, staging / p.name)
            new = config_mod.load(staging)
        except (ConfigError, OSError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, OSError):
                raise ConfigError(f"cannot read the config: {exc}", file=str(self.config_dir)) from None
            # Name the user's file, not the copy.
            raise ConfigError(str(exc).replace(str(staging), str(self.config_dir)).removeprefix("config: ")) from None
        current = self.snapshot_root / "current"
        old = self.snapshot_root / f"old-{os.getpid()}"
        if current.exists():
            current.rename(old)
        staging.rename(current)
        shutil.rmtree(old, ignore_errors=True)
        return dataclasses.replace(new, directory=self.config_dir)

    def _reload(self, force: bool = False) -> None:
        try:
            signature = self._signature()
        except OSError:
            signature = None
        if signature is not None and signature == self._config_signature and not force:
            return
        self._config_signature = signature
        try:
            new = self._load_snapshot()
        except ConfigError as exc:
            # Once per distinct error, not once per tick: the operator needs the line, not a flood.
            if str(exc) != self._config_error:
                event("config_rejected", 40, stage="config", error=str(exc), note="keeping the previous config")
            self._config_error = str(exc)
            return
        if self._config_error is not None:
            event("config_accepted", stage="config", note="the config is valid again")
            self._config_error = None
        if new != self.config:
            event("config_reloaded", stage="config", sources=len(new.sources), watches=len(new.watches),
                  channels=len(new.settings.channels))
            if new.settings.tick != self.config.settings.tick:
                self.scheduler.reschedule_job("tick", trigger="interval", seconds=new.settings.tick)
            if new.settings.http != self.config.settings.http or new.database_path != self.config.database_path:
                event("restart_needed", 30, stage="config", note="http and database settings take effect "
                      "when the daemon restarts")
        self.config = new

    def crawl_command(self, due: list[str]) -> list[str]:
        """The child asks SQLite itself which sources are due (``--due``), so it sees the latest state;
        ``due`` is what the parent saw, for a subclass that passes it on (the benchmark's clock)."""
        config_dir = self.snapshot_root / "current" if self.snapshot_root else self.config_dir
        return [sys.executable, "-m", "crawler", "--config", str(config_dir), "crawl", "--once", "--due",
                "--no-dispatch", "--log-summary"]

    def tick(self) -> None:
        if self.stop.is_set():
            return
        self.tick_running_since = time.monotonic()
        try:
            self._tick()
            while self._wake_pending and not self.stop.is_set():  # a SIGHUP came during the tick
                self._wake_pending = False
                self._tick()
        finally:
            self.tick_running_since = None
            self.last_tick_done = time.monotonic()
            self.metrics.last_tick.set(time.time())

    def _tick(self) -> None:
        self._reload()
        store = Store(self.config.database_path, clock=self.clock)
        try:
            if self._synced is not self.config:
                # Only after a (re)load: re-writing 1,000 unchanged sources every tick was most of the
                # daemon's own CPU (make bench: daemon).
                store.sync_sources(self.config.sources)
                self._synced = self.config
            due = store.due_sources()
            if due and not self.stop.is_set():
                event("cycle_start", sources=len(due))
                self._run_child(due)
            self._count_cycles(store)
            if not self.stop.is_set():
                result = dispatch_pending(self.config, store, stop=self.stop)
                self.metrics.observe_dispatch(result.sent, result.failed, result.retrying)
                if result.sent or result.failed or result.retrying:
                    event("dispatch", sent=result.sent, retrying=result.retrying, failed=result.failed)
            store.daemon_heartbeat(self.config.settings.tick)
        finally:
            store.close()

    def _count_cycles(self, store: Store) -> None:
        """Cycles recorded since the last look (the daemon's children and any manual crawl --once)."""
        rows = store.cycles_after(self.cycle_cursor)
        for row in rows:
            self.metrics.observe_cycle(row)
            self.cycle_cursor = row["id"]
        if rows:
            store.trim_cycles()

    def _archive_state(self) -> dict:
        store = Store(self.config.database_path, busy_timeout_ms=2000)
        try:
            return store.archive_state()
        finally:
            store.close()

    def health(self) -> tuple[bool, dict]:
        settings = self.config.settings
        now = time.monotonic()
        problems = []
        stalled = scheduler_problem(TickClock(self.started_mono, self.last_tick_done, self.tick_running_since), now,
                                    tick=settings.tick, stall_ticks=settings.http["stall_ticks"],
                                    cycle_timeout=settings.limits["cycle_timeout"])
        if stalled:
            problems.append(stalled)
        try:
            store = Store(self.config.database_path, busy_timeout_ms=3000)
            try:
                store.daemon_heartbeat()
            finally:
                store.close()
        except StoreError as exc:
            problems.append(str(exc))
        details = {"status": "ok" if not problems else "failing", "problems": problems, "pid": os.getpid(),
                   "uptime_seconds": round(now - self.started_mono),
                   "last_tick_seconds_ago": None if self.last_tick_done is None
                   else round(now - self.last_tick_done, 1),
                   "tick_running": self.tick_running_since is not None,
                   "config_error": self._config_error}
        if bool(problems) == self._healthy:  # log changes, not every probe
            self._healthy = not problems
            if problems:
                event("unhealthy", 40, problems="; ".join(problems))
            else:
                event("healthy_again")
        return not problems, details

    def _start_http(self) -> None:
        http = self.config.settings.http
        if not http["enabled"] or not http["port"]:
            return
        try:
            self.http = OpsServer(http["host"], http["port"], self.health, self.metrics.render).start()
        except OSError as exc:
            # Crawling matters more than the metrics endpoint: say so loudly and keep polling.
            event("http_failed", 40, host=http["host"], port=http["port"], error=exc,
                  note="crawling goes on without /healthz and /metrics")
            return
        host, port = self.http.address
        event("http_listening", url=f"http://{host}:{port}/", endpoints="/healthz /metrics")

    def wake(self, signum=None, frame=None) -> None:
        """SIGHUP: reload the config and look for due sources now instead of at the next tick."""
        threading.Thread(target=self._wake, daemon=True).start()

    def _wake(self) -> None:
        if self.stop.is_set():
            return
        if self.tick_running_since is not None:
            # One tick at a time: the running one asks for another as soon as it ends.
            self._wake_pending = True
            self._config_signature = None
            event("reload_requested", signal="SIGHUP", note="after the running tick")
            return
        event("reload_requested", signal="SIGHUP")
        self._config_signature = None  # read the files even if they look unchanged
        self.scheduler.modify_job("tick", next_run_time=datetime.now(UTC))

    def _run_child(self, due: list[str]) -> None:
        timeout = self.config.settings.limits["cycle_timeout"] + 60
        with self._child_lock:
            if self.stop.is_set():
                return
            self.child = subprocess.Popen(self.crawl_command(due), preexec_fn=_die_with_parent)
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
        self.snapshot_root = Path(tempfile.mkdtemp(prefix="newswatch-config-"))
        try:
            self._config_signature = self._signature()
            self.config = self._load_snapshot()
            store = Store(self.config.database_path)  # create / migrate before the first tick
            try:
                store.daemon_started(os.getpid(), socket.gethostname(), self.config.settings.tick)
                self.cycle_cursor = store.last_cycle_id()
            finally:
                store.close()
            signal.signal(signal.SIGINT, self.shutdown)
            signal.signal(signal.SIGTERM, self.shutdown)
            signal.signal(signal.SIGHUP, self.wake)
            self._start_http()
            self.scheduler.add_job(self.tick, "interval", seconds=self.config.settings.tick, id="tick",
                                   max_instances=1, coalesce=True, misfire_grace_time=None,
                                   next_run_time=datetime.now(UTC))
            event("daemon_started", pid=os.getpid(), database=self.config.database_path,
                  sources=len(self.config.sources), watches=len(self.config.watches), tick=self.config.settings.tick)
            self.scheduler.start()
            self._end_child()
        finally:
            if self.http is not None:
                self.http.stop()
            try:
                store = Store(self.config.database_path)
                store.daemon_stopped()
                store.close()
            except StoreError:
                pass
            shutil.rmtree(self.snapshot_root, ignore_errors=True)
            lock.release()
            event("daemon_stopped")
