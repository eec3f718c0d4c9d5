"""Search stage: full-text search of stored articles with the watches' normalisation.

A search finds what a watch with the same keywords would match: ``мигрант`` finds мигрантов,
мигранттардын and migrant; ``muhojir`` finds муҳоҷирон; ``миграц*`` is a prefix; ``=ООН`` one exact
spelling; ``"трудовые мигранты"`` a phrase. It works in two steps:

1. **Index.** Every word of an article is filed in an SQLite FTS5 table under its lookup keys
   (crawler.stem: folded spelling, Russian/English Snowball stem, Turkic/Tajik stems of its
   script-free skeleton), written as FTS tokens ``terms()`` makes. An article is indexed when it is
   stored or edited (crawler.pipeline.save); articles stored before the index existed, or under an
   older ``VERSION`` of the normalisation, are indexed by ``catch_up``: a second's worth after each
   crawl cycle, and whatever is left when someone searches.
2. **Query.** ``parse_query`` turns the query into FTS5 candidates (every word present under one of
   its keys) ranked by bm25 (title words weigh more), and into a watch rule; each candidate is then run
   through the watch matcher itself (crawler.match.find_all), which checks phrases, exact forms and
   exclusions and gives the sentence around each hit. So search and watches never disagree about
   what an article says.

Query syntax: words and "phrases" are all required; ``-word`` / ``-"a phrase"`` excludes; ``a OR b``
accepts either (``OR`` in capitals; it binds the terms on both sides of it).
"""

from __future__ import annotations

import itertools
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from . import match
from .models import Match
from .normalize import tokens
from .rules import Rule, RuleError, Term, Word, parse_term
from .stem import analyse

__all__ = ["VERSION", "Query", "Hit", "Result", "parse_query", "terms", "index_article", "search", "pending", "catch_up",
           "MAX_ALTERNATIVES"]

# Bump when tokens(), fold(), skeleton() or the stemmers change what keys a word gets: catch_up then
# re-indexes every article, so old and new articles are found the same way.
VERSION = 1
MAX_ALTERNATIVES = 32  # (a OR b) (c OR d) ... expanded; more is a query nobody means
MAX_TERMS = 20
SNIPPETS_PER_HIT = 3

# FTS tokens: a digit for the key family, then the key's letters. The FTS tokenizer folds case and
# splits at anything but letters and digits, so the family markers of crawler.stem (x, r, e, t, tC,
# tL: letters, some upper case) would collide with the keys themselves.
_FAMILY = {"x": "0", "r": "1", "e": "2", "t": "3"}
_SCRIPT = {"C": "4", "L": "5"}


def _fts_token(key: str) -> str:
    family, rest = key[0], key[1:]
    if family == "t" and rest[:1] in _SCRIPT:  # a short Turkic stem kept within its script
        family, rest = _SCRIPT[rest[0]], rest[1:]
    else:
        family = _FAMILY[family]
    return family + (rest if rest.isalnum() else "".join(c for c in rest if c.isalnum()))


_WORD_CACHE: dict[str, str] = {}
_WORD_CACHE_MAX = 200_000


def _word_tokens(word: str) -> str:
    found = _WORD_CACHE.get(word)
    if found is None:
        a = analyse(word)
        stem = a.r_key or a.e_key
        # the spelling is left out when it is its own stem (a third of news words): exact and prefix
        # queries look under the stems too, and the matcher tells the spellings apart afterwards
        keys = (stem, *a.t_keys) if stem and stem[1:] == a.x_key[1:] else (a.x_key, stem, *a.t_keys)
        found = " ".join(dict.fromkeys(_fts_token(k) for k in keys if k))
        if len(_WORD_CACHE) >= _WORD_CACHE_MAX:
            _WORD_CACHE.clear()
        _WORD_CACHE[word] = found
    return found


def terms(text: str | None) -> str:
    """What the search index holds for a text: the FTS tokens of its words, in order."""
    if not text:
        return ""
    # the matcher reads NFC text (match._haystack); tokenising the same string keeps words the same
    return " ".join(_word_tokens(w) for w, _, _ in tokens(unicodedata.normalize("NFC", text)))


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class Query:
    text: str
    alternatives: tuple[Rule, ...]  # the query in "any of these rules" form
    fts: str  # FTS5 MATCH expression for the candidates
    index: match.Index = field(compare=False, repr=False)


_PIECE = re.compile(r'(-?)("[^"]*"|«[^»]*»|“[^”]*”|„[^“”]*[“”]|\S+)')


def _word_fts(word: Word) -> str:
    # An index is allowed to find too much (the matcher checks every candidate), never too little:
    # a spelling that is its own stem is filed under the stem only (see _word_tokens), hence r and e.
    if word.kind == "prefix":
        options = [f'"{_fts_token(f + word.prefix)}"*' for f in "xre"]
        if word.skel_prefix:
            options.append(f'"{_fts_token("t" + word.skel_prefix)}"*')
    elif word.kind == "exact":
        options = [f'"{_fts_token(f + k[1:])}"' for k in word.keys for f in "xre"]
    else:
        options = [f'"{_fts_token(k)}"' for k in word.keys]
    options = [o for o in dict.fromkeys(options) if o.strip('"*')[1:]]
    if not options:
        raise RuleError("a word of the query has no letters or digits")
    return options[0] if len(options) == 1 else "(" + " OR ".join(options) + ")"


def _term_fts(term: Term) -> str:
    # every word of a phrase must be there; that they stand next to each other is the matcher's job
    return " AND ".join(_word_fts(w) for w in term.words)


def parse_query(text: str) -> Query:
    """Parse a search query. Raises RuleError naming the problem (empty query, unbalanced quote,
    a query that only excludes, a misplaced OR or wildcard)."""
    text = " ".join(unicodedata.normalize("NFC", text or "").split())
    if not text:
        raise RuleError("empty query")
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    join_next = False
    pieces = list(_PIECE.finditer(text))
    for n, piece in enumerate(pieces):
        minus, body = piece.group(1), piece.group(2)
        if body == "OR" and not minus:
            if not groups or join_next or n == len(pieces) - 1:
                raise RuleError("OR must stand between two keywords (a OR b)")
            join_next = True
            continue
        term = parse_term(body)
        if minus:
            if join_next:
                raise RuleError(f"OR joins keywords to find, not excluded ones (-{body})")
            excluded.append(term)
        elif join_next:
            groups[-1].append(term)
            join_next = False
        else:
            groups.append([term])
    if not groups:
        raise RuleError("the query only excludes: add a keyword to find")
    if len(groups) + len(excluded) > MAX_TERMS:
        raise RuleError(f"more than {MAX_TERMS} keywords in one query")
    count = 1
    for g in groups:
        count *= len(g)
    if count > MAX_ALTERNATIVES:
        raise RuleError(f"too many OR combinations ({count}; at most {MAX_ALTERNATIVES})")
    alternatives = tuple(Rule(all=tuple(combo), none=tuple(excluded)) for combo in itertools.product(*groups))
    fts = " AND ".join(
        "(" + " OR ".join(f"({_term_fts(t)})" for t in g) + ")" if len(g) > 1 else f"({_term_fts(g[0])})"
        for g in groups)
    index = match.compile_watches(match.WatchRule(f"q{i}", rule) for i, rule in enumerate(alternatives))
    return Query(text=text, alternatives=alternatives, fts=fts, index=index)


# --------------------------------------------------------------------------- searching


@dataclass
class Hit:
    article: dict  # id, title, url, source_id, outlet, published_at, fetched_at, language, score
    matches: list[Match]  # keyword, form found, sentence (at most SNIPPETS_PER_HIT)


@dataclass
class Result:
    hits: list[Hit]
    checked: int  # candidates the matcher read
    rejected: int  # candidates FTS found that the matcher did not accept (phrase apart, excluded word)
    more: bool  # there may be more hits than shown


def search(store, query: Query, *, limit: int = 20, newest_first: bool = False, since: datetime | None = None,
           sources: tuple[str, ...] = (), languages: tuple[str, ...] = (), max_checked: int = 5000,
           rank_all: bool = False) -> Result:
    """The best ``limit`` articles for ``query`` (bm25, title first) among its newest
    ``store.RANK_WINDOW`` matches (``rank_all``: among all of them), or the newest with ``newest_first``."""
    hits: list[Hit] = []
    checked = rejected = 0
    batch = max(limit * 2, 50)
    offset = 0
    while len(hits) < limit and checked < max_checked:
        rows = store.search_candidates(query.fts, limit=batch, offset=offset, newest_first=newest_first,
                                       since=since, sources=sources, languages=languages, rank_all=rank_all)
        offset += len(rows)
        for n, row in enumerate(rows, 1):
            checked += 1
            found = match.find_all(query.index, row["title"] or "", row.pop("text") or "")
            if not found:
                rejected += 1
                continue
            shown: dict[tuple[str, str], Match] = {}
            for m in found:
                shown.setdefault((m.keyword, m.snippet), m)
            hits.append(Hit(row, list(shown.values())[:SNIPPETS_PER_HIT]))
            if len(hits) == limit:  # more only if some candidate is left unread
                return Result(hits, checked, rejected, more=n < len(rows) or len(rows) == batch)
        if len(rows) < batch:
            return Result(hits, checked, rejected, more=False)
    return Result(hits, checked, rejected, more=True)


def index_article(store, article_id: int, title: str | None, text: str | None, *, suspect: bool = False,
                  old: tuple[str | None, str | None] | None = None) -> None:
    """File one article (``old``: the title and text it was filed with before, for an edit). Garbled
    text is not filed, as it is not matched: its words would only be found by accident."""
    new = ("", "") if suspect else (terms(title), terms(text))
    store.index_search(article_id, *new, VERSION, old=(terms(old[0]), terms(old[1])) if old else None)


def pending(store) -> int:
    """How many articles ``catch_up`` would index now (all of them when the index must be rebuilt)."""
    if store.search_stale_count(VERSION):
        return store.count("articles")
    return store.search_backlog_count(VERSION)


def catch_up(store, *, batch: int = 500, progress: Callable[[int, int], None] | None = None,
             seconds: float | None = None) -> int:
    """Index the articles the search index does not have: stored before it existed, or filed under
    another VERSION of the normalisation (then the whole index is rebuilt, since entries can only be
    taken out with the terms they went in with). Returns how many were indexed; ``progress(done,
    total)`` is called after each batch of ``batch`` articles (one transaction each). ``seconds``
    stops after the batch that uses up that much time (a crawl cycle does a share of the work)."""
    started = time.monotonic()
    if store.search_stale_count(VERSION):
        with store.transaction():
            store.clear_search_index()
    total = store.search_backlog_count(VERSION)
    done = last_id = 0
    while done < total and (seconds is None or time.monotonic() - started < seconds):
        rows = store.search_backlog(VERSION, limit=batch, after=last_id)
        if not rows:
            break
        with store.transaction():
            for row in rows:
                index_article(store, row["id"], row["title"], row["text"], suspect=bool(row["encoding_suspect"]))
        last_id = rows[-1]["id"]
        done += len(rows)
        if progress:
            progress(min(done, total), total)
    return done
