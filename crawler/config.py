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
from .rules import LANGUAGES, RuleError, load_topic, parse_rule, topic_names

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


LANGUAGE_TAGS = ("uz-Latn", "uz-Cyrl", "ru", "en", "kk", "ky", "tg", "tk")


def _language(v):
    v = _str(v)
    for tag in LANGUAGE_TAGS:
        if v.lower() == tag.lower():
            return tag
    raise ValueError(f"{v!r} is not a language tag (one of {', '.join(LANGUAGE_TAGS)})")


def _check_urls(values: dict, file: Path, where: str) -> None:
    """Every feed and sitemap URL is http(s); the error names the item (``sources[1].feeds[1]``)."""
    for name in ("feeds", "sitemaps"):
        for j, url in enumerate(values.get(name) or ()):
            try:
                _http_url(url)
            except ValueError as exc:
                raise ConfigError(str(exc), file=str(file), path=f"{where}.{name}[{j}]") from None


def _timezone(v):
    if v is None:
        return None
    from .dates import zone  # late: dates imports nothing from here, but keep config light

    v = _str(v)
    zone(v)  # raises ValueError with a clear message
    return v


def _regex(v):
    if v is None:
        return None
    v = _str(v)
    try:
        re.compile(v)
    except re.error as exc:
        raise ValueError(f"{v!r} is not a regular expression: {exc}") from None
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
    Key("limits.max_text_chars", 200_000, "Characters of article text kept per article (the rest is cut "
        "at a paragraph or word boundary).", _number(1000, integer=True)),
    Key("network.allow", (), "Hosts, IPs or CIDRs that may be fetched although they are not public "
        "(local feeds, tests). Everything else private is refused.", _str_list),
    Key("health.down_after", 3, "Failed polls in a row of one feed after which the operator gets one "
        "\"source down\" notice (and one \"recovered\" when all its feeds answer again).",
        _number(1, 1000, integer=True)),
    Key("alerts.max_attempts", 50, "Sends tried per alert before it is dead-lettered (failed); by default "
        "max_age decides first.",
        _number(1, 100, integer=True)),
    Key("alerts.retry_base", 60.0, "First retry delay in seconds; doubles per attempt.", _number(1, 86400)),
    Key("http.enabled", True, "Serve /healthz and /metrics from the daemon.", _bool),
    Key("http.host", "127.0.0.1", "Address the daemon's HTTP server listens on. Anything but loopback exposes "
        "the metrics to that network.", _str),
    Key("http.port", 9120, "Port of the daemon's HTTP server; 0 turns it off.", _number(0, 65535, integer=True)),
    Key("http.stall_ticks", 3, "/healthz fails when no tick has run for this many ticks (a running crawl cycle "
        "counts as alive up to limits.cycle_timeout).", _number(2, 1000, integer=True)),
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
    Key("languages", (), "Languages the outlet publishes in (ru, kk, ky, uz-Latn, uz-Cyrl, tg, tk, en). With "
        "one language and no editions, it is stored on every article the page itself does not name.", _str_list),
    Key("feeds", (), "Feed URLs (RSS 0.9x/1.0/2.0, Atom, JSON Feed). A source needs at least one feed, sitemap "
        "or listing page, here or in an edition.", _str_list),
    Key("sitemaps", (), "Sitemap URLs: Google News sitemaps, sitemaps or sitemap indexes (read newest first).",
        _str_list),
    Key("listings", (), "Listing pages (\"latest news\", sections): each a URL, or `url:` with `article_links:`.",
        lambda v: v),
    Key("editions", (), "Language editions, each with `language:` and its own feeds, sitemaps, listings.",
        lambda v: v),
    Key("timezone", None, "Time zone of dates written without one (IANA name such as Asia/Tashkent, or "
        "+05:00); default UTC.", _timezone),
    Key("max_pages", 30, "Article pages fetched per poll from one sitemap or listing page at most, newest "
        "first; the rest wait for the next poll.", _number(1, 10_000, integer=True)),
    Key("max_age", 259200.0, "Sitemap entries older than this are not fetched (duration).", _duration),
    Key("interval", None, "Poll interval (duration: 300, 10m, 1h); default: settings default_interval.",
        lambda v: None if v is None else parse_duration(v)),
    Key("enabled", True, "Set false to keep a source in the file without polling it.", _bool),
    Key("obey_robots", None, "Obey robots.txt for this source's article pages (true/false); default: "
        "settings politeness.obey_robots. Feeds are always fetched.", lambda v: None if v is None else _bool(v)),
]

def _terms(v):
    """Keyword lists stay raw here; crawler.rules parses them (and names the bad item)."""
    if v is None:
        return ()
    if not isinstance(v, (str, list, dict)):
        raise ValueError("must be a list of keywords (or a mapping from language to list)")
    return v


def _languages(v):
    v = _str_list(v)
    for item in v:
        if item not in LANGUAGES:
            raise ValueError(f"unknown language {item!r} (known: {', '.join(LANGUAGES)})")
    return v


EDITION_KEYS = [
    Key("language", None, "Language and script of the edition: uz-Latn, uz-Cyrl, ru, en, kk, ky, tg, tk. "
        "Stored on every article of the edition.", _language, required=True),
    Key("feeds", (), "Feed URLs of the edition.", _str_list),
    Key("sitemaps", (), "Sitemap URLs of the edition.", _str_list),
    Key("listings", (), "Listing pages of the edition (as for the source).", lambda v: v),
]

LISTING_KEYS = [
    Key("url", None, "The listing page (http or https).", _http_url, required=True),
    Key("article_links", None, "Regular expression searched in each link's absolute URL; links that match are "
        "articles. Without it, links are chosen by their shape (same site, dates, ids or long slugs in the "
        "path; not tag, category, page or author pages).", _regex),
]

WATCH_KEYS = [
    Key("id", None, "Short unique id.", _ident, required=True),
    Key("name", None, "Name shown in alerts.", _str, required=True),
    Key("keywords", (), "Same as `any` (kept for older configs).", _terms),
    Key("any", (), "Keywords of which at least one must occur: words (found with their inflections, in "
        "Cyrillic and Latin), \"quoted phrases\", prefix wildcards (`миграц*`) and exact forms (`=ООН`). "
        "A list, or a mapping from language to list.", _terms),
    Key("all", (), "Keywords that must all occur.", _terms),
    Key("none", (), "Keywords that must not occur (the article is skipped if one does).", _terms),
    Key("near", (), "Groups of words that must occur close together: `{words: [журналист, задерж*], "
        "within: 6}` (within 1-50 words, default 5); a group counts like an `any` keyword.", _terms),
    Key("topics", (), "Shipped or own topics (config/topics/ID.yaml) whose keywords count like `any` "
        "keywords: migrant-workers, border-incidents, journalist-detentions.", _str_list),
    Key("sources", (), "Only articles of these source ids (default: all).", _str_list),
    Key("countries", (), "Only articles of sources in these countries (KZ, KG, UZ, TJ, TM; default: all).",
        _str_list),
    Key("languages", (), "Only articles in these languages (ru, kk, ky, uz, uz-Latn, uz-Cyrl, tg, tk, en); "
        "an article of unknown language always passes.", _languages),
    Key("channels", (), "Names of channels from settings.yaml that get alerts for this watch.", _str_list),
    Key("once_per_story", True, "Alert once per story: later copies of a story (the same article on other "
        "outlets or URLs, near-duplicates, edits) are recorded and listed by `newswatch stories` but send "
        "no alert. false: alert on every copy that is stored as its own article.", _bool),
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
class Listing:
    url: str
    article_links: str | None = None


@dataclass(frozen=True)
class Edition:
    language: str
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    listings: tuple[Listing, ...] = ()


@dataclass(frozen=True)
class Endpoint:
    """One URL a source is polled at: a feed, a sitemap or a listing page, with its edition's language."""

    url: str
    kind: str  # feed | sitemap | listing
    language: str | None = None
    article_links: str | None = None


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
    obey_robots: bool = True
    sitemaps: tuple[str, ...] = ()
    listings: tuple[Listing, ...] = ()
    editions: tuple[Edition, ...] = ()
    timezone: str | None = None
    max_pages: int = 30
    max_age: float = 259200.0

    def endpoints(self) -> list[Endpoint]:
        """Every URL to poll: the source's own first (language: none, the page says), then each
        edition's (language: the edition's tag)."""
        out = []
        for language, part in ((None, self), *((e.language, e) for e in self.editions)):
            out += [Endpoint(u, "feed", language) for u in part.feeds]
            out += [Endpoint(u, "sitemap", language) for u in part.sitemaps]
            out += [Endpoint(li.url, "listing", language, li.article_links) for li in part.listings]
        return out


@dataclass(frozen=True)
class Watch:
    id: str
    name: str
    keywords: tuple[str, ...]  # the `any` keywords as written (crawler.rules parses them into ``rule``)
    channels: tuple[str, ...] = ()
    rule: Any = None  # crawler.rules.Rule
    sources: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    once_per_story: bool = True
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
    http: dict = field(default_factory=dict)
    health: dict = field(default_factory=lambda: {"down_after": 3})
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
        alerts=_section(values, "alerts"), channels=channels, http=_section(values, "http"),
        health=_section(values, "health"), operator_channels=values["operator.channels"],
        storm=_section(values, "storm"))


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


class _Topics:
    """Topic files, each read (and checked) once per load; the user's config/topics/ wins over shipped ones."""

    def __init__(self, user_dir: Path):
        self.files = topic_names((user_dir,))
        self.rules: dict = {}

    def get(self, name: str, watch_id: str, watches_file: Path, where: str):
        if name not in self.files:
            known = ", ".join(sorted(self.files)) or "none"
            raise ConfigError(f"watch {watch_id!r}: unknown topic {name!r} (known: {known})",
                              file=str(watches_file), path=where)
        if name not in self.rules:
            try:
                self.rules[name] = load_topic(self.files[name])
            except RuleError as exc:
                raise ConfigError(f"{exc.message} (topic used by watch {watch_id!r})",
                                  file=str(self.files[name]), path=exc.path or None) from None
        return self.rules[name]


def _watch_rule(v: dict, watches_file: Path, where: str, topics: _Topics):
    used = {name: topics.get(name, v["id"], watches_file, f"{where}.topics[{j}]")
            for j, name in enumerate(v["topics"])}
    try:
        rule = parse_rule({k: v[k] for k in ("keywords", "any", "all", "none", "near", "topics")}, used)
    except RuleError as exc:
        raise ConfigError(f"watch {v['id']!r}: {exc.message}", file=str(watches_file),
                          path=f"{where}.{exc.path}" if exc.path else where) from None
    if not (rule.any or rule.all or rule.near or rule.topics):
        raise ConfigError(f"watch {v['id']!r}: needs keywords (any, all or near) or topics",
                          file=str(watches_file), path=where)
    return rule


def load(directory: str | Path) -> Config:
    """Load and validate the three files in ``directory``. Raises ConfigError."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError("config directory not found", file=str(directory))
    settings = _load_settings(directory / "settings.yaml")

    sources_file = directory / "sources.yaml"
    sources, seen, urls = [], {}, {}
    for i, item in enumerate(_load_list(sources_file, "sources")):
        where = f"sources[{i}]"
        v = _apply(SOURCE_KEYS, item, sources_file, where)
        if v["id"] in seen:
            raise ConfigError(f"duplicate source id {v['id']!r} (first at sources[{seen[v['id']]}])",
                              file=str(sources_file), path=f"{where}.id")
        seen[v["id"]] = i
        _check_urls(v, sources_file, where)
        listings = _listings(v["listings"], sources_file, f"{where}.listings")
        editions = _editions(v["editions"], sources_file, f"{where}.editions")
        source = Source(id=v["id"], name=v["name"], feeds=v["feeds"],
                        interval=v["interval"] or settings.default_interval, homepage=v["homepage"],
                        country=v["country"], languages=v["languages"], enabled=v["enabled"],
                        sitemaps=v["sitemaps"], listings=listings, editions=editions, timezone=v["timezone"],
                        max_pages=v["max_pages"], max_age=v["max_age"],
                        obey_robots=settings.politeness["obey_robots"] if v["obey_robots"] is None
                        else v["obey_robots"])
        endpoints = source.endpoints()
        if not endpoints:
            raise ConfigError("is required: a source needs at least one feed, sitemap or listing page "
                              "(in the source or an edition)", file=str(sources_file), path=f"{where}.feeds")
        for ep in endpoints:
            if ep.url in urls:
                raise ConfigError(f"URL {ep.url} is polled twice (first in {urls[ep.url]})",
                                  file=str(sources_file), path=where)
            urls[ep.url] = where
        sources.append(source)

    watches_file = directory / "watches.yaml"
    watches, seen = [], {}
    topics = _Topics(directory / "topics")
    known_sources = {src.id for src in sources}
    for i, item in enumerate(_load_list(watches_file, "watches")):
        where = f"watches[{i}]"
        try:
            v = _apply(WATCH_KEYS, item, watches_file, where)
        except ConfigError as exc:
            watch_id = item.get("id") if isinstance(item, dict) else None
            if not watch_id:
                raise
            # name the watch: "watches[7]" alone is hard to find in a long file
            prefix = f"{exc.file}: " + (f"{exc.path}: " if exc.path else "")
            raise ConfigError(f"watch {watch_id!r}: {exc.detail[len(prefix):]}", file=exc.file,
                              path=exc.path) from None
        if v["id"] in seen:
            raise ConfigError(f"duplicate watch id {v['id']!r}", file=str(watches_file), path=f"{where}.id")
        seen[v["id"]] = i
        rule = _watch_rule(v, watches_file, where, topics)
        for j, ch in enumerate(v["channels"]):
            if ch not in settings.channels:
                known = ", ".join(sorted(settings.channels)) or "none defined"
                raise ConfigError(f"unknown channel {ch!r} (settings.yaml channels: {known})",
                                  file=str(watches_file), path=f"{where}.channels[{j}]")
        for j, src in enumerate(v["sources"]):
            if src not in known_sources:
                raise ConfigError(f"watch {v['id']!r}: unknown source {src!r} (not in sources.yaml)",
                                  file=str(watches_file), path=f"{where}.sources[{j}]")
        watches.append(Watch(id=v["id"], name=v["name"], keywords=tuple(t.text for t in rule.any),
                             channels=v["channels"], rule=rule, sources=v["sources"], countries=v["countries"],
                             languages=v["languages"], once_per_story=v["once_per_story"],
                             digest=v["digest"]))

    return Config(directory=directory, settings=settings, sources=tuple(sources), watches=tuple(watches))


def _listings(raw, file: Path, path: str) -> tuple[Listing, ...]:
    if raw is None or raw == ():
        return ()
    if not isinstance(raw, list):
        raise ConfigError("must be a list of URLs or of mappings with url: and article_links:", file=str(file),
                          path=path)
    out = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        if isinstance(item, str):
            item = {"url": item}
        v = _apply(LISTING_KEYS, item, file, where)
        out.append(Listing(url=v["url"], article_links=v["article_links"]))
    return tuple(out)


def _editions(raw, file: Path, path: str) -> tuple[Edition, ...]:
    if raw is None or raw == ():
        return ()
    if not isinstance(raw, list):
        raise ConfigError("must be a list of editions (each with language: and feeds/sitemaps/listings)",
                          file=str(file), path=path)
    out, tags = [], {}
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        v = _apply(EDITION_KEYS, item, file, where)
        _check_urls(v, file, where)
        if v["language"] in tags:
            raise ConfigError(f"edition {v['language']} is declared twice (first at {tags[v['language']]})",
                              file=str(file), path=f"{where}.language")
        tags[v["language"]] = where
        edition = Edition(language=v["language"], feeds=v["feeds"], sitemaps=v["sitemaps"],
                          listings=_listings(v["listings"], file, f"{where}.listings"))
        if not (edition.feeds or edition.sitemaps or edition.listings):
            raise ConfigError("needs at least one feed, sitemap or listing page", file=str(file), path=where)
        out.append(edition)
    return tuple(out)


def sources_indent(directory: str | Path) -> str:
    """How the items of ``sources:`` are indented in sources.yaml ("  " in the shipped file, "" as
    yaml.dump writes it), so an appended block lines up."""
    path = Path(directory) / "sources.yaml"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    m = re.search(r"^sources:[^\n]*\n(?:\s*(?:#[^\n]*)?\n)*?([ \t]*)- ", text, re.MULTILINE)
    return m.group(1) if m else "  "


def append_source_block(directory: str | Path, block: str, source_id: str) -> Path:
    """Append a source (YAML text, as `sources discover` prints it) to sources.yaml, keeping every
    comment; the file is checked afterwards and left as it was when the result does not load."""
    directory = Path(directory)
    path = directory / "sources.yaml"
    before = path.read_text(encoding="utf-8") if path.exists() else "sources:\n"
    if any(s.id == source_id for s in load(directory).sources):
        raise ConfigError(f"a source with id {source_id!r} is already there (choose another with --id)",
                          file=str(path))
    text = before
    if re.search(r"^sources:\s*\[\s*\]\s*$", text, re.MULTILINE):
        text = re.sub(r"^sources:\s*\[\s*\]\s*$", "sources:", text, count=1, flags=re.MULTILINE)
    if not re.search(r"^sources:", text, re.MULTILINE):
        text = "sources:\n" + text
    text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")
    try:
        load(directory)
    except ConfigError:
        path.write_text(before, encoding="utf-8")
        raise
    return path


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
                        ("sources.yaml: each item of `editions:`", EDITION_KEYS),
                        ("sources.yaml: each item of `listings:` (or just its URL)", LISTING_KEYS),
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
