"""What an alert says: the subject line, the plain-text body and the webhook payload.

Pure functions over :class:`crawler.models.Alert`; no I/O. Everything in an alert that came from a
feed or a page (titles, authors, snippets, URLs) is treated as data: it is cleaned and inserted as
a value, never used as a template or format string, and single-line fields never carry a line
break into a header or a body line.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

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
