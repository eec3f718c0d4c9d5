"""Prometheus metrics of the daemon.

Crawl cycles run in child processes that exit before anyone could scrape them, so each cycle writes
one row to the ``cycles`` table and the daemon turns rows it has not seen yet into counters and
histogram observations (no multiprocess directory to clean up, nothing lost when a child is killed
after committing). Alerts are sent by the daemon itself and counted directly. Gauges that describe
the archive as it is now (outbox by state, failing sources) are read from the database at scrape
time. Counters start at zero when the daemon starts, as Prometheus expects.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

# Feed polls take from tens of milliseconds (a 304) to the request timeout; extraction from
# milliseconds to seconds for a huge page.
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, float("inf"))
EXTRACT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, float("inf"))
CYCLE_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, float("inf"))


class _ArchiveCollector:
    """Reads the current state at scrape time through ``read`` (a callable returning a dict)."""

    def __init__(self, read: Callable[[], dict]):
        self.read = read

    def collect(self):
        try:
            state = self.read()
        except Exception:  # a locked or missing database must not break /metrics; /healthz reports it
            return
        outbox = GaugeMetricFamily("newswatch_outbox_alerts", "Alerts in the outbox by state.", labels=["state"])
        for name, n in sorted(state["outbox"].items()):
            outbox.add_metric([name], n)
        yield outbox
        yield GaugeMetricFamily("newswatch_sources_failing", "Enabled sources whose last poll failed.",
                                value=state["failing_sources"])
        yield GaugeMetricFamily("newswatch_articles", "Articles in the archive.", value=state["articles"])


class Metrics:
    def __init__(self, read_state: Callable[[], dict] | None = None):
        self.registry = CollectorRegistry()
        r = self.registry
        self.cycles = Counter("newswatch_cycles", "Crawl cycles finished.", registry=r)
        self.polls = Counter("newswatch_polls", "Feed polls.", registry=r)
        self.unchanged = Counter("newswatch_polls_unchanged", "Feed polls that found nothing new (304 or "
                                 "same bytes).", registry=r)
        self.fetch_errors = Counter("newswatch_fetch_errors", "Failed feed polls by kind (http, dns, timeout, "
                                    "connection, parse, policy, too_large, robots).", ["kind"], registry=r)
        self.articles = Counter("newswatch_articles_stored", "New articles stored.", registry=r)
        self.duplicates = Counter("newswatch_duplicates", "Entries found to be copies of stored articles.",
                                  registry=r)
        self.summary_only = Counter("newswatch_articles_summary_only", "Articles stored from the feed "
                                    "summary because the page could not be used.", registry=r)
        self.matches = Counter("newswatch_matches", "Keyword matches on new articles.", registry=r)
        self.alerts = Counter("newswatch_alerts", "Alert sends by outcome (sent, failed for good, retrying).",
                              ["outcome"], registry=r)
        self.queued = Counter("newswatch_alerts_queued", "Alerts queued in the outbox.", registry=r)
        self.poll_seconds = Histogram("newswatch_poll_duration_seconds", "Feed poll: download and parse.",
                                      buckets=POLL_BUCKETS, registry=r)
        self.extract_seconds = Histogram("newswatch_extract_duration_seconds", "Article page extraction.",
                                         buckets=EXTRACT_BUCKETS, registry=r)
        self.cycle_seconds = Histogram("newswatch_cycle_duration_seconds", "Whole crawl cycle.",
                                       buckets=CYCLE_BUCKETS, registry=r)
        self.started = Gauge("newswatch_daemon_start_time_seconds", "When the daemon started (Unix time).",
                             registry=r)
        self.last_tick = Gauge("newswatch_last_tick_time_seconds", "When the last tick finished (Unix time).",
                               registry=r)
        self.started.set(time.time())
        for outcome in ("sent", "failed", "retrying"):
            self.alerts.labels(outcome)
        if read_state is not None:
            r.register(_ArchiveCollector(read_state))

    def observe_cycle(self, row: dict) -> None:
        """One row of the ``cycles`` table."""
        self.cycles.inc()
        self.polls.inc(row["feeds_polled"])
        self.unchanged.inc(row["feeds_unchanged"])
        for kind, n in row["error_kinds"].items():
            self.fetch_errors.labels(kind).inc(n)
        self.articles.inc(row["new_articles"])
        self.duplicates.inc(row["duplicates"])
        self.summary_only.inc(row["summary_only"])
        self.matches.inc(row["matches"])
        self.queued.inc(row["alerts_queued"])
        self.observe_dispatch(row["alerts_sent"], row["alerts_failed"], 0)
        self.cycle_seconds.observe(row["seconds"])
        for s in row["poll_seconds"]:
            self.poll_seconds.observe(s)
        for s in row["extract_seconds"]:
            self.extract_seconds.observe(s)

    def observe_dispatch(self, sent: int, failed: int, retrying: int) -> None:
        self.alerts.labels("sent").inc(sent)
        self.alerts.labels("failed").inc(failed)
        self.alerts.labels("retrying").inc(retrying)

    def render(self) -> bytes:
        return generate_latest(self.registry)
