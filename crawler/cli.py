"""Command line: thin commands, each parses its arguments and calls one function."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import config as config_mod
from .errors import NewswatchError
from .logs import setup as setup_logging


def _load(ctx) -> config_mod.Config:
    return config_mod.load(ctx.obj["config_dir"])


class _Group(click.Group):
    """Turns Newswatch errors into one clear line and exit code 2 instead of a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except NewswatchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.option("--config", "config_dir", default="config", envvar="NEWSWATCH_CONFIG", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Directory with settings.yaml, sources.yaml "
              "and watches.yaml (env NEWSWATCH_CONFIG).")
@click.option("--log-level", default="INFO", show_default=True, envvar="NEWSWATCH_LOG_LEVEL",
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.version_option(package_name="newswatch")
@click.pass_context
def main(ctx, config_dir, log_level):
    """Newswatch: watch news outlets, keep a clean archive, alert on topics.

    \b
    Example:
        newswatch --config config check-config
    """
    ctx.ensure_object(dict)
    ctx.obj["config_dir"] = config_dir
    setup_logging(log_level)


@main.command("check-config")
@click.pass_context
def check_config(ctx):
    """Validate the config and exit (status 2 and the file, YAML path and problem on error).

    \b
    Example:
        newswatch --config config check-config
    """
    cfg = _load(ctx)
    click.echo(f"config ok: {len(cfg.sources)} sources ({sum(len(s.feeds) for s in cfg.sources)} feeds), "
               f"{len(cfg.watches)} watches, {len(cfg.settings.channels)} channels, "
               f"database {cfg.settings.database}")


@main.command()
@click.option("--once", is_flag=True, required=True, help="Run one cycle and exit (required: the daemon is "
              "'newswatch run').")
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Poll only this source (repeatable).")
@click.option("--due", is_flag=True, help="Poll only sources whose next check has come (what the daemon uses).")
@click.option("--no-dispatch", is_flag=True, help="Store and queue alerts but do not send them.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--log-summary", is_flag=True, hidden=True, help="Log the summary as one event (the daemon's child).")
@click.option("--now", "now", default=None, hidden=True, metavar="ISO",
              help="Take this UTC time as now for due-ness and feed state (benchmarks simulate hours this way).")
@click.pass_context
def crawl(ctx, once, source_ids, due, no_dispatch, as_json, log_summary, now):
    """Poll sources once, store new articles, send alerts, print a summary.

    \b
    Example:
        newswatch crawl --once --source timesca
    """
    from .crawl import run_once
    from .store import Store

    cfg = _load(ctx)
    if now is not None:
        from datetime import UTC, datetime

        fixed = datetime.fromisoformat(now.replace("Z", "+00:00")).astimezone(UTC)
        store = Store(cfg.database_path, clock=lambda: fixed)
    else:
        store = Store(cfg.database_path)
    if source_ids:
        ids = [cfg.source(i).id for i in source_ids]
    elif due:
        store.sync_sources(cfg.sources)
        ids = store.due_sources()
    else:
        ids = [s.id for s in cfg.sources if s.enabled]
    summary = run_once(cfg, store, ids)
    if not no_dispatch:
        from .alerts.dispatcher import dispatch_pending

        result = dispatch_pending(cfg, store)
        summary.alerts_sent, summary.alerts_failed = result.sent, result.failed
    store.close()
    if log_summary:
        from .logs import event

        fields = summary.as_dict()
        fields["errors"] = len(fields["errors"])
        event("cycle_done", **fields)
    elif as_json:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_summary(summary))


def format_summary(summary) -> str:
    rows = [("sources polled", summary.sources_polled), ("feeds polled", summary.feeds_polled),
            ("feeds unchanged", summary.feeds_unchanged), ("new articles", summary.new_articles),
            ("  of which summary only", summary.summary_only), ("duplicates", summary.duplicates),
            ("matches", summary.matches), ("alerts queued", summary.alerts_queued),
            ("alerts sent", summary.alerts_sent), ("alerts failed", summary.alerts_failed),
            ("errors", len(summary.errors))]
    lines = [f"{name:<24}{value:>6}" for name, value in rows]
    lines += [f"  {e}" for e in summary.errors]
    return "\n".join(lines)


@main.command()
@click.pass_context
def run(ctx):
    """Run the daemon: poll due sources on every tick, send alerts; SIGINT/SIGTERM stop it.

    \b
    Example:
        newswatch --config config run
    """
    from .daemon import Daemon

    cfg = _load(ctx)
    Daemon(ctx.obj["config_dir"], cfg).run()


@main.command()
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the demo's config and database in this directory instead of a temporary one.")
def demo(keep):
    """Show the whole pipeline offline: a sample outlet, a webhook receiver and a mailbox on 127.0.0.1.

    \b
    Example:
        newswatch demo
    """
    from .demo.run import run_demo

    run_demo(keep)


if __name__ == "__main__":  # pragma: no cover
    main()
