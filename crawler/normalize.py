"""Text normalisation for matching: one spelling per word, whatever the keyboard, font or script.

Keywords and article text go through the same functions, so they meet in the middle:

- ``tokens(text)`` finds the words of a text with their spans; a word keeps its inner apostrophes
  (Uzbek oʻzbek, English don't) and any soft hyphens or zero-width characters inside it;
- ``fold(word)`` is the word as compared within its script: NFKC, case folding, ё → е, the Uzbek
  apostrophe variants (ʻ ʼ ' ` ‘ ’) as one, soft hyphens and zero-width characters removed, and a
  Latin look-alike inside a Cyrillic word (or the reverse) replaced by the letter of the word's script;
- ``skeleton(folded)`` is a script-free form shared by Uzbek, Kazakh, Kyrgyz and Tajik in Cyrillic and
  Latin: ``Ўзбекистон``, ``O‘zbekiston`` and ``Ozbekiston`` all become ``ozbekiston``; ``муҳоҷир`` and
  ``muhojir`` become ``muhojir``. It is deliberately lossy (ө/ö/ў/oʻ → o, ы/і/ı → i) because the same
  word is spelled several ways across these languages and their alphabet reforms.

Pure functions over str; no I/O.

>>> fold("Ми\\u00adгрaнты")   # a soft hyphen and a Latin "a" inside a Cyrillic word
'мигранты'
>>> skeleton(fold("Qozogʻistonda", keep_yo=True)) == skeleton(fold("Қозоғистонда", keep_yo=True))
True
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["tokens", "fold", "skeleton", "script", "CYRILLIC", "LATIN", "OTHER"]

APOSTROPHES = "'`ʻʼ‘’′"
INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_CANON_APOS = "ʼ"

_WORD_CHAR = r"[^\W_]|[\u0300-\u036f" + INVISIBLE + "]"
# A word, with apostrophes allowed between its letters (oʻzbek, g'alla, don't) but not around it.
TOKEN_RE = re.compile(rf"(?:{_WORD_CHAR})+(?:[{re.escape(APOSTROPHES)}](?:{_WORD_CHAR})+)*")

_FOLD_TABLE = str.maketrans({**{c: _CANON_APOS for c in APOSTROPHES}, **dict.fromkeys(map(ord, INVISIBLE))})

CYRILLIC, LATIN, OTHER = "C", "L", "O"

# Letters that look the same in both scripts (what a copy-paste or a spoofing headline mixes in).
_LAT_TO_CYR = str.maketrans("aceopxykmthbiј", "асеорхукмтнвіј")
_CYR_TO_LAT = str.maketrans("асеорхукмтнвіј", "aceopxykmthbij")


def tokens(text: str) -> list[tuple[str, int, int]]:
    """The words of ``text`` as (word, start, end), in order."""
    return [(m.group(), m.start(), m.end()) for m in TOKEN_RE.finditer(text)]


_CYR_RE = re.compile("[\u0400-\u052f]")
_LAT_RE = re.compile("[A-Za-z\u00c0-\u024f]")


def script(word: str) -> str:
    """CYRILLIC, LATIN or OTHER, by the majority of the word's letters (digits count as neither)."""
    # most words are in one script: settle those with one scan each, count only mixed words
    if not _LAT_RE.search(word):
        return CYRILLIC if _CYR_RE.search(word) else OTHER
    if not _CYR_RE.search(word):
        return LATIN
    cyr = len(_CYR_RE.findall(word))
    lat = len(_LAT_RE.findall(word))
    if not cyr and not lat:
        return OTHER
    return CYRILLIC if cyr >= lat else LATIN


def fold(word: str, keep_yo: bool = False) -> str:
    """The comparable spelling of one word (see the module docstring). ``keep_yo`` keeps ё, which the
    skeleton needs (Uzbek ёш is yosh), while Russian spelling drops its dots freely."""
    word = unicodedata.normalize("NFKC", word).casefold().translate(_FOLD_TABLE)
    if not word.isascii() and _CYR_RE.search(word) and _LAT_RE.search(word):
        # mixed scripts: the minority letters are look-alikes of the majority's
        word = word.translate(_LAT_TO_CYR if script(word) == CYRILLIC else _CYR_TO_LAT)
    return word if keep_yo or "ё" not in word else word.replace("ё", "е")


# Cyrillic as used for Russian, Kazakh, Kyrgyz, Uzbek and Tajik -> the shared Latin skeleton.
_CYR_SKELETON = {
    "а": "a", "ә": "a", "б": "b", "в": "v", "г": "g", "ғ": "g", "д": "d", "е": "e", "ж": "j", "ҷ": "j",
    "з": "z", "и": "i", "ӣ": "i", "й": "y", "і": "i", "к": "k", "қ": "q", "л": "l", "м": "m", "н": "n",
    "ң": "ng", "о": "o", "ө": "o", "ў": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ү": "u",
    "ұ": "u", "ӯ": "u", "ф": "f", "х": "x", "ҳ": "h", "һ": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh",
    "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "yu", "я": "ya", "ё": "yo",
}
# Latin letters of the Kazakh (2017-2021), Turkmen, Uzbek (old and new) and Turkish-style alphabets.
_LAT_SKELETON = {
    "ä": "a", "á": "a", "ö": "o", "ó": "o", "ü": "u", "ú": "u", "ū": "u", "ı": "i", "ğ": "g", "ǵ": "g",
    "ş": "sh", "ș": "sh", "ç": "ch", "ñ": "ng", "ń": "ng", "ň": "ng", "ž": "j", "ý": "y", "š": "sh",
    "č": "ch", "é": "e", _CANON_APOS: "",
}
_SKELETON_TABLE = str.maketrans({**_CYR_SKELETON, **_LAT_SKELETON})
_VOWELS = "аәеёиіоөуүұыэюяӣӯў"
_YE = re.compile(f"(?<![^{_VOWELS}])е")  # е with nothing or a vowel before it


def skeleton(folded: str) -> str:
    """The script-free form of a word folded with ``keep_yo=True`` (see the module docstring)."""
    if folded.isascii():
        s = folded.replace(_CANON_APOS, "")
        return s.replace("kh", "x") if "kh" in s else s
    if "е" in folded:
        # Uzbek (and Russian) Cyrillic е is "ye" at the start of a word and after a vowel: Европа = Yevropa
        folded = _YE.sub("ye", folded)
    s = folded.translate(_SKELETON_TABLE)
    return s.replace("kh", "x") if "kh" in s else s
