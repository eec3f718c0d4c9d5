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
    kinds = [ep.kind for s in cfg.sources for ep in s.endpoints()]
    click.echo(f"config ok: {len(cfg.sources)} sources ({kinds.count('feed')} feeds, {kinds.count('sitemap')} "
               f"sitemaps, {kinds.count('listing')} listing pages), "
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
            ("sitemaps polled", summary.sitemaps_polled), ("listing pages polled", summary.listings_polled),
            ("feeds unchanged", summary.feeds_unchanged), ("new articles", summary.new_articles),
            ("  of which summary only", summary.summary_only), ("duplicates", summary.duplicates),
            ("matches", summary.matches), ("alerts queued", summary.alerts_queued),
            ("alerts sent", summary.alerts_sent), ("alerts failed", summary.alerts_failed),
            ("waiting for next poll", summary.waiting), ("errors", len(summary.errors))]
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


@main.group(cls=_Group)
def sources():
    """Find an outlet's feeds and sitemaps, check the catalogue, list sources and their state.

    \b
    Example:
        newswatch sources discover https://kun.uz/
    """


@sources.command("discover")
@click.argument("url")
@click.option("--add", is_flag=True, help="Append the block to sources.yaml (its comments are kept).")
@click.option("--id", "source_id", metavar="ID", help="Id of the new source (default: made from the host name).")
@click.pass_context
def sources_discover(ctx, url, add, source_id):
    """Fetch a homepage; report its feeds, sitemaps and editions; print a block for sources.yaml.

    \b
    Example:
        newswatch sources discover https://24.kg/ --add
    """
    from .discover import discover, render_yaml, report, source_id_for

    cfg = _load(ctx)
    if "://" not in url:
        url = "https://" + url
    found = discover(url, cfg.settings)
    if found.error:
        raise NewswatchError(f"fetch: {url}: {found.error}")
    for line in report(found):
        click.echo("# " + " ".join(line.split()))  # one line each, whatever the page put in its URLs
    source_id = source_id or source_id_for(found.homepage)
    block = render_yaml(found, source_id, indent=config_mod.sources_indent(ctx.obj["config_dir"]))
    click.echo(block, nl=False)
    if add:
        path = config_mod.append_source_block(ctx.obj["config_dir"], block, source_id)
        click.echo(f"# added to {path}; check country and languages, then: newswatch crawl --once --source "
                   f"{source_id}")


@sources.command("check")
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Check only this source (repeatable).")
@click.pass_context
def sources_check(ctx, source_ids):
    """Fetch every feed, sitemap and listing page once; report whether each answers, parses and
    yields articles (exit status 1 when one does not). Stores nothing.

    \b
    Example:
        newswatch sources check --source kun-uz
    """
    from .probe import check_sources, format_table

    cfg = _load(ctx)
    chosen = [cfg.source(i) for i in source_ids] if source_ids else [s for s in cfg.sources if s.enabled]
    rows = check_sources(chosen, cfg.settings)
    click.echo(format_table(rows))
    if not all(r.ok for r in rows):
        sys.exit(1)


@sources.command("list")
@click.pass_context
def sources_list(ctx):
    """The catalogue with each source's state: last success, errors, articles in the last day.

    \b
    Example:
        newswatch sources list
    """
    from .store import Store

    cfg = _load(ctx)
    overview = {}
    if cfg.database_path.exists():
        store = Store(cfg.database_path)
        overview = store.source_overview()
        store.close()
    click.echo(f"{'source':<18} {'country':<7} {'languages':<16} {'urls':>4} {'last success':<21} "
               f"{'errors':>6} {'24h':>5}  problem")
    for s in cfg.sources:
        state = overview.get(s.id, {})
        languages = ",".join(dict.fromkeys([*s.languages, *(e.language for e in s.editions)])) or "-"
        problem = "disabled" if not s.enabled else (state.get("last_error") or "")
        click.echo(f"{s.id:<18} {s.country or '-':<7} {languages:<16} {len(s.endpoints()):>4} "
                   f"{state.get('last_success') or 'never':<21} {state.get('errors') or 0:>6} "
                   f"{state.get('articles_24h', 0):>5}  {problem[:120]}")


if __name__ == "__main__":  # pragma: no cover
    main()
