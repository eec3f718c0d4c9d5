"""Stemming: the keys under which one word is looked up, so that inflected forms meet their keyword.

A word gets one key per *family*:

- ``x``: its folded spelling (exact form; what ``=word`` keywords use);
- ``r``: the Russian Snowball stem of a Cyrillic word (мигрантов, мигрантами -> мигрант);
- ``e``: the English Snowball stem of a Latin word (migrants, migrant's -> migrant);
- ``t``: the Turkic/Tajik stem of its script-free skeleton (normalize.skeleton): suffix rules for
  Kazakh, Kyrgyz, Uzbek and Tajik strip case endings, possessives and plurals (мигранттардын,
  muhojirlarning, муҳоҷирон -> migrant, muhojir, muhojir). A stem of five letters or more is shared
  across scripts (a keyword in Cyrillic finds Latin text); a shorter one stays within its script, so
  that a short word of one language does not find an unrelated word of another (Kazakh "мен" is not
  English "men").

A keyword takes the families of its language when it has one (topics are written per language), and
those of its script otherwise (Cyrillic: r and t; Latin: e and t). Article words always get all of
theirs, and a keyword matches a word when they share a key. Pure functions; results are cached.

>>> from crawler.stem import analyse, keyword_keys
>>> set(keyword_keys(analyse("migrant"), "uz")) <= set(analyse("Мигранттардын").t_keys)
True
"""

from __future__ import annotations

from typing import NamedTuple

import Stemmer

from .normalize import CYRILLIC, LATIN, fold, script, skeleton

__all__ = ["Analysis", "analyse", "turkic_stem", "turkic_candidates", "keyword_keys", "CROSS_SCRIPT_MIN",
           "clear_cache"]

CROSS_SCRIPT_MIN = 5  # letters a Turkic stem needs to be matched in the other script too
_MIN_STEM = 3  # never strip a word below three letters
_MIN_STEM_VOWEL = 4  # a one-letter ending (-i, -a, -e, -u) only comes off a stem of four or more

_RUSSIAN = Stemmer.Stemmer("russian")
_ENGLISH = Stemmer.Stemmer("english")

# Endings in skeleton spelling (ө ү ы і ә folded), by family of ending:
_SUFFIXES = set("""
    lar ler lor dar der dor tar ter tor
    ning nin nun din dun tin tun
    ni di ti nu du tu
    ga ge go ka ke ko qa na ne gacha qacha kacha
    da de do ta te to nda nde ndo
    dan den don tan ten ton nan nen non ndan nden ndon
    men ben pen menen benen penen
    dagi degi tagi tegi ndagi ndegi
    im ing si imiz ingiz miz ngiz
    ho on yon ro yi ash ashon
    i a e u
""".split())
# plural -lar/-лар (kk, ky, uz), -тар/-дар (kk, ky), -ҳо/-он/-ён (tg); genitive -ning (uz), -нын/-дын/-тын
# (kk, ky), -дун/-нун (ky); accusative -ni/-ны/-ды/-ты; dative -ga/-ka/-qa (uz), -ға/-ге/-қа/-ке (kk),
# -га/-го/-ка/-ко (ky), -на/-не (after a possessive); locative -da/-да/-та/-нда; ablative -dan/-дан/-тан/
# -нан/-ндан; instrumental -мен/-бен/-пен (kk), -менен (ky); -дагы/-дағы/-dagi; possessives -im, -ing,
# -i, -si, -imiz, -ingiz; Tajik izofat -и/-йи, object -ро, enclitics -аш, -ашон (not -ам/-ат: муҳоҷират,
# migration, is not муҳоҷир, migrant).
# lengths of the endings by their last letter, longest first: a word is only checked for endings it could have
_LENGTHS_BY_LAST: dict[str, tuple[int, ...]] = {}
for _ending in _SUFFIXES:
    _LENGTHS_BY_LAST[_ending[-1]] = tuple(sorted({*_LENGTHS_BY_LAST.get(_ending[-1], ()), len(_ending)}, reverse=True))
_BACK = set("aou")
_FRONT_LETTERS = set("әөүіäöü")
_VOWEL = set("aeiou")
_VOICELESS = set("ptkqsfxh")  # last letter of p t k q s f x h sh ch ts in skeleton spelling


def _can_strip(word: str, ending: str, front_hint: bool) -> bool:
    rest = len(word) - len(ending)
    if rest < _MIN_STEM or (len(ending) == 1 and rest < _MIN_STEM_VOWEL):
        return False
    before = word[rest - 1]
    # Kazakh and Kyrgyz -ты/-тар/-та/-тан/-қа/-ке follow voiceless consonants only (мигрантты,
    # but мигранты is Russian); Uzbek has no such endings.
    if ending[0] in "tkq" and before not in _VOICELESS:
        return False
    # Vowel harmony keeps English and Russian words whole: a front ending (-ler, -de, -den ...)
    # only comes off a stem whose last vowel is front, so "border" keeps its "-der".
    if "e" in ending and not front_hint:
        last = next((c for c in reversed(word[:rest]) if c in _VOWEL), "")
        if last in _BACK:
            return False
    return True


def turkic_stem(skel: str, front_hint: bool = False) -> str:
    """Strip Kazakh, Kyrgyz, Uzbek and Tajik endings from a skeleton, longest first, repeatedly."""
    word = skel
    for _ in range(5):
        for n in _LENGTHS_BY_LAST.get(word[-1:], ()):
            ending = word[-n:]
            if len(word) > n and ending in _SUFFIXES and _can_strip(word, ending, front_hint):
                word = word[:-n]
                break
        else:
            return word
    return word


def turkic_candidates(skel: str, front_hint: bool = False) -> set[str]:
    """Every stem reachable by stripping endings (the word itself included).

    An ending is often ambiguous (журналисті: possessive -і or accusative -ті?), so an article word
    stands for all its readings and a keyword, written in its dictionary form, finds any of them."""
    found = {skel}
    if len(skel) <= _MIN_STEM:
        return found
    todo = [skel]
    while todo:
        word = todo.pop()
        for n in _LENGTHS_BY_LAST.get(word[-1:], ()):
            ending = word[-n:]
            if len(word) > n and ending in _SUFFIXES and _can_strip(word, ending, front_hint):
                stem = word[:-n]
                if stem not in found:
                    found.add(stem)
                    todo.append(stem)
    return found


class Analysis(NamedTuple):  # a tuple: built for every new word of every article, so cheap to make
    surface: str  # folded spelling, ё as е
    skel: str  # script-free skeleton (normalize.skeleton)
    script: str  # normalize.CYRILLIC, LATIN or OTHER
    front: bool  # the word has a front vowel letter (ә ө ү і ...), for vowel harmony
    x_key: str
    r_key: str | None
    e_key: str | None
    t_keys: tuple[str, ...]  # every Turkic reading of the word

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k in (self.x_key, self.r_key, self.e_key) if k) + self.t_keys


def t_key(stem: str, word_script: str) -> str:
    return "t" + stem if len(stem) >= CROSS_SCRIPT_MIN else "t" + word_script + stem


_CACHE: dict[str, Analysis] = {}
_CACHE_MAX = 200_000


def clear_cache() -> None:
    _CACHE.clear()


def analyse(word: str) -> Analysis:
    """All keys of one word as it appears in a text (cached: news vocabulary repeats a lot)."""
    found = _CACHE.get(word)
    if found is not None:
        return found
    yo = fold(word, keep_yo=True)
    surface = yo.replace("ё", "е") if "ё" in yo else yo
    word_script = script(surface)
    r_key = e_key = None
    skel, t_keys, front = "", (), False
    if word_script == CYRILLIC:
        r_key = "r" + _RUSSIAN.stemWord(surface)
    elif word_script == LATIN:
        e_key = "e" + _ENGLISH.stemWord(surface.replace("ʼ", "'"))
    if word_script != "O":
        skel = skeleton(yo)
        front = not _FRONT_LETTERS.isdisjoint(yo)
        candidates = turkic_candidates(skel, front)
        if len(candidates) == 1:
            t_keys = (t_key(skel, word_script),)
        else:
            t_keys = tuple(sorted({t_key(c, word_script) for c in candidates}))
    found = Analysis(surface, skel, word_script, front, "x" + surface, r_key, e_key, t_keys)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[word] = found
    return found


# Which families a keyword word is looked up in, by the language it is written in.
_LANGUAGE_FAMILIES = {"ru": ("r",), "en": ("e",), "kk": ("t",), "ky": ("t",), "uz": ("t",), "tg": ("t",),
                      "tk": ("t",)}


def keyword_keys(analysis: Analysis, language: str | None = None) -> tuple[str, ...]:
    """The keys a keyword word is indexed under: its language's families, else every family of its
    script. Its Turkic keys are the word as written and, when that is five letters or more, its stem
    (a keyword written inflected, muhojirlar, still finds muhojir; "border" does not become "bor")."""
    t_keys: tuple[str, ...] = ()
    if analysis.skel:
        t_keys = (t_key(analysis.skel, analysis.script),)
        stem = turkic_stem(analysis.skel, analysis.front)
        if stem != analysis.skel and len(stem) >= CROSS_SCRIPT_MIN:
            t_keys += (t_key(stem, analysis.script),)
    by_family = {"r": (analysis.r_key,) if analysis.r_key else (), "e": (analysis.e_key,) if analysis.e_key else (),
                 "t": t_keys}
    families = _LANGUAGE_FAMILIES.get(language.split("-")[0], ()) if language else ()
    chosen = tuple(k for f in families for k in by_family[f])
    if not chosen:
        chosen = tuple(k for f in ("r", "e", "t") for k in by_family[f])
    return chosen or (analysis.x_key,)
