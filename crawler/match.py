"""Match stage (skeleton): which watch keywords occur in an article.

Whole words and phrases, case-insensitive, ё == е; no stemming yet, so "мигрант" does not
find "мигранты" (language-aware matching replaces ``compile_watch``/``find_matches`` later;
callers only rely on these two functions and on ``CompiledWatch.watch_id``).

>>> watch = compile_watch("migration", ['"migrant workers"', "мигрант"])
>>> [m.form for m in find_matches(watch, "Migrant  Workers return", "")]
['Migrant  Workers']
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from .models import Match

__all__ = ["CompiledWatch", "compile_watch", "find_matches", "SNIPPET_MAX"]

SNIPPET_MAX = 300

# apostrophes that are letters inside Uzbek Latin words (oʻzbek, gʻalla) and English ones (don't)
_APOS = "'`ʻʼ‘’"
_APOS_CLASS = "[" + re.escape(_APOS) + "]"
# a word character, or an apostrophe glued to one on the side we are looking at
_BEFORE = rf"(?<!\w)(?<!\w{_APOS_CLASS})"
_AFTER = rf"(?!\w)(?!{_APOS_CLASS}\w)"
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"))  # soft hyphen, zero-width chars
_QUOTES = "\"'«»“”„"


@dataclass(frozen=True)
class _Keyword:
    keyword: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class CompiledWatch:
    watch_id: str
    keywords: tuple[_Keyword, ...]


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    words = keyword.split()
    parts = []
    for word in words:
        chars = []
        for char in word:
            if char in "ёЁеЕ":
                chars.append("[её]")
            elif char in _APOS:
                chars.append(_APOS_CLASS)
            else:
                chars.append(re.escape(char))
        parts.append("".join(chars))
    return re.compile(_BEFORE + r"\s+".join(parts) + _AFTER, re.IGNORECASE)


def _clean_keyword(keyword: str) -> str:
    keyword = " ".join(unicodedata.normalize("NFC", keyword).split())
    if len(keyword) >= 2 and keyword[0] in _QUOTES and keyword[-1] in _QUOTES:
        keyword = " ".join(keyword[1:-1].split())  # '"migrant workers"' is the phrase itself
    return keyword


def compile_watch(watch_id: str, keywords: Sequence[str]) -> CompiledWatch:
    """Prepare a watch's keywords. A keyword with spaces (quoted or not) is a phrase.

    Empty keywords are ignored; keywords equal up to case and ё/е are kept once.
    """
    if isinstance(keywords, str):
        keywords = [keywords]
    seen: set[str] = set()
    compiled = []
    for raw in keywords:
        keyword = _clean_keyword(raw)
        key = keyword.casefold().replace("ё", "е")
        if not keyword or key in seen:
            continue
        seen.add(key)
        compiled.append(_Keyword(keyword, _keyword_pattern(keyword)))
    return CompiledWatch(watch_id=watch_id, keywords=tuple(compiled))


def find_matches(watch: CompiledWatch, title: str, text: str) -> list[Match]:
    """One Match per keyword found in the title or text (the first occurrence), in keyword order.

    ``form`` is the span as written in the article; ``snippet`` is the sentence around it,
    whitespace collapsed, at most about SNIPPET_MAX characters centred on the hit.
    """
    title = unicodedata.normalize("NFC", title or "").translate(_INVISIBLE).strip()
    text = unicodedata.normalize("NFC", text or "").translate(_INVISIBLE)
    haystack = f"{title}\n\n{text}" if title else text
    matches = []
    for kw in watch.keywords:
        hit = kw.pattern.search(haystack)
        if hit is None:
            continue
        matches.append(
            Match(
                watch_id=watch.watch_id,
                keyword=kw.keyword,
                form=hit.group(0),
                snippet=_snippet(haystack, hit.start(), hit.end()),
            )
        )
    return matches


_TERMINATORS = ".!?…"


# words after which a full stop does not end a sentence: "в г. Алматы", "ул. Абая", "Mr. Smith"
_ABBREVIATIONS = frozenset(
    "г гг ул пр им т д др проф акад ст руб долл млн млрд тыс стр рис см напр обл р-н mr mrs ms dr st jr vs "
    "no gen col lt sgt".split()
)


def _is_boundary(text: str, i: int) -> bool:
    """Does the sentence end at text[i]? Newlines always; ! ? … when followed by space or the end;
    a full stop likewise, unless it follows an initial or a common abbreviation or the next word
    starts in lower case (so 3.5, example.com, "А. Иванов" and "в г. Бишкек" do not split)."""
    char = text[i]
    if char == "\n":
        return True
    if char not in _TERMINATORS:
        return False
    j = i + 1
    while j < len(text) and text[j] in "\"'»”)]":
        j += 1
    if j < len(text) and not text[j].isspace():
        return False
    if char != ".":
        return True
    k = i
    while k > 0 and (text[k - 1].isalpha() or text[k - 1] == "-"):
        k -= 1
    word = text[k:i].lower()
    if len(word) == 1 or word in _ABBREVIATIONS:
        return False
    while j < len(text) and text[j] in " \t":
        j += 1
    return not (j < len(text) and text[j].islower())


def _snippet(text: str, start: int, end: int) -> str:
    left = start
    while left > 0 and not _is_boundary(text, left - 1):
        left -= 1
    right = end
    while right < len(text) and not _is_boundary(text, right):
        right += 1
    if right < len(text) and text[right] != "\n":
        right += 1  # keep the sentence's own full stop
        while right < len(text) and text[right] in "\"'»”)]":
            right += 1
    sentence = text[left:right]
    # positions of the hit inside the sentence, before collapsing whitespace
    return _trim(sentence, start - left, end - left)


def _trim(sentence: str, hit_start: int, hit_end: int) -> str:
    lead = len(sentence) - len(sentence.lstrip())
    sentence = sentence.strip()
    hit_start, hit_end = max(hit_start - lead, 0), max(hit_end - lead, 0)
    if len(sentence) > SNIPPET_MAX:
        centre = (hit_start + hit_end) // 2
        lo = max(0, min(centre - SNIPPET_MAX // 2, len(sentence) - SNIPPET_MAX))
        hi = min(len(sentence), lo + SNIPPET_MAX)
        lo, hi = min(lo, hit_start), max(hi, hit_end)  # never cut the hit itself
        if lo > 0:  # start at a word
            space = sentence.find(" ", lo, hit_start)
            lo = space + 1 if space >= 0 else lo
        if hi < len(sentence):
            space = sentence.rfind(" ", hit_end, hi)
            hi = space if space >= 0 else hi
        clipped = sentence[lo:hi].strip()
        sentence = ("…" if lo > 0 else "") + clipped + ("…" if hi < len(sentence) else "")
    return " ".join(sentence.split())
