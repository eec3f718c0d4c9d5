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
@click.pass_context
def crawl(ctx, once, source_ids, due, no_dispatch, as_json, log_summary):
    """Poll sources once, store new articles, send alerts, print a summary.

    \b
    Example:
        newswatch crawl --once --source timesca
    """
    from .crawl import run_once
    from .store import Store

    cfg = _load(ctx)
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


@main.group()
def watches():
    """Try watches on a text, or run one over the stored articles.

    \b
    Example:
        newswatch watches test article.html
    """


def _read_input(path: str, limit: int) -> tuple[bytes, str]:
    if path == "-":
        data = sys.stdin.buffer.read(limit + 1)
        name = "stdin"
    else:
        try:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
        except OSError as exc:
            raise click.BadParameter(str(exc), param_hint="FILE") from None
        name = Path(path).name
    if len(data) > limit:
        raise click.BadParameter(f"larger than limits.max_page_bytes ({limit} bytes)", param_hint="FILE")
    return data, name


@watches.command("test")
@click.argument("file", metavar="FILE|-")
@click.option("--watch", "watch_ids", multiple=True, metavar="ID", help="Only this watch (repeatable).")
@click.option("--title", default=None, help="The article's title (a saved HTML page brings its own).")
@click.option("--source", "source_id", default=None, metavar="ID",
              help="Treat the text as an article of this source (for the sources/countries/languages filters).")
@click.option("--language", default=None, help="The article's language (ru, kk, ky, uz, tg, en ...); "
              "default: the page's, else the source's.")
@click.option("--json", "as_json", is_flag=True, help="Print the matches as JSON.")
@click.pass_context
def watches_test(ctx, file, watch_ids, title, source_id, language, as_json):
    """Run the watches over a text file or a saved article page (- reads stdin) and print the matches,
    exactly as the daemon would record them. Exit status 0 with matches, 1 without.

    \b
    Example:
        newswatch watches test --watch migrant-workers --source azattyk article.html
        echo "Мигранттардын саны өстү" | newswatch watches test --json -
    """
    from .watches import article_from_input, run_test

    cfg = _load(ctx)
    if source_id:
        cfg.source(source_id)
    data, name = _read_input(file, cfg.settings.limits["max_page_bytes"])
    article = article_from_input(data, name, title=title, source_id=source_id, language=language)
    matches = run_test(cfg, article, watch_ids)
    names = {w.id: w.name for w in cfg.watches}
    if as_json:
        click.echo(json.dumps({"title": article.title, "language": article.language,
                               "matches": [{"watch_id": m.watch_id, "watch_name": names[m.watch_id],
                                            "keyword": m.keyword, "form": m.form, "snippet": m.snippet}
                                           for m in matches]}, ensure_ascii=False, indent=2))
    elif not matches:
        click.echo("no watch matches")
    else:
        current = None
        for m in matches:
            if m.watch_id != current:
                current = m.watch_id
                click.echo(f"{m.watch_id} ({names[m.watch_id]})")
            click.echo(f"  {m.keyword} «{' '.join(m.form.split())}»: {m.snippet}")
    sys.exit(0 if matches else 1)


@watches.command("backfill")
@click.argument("watch_id", metavar="WATCH")
@click.option("--alert", is_flag=True, help="Also queue and send alerts for the newly matched articles "
              "(default: only record the matches).")
@click.option("--since", default=None, metavar="DATE", help="Only articles published on or after this date "
              "(2025-06-01).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def watches_backfill(ctx, watch_id, alert, since, as_json):
    """Run one watch over the stored articles and record its matches (no alerts unless --alert; an
    article already matched by this watch is not alerted again).

    \b
    Example:
        newswatch watches backfill migrant-workers --since 2025-06-01
    """
    from .store import Store
    from .watches import backfill

    cfg = _load(ctx)
    store = Store(cfg.database_path)
    try:
        result = backfill(cfg, store, watch_id, alert=alert, since=since)
        if alert and result.alerts_queued:
            from .alerts.dispatcher import dispatch_pending

            dispatch_pending(cfg, store)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return
    rows = [("articles looked at", result.articles), ("matched", result.matched),
            ("  of which new", result.new), ("alerts queued", result.alerts_queued)]
    click.echo("\n".join(f"{name:<24}{value:>6}" for name, value in rows))
    for ex in result.examples:
        click.echo(f"  [{ex['article_id']}] {ex['title']}")
        for m in ex["matches"][:3]:
            click.echo(f"      {m['keyword']} «{' '.join(m['form'].split())}»: {m['snippet']}")


if __name__ == "__main__":  # pragma: no cover
    main()
