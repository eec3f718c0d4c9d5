"""The fixture outlets of tests/fixtures/outlets/, served on loopback with dates relative to now.

Sitemaps are read within a date window, so their dates cannot be fixed in files: ``{now-2h}`` or
``{now-1d}`` in any fixture file is replaced by that moment (ISO 8601, UTC) when the outlet is staged.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import FIXTURES

OUTLETS = FIXTURES / "outlets"
_NOW = re.compile(r"\{now-(\d+)([hd])\}")


def stage(name: str, tmp_path: Path) -> Path:
    """A copy of the fixture outlet ``name`` with its relative dates filled in."""
    target = tmp_path / "outlets" / name
    shutil.copytree(OUTLETS / name, target)
    now = datetime.now(UTC).replace(microsecond=0)

    def when(m):
        delta = timedelta(hours=int(m.group(1))) if m.group(2) == "h" else timedelta(days=int(m.group(1)))
        return (now - delta).strftime("%Y-%m-%dT%H:%M:%SZ")

    for path in target.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            filled = _NOW.sub(when, text)
            if filled != text:
                path.write_text(filled, encoding="utf-8")
    return target


NAMES = ("feed-autodiscovery", "news-sitemap", "sitemap-index", "listing-pattern", "listing-heuristic", "atom",
         "jsonfeed", "editions")


class AllOutlets:
    """Every fixture outlet served at once (one crawl process covers them all: Scrapy's start-up
    dominates the cost of a crawl here)."""

    def __init__(self, tmp_path: Path):
        from crawler.demo.servers import OutletServer

        self.servers = {name: OutletServer(stage(name, tmp_path)) for name in NAMES}

    def __enter__(self):
        for server in self.servers.values():
            server.start()
        return self

    def __exit__(self, *exc):
        for server in self.servers.values():
            server.stop()

    def __getitem__(self, name: str):
        return self.servers[name]
