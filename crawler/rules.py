"""Watch rules: the keyword syntax of watches.yaml and of topic files, parsed into dataclasses.

A keyword is one word, a phrase (words in this order, next to each other; quotes optional: ``"migrant
workers"`` or ``migrant workers``), a prefix wildcard (``миграц*``: every word starting so) or an exact
form (``=ООН``: only this spelling, no inflections). Every word of a keyword is matched with its
inflections (crawler.stem). A rule combines keywords:

- ``any``: at least one is found (``keywords`` means the same); a ``near`` group and a satisfied
  topic count like an ``any`` keyword;
- ``all``: every one is found;
- ``none``: none is found, else the article is not a match;
- ``near``: ``{words: [журналист, задерж*], within: 6}``: all these words within 6 words of each other.

Each list is either a plain list or a mapping from a language code to a list (``{uz: [muhojir],
ru: [мигрант]}``); a keyword with a language is stemmed the way of that language only.

Bad input raises RuleError naming the place (``any[2]``) and the problem. Pure; no I/O except
``load_topic``, which reads a topic file.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .normalize import TOKEN_RE, fold, skeleton
from .stem import CROSS_SCRIPT_MIN, analyse, keyword_keys

__all__ = ["LANGUAGES", "RuleError", "Word", "Term", "Near", "Rule", "parse_term", "parse_rule", "load_topic",
           "topic_names", "TOPICS_DIR"]

LANGUAGES = ("ru", "kk", "ky", "uz", "uz-Latn", "uz-Cyrl", "tg", "tk", "en")
TOPICS_DIR = Path(__file__).parent / "topics"
MIN_PREFIX = 3  # a shorter wildcard (ми*) would match a good share of any text
MAX_NEAR = 50
_OPENING, _CLOSING = '"«“„', '"»”“'


def _unbalanced(text: str) -> bool:
    return (text.count('"') % 2 or text.count("«") != text.count("»")
            or (text.count("“") + text.count("”") + text.count("„")) % 2)


class RuleError(ValueError):
    def __init__(self, message: str, path: str = ""):
        self.message, self.path = message, path
        super().__init__(f"{path}: {message}" if path else message)


@dataclass(frozen=True)
class Word:
    """One word of a keyword. kind: "stem" (with inflections), "prefix" (wildcard) or "exact"."""

    kind: str
    keys: tuple[str, ...] = ()  # stem/exact: lookup keys (crawler.stem)
    prefix: str = ""  # prefix: folded spelling of what precedes the *
    skel_prefix: str = ""  # prefix: its skeleton, when long enough to be matched across scripts


@dataclass(frozen=True)
class Term:
    text: str  # the keyword as the user wrote it, quotes removed: shown in alerts
    words: tuple[Word, ...]
    gap_chars: frozenset[str] = frozenset()  # punctuation the keyword itself has between words (U.S.)


@dataclass(frozen=True)
class Near:
    text: str  # "журналист NEAR/6 задерж*"
    terms: tuple[Term, ...]
    within: int


@dataclass(frozen=True)
class Rule:
    any: tuple[Term, ...] = ()
    all: tuple[Term, ...] = ()
    none: tuple[Term, ...] = ()
    near: tuple[Near, ...] = ()
    topics: tuple[tuple[str, Rule], ...] = ()  # (topic id, its rule)
    description: str = field(default="", compare=False)

    @property
    def positive(self) -> bool:
        return bool(self.any or self.all or self.near or self.topics)


def _word(raw: str, language: str | None, keyword: str) -> Word:
    if raw.startswith("="):
        body = raw[1:]
        if not body or "*" in body:
            raise RuleError(f"{keyword!r}: '=' must be followed by a word")
        return Word("exact", keys=("x" + fold(body),))
    if "*" in raw:
        if raw.count("*") > 1 or not raw.endswith("*"):
            raise RuleError(f"{keyword!r}: '*' is allowed only at the end of a word (миграц*)")
        prefix = fold(raw[:-1])
        if len(prefix) < MIN_PREFIX:
            raise RuleError(f"{keyword!r}: a wildcard needs at least {MIN_PREFIX} letters before '*'")
        skel = skeleton(fold(raw[:-1], keep_yo=True))
        return Word("prefix", prefix=prefix, skel_prefix=skel if len(skel) >= CROSS_SCRIPT_MIN else "")
    return Word("stem", keys=keyword_keys(analyse(raw), language))


def parse_term(raw, language: str | None = None) -> Term:
    """One keyword -> Term. Raises RuleError (empty, unbalanced quote, misplaced * or =)."""
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        raise RuleError("a keyword must be a string")
    text = " ".join(unicodedata.normalize("NFC", str(raw)).split())
    if not text:
        raise RuleError("empty keyword")
    if _unbalanced(text):
        raise RuleError(f"unbalanced quote in {text!r}")
    if len(text) >= 2 and text[0] in _OPENING and text[-1] in _CLOSING:
        text = " ".join(text[1:-1].split())  # '"migrant workers"' is the phrase itself
        if not text:
            raise RuleError("empty keyword")
    words, gaps, pos = [], set(), 0
    pieces = list(re.finditer(r"=?(?:" + TOKEN_RE.pattern + r")\*?", text))
    if not pieces:
        raise RuleError(f"{text!r} has no letters or digits")
    for piece in pieces:
        gaps.update(c for c in text[pos:piece.start()] if not c.isspace())
        pos = piece.end()
        words.append(_word(piece.group(), language, text))
    stray = set(text[:pieces[0].start()] + text[pos:]) - set(" ")
    if "*" in stray or "=" in stray:
        raise RuleError(f"{text!r}: '*' must follow and '=' precede letters")
    return Term(text=text, words=tuple(words), gap_chars=frozenset(gaps - {"*", "="}))


def _near(raw, language: str | None, path: str) -> Near:
    if not isinstance(raw, dict) or set(raw) - {"words", "within"} or "words" not in raw:
        raise RuleError("must be a mapping {words: [word, word, ...], within: N}", path)
    words = raw["words"]
    if not isinstance(words, list) or len(words) < 2:
        raise RuleError("needs at least two words", f"{path}.words")
    within = raw.get("within", 5)
    if isinstance(within, bool) or not isinstance(within, int) or not 1 <= within <= MAX_NEAR:
        raise RuleError(f"must be a whole number from 1 to {MAX_NEAR}", f"{path}.within")
    terms = []
    for j, w in enumerate(words):
        try:
            terms.append(parse_term(w, language))
        except RuleError as exc:
            raise RuleError(exc.message, f"{path}.words[{j}]") from None
    return Near(text=f" NEAR/{within} ".join(t.text for t in terms), terms=tuple(terms), within=within)


def _by_language(raw, path: str):
    """Yield (language or None, item, path) from a plain list or a {language: list} mapping."""
    if raw is None:
        return
    if isinstance(raw, str) or isinstance(raw, dict) and "words" in raw:
        raw = [raw]
    if isinstance(raw, dict):
        for language, items in raw.items():
            if language not in LANGUAGES:
                raise RuleError(f"unknown language {language!r} (known: {', '.join(LANGUAGES)})",
                                f"{path}.{language}")
            if isinstance(items, str) or isinstance(items, dict) and "words" in items:
                items = [items]
            if not isinstance(items, list):
                raise RuleError("must be a list", f"{path}.{language}")
            for j, item in enumerate(items):
                yield language, item, f"{path}.{language}[{j}]"
    elif isinstance(raw, (list, tuple)):
        for j, item in enumerate(raw):
            yield None, item, f"{path}[{j}]"
    else:
        raise RuleError("must be a list (or a mapping from language to list)", path)


def _terms(raw, path: str) -> tuple[Term, ...]:
    out, seen = [], set()
    for language, item, where in _by_language(raw, path):
        try:
            term = parse_term(item, language)
        except RuleError as exc:
            raise RuleError(exc.message, where) from None
        if (term.text.casefold(), term.words) not in seen:
            seen.add((term.text.casefold(), term.words))
            out.append(term)
    return tuple(out)


def parse_rule(raw: dict, topics: dict[str, Rule] | None = None) -> Rule:
    """The any/all/none/near/topics part of a watch or topic (other keys are ignored here).
    ``topics`` maps the topic ids this rule may use to their rules."""
    any_terms = _terms(raw.get("keywords"), "keywords") + _terms(raw.get("any"), "any")
    near = tuple(_near(item, language, where) for language, item, where in _by_language(raw.get("near"), "near"))
    used = []
    for j, name in enumerate(raw.get("topics") or ()):
        if topics is None or name not in topics:
            known = ", ".join(sorted(topics or ())) or "none"
            raise RuleError(f"unknown topic {name!r} (known: {known})", f"topics[{j}]")
        used.append((name, topics[name]))
    return Rule(any=any_terms, all=_terms(raw.get("all"), "all"), none=_terms(raw.get("none"), "none"),
                near=near, topics=tuple(used), description=str(raw.get("description") or ""))


# --------------------------------------------------------------------------- topic files

_TOPIC_KEYS = {"name", "description", "any", "all", "none", "near"}


def topic_names(directories: tuple[Path, ...] = ()) -> dict[str, Path]:
    """Topic id -> file; files in ``directories`` (the user's config/topics/) win over shipped ones."""
    found = {}
    for directory in (TOPICS_DIR, *directories):
        if directory.is_dir():
            for path in sorted(directory.glob("*.yaml")):
                found[path.stem] = path
    return found


def load_topic(path: Path) -> Rule:
    """Read one topic file. Raises RuleError with the path inside the file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RuleError(f"cannot read topic: {exc}") from None
    if not isinstance(raw, dict):
        raise RuleError("a topic file is a mapping with any/all/none/near lists")
    extra = set(raw) - _TOPIC_KEYS
    if extra:
        raise RuleError(f"unknown key {sorted(extra)[0]!r} (known: {', '.join(sorted(_TOPIC_KEYS))})")
    rule = parse_rule(raw)
    if not (rule.any or rule.all or rule.near):
        raise RuleError("a topic needs keywords in any, all or near")
    return rule
