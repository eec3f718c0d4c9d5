"""Decode stage: bytes of a page or feed -> text, and a judgement on whether the text is right.

Pure. Order: a byte-order mark (unambiguous), then the declared charsets in the order given (the HTTP
header, then ``<meta charset>`` or the XML declaration), then UTF-8, then detection. Two rules on top,
because Central Asian and Russian sites get charsets wrong all the time:

- Bytes that are valid UTF-8 with non-ASCII text are UTF-8, whatever is declared: sites moved to UTF-8
  keep their old ``windows-1251`` labels, while windows-1251 or KOI8-R Cyrillic is practically never
  valid UTF-8 by accident.
- A declared single-byte charset is believed only if the text it gives looks like text. Russian in
  windows-1251 read as KOI8-R (or the reverse) comes out with its letter case inverted
  ("рОССИЯ"), read as windows-1252 it comes out as "Ðîññèÿ"; then the other Cyrillic charsets are
  tried and the most plausible reading wins. Undeclared bytes are read the same way, with
  windows-1251 and KOI8-R among the candidates (a generic detector alone takes short Cyrillic
  texts for windows-1252 or mac-cyrillic).

Text that still looks wrong after all that (mojibake already in the source, or no candidate reads
well) comes back with ``suspect=True``; callers store it flagged and do not alert on it.
"""

from __future__ import annotations

import codecs
import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Decoded", "decode", "codec_name", "charset_param", "mojibake_score", "looks_like_mojibake",
           "clean_text"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: same first two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# WHATWG: these labels mean windows-1252 on the web; "utf-16" in a document without a BOM is a lie
_LABEL_FIXES = {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252",
                "ascii": "cp1252", "utf-16": "utf-8", "utf-16le": "utf-8", "utf-16be": "utf-8",
                "x-cp1251": "cp1251", "win-1251": "cp1251", "koi8r": "koi8-r"}
_FALLBACKS = ("cp1251", "koi8_r", "cp1252")
_SAMPLE = 20000
_DETECT_MIN = 512
SUSPECT_AT = 0.12  # mojibake_score above which text is flagged

# The bytes 0x80-0xBF (UTF-8 continuation bytes) as windows-1251 and windows-1252 show them.
_CP1251_HIGH = bytes(range(0x80, 0xC0)).decode("cp1251", errors="ignore")
_CP1252_HIGH = bytes(range(0x80, 0xC0)).decode("cp1252", errors="ignore")
# UTF-8 Cyrillic read as windows-1251 ("РџСЂРёРІРµС‚") or as windows-1252/latin-1 ("ÐŸÑ€Ð¸")
_UTF8_AS_1251 = re.compile(f"[РСТУ][{re.escape(_CP1251_HIGH)}]")
_UTF8_AS_1252 = re.compile(f"[ÐÑÒÓ][{re.escape(_CP1252_HIGH)}\u0080-\u009f]")
_WORD = re.compile(r"[^\W\d_]{2,}")
_WORD_CHAR = re.compile(r"[^\W\d_]")
_ASCII_RUNS = re.compile("[\x00-\x7f]+")
_ASCII_NOT_LETTERS = bytes(c for c in range(128) if not chr(c).isalpha())
# Russian letter frequencies (%), to tell windows-1251 from KOI8-R when case alone cannot (short titles)
_RU_FREQ = dict(о=10.97, е=8.45, а=8.01, и=7.35, н=6.70, т=6.26, с=5.47, р=4.73, в=4.54, л=4.40, к=3.49, м=3.21,
                д=2.98, п=2.81, у=2.62, я=2.01, ы=1.90, ь=1.74, г=1.70, з=1.65, б=1.59, ч=1.44, й=1.21, х=0.97,
                ж=0.94, ш=0.73, ю=0.64, ц=0.48, щ=0.36, э=0.32, ф=0.26, ъ=0.04, ё=0.04)
_RU_LOG = {c: math.log2(f / 100) for c, f in _RU_FREQ.items()}
_RARE_LOG = math.log2(0.0005)
_FIT_OK = -4.9  # mean log2 frequency of Russian letters; real text ~ -4.5, a swapped charset ~ -5.3 to -6
_SINGLE_BYTE_CYRILLIC = {"cp1251", "koi8-r", "koi8_r", "iso8859-5", "mac-cyrillic", "cp866", "koi8-u"}


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    suspect: bool | None = False  # None: not judged (decode(judge=False))


def codec_name(label: str | None) -> str | None:
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


def charset_param(content_type: str | None) -> str | None:
    """``text/html; charset="Windows-1251"`` -> ``windows-1251``; None when there is none."""
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip("\"'").lower() or None
    return None


def mojibake_score(text: str) -> float:
    """0 for text that reads like text; higher the more it looks like bytes decoded with the wrong
    charset (replacement characters, UTF-8 read as a single-byte charset, Cyrillic read as
    windows-1252, windows-1251 and KOI8-R swapped, words mixing Latin and Cyrillic letters)."""
    sample = text[:_SAMPLE]
    # This runs on every page (its first 20,000 characters, markup included), every extracted text
    # and every title: a Python loop over the characters cost a quarter of the extraction pipeline.
    # So: ASCII cannot score; otherwise ASCII letters are counted in C and the other characters per
    # distinct character, and pairs and words are looked for only where the letters they need are
    # there. Same score as character by character (tests/test_encoding.py).
    if sample.isascii():
        return 0.0
    letters = len(sample.encode("ascii", "ignore").translate(None, _ASCII_NOT_LETTERS))
    cyr = cyr_upper = latin_high = odd = 0
    points = _code_points(sample) if len(sample) >= _VECTOR_MIN else None
    counts = _non_ascii_counts(sample, points)
    for ch, n in counts.items():
        if ch.isalpha():
            letters += n
            if "\u0400" <= ch <= "\u04ff":
                cyr += n
                if ch.isupper():
                    cyr_upper += n
            elif "\u00c0" <= ch <= "\u00ff":
                latin_high += n
        elif ch == "\ufffd" or "\u0080" <= ch <= "\u009f" or "\u2500" <= ch <= "\u259f":
            odd += n  # replacement characters, C1 controls, KOI8-R box drawing
    if not letters:
        return 1.0 if odd else 0.0
    score = odd / max(letters, 1) * 5
    pairs = 0
    if any(c in counts for c in "РСТУ"):
        pairs += len(_UTF8_AS_1251.findall(sample))
    if any(c in counts for c in "ÐÑÒÓ"):
        pairs += len(_UTF8_AS_1252.findall(sample))
    score += pairs * 2 / letters
    if latin_high / letters > 0.3:  # Turkmen or French stay well below; Cyrillic as cp1252 is ~1.0
        score += latin_high / letters
    if cyr >= 20 and cyr_upper / cyr > 0.4:  # real text is mostly lower case; swapped KOI8/1251 is not
        score += cyr_upper / cyr
    if cyr and points is not None:
        words, odd_words, marks = _odd_words(points)
        if words and not _lone(odd_words, words):
            score += marks / words
        return score
    # both kinds of odd word need a Cyrillic letter, and a clean text has neither: a search over the
    # whole sample (in C) rules them out before the words are looked at one by one
    words = _WORD.findall(sample) if cyr and (
        (letters > cyr and _MIXED_ANYWHERE.search(sample)) or _camel_anywhere().search(sample)) else ()
    if words:
        marks = odd_words = 0
        latin = letters > cyr  # a mixed word needs a Latin letter too
        for w in words:
            mixed = latin and _mixed_script(w)
            # "лХЦПЮМРШ": a word that starts in lower case and goes on in upper case (KOI8-R/1251
            # swapped); a word whose cased letters after the first are all lower case cannot be one
            camel = (len(w) >= 3 and "\u0400" <= w[0] <= "\u04ff" and w[0].islower()
                     and not w[1:].islower() and any(c.isupper() for c in w[1:]))
            marks += mixed + camel
            odd_words += mixed or camel
        if not _lone(odd_words, len(words)):
            score += marks / len(words)
    return score


def _lone(odd_words: int, words: int) -> bool:
    """One odd word among four or more is a lost space ("вКазахстане"), a Latin look-alike letter
    ("Cамолет") or a brand with a suffix ("Kaspiден"), not a wrong charset, which garbles word after
    word: a title with one such word must not be stored as garbled (and never alert)."""
    return odd_words == 1 and words >= 4


def _russian_fit(text: str) -> float | None:
    """Mean log2 frequency of the Cyrillic letters of ``text`` in Russian (None: too few letters)."""
    letters = [c for c in text[:_SAMPLE].lower() if "\u0400" <= c <= "\u04ff"]
    if len(letters) < 4:
        return None
    return sum(_RU_LOG.get(c, _RARE_LOG) for c in letters) / len(letters)


_VECTOR_MIN = 1000  # characters from which numpy beats Python's per-character and per-word work


def _code_points(sample: str):
    import numpy as np

    return np.frombuffer(sample.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _non_ascii_counts(sample: str, points=None) -> dict[str, int]:
    """How often each non-ASCII character occurs. numpy counts the code points of a page or a feed
    ~30x faster than Counter (1.4 ms for 20,000 Cyrillic characters); Counter wins on a title."""
    if points is None:
        return Counter(_ASCII_RUNS.sub("", sample))
    import numpy as np

    values, counts = np.unique(points[points > 127], return_counts=True)
    return dict(zip(map(chr, values.tolist()), counts.tolist()))


# Character classes for _odd_words: one byte per code point below _TABLE_SIZE (Latin, Greek, Cyrillic,
# Armenian, Arabic... and punctuation), the rest looked up one distinct character at a time
_LETTER, _CYR, _LAT, _UPPER, _CYR_LOWER = 1, 2, 4, 8, 16
_TABLE_SIZE = 0x3000
_CLASSES: list = []


@functools.lru_cache(maxsize=4096)
def _char_class(ch: str) -> int:
    """The classes of one character, as the per-word checks of mojibake_score see it: a letter is what
    _WORD takes, Cyrillic and Latin as _mixed_script has them."""
    flags = _LETTER if _WORD_CHAR.match(ch) else 0
    if "\u0400" <= ch <= "\u04ff":
        flags |= _CYR | (_CYR_LOWER if ch.islower() else 0)
    elif ch <= "\x7f" or "\u00c0" <= ch <= "\u024f":
        flags |= _LAT
    return flags | (_UPPER if ch.isupper() else 0)


def _class_table():
    if not _CLASSES:
        import numpy as np

        table = np.zeros(_TABLE_SIZE, dtype=np.uint8)
        chars = "".join(map(chr, range(_TABLE_SIZE)))

        def mark(chars: str, flag: int) -> None:
            at = np.frombuffer(chars.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            table[at] |= flag

        mark("".join(_WORD_CHAR.findall(chars)), _LETTER)
        mark(chars[:0x80] + chars[0xC0:0x250], _LAT)
        mark(chars[0x400:0x500], _CYR)
        mark("".join(c for c in chars if c.isupper()), _UPPER)
        mark("".join(c for c in chars[0x400:0x500] if c.islower()), _CYR_LOWER)
        _CLASSES.append(table)
    return _CLASSES[0]


def _odd_words(points) -> tuple[int, int, int]:
    """(words, odd words, marks) of a sample given as code points: the words _WORD finds, the words
    among them that mix Cyrillic and Latin letters or are in swapped case ("лХЦПЮМРШ": a lower-case
    Cyrillic letter, then upper case), and the marks (one per kind per word) -- what looking at every
    word in Python gives (tests/test_encoding.py), counted with array operations: on a 20,000
    character page the per-word loop and the searches that decided whether to run it took ~1.4 ms."""
    import numpy as np

    n = len(points)
    classes = np.zeros(n + 1, dtype=np.uint8)  # and a non-letter after the last character
    np.take(_class_table(), np.minimum(points, _TABLE_SIZE - 1), out=classes[:n])
    high = np.flatnonzero(points >= _TABLE_SIZE)
    if len(high):
        values, where = np.unique(points[high], return_inverse=True)
        classes[high] = np.array([_char_class(chr(v)) for v in values.tolist()], dtype=np.uint8)[where]
    letter = classes & _LETTER
    flips = np.flatnonzero(letter[1:] != letter[:-1]) + 1
    if letter[0]:
        flips = np.concatenate(([0], flips))
    starts, ends = flips[0::2], flips[1::2]  # every run of letters, [start, end)
    if not len(starts):
        return 0, 0, 0
    lengths = ends - starts
    word = lengths >= 2
    bounds = np.empty(2 * len(starts), dtype=np.intp)
    bounds[0::2], bounds[1::2] = starts, ends
    whole = np.bitwise_or.reduceat(classes, bounds)[0::2]  # the classes found in each run
    bounds[0::2] = starts + 1
    after_first = np.bitwise_or.reduceat(classes, bounds)[0::2]  # (one-letter runs: ignored below)
    mixed = word & ((whole & _CYR) > 0) & ((whole & _LAT) > 0)
    camel = (lengths >= 3) & ((classes[starts] & _CYR_LOWER) > 0) & ((after_first & _UPPER) > 0)
    return int(word.sum()), int((mixed | camel).sum()), int(mixed.sum() + camel.sum())


# Somewhere in a word, a Cyrillic letter and a Latin one (a superset of the words _mixed_script takes:
# the letters between them belong to the same word).
_MIXED_ANYWHERE = re.compile(
    "[\u0400-\u04ff][^\\W\\d_]*?[A-Za-z\u00c0-\u024f]|[A-Za-z\u00c0-\u024f][^\\W\\d_]*?[\u0400-\u04ff]")
_CAMEL: list[re.Pattern] = []


def _camel_anywhere() -> re.Pattern:
    """A lower-case Cyrillic letter followed, in the same word, by an upper-case letter: a superset of the
    camel-case words mojibake_score counts (every upper-case letter of the BMP, and all astral ones)."""
    if not _CAMEL:
        lower = "".join(c for c in map(chr, range(0x400, 0x500)) if c.islower())
        upper = "".join(re.escape(c) for c in map(chr, range(0x10000)) if c.isupper())
        _CAMEL.append(re.compile(f"[{lower}][^\\W\\d_]*?[{upper}\U00010000-\U0010ffff]"))
    return _CAMEL[0]


_CYR_LETTER = re.compile("[\u0400-\u04ff]")
_LATIN_LETTER = re.compile("[\x00-\x7f\u00c0-\u024f]")


def _mixed_script(word: str) -> bool:
    return _CYR_LETTER.search(word) is not None and _LATIN_LETTER.search(word) is not None


def looks_like_mojibake(text: str) -> bool:
    return mojibake_score(text) > SUSPECT_AT


def decode(data: bytes, declared: Iterable[str | None] = (), *, judge: bool = True) -> Decoded:
    """Decode ``data`` (see the module docstring for the order). ``declared`` are charset labels,
    most authoritative first (HTTP header, then the document's own declaration); None and unknown
    labels are skipped.

    ``judge=False``: where the charset is certain (a BOM, valid UTF-8) the text is not judged and
    ``suspect`` is None; the caller runs ``looks_like_mojibake`` on the text if it needs to know
    (a feed whose entries are all already stored never does, and judging costs more than parsing)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            text = data[len(bom):].decode(codec, errors="replace")
            return Decoded(text, codec, looks_like_mojibake(text) if judge else None)
    try:
        utf8 = data.decode("utf-8")
    except UnicodeDecodeError:
        utf8 = None
    if utf8 is not None:
        return Decoded(utf8, "utf-8", looks_like_mojibake(utf8) if judge else None)

    labels = list(dict.fromkeys(c for c in (codec_name(x) for x in declared) if c and c != "utf-8"))
    if labels:
        first = _reading(data, labels[0])
        if first[0] <= SUSPECT_AT and first[1] == 0:
            return Decoded(first[2], labels[0])
    detected = _detected(data) if len(data) >= _DETECT_MIN else None  # detectors guess wildly on a few bytes
    best = None
    for codec in dict.fromkeys(c for c in (*labels, *_FALLBACKS, detected) if c):
        try:
            moj, penalty, text = _reading(data, codec)
        except LookupError:
            continue
        key = (moj > SUSPECT_AT, moj + penalty)
        if best is None or key < best[0]:  # ties go to the earlier (declared, then likelier) charset
            best = (key, codec, text, moj)
    _, codec, text, moj = best
    return Decoded(text, codec, moj > SUSPECT_AT)


def _reading(data: bytes, codec: str) -> tuple[float, float, str]:
    """(mojibake score, poor-fit penalty for a single-byte Cyrillic charset, text)."""
    text = data.decode(codec, errors="replace")
    penalty = 0.0
    if codec in _SINGLE_BYTE_CYRILLIC:
        fit = _russian_fit(text)
        if fit is not None and fit < _FIT_OK:
            penalty = _FIT_OK - fit
    return mojibake_score(text), penalty, text


def _detected(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data[:65536]).best()
    return codec_name(best.encoding) if best is not None and best.encoding else None


# C0/C1 controls except \t and \n, DEL, and code points SQLite or UTF-8 cannot hold as text
# (a regex: str.translate with a dict looks up every character of a whole article in Python's dict)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")
_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(text: str | None, limit: int | None = None, *, one_line: bool = False) -> str:
    """Text fit to store: NFC, valid UTF-8 (no lone surrogates), no NUL or other control characters
    (``\\n`` and ``\\t`` kept unless ``one_line``), at most ``limit`` characters, cut at a paragraph
    or word boundary when there is one near the end."""
    if not text:
        return ""
    text = _SURROGATES.sub("\ufffd", text)
    text = _CONTROLS.sub("", unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")))
    if one_line:
        text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        cut = text[:limit]
        for sep in ("\n\n", "\n", " "):
            at = cut.rfind(sep)
            if at > limit * 0.8:
                cut = cut[:at]
                break
        text = cut.rstrip() + " …"
    return text
