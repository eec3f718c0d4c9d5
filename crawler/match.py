"""Match stage: which watches an article matches, and why.

All watches are compiled into one index (``compile_watches``): every keyword word is filed under its
lookup keys (crawler.stem: exact spelling, Russian or English Snowball stem, Turkic/Tajik stem of the
script-free skeleton) and wildcards under their prefixes. An article is read once: tokenised,
normalised and stemmed word by word (``crawler.stem.analyse``, cached), each word looked up in the
index, phrases verified by position, ``near`` groups by distance, and only the watches whose keywords
occurred are evaluated (any/all/none/topics, then the source, country and language filters). The cost
of an article hardly depends on the number of watches or keywords.

Every match explains itself: the keyword, the form found in the text and the sentence around it.

>>> index = compile_watches([WatchRule("migration", parse_rule({"any": ['"migrant workers"', "мигрант"]}))])
>>> [(m.keyword, m.form) for m in find_all(index, "Мигрантов стало больше", "")]
[('мигрант', 'Мигрантов')]
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .models import Match
from .normalize import INVISIBLE, LATIN, script, tokens
from .rules import Near, Rule, Term, Word, parse_rule
from .stem import analyse

__all__ = ["WatchRule", "Index", "compile_watches", "find_all", "CompiledWatch", "compile_watch", "find_matches",
           "SNIPPET_MAX", "MAX_MATCHES_PER_WATCH"]

SNIPPET_MAX = 300
MAX_MATCHES_PER_WATCH = 20  # an alert quoting more sentences than this is not read anyway
_INVISIBLE = dict.fromkeys(map(ord, INVISIBLE))
# what may stand between two words of a phrase: "трудовые\nмигранты", "кыргызско-таджикской", «Азаттык»
_PHRASE_GAP = set(" \t\r\n\u00a0\u202f-‐‑–—\"'«»“”„‘’/")


@dataclass(frozen=True)
class WatchRule:
    """A watch as the matcher sees it: its rule and its filters (empty filter: everything passes)."""

    id: str
    rule: Rule
    sources: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


@dataclass
class _Watch:
    rule: WatchRule
    any: list[int]  # term ids; near groups are negative: -1 - near id
    all: list[int]
    none: list[int]
    topics: list[tuple[list[int], list[int], list[int]]]  # (any + near, all, none) per topic


@dataclass
class Index:
    words: list[Word] = field(default_factory=list)
    terms: list[Term] = field(default_factory=list)
    nears: list[Near] = field(default_factory=list)
    near_terms: list[tuple[int, ...]] = field(default_factory=list)
    watches: list[_Watch] = field(default_factory=list)
    by_key: dict[str, list[int]] = field(default_factory=dict)  # lookup key -> word ids
    prefixes: dict[int, dict[str, list[int]]] = field(default_factory=dict)  # length -> prefix -> word ids
    skel_prefixes: dict[int, dict[str, list[int]]] = field(default_factory=dict)
    term_words: list[tuple[int, ...]] = field(default_factory=list)
    watches_by_term: dict[int, list[int]] = field(default_factory=dict)
    terms_by_word: dict[int, list[int]] = field(default_factory=dict)
    _word_ids: dict[Word, int] = field(default_factory=dict)
    _term_ids: dict[Term, int] = field(default_factory=dict)


def _word_id(index: Index, word: Word) -> int:
    wid = index._word_ids.get(word)
    if wid is not None:
        return wid
    wid = index._word_ids[word] = len(index.words)
    index.words.append(word)
    if word.kind == "prefix":
        index.prefixes.setdefault(len(word.prefix), {}).setdefault(word.prefix, []).append(wid)
        if word.skel_prefix:
            index.skel_prefixes.setdefault(len(word.skel_prefix), {}).setdefault(word.skel_prefix, []).append(wid)
    else:
        for key in word.keys:
            index.by_key.setdefault(key, []).append(wid)
    return wid


def _term_id(index: Index, term: Term, watch_no: int) -> int:
    tid = index._term_ids.get(term)
    if tid is None:
        tid = index._term_ids[term] = len(index.terms)
        index.terms.append(term)
        index.term_words.append(tuple(_word_id(index, w) for w in term.words))
    users = index.watches_by_term.setdefault(tid, [])
    if not users or users[-1] != watch_no:
        users.append(watch_no)
    return tid


def _near_id(index: Index, near: Near, watch_no: int) -> int:
    index.nears.append(near)
    index.near_terms.append(tuple(_term_id(index, t, watch_no) for t in near.terms))
    return -len(index.nears)  # -1 - (position in index.nears)


def compile_watches(watches: Iterable[WatchRule]) -> Index:
    """One index for all watches (build it once per config, use it for every article)."""
    index = Index()
    for no, watch in enumerate(watches):
        def ids(rule: Rule) -> tuple[list[int], list[int], list[int]]:
            positive = [_term_id(index, t, no) for t in rule.any] + [_near_id(index, n, no) for n in rule.near]
            return (positive, [_term_id(index, t, no) for t in rule.all],
                    [_term_id(index, t, no) for t in rule.none])
        any_ids, all_ids, none_ids = ids(watch.rule)
        index.watches.append(_Watch(watch, any_ids, all_ids, none_ids, [ids(r) for _, r in watch.rule.topics]))
    for tid, wids in enumerate(index.term_words):
        for wid in set(wids):
            index.terms_by_word.setdefault(wid, []).append(tid)
    return index


# --------------------------------------------------------------------------- matching


def _haystack(title: str, text: str) -> str:
    title = unicodedata.normalize("NFC", title or "").strip()
    text = unicodedata.normalize("NFC", text or "")
    return f"{title}\n\n{text}" if title else text


def _scan(index: Index, toks: list[tuple[str, int, int]]) -> dict[int, list[int]]:
    """Word id -> positions (token numbers) where it occurs."""
    hits: dict[int, list[int]] = {}
    by_key = index.by_key
    prefixes = sorted(index.prefixes.items())
    skel_prefixes = sorted(index.skel_prefixes.items())
    for pos, (word, _, _) in enumerate(toks):
        a = analyse(word)
        found = None
        for key in (a.x_key, a.r_key or a.e_key, *a.t_keys):
            wids = by_key.get(key)
            if wids:
                found = (found or set()).union(wids)
        for length, table in prefixes:
            if length > len(a.surface):
                break
            wids = table.get(a.surface[:length])
            if wids:
                found = (found or set()).union(wids)
        for length, table in skel_prefixes:
            if length > len(a.skel):
                break
            wids = table.get(a.skel[:length])
            if wids:
                found = (found or set()).union(wids)
        if found:
            for wid in found:
                hits.setdefault(wid, []).append(pos)
    return hits


def _gap_ok(haystack: str, left_end: int, right_start: int, extra: frozenset[str]) -> bool:
    gap = haystack[left_end:right_start]
    return "\n\n" not in gap and all(c in _PHRASE_GAP or c in extra or c in INVISIBLE for c in gap)


def _term_spans(index: Index, tid: int, hits: dict[int, list[int]], toks, haystack: str) -> list[tuple[int, int]]:
    """(first token, last token) of every occurrence of a term, in text order."""
    wids = index.term_words[tid]
    first = hits.get(wids[0])
    if not first:
        return []
    if len(wids) == 1:
        return [(p, p) for p in first]
    later = []
    for wid in wids[1:]:
        positions = hits.get(wid)
        if not positions:
            return []
        later.append(set(positions))
    extra = index.terms[tid].gap_chars
    spans = []
    for p in first:
        if p + len(later) >= len(toks):
            break
        if all(p + k + 1 in later[k] for k in range(len(later))) and all(
                _gap_ok(haystack, toks[p + k][2], toks[p + k + 1][1], extra) for k in range(len(later))):
            spans.append((p, p + len(later)))
    return spans


def _near_span(spans_per_term: list[list[tuple[int, int]]], within: int,
               line_of: list[int]) -> tuple[int, int] | None:
    """The earliest window holding one occurrence of every term, starts at most ``within`` words apart,
    on one line (a paragraph, or the title: a window never runs from the title into the text)."""
    best = None
    for anchor_list in spans_per_term:
        for start, _ in anchor_list:
            chosen = []
            for spans in spans_per_term:
                inside = [s for s in spans if start <= s[0] <= start + within and line_of[s[1]] == line_of[start]]
                if not inside:
                    break
                chosen.append(inside[0])
            else:
                window = (start, max(e for _, e in chosen))
                if best is None or window < best:
                    best = window
    return best


def _language_ok(wanted: tuple[str, ...], language: str | None, haystack: str) -> bool:
    if not wanted or not language:
        return True  # an article of unknown language is never dropped by a language filter
    base = language.split("-")[0].lower()
    for want in wanted:
        want_base, _, want_script = want.partition("-")
        if want_base != base:
            continue
        if not want_script or want.lower() == language.lower():
            return True
        sample = " ".join(w for w, _, _ in tokens(haystack[:2000])[:200])
        if (script(sample) == LATIN) == (want_script == "Latn"):
            return True
    return False


def _passes(watch: WatchRule, source_id, country, languages: tuple[str, ...], haystack: str) -> bool:
    if watch.sources and source_id not in watch.sources:
        return False
    if watch.countries and (country or "").upper() not in {c.upper() for c in watch.countries}:
        return False
    if watch.languages and languages:
        return any(_language_ok(watch.languages, lang, haystack) for lang in languages)
    return True


def find_all(index: Index, title: str, text: str, *, source_id: str | None = None, country: str | None = None,
             language: str | None = None, source_languages: Sequence[str] = (),
             watch_ids: Iterable[str] | None = None) -> list[Match]:
    """Every match of every watch of ``index`` in an article, grouped by watch in index order and, within a
    watch, in text order. ``language`` is the article's (else the source's ``source_languages`` are used)."""
    haystack = _haystack(title, text)
    only = set(watch_ids) if watch_ids is not None else None
    languages = (language,) if language else tuple(source_languages)
    toks = tokens(haystack)
    hits = _scan(index, toks)
    if not hits:
        return []
    span_cache: dict[int, list[tuple[int, int]]] = {}
    line_cache: list[list[int]] = []

    def lines() -> list[int]:
        """Line number of every token (for near groups)."""
        if not line_cache:
            breaks = [m.start() for m in re.finditer("\n", haystack)]
            line_cache.append([bisect.bisect_left(breaks, start) for _, start, _ in toks])
        return line_cache[0]


    def spans(tid: int) -> list[tuple[int, int]]:
        if tid not in span_cache:
            if tid >= 0:
                span_cache[tid] = _term_spans(index, tid, hits, toks, haystack)
            else:
                near = index.nears[-1 - tid]
                parts = [spans(t) for t in index.near_terms[-1 - tid]]
                window = _near_span(parts, near.within, lines()) if all(parts) else None
                span_cache[tid] = [window] if window else []
        return span_cache[tid]

    candidates = sorted({w for wid in hits for tid in index.terms_by_word.get(wid, ())
                         for w in index.watches_by_term.get(tid, ())})
    out: list[Match] = []
    ends: list[int] | None = None
    for no in candidates:
        watch = index.watches[no]
        if only is not None and watch.rule.id not in only:
            continue
        found = _evaluate(watch, spans)
        if found is None or not _passes(watch.rule, source_id, country, languages, haystack):
            continue
        if ends is None:
            ends = sentence_ends(haystack)
        out.extend(_explain(index, watch.rule.id, found, spans, toks, haystack, ends))
    return out


def _evaluate(watch: _Watch, spans) -> list[int] | None:
    """The term ids that make the watch match, or None when it does not."""
    def satisfied(positive, required, excluded) -> list[int] | None:
        if any(spans(t) for t in excluded) or not all(spans(t) for t in required):
            return None
        found = [t for t in positive if spans(t)]
        if positive and not found:
            return None
        return found + list(required)

    own = satisfied([], watch.all, watch.none)
    if own is None:
        return None
    positive = [t for t in watch.any if spans(t)]
    for topic in watch.topics:
        positive += satisfied(*topic) or []
    if (watch.any or watch.topics) and not positive:
        return None
    return positive + own


def _explain(index: Index, watch_id: str, found: list[int], spans, toks, haystack: str,
             ends: list[int]) -> list[Match]:
    by_keyword: dict[str, tuple[int, int]] = {}
    for tid in found:
        keyword = index.terms[tid].text if tid >= 0 else index.nears[-1 - tid].text
        first = spans(tid)[0]
        if keyword not in by_keyword or first < by_keyword[keyword]:
            by_keyword[keyword] = first
    def order(item):
        keyword, (first, last) = item
        # at one place: the longest finding first, then a keyword in the script of the text
        return first, -last, script(keyword) != script(toks[first][0])

    ordered = sorted(by_keyword.items(), key=order)
    out, shown = [], []
    for keyword, (first, last) in ordered:
        # one line per finding: мигрант and мигрант* hitting the same word explain it once
        if any(a <= first and last <= b for a, b in shown):
            continue
        shown.append((first, last))
        if len(out) == MAX_MATCHES_PER_WATCH:
            break
        start, end = toks[first][1], toks[last][2]
        out.append(Match(watch_id=watch_id, keyword=keyword, form=haystack[start:end].translate(_INVISIBLE),
                         snippet=_snippet(haystack, start, end, ends).translate(_INVISIBLE)))
    return out


# --------------------------------------------------------------------------- one watch (older callers, tests)


@dataclass(frozen=True)
class CompiledWatch:
    watch_id: str
    keywords: tuple[Term, ...]
    index: Index = field(compare=False, repr=False)


def compile_watch(watch_id: str, keywords: Sequence[str]) -> CompiledWatch:
    """One watch matching any of ``keywords`` (empty ones are skipped; a bad one raises RuleError)."""
    if isinstance(keywords, str):
        keywords = [keywords]
    rule = parse_rule({"any": [k for k in keywords if str(k).strip()]})
    index = compile_watches([WatchRule(watch_id, rule)])
    return CompiledWatch(watch_id, rule.any, index)


def find_matches(watch: CompiledWatch, title: str, text: str) -> list[Match]:
    return find_all(watch.index, title, text)


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


_BOUNDARY_CANDIDATE = re.compile(r"[.!?…\n]")


def sentence_ends(text: str) -> list[int]:
    """Positions where a sentence ends (computed once per article; snippets bisect it)."""
    return [m.start() for m in _BOUNDARY_CANDIDATE.finditer(text) if _is_boundary(text, m.start())]


def _snippet(text: str, start: int, end: int, ends: list[int] | None = None) -> str:
    if ends is None:
        ends = sentence_ends(text)
    i = bisect.bisect_left(ends, start)  # ends[i - 1] < start: the previous sentence's end
    left = ends[i - 1] + 1 if i > 0 else 0
    j = bisect.bisect_left(ends, end)  # first end at or after the hit
    right = ends[j] if j < len(ends) else len(text)
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
