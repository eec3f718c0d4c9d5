"""Extract stage: article page (bytes or str) -> Extracted (title, author, date, text, language).

Pure: no network, no database. trafilatura does the boilerplate removal; this module decodes
the bytes (BOM, HTTP charset, ``<meta charset>``, UTF-8, then detection, so windows-1251 pages
come out as Cyrillic), finds the canonical URL, normalises the text and guesses the language
when trafilatura does not say.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from urllib.parse import urljoin, urlsplit

import lxml.etree
import trafilatura
from charset_normalizer import from_bytes
from trafilatura.utils import load_html

from .errors import ExtractError
from .models import Extracted

__all__ = ["extract_article", "decode_html", "guess_language", "normalise_article_text", "MIN_TEXT"]

MIN_TEXT = 100  # characters of article text below which a page is "no article"

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: same first two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# <meta charset="x">, <meta http-equiv="Content-Type" content="text/html; charset=x">, <?xml encoding="x"?>
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-z0-9_:.\-]+)|<\?xml[^>]+encoding\s*=\s*["']([a-z0-9_.\-]+)""",
    re.IGNORECASE,
)
# WHATWG: these labels mean windows-1252 in HTML; "utf-16" in a meta tag can only be a lie
_LABEL_FIXES = {"iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252",
                "utf-16": "utf-8", "utf-16le": "utf-8", "utf-16be": "utf-8", "x-cp1251": "cp1251"}
_UTF8 = {"utf-8", "utf8"}


def decode_html(data: bytes | str, encoding: str | None = None) -> str:
    """Bytes of an HTML page -> str.

    Order: BOM, ``encoding`` (the HTTP charset, if the caller knows it), ``<meta charset>`` in the
    first 4 KB, UTF-8, then charset detection (charset_normalizer). A page that is valid UTF-8
    with non-ASCII text is read as UTF-8 even when it declares a legacy charset: sites moved to
    UTF-8 often keep their old ``windows-1251`` meta tag, while windows-1251 Cyrillic is
    practically never valid UTF-8 by accident.
    """
    if isinstance(data, str):
        return data
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, errors="replace")

    declared = _codec(encoding) or _meta_charset(data[:4096])
    utf8 = _try_utf8(data)
    if declared and declared not in _UTF8:
        if utf8 is not None and not data.isascii():
            return utf8
        return data.decode(declared, errors="replace")
    if utf8 is not None:
        return utf8
    best = from_bytes(data).best()
    if best is not None and best.encoding:
        try:
            return data.decode(best.encoding, errors="replace")
        except LookupError:  # pragma: no cover - charset_normalizer only names Python codecs
            pass
    return data.decode("utf-8", errors="replace")


def _try_utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _meta_charset(head: bytes) -> str | None:
    found = _META_CHARSET.search(head)
    if not found:
        return None
    label = (found.group(1) or found.group(2)).decode("ascii", errors="ignore")
    return _codec(label)


def _codec(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None when Python does not know it."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _LABEL_FIXES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return "utf-8" if name in ("utf-8", "utf_8") else name


# C0/C1 controls except \t and \n, plus DEL; \r handled separately
_CONTROLS = dict.fromkeys(c for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if c not in (9, 10))
_MANY_NEWLINES = re.compile(r"\n{3,}")


def normalise_article_text(text: str) -> str:
    """NFC; \\r\\n -> \\n; control characters (NUL included) removed except \\n and \\t;
    trailing spaces trimmed; 3+ newlines collapsed to a blank line."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.translate(_CONTROLS)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _MANY_NEWLINES.sub("\n\n", text).strip()


def _canonical_link(tree, url: str) -> str | None:
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        href = (link.get("href") or "").strip()
        if "canonical" in rel and href:
            resolved = urljoin(url, href)
            parts = urlsplit(resolved)
            if parts.scheme in ("http", "https") and parts.netloc:
                return resolved
            return None
    return None


def extract_article(
    html: bytes | str,
    url: str,
    *,
    source_id: str | None = None,
    encoding: str | None = None,
) -> Extracted:
    """Main text and metadata of an article page.

    ``encoding`` is the charset from the HTTP Content-Type, when there is one. Raises
    ExtractError("no article text") when trafilatura finds no main text or less than MIN_TEXT
    characters of it (paywalls, index pages, challenge pages).
    """
    text_html = decode_html(html, encoding)
    if not text_html.strip():
        raise ExtractError("no article text (empty page)", source_id=source_id, url=url)
    try:
        tree = load_html(text_html)
    except (ValueError, TypeError) as exc:
        raise ExtractError(f"not an HTML page ({exc})", source_id=source_id, url=url) from exc
    if tree is None:
        raise ExtractError("no article text (not an HTML page)", source_id=source_id, url=url)

    canonical = _canonical_link(tree, url)
    try:
        document = trafilatura.bare_extraction(
            tree,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
        )
    except (lxml.etree.LxmlError, RecursionError) as exc:  # trafilatura catches ValueError/TypeError itself
        raise ExtractError(f"no article text (page could not be processed: {exc!r})",
                           source_id=source_id, url=url) from exc
    text = normalise_article_text(document.text or "") if document is not None else ""
    if len(text) < MIN_TEXT:
        found = f"only {len(text)} characters" if text else "nothing"
        raise ExtractError(f"no article text (found {found})", source_id=source_id, url=url)

    language = _language_code(document.language) or guess_language(text)
    return Extracted(
        title=_clean(document.title),
        author=_clean(document.author),
        published_at=_clean(document.date),
        text=text,
        language=language,
        canonical_url=canonical,
    )


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    value = " ".join(unicodedata.normalize("NFC", value).translate(_CONTROLS).split())
    return value or None


def _language_code(value: str | None) -> str | None:
    if not value:
        return None
    return value.strip().replace("_", "-").split("-")[0].lower() or None


# --- language guess ---------------------------------------------------------------------------

_KK = frozenset("әұіһ")  # Kazakh letters no other language here uses (і: also Ukrainian)
_KY = frozenset("ңөү")  # Kyrgyz (and Kazakh) letters
_TG = frozenset("ӣӯҷ")  # Tajik only
_UZ_CYRL = frozenset("ў")  # Uzbek Cyrillic only (here)
_UK = frozenset("їєґ")  # Ukrainian: kept apart so it is not taken for Kazakh
_TURKIC = frozenset("ғқҳ")  # Kazakh/Tajik/Uzbek, never Kyrgyz
_UZ_WORDS = frozenset(
    "va bilan uchun ham bu deb esa yil yilda qilib boʻyicha bo'yicha boʻlgan bo'lgan boʻladi "
    "bo'ladi emas edi yana hamda mamlakat prezident respublikasi oʻzbekiston o'zbekiston".split()
)
_EN_WORDS = frozenset(
    # words rare in Dutch, German, Danish, Norwegian... (no "in", "is", "at", "of"-like cognates)
    "the and that with from are have were said this which their they would there been "
    "what when who will about after".split()
)
_UZ_APOS = re.compile(r"[og][ʻ'‘’`]", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:[ʻʼ'‘’`][^\W\d_]+)*")
_SAMPLE = 20000
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_ASCII_LETTER = re.compile("[A-Za-z]")
_MARKERS = _KK | _KY | _TG | _UZ_CYRL | _UK | _TURKIC
_MIN_LETTERS = 40
_RATE = 0.004  # 4 marker letters per 1000 Cyrillic letters: well below real kk/ky/tg/uz text,
# well above a Russian article quoting a few names (Қасым-Жомарт, Өскемен)


def guess_language(text: str) -> str | None:
    """A cheap guess at the language of ``text`` for the languages Newswatch expects.

    Returns ``ru``, ``kk``, ``ky``, ``tg``, ``uz-Cyrl``, ``uz-Latn``, ``en`` (``uk`` for
    Ukrainian, so it is not taken for Kazakh), or None for too little text or a Latin-script
    text that looks neither English nor Uzbek.
    """
    sample = text[:_SAMPLE].lower()
    # Counted with C-level regex and str.count rather than a Python loop over 20,000 characters:
    # this ran for every stored article and cost ~5% of the extraction pipeline.
    cyrillic = len(sample) - len(_CYRILLIC.sub("", sample))
    latin = len(sample) - len(_ASCII_LETTER.sub("", sample))
    counts = {c: sample.count(c) for c in _MARKERS}
    if cyrillic + latin < _MIN_LETTERS:
        return None
    if cyrillic >= latin:
        return _guess_cyrillic(counts, cyrillic)
    return _guess_latin(sample)


def _guess_cyrillic(counts: dict[str, int], total: int) -> str:
    def rate(letters: frozenset[str]) -> float:
        return sum(counts.get(c, 0) for c in letters) / total

    scores = {"kk": rate(_KK), "tg": rate(_TG), "uz-Cyrl": rate(_UZ_CYRL), "uk": rate(_UK)}
    if scores["uk"] >= _RATE and scores["uk"] >= scores["kk"] / 4 and rate(_KY | _TURKIC) < _RATE:
        return "uk"  # ї/є/ґ and no Turkic letters: і is Ukrainian here
    scores.pop("uk")
    best = max(scores, key=scores.__getitem__)
    if scores[best] >= _RATE:
        return best
    if rate(_KY) >= _RATE and rate(_TURKIC) < _RATE:
        return "ky"
    return "ru"


def _guess_latin(sample: str) -> str | None:
    words = _WORD.findall(sample)
    if not words:
        return None
    uz = sum(1 for w in words if w in _UZ_WORDS) + len(_UZ_APOS.findall(sample)) / 2
    en = sum(1 for w in words if w in _EN_WORDS)
    if uz > en and uz / len(words) >= 0.03:
        return "uz-Latn"
    if en / len(words) >= 0.05:
        return "en"
    return None
