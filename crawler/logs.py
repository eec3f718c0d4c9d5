"""One event per log line with stable field names (event, source_id, url, stage, ...)."""

from __future__ import annotations

import logging
import sys

log = logging.getLogger("newswatch")


def _quote(value) -> str:
    text = str(value).replace("\n", " ").replace("\r", " ")
    if not text or any(c in text for c in ' "='):
        return '"' + text.replace('"', "'") + '"'
    return text


def event(name: str, level: int = logging.INFO, **fields) -> None:
    parts = [f"event={name}"] + [f"{k}={_quote(v)}" for k, v in fields.items() if v is not None]
    log.log(level, " ".join(parts))


def setup(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(_library_chatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    log.setLevel(getattr(logging, level.upper(), logging.INFO))
    quiet_libraries()


def _library_chatter(record: logging.LogRecord) -> bool:
    # Scrapy logs its banner and a multi-line version dump while CrawlerProcess starts, before
    # quiet_libraries() can lower its level again: they would break one-event-per-line.
    return not (record.name.startswith("scrapy") and record.levelno < logging.WARNING)


def quiet_libraries() -> None:
    """Called again after Scrapy's CrawlerProcess, which resets its loggers to DEBUG."""
    # Library chatter (Scrapy's stats dump, trafilatura's "discarding data") is not an event the
    # operator acts on; their warnings about our inputs are reported by our own events instead.
    for name, lib_level in (("scrapy", logging.WARNING), ("scrapy.downloadermiddlewares.retry", logging.CRITICAL),
                            ("twisted", logging.ERROR), ("py.warnings", logging.ERROR),
                            ("trafilatura", logging.ERROR), ("htmldate", logging.ERROR),
                            ("courlan", logging.ERROR), ("charset_normalizer", logging.ERROR),
                            ("apscheduler", logging.WARNING)):
        logging.getLogger(name).setLevel(lib_level)
