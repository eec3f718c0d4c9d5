"""What a person sees on a terminal: the crawl progress bar and the tables of crawl and status (rich).

Only used when the output is a terminal; scripts and pipes get the plain text or JSON the commands
have always printed, and the log stays one event per line either way.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text


def is_terminal() -> bool:
    return sys.stdout.isatty() and sys.stderr.isatty()


@contextmanager
def crawl_progress(total_feeds_hint: int = 0) -> Iterator:
    """A progress bar on stderr; yields the observer the crawl session calls. Log lines written
    meanwhile are printed above the bar instead of through it."""
    # soft_wrap: a long log line printed above the bar must stay one line (the terminal wraps it).
    console = Console(stderr=True, soft_wrap=True)
    progress = Progress(SpinnerColumn(), TextColumn("[bold]feeds"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                        redirect_stderr=True, transient=True)
    task = progress.add_task("", total=total_feeds_hint or None)
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    with progress:
        old = [h.setStream(sys.stderr) for h in handlers]  # sys.stderr is rich's proxy now

        def observe(session):
            s = session.summary
            progress.update(task, total=s.feeds_polled or None, completed=session.stats.feeds_done,
                            description=f"{s.new_articles} new · {s.duplicates} duplicates · "
                                        f"{s.matches} matches · {len(s.errors)} errors")
        try:
            yield observe
        finally:
            for h, stream in zip(handlers, old):
                h.setStream(stream)


def summary_table(summary) -> Table:
    table = Table(title="Crawl summary", box=box.SIMPLE_HEAVY, show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [("sources polled", summary.sources_polled), ("feeds polled", summary.feeds_polled),
            ("feeds unchanged", summary.feeds_unchanged), ("new articles", summary.new_articles),
            ("  of which summary only", summary.summary_only), ("duplicates", summary.duplicates),
            ("matches", summary.matches), ("alerts queued", summary.alerts_queued),
            ("alerts sent", summary.alerts_sent), ("alerts failed", summary.alerts_failed),
            ("errors", len(summary.errors))]
    for name, value in rows:
        style = "bold red" if name in ("errors", "alerts failed") and value else None
        table.add_row(name, str(value), style=style)
    return table


def print_summary(summary) -> None:
    console = Console()
    console.print(summary_table(summary))
    for e in summary.errors:
        console.print(Text("  " + e, style="red"))


def status_table(report: dict) -> Table:
    table = Table(title="Sources", box=box.SIMPLE_HEAVY)
    for name, justify in (("source", "left"), ("country", "left"), ("last success", "left"),
                          ("last error", "left"), ("errors in a row", "right"), ("next check", "left"),
                          ("24 h", "right"), ("7 d", "right")):
        table.add_column(name, justify=justify, overflow="fold", no_wrap=name != "last error")
    for s in report["sources"]:
        failing = s["consecutive_errors"] > 0
        error = f"{s['last_error_kind']}: {s['last_error']}" if failing else ""
        table.add_row(s["source_id"], s["country"] or "", s["last_success_human"], Text(error[:80], style="red"),
                      str(s["consecutive_errors"]), s["next_check_human"], str(s["articles_24h"]),
                      str(s["articles_7d"]), style="bold" if failing else None)
    return table


def print_status(report: dict) -> None:
    # Piped into grep or a mail, 80 columns would fold every error message.
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(status_table(report))
    o = report["outbox"]
    console.print(f"alerts: {o['pending']} pending, {o['sending']} sending, {o['sent']} sent, "
                  f"[{'bold red' if o['failed'] else 'default'}]{o['failed']} failed[/]")
    console.print(f"daemon: {report['daemon']['summary']}")
    if report["last_cycle"]:
        console.print(f"last cycle: {report['last_cycle']['summary']}")
