"""Near-duplicate stage: is this text a copy of a stored one, give or take a headline, byline and footer?

Pure functions over str. A text becomes a set of word shingles (three consecutive words of
``dedup.normalise_text``), the set a MinHash signature (datasketch), and the signature a few
*band keys*. Two texts that share one band key are candidates; the store keeps band keys in an
indexed table, so finding candidates is an index lookup whatever the size of the archive. A
candidate joins the story only when the shingle sets themselves agree (``same_story``), so the
LSH only has to find, never to decide.

Tuned on real republished text (tests/test_neardup.py): a wire story republished with another
headline, a byline, a footer or a shortened ending scores a Jaccard of 0.5-0.9 (containment 0.85-0.99);
two different stories on one topic on the same day score below 0.05, unrelated Russian news below 0.08. Texts under ``MIN_WORDS`` words (one-line "breaking"
posts, empty text, a bare title) get no signature and never cluster on text alone.

>>> a = shingles("word " * 10)
>>> a
frozenset()
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash

from .dedup import normalise_text

__all__ = ["MIN_WORDS", "BANDS", "ROWS", "THRESHOLD", "Signature", "shingles", "signature", "similarity",
           "same_story"]

SHINGLE = 3  # words per shingle: long enough that common phrases rarely match, short enough for edits
MIN_WORDS = 40  # below this a text is a headline or a "breaking" line: too little to tell stories apart
BANDS, ROWS = 32, 3  # 96 permutations; a pair at Jaccard 0.4 is found with p=0.88, at 0.5 p=0.986
THRESHOLD = 0.4  # Jaccard of shingle sets at or above which two texts are one story
CONTAINMENT = 0.7  # ... or the share of the shorter text found in the longer (a shortened copy)
# Band keys are stored: changing SHINGLE, BANDS, ROWS or the hashing must change VERSION so that old
# keys stop matching instead of matching wrongly.
VERSION = b"nw-minhash-1"
_SEED = 20250618


def _hash32(data: bytes) -> int:
    # Our own hash, not datasketch's default, so a library upgrade cannot change stored keys.
    return int.from_bytes(hashlib.blake2b(data, digest_size=4).digest(), "little")


# drawing the permutations costs more than hashing an article: draw them once
_PERMUTATIONS = MinHash(num_perm=BANDS * ROWS, seed=_SEED, hashfunc=_hash32, scheme="affine32").permutations


@dataclass(frozen=True)
class Signature:
    shingles: frozenset[str]
    bands: tuple[tuple[int, int], ...]  # (band number, signed 64-bit band hash)


def shingles(text: str) -> frozenset[str]:
    """Word 3-grams of the normalised text; empty when the text has fewer than MIN_WORDS words."""
    words = normalise_text(text or "").split()
    if len(words) < MIN_WORDS:
        return frozenset()
    return frozenset(" ".join(words[i:i + SHINGLE]) for i in range(len(words) - SHINGLE + 1))


def signature(text: str) -> Signature | None:
    """The shingles and LSH band keys of ``text``, or None when it is too short to cluster."""
    parts = shingles(text)
    if not parts:
        return None
    mh = MinHash(num_perm=BANDS * ROWS, hashfunc=_hash32, scheme="affine32", permutations=_PERMUTATIONS)
    mh.update_batch([s.encode("utf-8") for s in sorted(parts)])
    values = np.asarray(mh.hashvalues).astype("<u4")
    bands = []
    for band in range(BANDS):
        digest = hashlib.blake2b(VERSION + bytes([band]) + values[band * ROWS:(band + 1) * ROWS].tobytes(),
                                 digest_size=8).digest()
        bands.append((band, int.from_bytes(digest, "little", signed=True)))
    return Signature(parts, tuple(bands))


def similarity(a: Iterable[str] | frozenset[str], b: Iterable[str] | frozenset[str]) -> tuple[float, float]:
    """(Jaccard, containment of the smaller set in the larger) of two shingle sets."""
    a, b = frozenset(a), frozenset(b)
    if not a or not b:
        return 0.0, 0.0
    common = len(a & b)
    return common / len(a | b), common / min(len(a), len(b))


def same_story(a: frozenset[str], b: frozenset[str]) -> bool:
    """Is one text a republished copy of the other (another headline, byline, footer, cut ending)?"""
    jaccard, containment = similarity(a, b)
    return jaccard >= THRESHOLD or containment >= CONTAINMENT
