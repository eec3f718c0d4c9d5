"""YAML configuration -> frozen dataclasses.

Three files in the config directory (``--config DIR``, env ``NEWSWATCH_CONFIG``, default ``./config``):
``settings.yaml``, ``sources.yaml`` and ``watches.yaml``. Every key is declared once below with its
default, help text and validator; the README reference is written from these declarations and a test
checks that each one appears there. A bad value raises ConfigError naming the file, the YAML path
(``sources[3].feeds[0]``) and what is wrong, and nothing starts.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .errors import ConfigError

# --------------------------------------------------------------------------- validators
# Each takes the raw YAML value and returns the converted one, or raises ValueError(message).


def _str(v):
    if not isinstance(v, str) or not v.strip():
        raise ValueError("must be a non-empty string")
    return v.strip()


def _opt_str(v):
    return None if v is None else _str(v)


def _bool(v):
    if not isinstance(v, bool):
        raise ValueError("must be true or false")
    return v


def _number(minimum: float, maximum: float | None = None, integer: bool = False):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError("must be a number")
        if integer and not isinstance(v, int):
            raise ValueError("must be a whole number")
        if v < minimum or (maximum is not None and v > maximum):
            raise ValueError(f"must be between {minimum} and {maximum}" if maximum is not None
                             else f"must be at least {minimum}")
        return v
    return check


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(v) -> float:
    """``90``, ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"`` -> seconds."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        seconds = float(v)
    else:
        m = _DURATION.match(str(v)) if isinstance(v, str) else None
        if not m:
            raise ValueError(f"{v!r} is not a duration (examples: 90, 90s, 15m, 2h, 1d)")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ValueError("must be longer than zero")
    return seconds


def _duration(v):
    return parse_duration(v)


def _http_url(v):
    v = _str(v)
    parts = urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{v!r} is not an http(s) URL")
    return v


def _str_list(v):
    if v is None:
        return ()
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list):
        raise ValueError("must be a list of strings")
    out = []
    for i, item in enumerate(v):
        if not isinstance(item, (str, int, float)) or isinstance(item, bool) or not str(item).strip():
            raise ValueError(f"item {i} must be a non-empty string")
        out.append(str(item).strip())
    return tuple(out)


def _choice(*options):
    def check(v):
        if v not in options:
            raise ValueError(f"must be one of {', '.join(map(str, options))}")
        return v
    return check


def _digest(v):
    if v is None:
        return None
    return _choice("hourly", "daily")(v)


_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def _ident(v):
    v = _str(v)
    if not _ID.match(v):
        raise ValueError(f"{v!r} is not an id (lowercase letters, digits, - _ .)")
    return v


# --------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Key:
    name: str  # dotted for nested sections: "politeness.delay"
    default: Any
    help: str
    check: Callable[[Any], Any]
    required: bool = False


SETTINGS_KEYS = [
    Key("database", "data/newswatch.db", "SQLite database file; relative paths are relative to the "
        "directory Newswatch is started from.", _str),
    Key("user_agent", "Newswatch/0.1 (+news monitoring; contact: admin@example.org)",
        "User-Agent sent with every request. Put a contact address in it.", _str),
    Key("tick", 30.0, "How often the daemon looks for due sources and pending alerts (duration).", _duration),
    Key("default_interval", 900.0, "Poll interval of a source that sets none (duration).", _duration),
    Key("politeness.delay", 1.0, "Seconds between two requests to the same host.", _number(0, 600)),
    Key("politeness.concurrency_per_host", 2, "Requests in flight to one host at most.",
        _number(1, 32, integer=True)),
    Key("politeness.concurrency", 16, "Requests in flight in total at most.", _number(1, 256, integer=True)),
    Key("politeness.obey_robots", True, "Obey robots.txt for article pages.", _bool),
    Key("limits.request_timeout", 30.0, "Seconds one request may take.", _number(1, 600)),
    Key("limits.cycle_timeout", 900.0, "Seconds one crawl cycle may take before it is stopped.", _number(10, 86400)),
    Key("limits.max_feed_bytes", 10_000_000, "Largest feed accepted, after decompression (bytes).",
        _number(1000, integer=True)),
    Key("limits.max_page_bytes", 5_000_000, "Largest article page accepted, after decompression (bytes).",
        _number(1000, integer=True)),
    Key("limits.max_items_per_feed", 200, "Feed items looked at per poll, newest first.",
        _number(1, 100_000, integer=True)),
    Key("network.allow", (), "Hosts, IPs or CIDRs that may be fetched although they are not public "
        "(local feeds, tests). Everything else private is refused.", _str_list),
    Key("alerts.max_attempts", 50, "Sends tried per alert before it is dead-lettered (failed); by default "
        "max_age decides first.",
        _number(1, 100, integer=True)),
    Key("alerts.retry_base", 60.0, "First retry delay in seconds; doubles per attempt.", _number(1, 86400)),
    Key("alerts.retry_max_delay", 3600.0, "Longest wait between two attempts (duration); also caps a "
        "receiver's Retry-After.", _duration),
    Key("alerts.max_age", 86400.0, "An alert still not delivered this long after it was queued is "
        "dead-lettered (failed) and the operator is told (duration).", _duration),
    Key("operator.channels", (), "Channels that get Newswatch's own notices: dead letters, a channel "
        "disabled, a storm held, a source down or recovered.", _str_list),
    Key("storm.min_items", 20, "A feed poll with at least this many new items may be a storm (a feed "
        "re-published with new GUIDs): its items are stored, their alerts held and sent as one digest.",
        _number(2, 100_000, integer=True)),
    Key("storm.factor", 5.0, "A storm also needs this many times the feed's usual new items per poll "
        "(a feed's first poll has no usual: min_items alone decides).", _number(1, 1000)),
]

SOURCE_KEYS = [
    Key("id", None, "Short unique id (lowercase letters, digits, - _ .).", _ident, required=True),
    Key("name", None, "Outlet name shown in alerts.", _str, required=True),
    Key("homepage", None, "Outlet homepage.", _opt_str),
    Key("country", None, "Country code (KZ, KG, UZ, TJ, TM) or region.", _opt_str),
    Key("languages", (), "Languages the outlet publishes in (ru, kk, ky, uz-Latn, uz-Cyrl, tg, tk, en).", _str_list),
    Key("feeds", None, "Feed URLs (RSS or Atom), at least one.", _str_list, required=True),
    Key("interval", None, "Poll interval (duration: 300, 10m, 1h); default: settings default_interval.",
        lambda v: None if v is None else parse_duration(v)),
    Key("enabled", True, "Set false to keep a source in the file without polling it.", _bool),
]

WATCH_KEYS = [
    Key("id", None, "Short unique id.", _ident, required=True),
    Key("name", None, "Name shown in alerts.", _str, required=True),
    Key("keywords", None, "Words and phrases; case-insensitive whole words, a phrase matches across "
        "line breaks.", _str_list, required=True),
    Key("channels", (), "Names of channels from settings.yaml that get alerts for this watch.", _str_list),
    Key("digest", None, "hourly or daily: this watch's alerts are collected and sent as one message per "
        "period (UTC) instead of one per story.", _digest),
]

CHANNEL_TYPES = ("email", "webhook", "apprise")

EMAIL_KEYS = [
    Key("type", None, "email", _choice(*CHANNEL_TYPES), required=True),
    Key("host", None, "SMTP server.", _str, required=True),
    Key("port", 587, "SMTP port (587 STARTTLS, 465 TLS, 25 plain).", _number(1, 65535, integer=True)),
    Key("tls", "starttls", "none, starttls or ssl; certificates are checked.", _choice("none", "starttls", "ssl")),
    Key("user", None, "SMTP login, if the server wants one.", _opt_str),
    Key("password_env", None, "Name of the environment variable holding the SMTP password.", _opt_str),
    Key("from", None, "Sender address.", _str, required=True),
    Key("to", None, "Recipient addresses.", _str_list, required=True),
    Key("timeout", 10.0, "Seconds for the SMTP conversation.", _number(0.1, 300)),
    Key("ca_file", None, "PEM file of the certificate authority to trust instead of the system's "
        "(a server with a private CA); certificates are still checked.", _opt_str),
    Key("digest", None, "hourly or daily: every alert for this channel goes out in one message per period.",
        _digest),
]

WEBHOOK_KEYS = [
    Key("type", None, "webhook", _choice(*CHANNEL_TYPES), required=True),
    Key("url", None, "Receiver URL (http or https; obeys network.allow).", _http_url, required=True),
    Key("secret_env", None, "Name of the environment variable holding the signing secret.", _opt_str),
    Key("previous_secret_env", None, "During a secret rotation: the variable holding the old secret. "
        "Calls then carry two signatures, so the receiver may switch at its own pace.", _opt_str),
    Key("timeout", 10.0, "Seconds to wait for the receiver.", _number(0.1, 300)),
    Key("digest", None, "hourly or daily: every alert for this channel goes out in one call per period.",
        _digest),
]

APPRISE_KEYS = [
    Key("type", None, "apprise", _choice(*CHANNEL_TYPES), required=True),
    Key("url_env", None, "Name of the environment variable holding the apprise URL (tgram://..., "
        "slack://..., matrix://..., ntfy://...; such URLs carry tokens, so never the file).", _str,
        required=True),
    Key("timeout", 10.0, "Seconds to connect and to wait for the service.", _number(0.1, 300)),
    Key("digest", None, "hourly or daily: every alert for this channel goes out in one message per period.",
        _digest),
]

# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class EmailChannel:
    name: str
    host: str
    sender: str
    to: tuple[str, ...]
    port: int = 587
    tls: str = "starttls"
    user: str | None = None
    password_env: str | None = None
    timeout: float = 10.0
    ca_file: str | None = None
    digest: str | None = None
    type: str = "email"


@dataclass(frozen=True)
class WebhookChannel:
    name: str
    url: str
    secret_env: str | None = None
    timeout: float = 10.0
    previous_secret_env: str | None = None
    digest: str | None = None
    type: str = "webhook"


@dataclass(frozen=True)
class AppriseChannel:
    name: str
    url_env: str
    timeout: float = 10.0
    digest: str | None = None
    type: str = "apprise"


@dataclass(frozen=True)
class Source:
    id: str
    name: str
    feeds: tuple[str, ...]
    interval: float
    homepage: str | None = None
    country: str | None = None
    languages: tuple[str, ...] = ()
    enabled: bool = True


@dataclass(frozen=True)
class Watch:
    id: str
    name: str
    keywords: tuple[str, ...]
    channels: tuple[str, ...] = ()
    digest: str | None = None


@dataclass(frozen=True)
class Settings:
    database: str
    user_agent: str
    tick: float
    default_interval: float
    politeness: dict
    limits: dict
    network_allow: tuple[str, ...]
    alerts: dict
    channels: dict[str, EmailChannel | WebhookChannel | AppriseChannel]
    operator_channels: tuple[str, ...] = ()
    storm: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    directory: Path
    settings: Settings
    sources: tuple[Source, ...]
    watches: tuple[Watch, ...]
    _by_id: dict = field(default_factory=dict, compare=False, repr=False)

    def source(self, source_id: str) -> Source:
        for s in self.sources:
            if s.id == source_id:
                return s
        raise ConfigError(f"no source with id {source_id!r}", file=str(self.directory / "sources.yaml"))

    @property
    def database_path(self) -> Path:
        return Path(self.settings.database)


# --------------------------------------------------------------------------- loading


def _read(path: Path) -> Any:
    if not path.exists():
        raise ConfigError("file not found", file=str(path))
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}", file=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError("not UTF-8 text", file=str(path)) from None


def _flatten(mapping: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in mapping.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and name != "channels":
            out.update(_flatten(v, name + "."))
        else:
            out[name] = v
    return out


def _apply(keys: list[Key], raw: Any, file: Path, path: str) -> dict:
    """Validate ``raw`` (a mapping) against ``keys``; return {name: value} with defaults."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("must be a mapping of keys to values", file=str(file), path=path or None)
    flat = _flatten(raw) if any("." in k.name for k in keys) else dict(raw)
    known = {k.name for k in keys}
    for name in flat:
        if name not in known:
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown key {name!r}{hint}", file=str(file), path=path or None)
    values = {}
    for key in keys:
        where = f"{path}.{key.name}" if path else key.name
        if key.name not in flat or flat[key.name] is None and key.required:
            if key.required:
                raise ConfigError("is required", file=str(file), path=where)
            values[key.name] = key.default
            continue
        try:
            values[key.name] = key.check(flat[key.name])
        except ValueError as exc:
            raise ConfigError(str(exc), file=str(file), path=where) from None
    return values


def _section(values: dict, prefix: str) -> dict:
    return {k[len(prefix) + 1:]: v for k, v in values.items() if k.startswith(prefix + ".")}


def _load_settings(path: Path) -> Settings:
    raw = _read(path) or {}
    if not isinstance(raw, dict):
        raise ConfigError("must be a mapping of keys to values", file=str(path))
    raw = dict(raw)
    channels_raw = raw.pop("channels", None) or {}
    values = _apply(SETTINGS_KEYS, raw, path, "")
    if not isinstance(channels_raw, dict):
        raise ConfigError("must map channel names to channel settings", file=str(path), path="channels")
    channels: dict = {}
    for name, body in channels_raw.items():
        where = f"channels.{name}"
        try:
            _ident(str(name))
        except ValueError as exc:
            raise ConfigError(str(exc), file=str(path), path=where) from None
        kind = body.get("type") if isinstance(body, dict) else None
        if kind == "email":
            v = _apply(EMAIL_KEYS, body, path, where)
            channels[name] = EmailChannel(name=name, host=v["host"], port=v["port"], tls=v["tls"], user=v["user"],
                                          password_env=v["password_env"], sender=v["from"], to=v["to"],
                                          timeout=v["timeout"], ca_file=v["ca_file"], digest=v["digest"])
        elif kind == "webhook":
            v = _apply(WEBHOOK_KEYS, body, path, where)
            channels[name] = WebhookChannel(name=name, url=v["url"], secret_env=v["secret_env"],
                                            timeout=v["timeout"], previous_secret_env=v["previous_secret_env"],
                                            digest=v["digest"])
        elif kind == "apprise":
            v = _apply(APPRISE_KEYS, body, path, where)
            channels[name] = AppriseChannel(name=name, url_env=v["url_env"], timeout=v["timeout"],
                                            digest=v["digest"])
        else:
            raise ConfigError("type must be email, webhook or apprise", file=str(path), path=f"{where}.type")
    for j, ch in enumerate(values["operator.channels"]):
        if ch not in channels:
            known = ", ".join(sorted(channels)) or "none defined"
            raise ConfigError(f"unknown channel {ch!r} (channels: {known})", file=str(path),
                              path=f"operator.channels[{j}]")
    return Settings(
        database=values["database"], user_agent=values["user_agent"], tick=values["tick"],
        default_interval=values["default_interval"], politeness=_section(values, "politeness"),
        limits=_section(values, "limits"), network_allow=values["network.allow"],
        alerts=_section(values, "alerts"), channels=channels,
        operator_channels=values["operator.channels"], storm=_section(values, "storm"))


def _load_list(path: Path, top: str) -> list:
    raw = _read(path)
    if raw is None:
        return []
    if not isinstance(raw, dict) or top not in raw:
        raise ConfigError(f"must have a top-level '{top}:' list", file=str(path))
    items = raw[top] or []
    if not isinstance(items, list):
        raise ConfigError("must be a list", file=str(path), path=top)
    extra = set(raw) - {top}
    if extra:
        raise ConfigError(f"unknown top-level key {sorted(extra)[0]!r}", file=str(path))
    return items


def load(directory: str | Path) -> Config:
    """Load and validate the three files in ``directory``. Raises ConfigError."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError("config directory not found", file=str(directory))
    settings = _load_settings(directory / "settings.yaml")

    sources_file = directory / "sources.yaml"
    sources, seen = [], {}
    for i, item in enumerate(_load_list(sources_file, "sources")):
        where = f"sources[{i}]"
        v = _apply(SOURCE_KEYS, item, sources_file, where)
        if v["id"] in seen:
            raise ConfigError(f"duplicate source id {v['id']!r} (first at sources[{seen[v['id']]}])",
                              file=str(sources_file), path=f"{where}.id")
        seen[v["id"]] = i
        if not v["feeds"]:
            raise ConfigError("needs at least one feed URL", file=str(sources_file), path=f"{where}.feeds")
        for j, url in enumerate(v["feeds"]):
            try:
                _http_url(url)
            except ValueError as exc:
                raise ConfigError(str(exc), file=str(sources_file), path=f"{where}.feeds[{j}]") from None
        sources.append(Source(id=v["id"], name=v["name"], feeds=v["feeds"],
                              interval=v["interval"] or settings.default_interval, homepage=v["homepage"],
                              country=v["country"], languages=v["languages"], enabled=v["enabled"]))

    watches_file = directory / "watches.yaml"
    watches, seen = [], {}
    for i, item in enumerate(_load_list(watches_file, "watches")):
        where = f"watches[{i}]"
        v = _apply(WATCH_KEYS, item, watches_file, where)
        if v["id"] in seen:
            raise ConfigError(f"duplicate watch id {v['id']!r}", file=str(watches_file), path=f"{where}.id")
        seen[v["id"]] = i
        if not v["keywords"]:
            raise ConfigError("needs at least one keyword", file=str(watches_file), path=f"{where}.keywords")
        for j, ch in enumerate(v["channels"]):
            if ch not in settings.channels:
                known = ", ".join(sorted(settings.channels)) or "none defined"
                raise ConfigError(f"unknown channel {ch!r} (settings.yaml channels: {known})",
                                  file=str(watches_file), path=f"{where}.channels[{j}]")
        watches.append(Watch(id=v["id"], name=v["name"], keywords=v["keywords"], channels=v["channels"],
                             digest=v["digest"]))

    return Config(directory=directory, settings=settings, sources=tuple(sources), watches=tuple(watches))


def reference_markdown() -> str:
    """The configuration reference tables in the README, written from the declarations above."""
    def fmt(v):
        if v is None:
            return "—"
        if isinstance(v, tuple):
            return "`[]`" if not v else f"`{list(v)}`"
        if isinstance(v, bool):
            return f"`{str(v).lower()}`"
        return f"`{v}`"

    out = []
    for title, keys in (("settings.yaml", SETTINGS_KEYS), ("sources.yaml: each item of `sources:`", SOURCE_KEYS),
                        ("watches.yaml: each item of `watches:`", WATCH_KEYS),
                        ("settings.yaml `channels:` NAME, type email", EMAIL_KEYS),
                        ("settings.yaml `channels:` NAME, type webhook", WEBHOOK_KEYS),
                        ("settings.yaml `channels:` NAME, type apprise", APPRISE_KEYS)):
        out += [f"#### {title}", "", "| key | default | meaning |", "|---|---|---|"]
        for k in keys:
            default = "required" if k.required else fmt(k.default)
            out.append(f"| `{k.name}` | {default} | {k.help} |")
        out.append("")
    return "\n".join(out)
