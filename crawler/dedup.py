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

__all__ = ["canonical_url", "normalise_text", "content_hash", "entry_key", "entry_fingerprint",
           "usable_canonical", "TRACKING_PARAMS"]

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


def entry_key(guid: str | None, url: str | None, *, title: str = "", summary: str = "",
              guid_taken: bool = False) -> str:
    """The key that says "this feed entry was seen before".

    ``guid:<guid>`` when the feed gives one, else ``url:<canonical url>``, else
    ``hash:<content_hash(title + summary)>``. ``guid_taken``: the feed already used this GUID for
    another URL (feeds that repeat one GUID, or give the homepage as every item's GUID), so the key
    is ``guid:<guid>|url:<canonical url>``.
    """
    guid = (guid or "").strip()
    if guid and guid_taken and (url or "").strip():
        return f"guid:{guid}|url:{canonical_url(url)}"
    if guid:
        return f"guid:{guid}"
    url = (url or "").strip()
    if url:
        return f"url:{canonical_url(url)}"
    return f"hash:{content_hash(title + chr(10) + summary)}"


def entry_fingerprint(title: str, summary: str, updated_at: str | None = None,
                      published_at: str | None = None) -> str:
    """What the feed says about an entry, hashed: when it changes for a stored entry, the article
    page is fetched again to look for an edit. Whitespace and case changes do not count."""
    parts = [normalise_text(title or ""), normalise_text(summary or ""), updated_at or "", published_at or ""]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:32]


# a site's root, or a language edition's root (/ru/, /kk, /oz/, /en/index.html)
_HOME_SEGMENTS = frozenset({"", "index.html", "index.htm", "index.php", "home", "main"})


def usable_canonical(canonical: str | None, page_url: str) -> bool:
    """May ``<link rel=canonical>`` replace the page's URL? Only within the same site (a page cannot
    claim another outlet's article, and a syndicated copy keeps its own URL), and never when it
    points at a homepage (CMSs that put the front page in every page's canonical tag)."""
    if not canonical:
        return False
    try:
        a, b = urlsplit(canonical), urlsplit(page_url)
    except ValueError:
        return False
    try:
        same_site = (_site(a.hostname), a.port) == (_site(b.hostname), b.port)
    except ValueError:  # a port that is not a number
        return False
    if a.scheme not in ("http", "https") or not same_site:
        return False
    segments = [p for p in a.path.split("/") if p]
    if not segments or (len(segments) == 1 and segments[0].lower() in _HOME_SEGMENTS):
        return bool(a.query)  # "/?p=123" (WordPress) is an article, "/" is not
    if len(segments) <= 2 and len(segments[0]) in (2, 3) and segments[0].isalpha() and (
            len(segments) == 1 or segments[1].lower() in _HOME_SEGMENTS):
        return bool(a.query)
    return True


def _site(host: str | None) -> str:
    host = (host or "").lower().rstrip(".")
    for prefix in ("www.", "m.", "amp.", "mobile."):
        if host.startswith(prefix):
            return host[len(prefix):]
    return host
