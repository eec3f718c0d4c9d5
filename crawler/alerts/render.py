"""What an alert says: the subject line, the plain-text body and the webhook payload.

Pure functions over :class:`crawler.models.Alert`; no I/O. Everything in an alert that came from a
feed or a page (titles, authors, snippets, URLs) is treated as data: it is cleaned and inserted as
a value, never used as a template or format string, and single-line fields never carry a line
break into a header or a body line.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

SUBJECT_PREFIX = "[Newswatch]"
SUBJECT_MAX = 200
PAYLOAD_TYPE = "article.matched"

# Bidi embeddings, overrides and isolates: invisible, and able to make a subject display in an
# order other than the one it is stored in. Removed from one-line fields.
_BIDI_CONTROLS = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A)], None)


def one_line(text: Any) -> str:
    """``text`` as a single line: every line separator (``\\r \\n \\v \\f \\x1c-\\x1e \\x85
    \\u2028 \\u2029``) and every other control character becomes a space, bidi controls are
    dropped, and runs of whitespace collapse to one space."""
    if text is None:
        return ""
    text = str(text).translate(_BIDI_CONTROLS)
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text)
    return " ".join(text.split())


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, at a space when one is near, marking the cut
    with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit - 40:
        cut = cut[:space]
    return cut.rstrip() + "…"


def subject(alert) -> str:
    """``[Newswatch] <watch name>: <title>`` on one line, at most ``SUBJECT_MAX`` characters.

    A title ``"Border\\r\\nBcc: x@y"`` on the watch "Border incidents" gives
    ``[Newswatch] Border incidents: Border Bcc: x@y``.
    """
    watch = one_line(alert.watch_name) or one_line(alert.watch_id)
    title = one_line(alert.title) or "(untitled)"
    return truncate(f"{SUBJECT_PREFIX} {watch}: {title}", SUBJECT_MAX)


def _matches(alert) -> list[dict]:
    out = []
    for m in alert.matches or ():
        get = m.get if isinstance(m, dict) else (lambda key, _m=m: getattr(_m, key, None))
        out.append({
            "keyword": "" if get("keyword") is None else str(get("keyword")),
            "form": "" if get("form") is None else str(get("form")),
            "snippet": "" if get("snippet") is None else str(get("snippet")),
        })
    return out


def _multiline(text: str | None) -> str:
    """Body text: lines kept, each line cleaned as :func:`one_line` cleans a field."""
    if not text:
        return ""
    lines = [one_line(line) for line in str(text).splitlines()]
    # collapse runs of empty lines into one
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")


def plain_text(alert) -> str:
    """The plain-text body of an email alert."""
    source = one_line(alert.source_name)
    if alert.source_id and one_line(alert.source_id) != source:
        source = f"{source} ({one_line(alert.source_id)})" if source else one_line(alert.source_id)
    lines = [
        f"Watch: {one_line(alert.watch_name) or one_line(alert.watch_id)}",
        f"Title: {one_line(alert.title) or '(untitled)'}",
        f"Source: {source or '(unknown)'}",
        f"URL: {one_line(alert.url)}",
        f"Published: {one_line(alert.published_at) or 'unknown'}",
    ]
    if alert.author:
        lines.append(f"Author: {one_line(alert.author)}")
    matches = _matches(alert)
    if matches:
        lines += ["", "Matches:"]
        for m in matches:
            lines.append(
                f"- {one_line(m['keyword'])} «{one_line(m['form'])}»: {one_line(m['snippet'])}")
    excerpt = _multiline(alert.text_excerpt)
    if excerpt:
        lines += ["", excerpt]
    lines += ["", "--", f"Newswatch alert {one_line(alert.id)}"]
    return "\n".join(lines) + "\n"


def payload(alert) -> dict:
    """The JSON document a webhook receives (``type`` is ``article.matched``)."""
    return {
        "type": PAYLOAD_TYPE,
        "id": alert.id,
        "watch": {"id": alert.watch_id, "name": alert.watch_name},
        "matches": _matches(alert),
        "article": {
            "id": alert.article_id,
            "url": alert.url,
            "title": alert.title,
            "author": alert.author,
            "published_at": alert.published_at,
            "language": alert.language,
            "source_id": alert.source_id,
            "source_name": alert.source_name,
            "excerpt": alert.text_excerpt,
        },
        "created_at": alert.created_at,
    }


_MSGID_SAFE = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")


def message_id_local(alert_id: str) -> str:
    """The left part of an email Message-ID for ``alert_id``: the id itself when it is a plain
    token, otherwise the id with unsafe runs replaced by ``-`` and a short hash appended so that
    two ids never map to the same Message-ID."""
    text = str(alert_id)
    safe = _MSGID_SAFE.sub("-", text).strip("-")[:100]
    if safe == text and safe:
        return safe
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{safe}-{digest}" if safe else digest


# ----------------------------------------------------------------------------- messages
# What a channel sends, whatever it stands for (one alert, a digest, operator notices). Email uses
# id, subject, text and html; webhooks id and payload; apprise subject and text.

_HTML_ITEMS_MAX = 200  # a storm digest of thousands of stories stays a readable message


@dataclass(frozen=True)
class Message:
    id: str
    subject: str
    text: str
    html: str
    payload: dict


def _e(value: Any) -> str:
    return html.escape(one_line(value), quote=True)


def _link(url: Any, label: Any) -> str:
    """An anchor only for http(s) URLs: a feed may carry ``javascript:`` links."""
    url = one_line(url)
    if urlsplit(url).scheme.lower() in ("http", "https"):
        return f'<a href="{html.escape(url, quote=True)}">{_e(label) or _e(url)}</a>'
    return _e(label) or _e(url)


def html_body(alert) -> str:
    """The HTML part of an email alert: every field escaped, nothing from the feed as markup."""
    source = _e(alert.source_name) or _e(alert.source_id) or "(unknown)"
    parts = [
        "<!DOCTYPE html><html><body>",
        f"<p>Watch: <b>{_e(alert.watch_name) or _e(alert.watch_id)}</b></p>",
        f"<h2>{_link(alert.url, alert.title or '(untitled)')}</h2>",
        f"<p>{source} · {_e(alert.published_at) or 'unknown date'}"
        + (f" · {_e(alert.author)}" if alert.author else "") + "</p>",
    ]
    matches = _matches(alert)
    if matches:
        parts.append("<ul>")
        for m in matches:
            parts.append(f"<li><b>{_e(m['keyword'])}</b> «{_e(m['form'])}»: {_e(m['snippet'])}</li>")
        parts.append("</ul>")
    excerpt = _multiline(alert.text_excerpt)
    if excerpt:
        parts.append("<p>" + "<br>".join(html.escape(line) for line in excerpt.splitlines()) + "</p>")
    parts.append(f"<hr><p><small>Newswatch alert {_e(alert.id)}</small></p></body></html>")
    return "\n".join(parts) + "\n"


def alert_message(alert) -> Message:
    return Message(id=str(alert.id), subject=subject(alert), text=plain_text(alert), html=html_body(alert),
                   payload=payload(alert))


def digest_message(digest_id: str, kind: str, alerts: list, *, created_at: str = "") -> Message:
    """One message for many alerts: an hourly or daily digest, or the alerts a storm held."""
    watches = list(dict.fromkeys(one_line(a.watch_name) or one_line(a.watch_id) for a in alerts))
    stories = len({a.article_id for a in alerts})
    if kind == "storm":
        sources = list(dict.fromkeys(one_line(a.source_name) or one_line(a.source_id) for a in alerts))
        head = f"Storm held: {stories} matching stories from {', '.join(sources)}"
        intro = ("This outlet suddenly published far more new items than usual (a feed re-published "
                 "with new ids, say). Every item is stored; instead of one alert per story, here they are at once.")
    else:
        head = f"{kind.capitalize()} digest: {stories} {'story' if stories == 1 else 'stories'}"
        intro = f"Stories that matched your watches ({', '.join(watches)})."
    subj = truncate(f"{SUBJECT_PREFIX} {head} ({', '.join(watches)})", SUBJECT_MAX)
    lines = [intro, ""]
    rows = ["<!DOCTYPE html><html><body>", f"<p>{html.escape(intro)}</p>", "<ol>"]
    for a in alerts[:_HTML_ITEMS_MAX]:
        source = one_line(a.source_name) or one_line(a.source_id)
        first = (_matches(a) or [{}])[0]
        lines.append(f"- [{one_line(a.watch_name)}] {one_line(a.title) or '(untitled)'} — {source}")
        lines.append(f"  {one_line(a.url)}")
        if first:
            lines.append(f"  {one_line(first['keyword'])} «{one_line(first['form'])}»: {one_line(first['snippet'])}")
        rows.append(f"<li>[{_e(a.watch_name)}] {_link(a.url, a.title or '(untitled)')} — {_e(source)}"
                    + (f"<br><small><b>{_e(first['keyword'])}</b> «{_e(first['form'])}»: {_e(first['snippet'])}"
                       "</small>" if first else "") + "</li>")
    if len(alerts) > _HTML_ITEMS_MAX:
        more = f"... and {len(alerts) - _HTML_ITEMS_MAX} more (newswatch alerts list)"
        lines.append(more)
        rows.append(f"<li>{html.escape(more)}</li>")
    lines += ["", "--", f"Newswatch {kind} {one_line(digest_id)}"]
    rows += ["</ol>", f"<hr><p><small>Newswatch {_e(kind)} {_e(digest_id)}</small></p></body></html>"]
    doc = {"type": "digest", "id": digest_id, "kind": kind, "created_at": created_at,
           "alerts": [payload(a) for a in alerts]}
    return Message(id=digest_id, subject=subj, text="\n".join(lines) + "\n", html="\n".join(rows) + "\n",
                   payload=doc)


def notices_message(notices: list[dict]) -> Message:
    """The operator's message: one or more notices (dicts with id, kind, source_id, channel,
    message, created_at)."""
    first = notices[0]
    msg_id = f"nw-notice-{first['id']}" + (f"-{notices[-1]['id']}" if len(notices) > 1 else "")
    if len(notices) == 1:
        head = f"{one_line(first['kind'])}: {one_line(first['message'])}"
    else:
        head = f"{len(notices)} notices ({', '.join(dict.fromkeys(one_line(n['kind']) for n in notices))})"
    lines, items = [], []
    for n in notices:
        about = one_line(n.get("source_id") or n.get("channel") or "")
        line = f"{one_line(n['created_at'])} {one_line(n['kind'])}{' [' + about + ']' if about else ''}: " \
               f"{one_line(n['message'])}"
        lines.append(line)
        items.append(f"<li>{html.escape(line)}</li>")
    doc = {"type": "operator.notices", "id": msg_id,
           "notices": [{k: n.get(k) for k in ("id", "kind", "source_id", "channel", "message", "created_at")}
                       for n in notices]}
    return Message(id=msg_id, subject=truncate(f"{SUBJECT_PREFIX} operator: {head}", SUBJECT_MAX),
                   text="\n".join(lines) + "\n",
                   html="<!DOCTYPE html><html><body><ul>\n" + "\n".join(items) + "\n</ul></body></html>\n",
                   payload=doc)
