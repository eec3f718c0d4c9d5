"""Command line: thin commands, each parses its arguments and calls one function."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
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
@click.option("--now", "now", default=None, hidden=True, metavar="ISO",
              help="Take this UTC time as now for due-ness and feed state (benchmarks simulate hours this way).")
@click.pass_context
def crawl(ctx, once, source_ids, due, no_dispatch, as_json, log_summary, now):
    """Poll sources once, store new articles, send alerts, print a summary.

    \b
    Example:
        newswatch crawl --once --source timesca
    """
    from .console import crawl_progress, is_terminal, print_summary
    from .crawl import CycleStats, run_once
    from .store import Store, utcnow

    cfg = _load(ctx)
    started = utcnow()
    if now is not None:
        from datetime import UTC, datetime

        fixed = datetime.fromisoformat(now.replace("Z", "+00:00")).astimezone(UTC)
        store = Store(cfg.database_path, clock=lambda: fixed)
    else:
        store = Store(cfg.database_path)
    store.sync_sources(cfg.sources)
    if source_ids:
        ids = [cfg.source(i).id for i in source_ids]
    elif due:
        ids = store.due_sources()
    else:
        ids = [s.id for s in cfg.sources if s.enabled]
    stats = CycleStats()
    terminal = is_terminal() and not (as_json or log_summary)
    if terminal:
        with crawl_progress() as observer:
            summary = run_once(cfg, store, ids, retry_gone=bool(source_ids), observer=observer, stats=stats)
    else:
        summary = run_once(cfg, store, ids, retry_gone=bool(source_ids), stats=stats)
    if not no_dispatch:
        from .alerts.dispatcher import dispatch_pending

        result = dispatch_pending(cfg, store)
        summary.alerts_sent, summary.alerts_failed = result.sent, result.failed
    # articles stored before the search index existed (or under an older normalisation) are indexed
    # a second's worth per cycle, so the first `newswatch search` after an upgrade need not wait long
    from .search import catch_up

    catch_up(store, seconds=1.0)
    store.record_cycle(started_at=started, finished_at=utcnow(), summary=summary.as_dict(),
                       error_kinds=dict(stats.error_kinds), poll_seconds=stats.poll_seconds,
                       extract_seconds=stats.extract_seconds)
    store.close()
    if log_summary:
        from .logs import event

        fields = summary.as_dict()
        fields["errors"] = len(fields["errors"])
        event("cycle_done", **fields)
    elif as_json:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
    elif terminal:
        print_summary(summary)
    else:
        click.echo(format_summary(summary))


def format_summary(summary) -> str:
    rows = [("sources polled", summary.sources_polled), ("feeds polled", summary.feeds_polled),
            ("sitemaps polled", summary.sitemaps_polled), ("listing pages polled", summary.listings_polled),
            ("feeds unchanged", summary.feeds_unchanged), ("feeds deferred", summary.feeds_deferred),
            ("new articles", summary.new_articles),
            ("  of which summary only", summary.summary_only),
            ("  of which joined a story", summary.story_copies),
            ("revised (edited)", summary.revised), ("duplicates", summary.duplicates),
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


# --------------------------------------------------------------------------- operations (issue 8)


def _since(value: str) -> datetime:
    """``7d``, ``12h``, ``90m`` ago, or an ISO date / time (UTC)."""
    from .config import parse_duration
    from .store import utcnow

    try:
        return utcnow() - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a duration (7d, 12h) nor a date (2025-06-01)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def status(ctx, as_json):
    """Show every source (last success, last error, errors in a row, next check, articles in 24 h and 7 d),
    the alert outbox and whether the daemon runs.

    \b
    Example:
        newswatch status
        newswatch status --json | jq '.sources[] | select(.consecutive_errors > 0)'
    """
    from .console import print_status
    from .daemon import lock_holder
    from .status import build_report
    from .store import Store, utcnow

    cfg = _load(ctx)
    store = Store(cfg.database_path)
    try:
        store.sync_sources(cfg.sources)
        report = build_report(sources=store.source_status(), outbox=store.outbox_counts(),
                              daemon=store.daemon_state(), daemon_pid=lock_holder(cfg.database_path),
                              last_cycle=store.last_cycle(), now=utcnow())
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_status(report)


@main.command()
@click.option("--since", default="7d", show_default=True, help="Articles stored since: a duration (7d, 12h) "
              "or a date (2025-06-01).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--watch", "watch_id", metavar="ID", help="Only articles that matched this watch.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (atomically) instead of standard output.")
@click.pass_context
def export(ctx, since, fmt, watch_id, output):
    """Export articles with their outlet and matches as JSON Lines or CSV.

    \b
    Example:
        newswatch export --since 7d --format csv --watch migrant-workers --output migrants.csv
        newswatch export --since 2025-06-01 > june.jsonl
    """
    import os
    import tempfile

    from .export import WRITERS
    from .store import Store

    cfg = _load(ctx)
    if watch_id and watch_id not in {w.id for w in cfg.watches}:
        # A watch removed from the config still has its stored matches: export them, but say so.
        click.echo(f"warning: no watch {watch_id!r} in watches.yaml; exporting its stored matches, if any",
                   err=True)
    start = _since(since)
    store = Store(cfg.database_path)
    try:
        rows = store.export_rows(start, watch_id)
        if output is None:
            n = WRITERS[fmt](rows, click.get_text_stream("stdout"))
        else:
            output.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
            try:
                # A BOM lets spreadsheet programs read Cyrillic CSV as UTF-8.
                encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
                with os.fdopen(fd, "w", encoding=encoding, newline="") as f:
                    n = WRITERS[fmt](rows, f)
                os.replace(tmp, output)
            except BaseException:
                os.unlink(tmp)
                raise
    finally:
        store.close()
    click.echo(f"exported {n} articles stored since {start:%Y-%m-%d %H:%M} UTC"
               + (f" to {output}" if output else ""), err=True)


@main.command()
@click.option("--older-than", required=True, metavar="DURATION", help="Drop the text of articles stored longer "
              "ago than this (a duration: 365d, 180d).")
@click.option("--dry-run", is_flag=True, help="Say what would go and change nothing.")
@click.pass_context
def prune(ctx, older_than, dry_run):
    """Drop the text of old articles and reclaim the space; titles, links, dates, outlets, sightings and
    matches stay, and titles stay searchable.

    \b
    Example:
        newswatch prune --older-than 365d --dry-run
        newswatch prune --older-than 365d
    """
    from . import search as search_mod
    from .config import parse_duration
    from .store import Store, utcnow

    cfg = _load(ctx)
    try:
        before = utcnow() - timedelta(seconds=parse_duration(older_than))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    store = Store(cfg.database_path)
    try:
        if dry_run:
            r = store.prunable(before)
            click.echo(f"would drop the text of {r['articles']} articles stored before {before:%Y-%m-%d %H:%M} UTC "
                       f"({_bytes(r['text_bytes'])} of text); nothing changed (dry run)")
            return
        r = store.prune_text(before, search_terms=search_mod.terms, search_version=search_mod.VERSION)
    finally:
        store.close()
    click.echo(f"dropped the text of {r['articles']} articles stored before {before:%Y-%m-%d %H:%M} UTC "
               f"({_bytes(r['text_bytes'])} of text) and {r['cycles']} old cycle records; database "
               f"{_bytes(r['bytes_before'])} -> {_bytes(r['bytes_after'])}")


@main.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="Show at most this "
              "many articles.")
@click.option("--newest", is_flag=True, help="Newest stored first instead of best match first.")
@click.option("--since", default=None, metavar="DATE", help="Only articles published (or, without a date, stored) "
              "since: a duration (7d, 12h) or a date (2025-06-01).")
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Only articles of this source "
              "(repeatable).")
@click.option("--language", "languages", multiple=True, metavar="LANG", help="Only articles in this language "
              "(ru, kk, ky, uz, tg, tk, en; uz also finds uz-Latn and uz-Cyrl; repeatable).")
@click.option("--rank-all", is_flag=True, help="Rank every match, not only the newest 5,000 (slower on a large "
              "archive: a common word in a million articles takes about half a second).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_context
def search_cmd(ctx, query, limit, newest, since, source_ids, languages, rank_all, as_json):
    """Search the stored articles the way watches match: one keyword finds its inflections and its
    other script (мигрант: мигрантов, мигранттардын, migrant). Words and "phrases" are all required,
    -word excludes, a OR b takes either, миграц* is a prefix, =ООН one exact form. Best match first
    (among the newest 5,000 matches; --rank-all for all), each with the sentences it was found in.
    Exit status 0 with results, 1 without.

    \b
    Example:
        newswatch search мигрант задержан
        newswatch search '"трудовые мигранты" OR muhojir* -футбол' --since 30d --json
    """
    from .rules import RuleError
    from .search import catch_up, parse_query, pending, search
    from .store import Store

    text = " ".join(query)
    try:
        parsed = parse_query(text)
    except RuleError as exc:
        raise click.BadParameter(str(exc), param_hint="QUERY") from None
    cfg = _load(ctx)
    start = _since(since) if since else None
    store = Store(cfg.database_path)
    try:
        backlog = pending(store)
        if backlog:
            click.echo(f"search: indexing {backlog} stored articles not yet in the search index (once; the "
                       "daemon also does it a little every cycle)", err=True)
            with click.progressbar(length=backlog, label="indexing", file=sys.stderr) as bar:
                catch_up(store, progress=lambda done, total: bar.update(done - bar.pos))
        result = search(store, parsed, limit=limit, newest_first=newest, since=start, sources=source_ids,
                        languages=languages, rank_all=rank_all)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"query": parsed.text, "results": [
            {**hit.article, "matches": [{"keyword": m.keyword, "form": m.form, "snippet": m.snippet}
                                        for m in hit.matches]} for hit in result.hits],
            "more": result.more}, ensure_ascii=False, indent=2))
    else:
        click.echo(format_search(result, color=sys.stdout.isatty()) if result.hits
                   else f"no stored article matches {parsed.text}")
    sys.exit(0 if result.hits else 1)


def format_search(result, color: bool = False) -> str:
    lines = []
    for n, hit in enumerate(result.hits, 1):
        a = hit.article
        when = (a["published_at"] or a["fetched_at"] or "")[:10]
        title = a["title"] or "(no title)"
        lines.append(f"{n}. {click.style(title, bold=True) if color else title}")
        details = "  ·  ".join(x for x in (a["outlet"], when, a["language"], "text pruned" if a["text_pruned_at"]
                                           else None) if x)
        lines.append(f"   {details}  #{a['id']}")
        lines.append(f"   {a['url']}")
        for m in hit.matches:
            snippet = m.snippet
            if color and m.form and m.form in snippet:
                snippet = snippet.replace(m.form, click.style(m.form, bold=True, fg="yellow"), 1)
            lines.append(f"   {m.keyword} «{' '.join(m.form.split())}»: {snippet}")
        lines.append("")
    if result.more:
        lines.append("more results: use --limit, --since or more words to narrow")
    return "\n".join(lines).rstrip()


@main.command()
@click.option("--port", default=8001, show_default=True, type=click.IntRange(1, 65535), help="Port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on; anything but "
              "loopback shows the archive to that network.")
@click.pass_context
def browse(ctx, port, host):
    """Browse and search the archive in a web browser (Datasette, read-only, live).

    \b
    Example:
        newswatch browse --port 8001    # then open http://127.0.0.1:8001/
    """
    from .browse import serve
    from .store import Store

    cfg = _load(ctx)
    Store(cfg.database_path).close()  # create / migrate, so the views exist
    click.echo(f"serving {cfg.database_path} read-only on http://{host}:{port}/  (Ctrl-C stops)", err=True)
    serve(cfg.database_path, host, port)


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


@main.command()
@click.option("--since", default="1d", show_default=True, metavar="DURATION",
              help="Stories with a copy seen within this time (90m, 12h, 1d, 7d).")
@click.option("--watch", "watch_id", metavar="ID", help="Only stories that matched this watch.")
@click.option("--min-size", default=1, show_default=True, type=click.IntRange(1),
              help="Only stories with at least this many copies (2: only stories that ran more than once).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1), help="Show at most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print the stories as JSON.")
@click.pass_context
def stories(ctx, since, watch_id, min_size, limit, as_json):
    """Recent stories: each with the outlets that ran it (the first one first), first-seen time and size.

    \b
    Example:
        newswatch stories --since 1d --watch migrant-workers
    """
    from datetime import timedelta

    from .store import Store, utcnow

    cfg = _load(ctx)
    try:
        seconds = config_mod.parse_duration(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    if watch_id and watch_id not in {w.id for w in cfg.watches}:
        raise click.BadParameter(f"no watch with id {watch_id!r} in watches.yaml", param_hint="--watch")
    store = Store(cfg.database_path)
    try:
        found = store.stories(utcnow() - timedelta(seconds=seconds), watch_id=watch_id, min_size=min_size,
                              limit=limit)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
    else:
        click.echo(format_stories(found))


def format_stories(found: list[dict]) -> str:
    if not found:
        return "no stories in that time"
    lines = []
    for s in found:
        outlets = len(s["outlets"])
        lines.append(f"story {s['id']}  first seen {s['first_seen_at']}  {s['size']} "
                     f"{'copy' if s['size'] == 1 else 'copies'} on {outlets} {'outlet' if outlets == 1 else 'outlets'}")
        lines.append(f"  {s['title']}")
        for i, c in enumerate(s["copies"]):
            mark = "first" if i == 0 else ""
            edits = f"  (edited {c['revisions']}x)" if c.get("revisions") else ""
            lines.append(f"  {mark:<6}{c['source_id']:<16}{c['seen_at']}  {c['url']}{edits}")
        lines.append("")
    return "\n".join(lines).rstrip()


@main.group("alerts")
def alerts_group():
    """Look at the outbox, resend failed alerts, test a channel.

    \b
    Example:
        newswatch alerts list --failed
    """


@alerts_group.command("list")
@click.option("--pending", "which", flag_value="pending", help="Only alerts waiting to be sent (or held for a digest).")
@click.option("--failed", "which", flag_value="failed", help="Only dead letters (given up; see 'alerts retry').")
@click.option("--limit", default=50, show_default=True, help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.pass_context
def alerts_list(ctx, which, limit, as_json):
    """List alerts and digests with their state, attempts and last error.

    \b
    Example:
        newswatch alerts list --pending
    """
    from .alerts.admin import format_alerts, list_alerts
    from .store import Store

    store = Store(_load(ctx).database_path)
    rows = list_alerts(store, which, limit)
    store.close()
    click.echo(json.dumps(rows, ensure_ascii=False, indent=2) if as_json else format_alerts(rows))


@alerts_group.command("retry")
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--all-failed", is_flag=True, help="Every failed alert and digest.")
@click.option("--no-dispatch", is_flag=True, help="Queue them only; the daemon sends them on its next tick.")
@click.pass_context
def alerts_retry(ctx, ids, all_failed, no_dispatch):
    """Queue failed alerts again (same ids, fresh max age) and send them now.

    \b
    Example:
        newswatch alerts retry --all-failed
    """
    from .alerts.admin import retry_alerts
    from .store import Store

    if not ids and not all_failed:
        raise click.UsageError("give alert ids or --all-failed")
    cfg = _load(ctx)
    store = Store(cfg.database_path)
    try:
        queued, result = retry_alerts(cfg, store, ids, all_failed=all_failed, dispatch=not no_dispatch)
    except LookupError as exc:
        raise click.BadParameter(str(exc), param_hint="ID") from None
    finally:
        store.close()
    click.echo(f"queued {len(queued)}" + (f": sent {result.sent}, retrying {result.retrying}, "
                                          f"failed {result.failed}" if result else ""))


@alerts_group.command("test")
@click.argument("channel")
@click.pass_context
def alerts_test(ctx, channel):
    """Send a sample alert through CHANNEL now; exit 1 with the reason if it is not accepted.

    \b
    Example:
        newswatch alerts test desk-mail
    """
    from .alerts.admin import try_channel
    from .errors import AlertError
    from .store import Store

    cfg = _load(ctx)
    store = Store(cfg.database_path)
    try:
        click.echo(try_channel(cfg, store, channel))
    except AlertError as exc:
        click.echo(f"failed: {exc}", err=True)
        sys.exit(1)
    finally:
        store.close()


if __name__ == "__main__":  # pragma: no cover
    main()
