"""``newswatch status``: the state of every source, the outbox and the daemon, as one report (a dict).

``build_report`` turns what the store returns into the report; times are shown relative to ``now``
("12 min ago", "in 3 min") for people and kept as ISO 8601 for ``--json``.
"""

from __future__ import annotations

from datetime import UTC, datetime


def _parse(ts: str | None) -> datetime | None:
    if not ts:
        return None
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def span(seconds: float) -> str:
    seconds = abs(int(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def ago(ts: str | None, now: datetime, never: str = "never") -> str:
    dt = _parse(ts)
    return never if dt is None else f"{span((now - dt).total_seconds())} ago"


def until(ts: str | None, now: datetime) -> str:
    dt = _parse(ts)
    if dt is None or dt <= now:
        return "due now"
    return f"in {span((dt - now).total_seconds())}"


def build_report(*, sources: list[dict], outbox: dict, daemon: dict | None, daemon_pid: int | None,
                 last_cycle: dict | None, now: datetime) -> dict:
    rows = []
    for s in sources:
        s = dict(s)
        s["consecutive_errors"] = s["consecutive_errors"] or 0
        if not s["consecutive_errors"]:
            s["last_error"] = s["last_error_kind"] = None
        s["last_success_human"] = ago(s["last_success_at"], now)
        s["next_check_human"] = until(s["next_check_at"], now)
        rows.append(s)

    d = {"running": daemon_pid is not None, "pid": daemon_pid, "started_at": None, "uptime_seconds": None,
         "heartbeat_at": None}
    if daemon:
        d["heartbeat_at"] = daemon["heartbeat_at"]
        if daemon_pid is not None:
            d["started_at"] = daemon["started_at"]
            started = _parse(daemon["started_at"])
            d["uptime_seconds"] = int((now - started).total_seconds()) if started else None
    if d["running"]:
        d["summary"] = (f"running, pid {daemon_pid}, up {span(d['uptime_seconds'] or 0)}, "
                        f"last tick {ago(d['heartbeat_at'], now)}")
    elif daemon and daemon["stopped_at"]:
        d["summary"] = f"not running (stopped {ago(daemon['stopped_at'], now)})"
    else:
        d["summary"] = "not running"

    cycle = None
    if last_cycle:
        cycle = {k: last_cycle[k] for k in ("finished_at", "seconds", "feeds_polled", "new_articles", "matches",
                                            "errors")}
        cycle["summary"] = (f"{ago(last_cycle['finished_at'], now)}, {last_cycle['seconds']:.0f} s, "
                            f"{last_cycle['feeds_polled']} feeds, {last_cycle['new_articles']} new articles, "
                            f"{last_cycle['errors']} errors")
    return {"generated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "sources": rows,
            "failing_sources": sum(1 for r in rows if r["consecutive_errors"]), "outbox": outbox,
            "daemon": d, "last_cycle": cycle}
