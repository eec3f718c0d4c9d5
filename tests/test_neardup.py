"""neardup: republished copies of a story are one story; different stories and short items are not.

Real text: the seed story (Orda.kz via The Times of Central Asia) and the copies three outlets ran
(tests/fixtures/stories/outlets.yaml); real Russian news from ../shared/corpus (skipped when absent),
rerun the way regional sites rerun TASS or Interfax copy.
"""

from __future__ import annotations

import csv
import gzip
import itertools

import pytest
from conftest import SEED, SHARED
from story_sites import outlets

from crawler import neardup
from crawler.extract import extract_article

RUSSIAN_NEWS = SHARED / "corpus" / "russian-news"


def seed_text() -> str:
    return extract_article((SEED / "article.html").read_bytes(), "https://steppewire.example/article.html",
                           source_id="steppewire").text


def fixture_texts() -> dict[str, str]:
    return {f"{o['id']}/{a['slug']}": "\n".join(a["body"]) for o in outlets() for a in o["articles"]}


COPIES = ["asiacourier/tashkent-protests-rough-treatment-of-uzbek-migrants",
          "ferganadaily/uzbek-embassy-demands-legal-assessment-of-moscow-raid",
          "pamirpost/uzbekistan-sends-note-to-russia-over-raid-on-migrant-dormitory"]
SAME_TOPIC = ["asiacourier/kyrgyzstan-summons-russian-ambassador-over-detained-migrants",
              "ferganadaily/uzbekistan-opens-pre-departure-centres-for-migrant-workers"]
BREAKING = ["asiacourier/breaking-almaty-power-plant", "pamirpost/breaking-almaty-power-plant"]


def shares_a_band(a: neardup.Signature, b: neardup.Signature) -> bool:
    return bool(set(a.bands) & set(b.bands))


@pytest.mark.parametrize("copy", COPIES, ids=["new-headline-byline-footer", "cut-ending-edited-lead",
                                              "amp-copy-with-footer"])
def test_republished_copy_is_the_same_story_and_is_found_by_the_index(copy):
    original = neardup.signature(seed_text())
    rerun = neardup.signature(fixture_texts()[copy])
    assert neardup.same_story(original.shingles, rerun.shingles)
    assert shares_a_band(original, rerun)


@pytest.mark.parametrize("other", SAME_TOPIC, ids=["kyrgyz-detentions", "uzbek-pre-departure-centres"])
def test_different_story_on_the_same_topic_the_same_day_is_not_the_same_story(other):
    texts = fixture_texts()
    story = neardup.signature(texts[other])
    for text in [seed_text(), *(texts[c] for c in COPIES), *(texts[s] for s in SAME_TOPIC if s != other)]:
        jaccard, containment = neardup.similarity(story.shingles, neardup.signature(text).shingles)
        assert jaccard < 0.1 and containment < 0.2
        assert not neardup.same_story(story.shingles, neardup.signature(text).shingles)


@pytest.mark.parametrize("text", ["", "   ", "Срочно!", "BREAKING: Explosion reported at Almaty power plant",
                                  "Urgent: an explosion was reported at a thermal power plant in Almaty, local media "
                                  "say. " * 2],
                         ids=["empty", "blank", "one-word", "headline", "two-line-post"])
def test_short_and_empty_text_gets_no_signature(text):
    assert neardup.signature(text) is None
    assert neardup.shingles(text) == frozenset()


def test_breaking_posts_never_cluster_on_text_even_when_identical():
    texts = fixture_texts()
    for key in BREAKING:
        assert neardup.signature(texts[key]) is None


def test_signature_is_stable_across_runs_and_spelling_variants():
    text = seed_text()
    a, b = neardup.signature(text), neardup.signature(text.upper().replace("  ", " "))
    assert a.bands == b.bands and len(a.bands) == neardup.BANDS
    assert all(-(2 ** 63) <= h < 2 ** 63 for _, h in a.bands)  # fits an SQLite INTEGER


# --- real Russian news from the shared corpus -------------------------------------------------------


def corpus_rows() -> list[dict]:
    files = sorted(RUSSIAN_NEWS.glob("ods-*.csv.gz")) if RUSSIAN_NEWS.is_dir() else []
    if not files:
        pytest.skip(f"shared corpus not available ({RUSSIAN_NEWS})")
    csv.field_size_limit(10 ** 8)
    rows = []
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            rows += [r for r in csv.DictReader(fh) if r.get("text")]
    for r in rows:
        r["text"] = r["text"].replace("\\n", "\n")  # the samples keep line breaks as a literal \n
    return rows


def rerun_ru(text: str, outlet: str, *, cut_ending: bool = False) -> str:
    """How a regional site reruns an agency story: own dateline and byline, the agency's first sentence
    reworded, a subscription footer; ``cut_ending`` also drops the closing sentences (background)."""
    sentences = text.split(". ")
    sentences[0] = f"Как сообщает информагентство, {sentences[0][0].lower()}{sentences[0][1:]}"
    if cut_ending:
        sentences = sentences[:max(3, len(sentences) * 4 // 5)]
    return (f"АЛМАТЫ. {outlet}. Корреспондент отдела новостей.\n{'. '.join(sentences)}\n"
            f"Подписывайтесь на {outlet} в Telegram и WhatsApp, чтобы первыми узнавать главные новости.")


def test_corpus_russian_reruns_join_their_story_and_are_found_by_the_index():
    rows = [r for r in corpus_rows() if neardup.signature(r["text"])]
    assert len(rows) >= 20
    for row in rows:
        original = neardup.signature(row["text"])
        for outlet in ("Zakon.kz", "Kaktus.media"):
            rerun = neardup.signature(rerun_ru(row["text"], outlet))
            assert neardup.same_story(original.shingles, rerun.shingles), row["title"]
            assert shares_a_band(original, rerun), row["title"]


def test_corpus_russian_reruns_with_a_cut_ending_join_their_story():
    rows = [r for r in corpus_rows() if len(r["text"].split()) >= 150]
    assert len(rows) >= 10
    for row in rows:
        original = neardup.signature(row["text"])
        rerun = neardup.signature(rerun_ru(row["text"], "24.kg", cut_ending=True))
        assert neardup.same_story(original.shingles, rerun.shingles), row["title"]
        assert shares_a_band(original, rerun), row["title"]


def test_corpus_russian_different_stories_never_join():
    """Every pair of distinct real articles (same outlets, same days, overlapping topics) stays apart."""
    signatures = [neardup.signature(r["text"]) for r in corpus_rows()]
    signatures = [s for s in signatures if s]
    worst = 0.0
    for a, b in itertools.combinations(signatures, 2):
        assert not neardup.same_story(a.shingles, b.shingles)
        worst = max(worst, neardup.similarity(a.shingles, b.shingles)[0])
    assert worst < neardup.THRESHOLD / 2
