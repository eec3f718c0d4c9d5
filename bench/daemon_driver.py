"""``python -m bench.daemon_driver CONFIG_DIR TICKS OUT.json``: the real daemon's ticks on a simulated clock.

Builds ``crawler.daemon.Daemon`` as ``newswatch run`` does, but calls ``tick()`` in a loop, advancing the
clock by the configured tick each time instead of waiting for it (so an hour takes minutes). The child
of each cycle gets the due sources the parent saw (``--source``), since its own clock is real time, and
runs under bench.maxrss so its peak memory is recorded. After each tick this process notes its RSS.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import rss_mb
from crawler import config as config_mod
from crawler.daemon import Daemon


class SimulatedDaemon(Daemon):
    def __init__(self, config_dir, config, peaks: Path):
        self.now = datetime.now(UTC)
        super().__init__(config_dir, config, clock=lambda: self.now)
        self.peaks = peaks

    def crawl_command(self, due):
        cmd = super().crawl_command(due)
        # the child polls what the parent found due, with the parent's idea of now
        cmd = [c for c in cmd if c != "--due"] + [arg for s in due for arg in ("--source", s)]
        cmd += ["--now", self.now.strftime("%Y-%m-%dT%H:%M:%SZ")]
        return [sys.executable, "-m", "bench.maxrss", str(self.peaks), "--", *cmd]


def _peak_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(config_dir: str, ticks: int, out: str) -> None:
    config = config_mod.load(config_dir)
    peaks = Path(out + ".peaks")
    daemon = SimulatedDaemon(Path(config_dir), config, peaks)
    from crawler.store import Store

    Store(config.database_path).close()
    rows = []
    for i in range(ticks):
        before = peaks.read_text().count("\n") if peaks.exists() else 0
        daemon.tick()
        lines = peaks.read_text().split() if peaks.exists() else []
        child = int(lines[-1]) / 1024 if len(lines) > before else None
        rows.append({"tick": i, "simulated_minutes": round(i * config.settings.tick / 60, 1),
                     "rss_mb": round(rss_mb(), 1), "child_peak_mb": child and round(child, 1)})
        daemon.now += timedelta(seconds=config.settings.tick)
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    Path(out).write_text(json.dumps({"ticks": rows, "parent_peak_mb": round(_peak_mb(), 1),
                                     "parent_cpu_s": round(ru.ru_utime + ru.ru_stime, 2)}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
