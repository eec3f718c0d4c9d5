"""Extract stage: article page (bytes or str) -> Extracted (title, author, date, text, language).

Pure: no network, no database. trafilatura does the boilerplate removal; this module decodes
the bytes (BOM, HTTP charset, ``<meta charset>``, UTF-8, then detection, so windows-1251 pages
come out as Cyrillic), finds the canonical URL, normalises the text and guesses the language
when trafilatura does not say. The page is parsed once (crawler.htmltree); title, author and date
come from crawler.pagemeta, and trafilatura is asked for the text only.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from urllib.parse import urljoin, urlsplit

import lxml.etree
import trafilatura

from .encoding import Decoded, codec_name, decode, looks_like_mojibake

from .errors import ExtractError
from .htmltree import drop_code, drop_head, parse_html
from .models import Extracted
from .pagemeta import PageMeta, page_metadata

__all__ = ["extract_article", "decode_html", "guess_language", "normalise_article_text", "MIN_TEXT"]

MIN_TEXT = 100  # characters of article text below which a page is "no article"

# <meta charset="x">, <meta http-equiv="Content-Type" content="text/html; charset=x">, <?xml encoding="x"?>
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-z0-9_:.\-]+)|<\?xml[^>]+encoding\s*=\s*["']([a-z0-9_.\-]+)""",
    re.IGNORECASE,
)


def decode_html(data: bytes | str, encoding: str | None = None) -> str:
    """Bytes of an HTML page -> str (see :func:`decode_page`)."""
    return decode_page(data, encoding).text


def decode_page(data: bytes | str, encoding: str | None = None) -> Decoded:
    """Bytes of an HTML page -> text, the charset used, and whether it still looks like mojibake.

    Order: BOM, ``encoding`` (the HTTP charset, if the caller knows it), ``<meta charset>`` in the
    first 4 KB, UTF-8, then detection, with the checks of :mod:`crawler.encoding`: valid UTF-8
    wins over a stale legacy label, and a declared windows-1251 that reads like KOI8-R (or the
    reverse) is read with the charset that gives Russian text.
    """
    if isinstance(data, str):
        return Decoded(data, "str", looks_like_mojibake(data))
    return decode(data, (encoding, _meta_charset(data[:4096])))


def _meta_charset(head: bytes) -> str | None:
    found = _META_CHARSET.search(head)
    if not found:
        return None
    label = (found.group(1) or found.group(2)).decode("ascii", errors="ignore")
    return codec_name(label)


# C0/C1 controls except \t and \n, plus DEL; \r handled separately. A regex rather than
# str.translate with a dict, which looks up every character of the text in Python's dict.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_TRAILING_SPACE = re.compile(r"[^\S\n]+$", re.MULTILINE)  # what str.rstrip() strips, line by line
_MANY_NEWLINES = re.compile(r"\n{3,}")


def normalise_article_text(text: str) -> str:
    """NFC; \\r\\n -> \\n; control characters (NUL included) removed except \\n and \\t;
    trailing spaces trimmed; 3+ newlines collapsed to a blank line."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _TRAILING_SPACE.sub("", _CONTROLS.sub("", text))
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
    decoded = decode_page(html, encoding)
    text_html = decoded.text
    if not text_html.strip():
        raise ExtractError("no article text (empty page)", source_id=source_id, url=url)
    try:
        tree = parse_html(text_html)
    except (ValueError, TypeError) as exc:
        raise ExtractError(f"not an HTML page ({exc})", source_id=source_id, url=url) from exc
    if tree is None:
        raise ExtractError("no article text (not an HTML page)", source_id=source_id, url=url)

    canonical = _canonical_link(tree, url)
    drop_code(tree)
    # Metadata is read by crawler.pagemeta (the fields we store, from the cheap sources first),
    # not by trafilatura, whose metadata pass cost a third as much as the text extraction.
    try:
        meta = page_metadata(tree, url, canonical)
    except (lxml.etree.LxmlError, RecursionError, ValueError):
        meta = PageMeta(None, None, None)  # a page with text and odd metadata is still an article
    drop_head(tree)
    try:
        document = trafilatura.bare_extraction(
            tree,
            url=url,
            with_metadata=False,
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

    language = reconcile_language(_language_code(document.language), guess_language(text))
    return Extracted(
        title=_clean(meta.title),
        author=_clean(meta.author),
        published_at=_clean(meta.date),
        text=text,
        language=language,
        canonical_url=canonical,
        encoding_suspect=decoded.suspect or looks_like_mojibake(text),
    )


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    value = " ".join(_CONTROLS.sub("", unicodedata.normalize("NFC", value)).split())
    return value or None


def _language_code(value: str | None) -> str | None:
    if not value:
        return None
    return value.strip().replace("_", "-").split("-")[0].lower() or None


# what outlets write in lang="" for the tags Newswatch stores
_LANG_ALIASES = {"kz": "kk", "kg": "ky", "kir": "ky", "tj": "tg", "tgk": "tg", "oz": "uz-Latn", "tm": "tk",
                 "tuk": "tk", "rus": "ru", "eng": "en", "kaz": "kk", "uzb": "uz"}
_OWN_SCRIPT_LANGUAGES = frozenset({"kk", "ky", "tg", "uz-Cyrl", "uz-Latn", "tk"})


def reconcile_language(declared: str | None, guessed: str | None) -> str | None:
    """The page's ``lang`` attribute against what its text says.

    ``lang="uz"`` does not say the script: the text does. Many Central Asian sites serve every
    edition with the template's ``lang="ru"``: when the text carries letters or words only
    Kazakh, Kyrgyz, Tajik, Uzbek or Turkmen use, the text wins."""
    declared = _LANG_ALIASES.get(declared, declared) if declared else None
    if declared == "uz":
        if guessed in ("uz-Latn", "uz-Cyrl"):
            return guessed
        return "uz-Cyrl" if guessed in ("ru", "kk", "ky", "tg") else "uz-Latn"
    if not declared:
        return guessed
    if guessed and guessed != declared and (guessed in _OWN_SCRIPT_LANGUAGES or guessed == "en"
                                            and declared in ("ru", "kk", "ky", "tg")):
        return guessed
    return declared


# --- language guess ---------------------------------------------------------------------------

_KK = frozenset("әұіһ")  # Kazakh letters no other language here uses (і: also Ukrainian)
_KY = frozenset("ңөү")  # Kyrgyz (and Kazakh) letters
_TG = frozenset("ӣӯҷ")  # Tajik only
_UZ_CYRL = frozenset("ў")  # Uzbek Cyrillic only (here)
_UK = frozenset("їєґ")  # Ukrainian: kept apart so it is not taken for Kazakh
_TURKIC = frozenset("ғқҳ")  # Kazakh/Tajik/Uzbek, never Kyrgyz
_UZ_WORDS = frozenset(
    "va bilan uchun ham bu deb esa yil yilda qilib boʻyicha bo'yicha boʻlgan bo'lgan boʻladi "
    "bo'ladi emas edi yana hamda mamlakat prezident respublikasi oʻzbekiston o'zbekiston "
    "haqida qilish qildi qilindi ekan kerak hozir yangi ushbu mazkur ular lekin ammo agar orqali tomonidan "
    "qarshi koʻra ko'ra kuni soat viloyati viloyatida tumani shahri shahrida vazirligi xabar bergan "
    "maʼlum ma'lum qayd etildi oʻtgan o'tgan boshqa barcha".split()
)
_TK_LETTERS = frozenset("ňýäžşç")  # Turkmen Latin: ň and ý above all, no other language here has them
_EN_WORDS = frozenset(
    # words rare in Dutch, German, Danish, Norwegian... (no "in", "is", "at", "of"-like cognates)
    "the and that with from are have were said this which their they would there been "
    "what when who will about after".split()
)
_UZ_APOS = re.compile(r"[og][ʻ'‘’`]", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:[ʻʼ'‘’`][^\W\d_]+)*")
_SAMPLE = 20000
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_ASCII_LOWER = "abcdefghijklmnopqrstuvwxyz"
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
    latin = sum(map(sample.count, _ASCII_LOWER))  # the sample is lower case: no A-Z left
    # Turkmen Latin letters are Latin letters too (and outside A-Z)
    turkmen = sum(sample.count(c) for c in _TK_LETTERS)
    latin += turkmen
    if cyrillic + latin < _MIN_LETTERS:
        return None
    if cyrillic >= latin:
        return _guess_cyrillic({c: sample.count(c) for c in _MARKERS}, cyrillic)
    if turkmen / latin >= 0.01:
        return "tk"
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
    if rate(_TURKIC) >= 2 * _RATE and rate(_KY) < _RATE and sum(1 for c in _TURKIC if counts.get(c)) >= 2:
        # қ ғ ҳ without ә і ұ ң ө ү: Uzbek Cyrillic that happens to have no ў in the sample
        return "uz-Cyrl"
    return "ru"


def _guess_latin(sample: str) -> str | None:
    words = _WORD.findall(sample)
    if not words:
        return None
    # q without u and x are everyday Uzbek letters and rare in English. Every letter of the
    # sample is in a word, and a u after a q is in the q's word: counted over the sample at once.
    q_x = sample.count("x") + sample.count("q") - sample.count("qu")
    seen = Counter(words)
    uz = sum(seen[w] for w in _UZ_WORDS.intersection(seen)) + len(_UZ_APOS.findall(sample)) / 2 + q_x / 4
    en = sum(seen[w] for w in _EN_WORDS.intersection(seen))
    if uz > en and uz / len(words) >= 0.03:
        return "uz-Latn"
    if en / len(words) >= 0.05:
        return "en"
    return None
