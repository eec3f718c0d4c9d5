"""Dedup stage: canonical URLs, normalised text hashes and entry keys.

Pure functions; the store decides what "seen" means by comparing these values.

>>> canonical_url("HTTPS://Example.KZ:443/news?id=7&utm_source=tg#top")
'https://example.kz/news?id=7'
>>> entry_key(None, "http://example.kz/a?fbclid=x")
'url:http://example.kz/a'
"""

from __future__ import annotations

import hashlib
import unicodedata
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = ["canonical_url", "normalise_text", "content_hash", "entry_key", "TRACKING_PARAMS"]

# query parameters that only say where a click came from (compared case-insensitively);
# any parameter starting with "utm_" is dropped too. ``from`` is kept: some outlets use it for content.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "yclid",
        "dclid",
        "msclkid",
        "_openstat",
        "mc_cid",
        "mc_eid",
        "igshid",
        "ref_src",
    }
)

_DEFAULT_PORTS = {"http": "80", "https": "443"}
# characters left alone when re-quoting a path or query: RFC 3986 reserved + unreserved + "%"
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_SAFE_QUERY = _SAFE_PATH + "?"


def canonical_url(url: str) -> str:
    """A stable form of ``url`` for deduplication.

    Lowercases scheme and host (IDNA-encodes a Unicode host), drops the default port, the
    fragment and tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ``yclid``, ...), keeps the
    remaining parameters in their order, turns an empty path into ``/`` and percent-encodes
    non-ASCII characters in path and query (so ``/новости`` and ``/%D0%BD...`` are one URL).
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return url
    scheme = parts.scheme.lower()
    netloc = _canonical_netloc(parts, scheme)
    path = _requote(parts.path, _SAFE_PATH) or ("/" if netloc else "")
    query = "&".join(
        _requote(p, _SAFE_QUERY) for p in parts.query.split("&") if p and not _is_tracking(p)
    )
    return urlunsplit((scheme, netloc, path, query, ""))


def _canonical_netloc(parts, scheme: str) -> str:
    netloc = parts.netloc
    if not netloc:
        return ""
    userinfo, _, hostport = netloc.rpartition("@")
    if hostport.startswith("["):  # IPv6 literal
        host, _, rest = hostport[1:].partition("]")
        host = f"[{host.lower()}]"
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
        host = _idna(host.lower().rstrip("."))
    if port == _DEFAULT_PORTS.get(scheme) or port == "":
        port = ""
    result = host + (f":{port}" if port else "")
    return f"{userinfo}@{result}" if userinfo else result


def _idna(host: str) -> str:
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _requote(value: str, safe: str) -> str:
    """Percent-encode what must be encoded; upper-case existing escapes (%d0 -> %D0)."""
    value = quote(value, safe=safe)
    if "%" not in value:
        return value
    chunks = value.split("%")
    out = [chunks[0]]
    for chunk in chunks[1:]:
        if len(chunk) >= 2 and all(c in "0123456789abcdefABCDEF" for c in chunk[:2]):
            chunk = chunk[:2].upper() + chunk[2:]
        out.append(chunk)
    return "%".join(out)


def _is_tracking(param: str) -> bool:
    name = param.partition("=")[0].lower()
    return name.startswith("utm_") or name in TRACKING_PARAMS


class _TextTable(dict):
    """str.translate table built lazily: punctuation -> space, apostrophes and invisibles -> gone."""

    _APOSTROPHES = frozenset("'`´ʹʻʼʽ‘’‛′")

    def __missing__(self, codepoint: int):
        char = chr(codepoint)
        category = unicodedata.category(char)
        if char == "ё":
            value = "е"
        elif char in self._APOSTROPHES:
            # o'zbek, oʻzbek and o’zbek hash alike; "don't" -> "dont"
            value = None
        elif category.startswith("P"):
            value = " "
        elif category == "Cf":  # soft hyphen, zero-width space, BOM, direction marks
            value = None
        elif category.startswith("C") or category.startswith("Z"):
            value = " "
        else:
            value = char
        self[codepoint] = value
        return value


_TABLE = _TextTable()


def normalise_text(text: str) -> str:
    """Text reduced to what matters for "is this the same article": NFKC, casefolded,
    ё -> е, punctuation and invisible characters removed, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.translate(_TABLE).split())


def content_hash(text: str) -> str:
    """sha256 (hex) of ``normalise_text(text)``."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def entry_key(guid: str | None, url: str | None, *, title: str = "", summary: str = "") -> str:
    """The key that says "this feed entry was seen before".

    ``guid:<guid>`` when the feed gives one, else ``url:<canonical url>``, else
    ``hash:<content_hash(title + summary)>``.
    """
    guid = (guid or "").strip()
    if guid:
        return f"guid:{guid}"
    url = (url or "").strip()
    if url:
        return f"url:{canonical_url(url)}"
    return f"hash:{content_hash(title + chr(10) + summary)}"
