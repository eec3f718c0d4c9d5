"""find_matches (skeleton): whole words and phrases, case- and ё-insensitive, with the sentence around."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from crawler.match import SNIPPET_MAX, compile_watch, find_matches
from crawler.models import Match

FIXTURES = Path(__file__).parent / "fixtures"
RUSSIAN_NEWS = Path(__file__).parents[2] / "shared" / "corpus" / "russian-news"


def hits(keywords, text, title=""):
    return {m.keyword: m for m in find_matches(compile_watch("w", keywords), title, text)}


# --- phrases -----------------------------------------------------------------------------------------


def test_quoted_phrase_matches_across_a_line_break_and_mixed_case():
    text = "Officials met the Migrant  \n Workers who came back. Nothing else happened."
    (match,) = find_matches(compile_watch("migration", ['"migrant workers"']), "", text)
    # the line break inside the phrase does not end the sentence; the snippet is on one line
    assert match == Match(
        watch_id="migration",
        keyword="migrant workers",
        form="Migrant  \n Workers",
        snippet="Officials met the Migrant Workers who came back.",
    )


def test_phrase_with_spaces_needs_no_quotes():
    assert "трудовые мигранты" in hits(["трудовые мигранты"], "Трудовые\u00a0мигранты вернулись.")


def test_phrase_words_must_be_adjacent():
    assert hits(['"migrant workers"'], "Migrant and seasonal workers arrived.") == {}


# --- whole words ------------------------------------------------------------------------------------


def test_word_matches_regardless_of_case():
    match = hits(["мигрант"], "Вчера МИГРАНТ из Оша вернулся домой.")["мигрант"]
    assert match.form == "МИГРАНТ"


def test_whole_word_only_so_inflections_are_not_caught_yet():
    # "мигранты" is another word form; stemming is the language-aware matcher's job
    assert hits(["мигрант"], "Мигранты вернулись домой.") == {}
    assert hits(["border"], "Cross-borders trade grew.") == {}
    assert hits(["граница"], "Приграничная зона закрыта.") == {}


def test_yo_and_ye_are_the_same_letter():
    assert hits(["ёлка"], "На площади поставили елку и елка сияет.")["ёлка"].form == "елка"
    assert hits(["елка"], "Главная Ёлка страны.")["елка"].form == "Ёлка"


def test_punctuation_and_quotes_around_a_word_do_not_block_it():
    assert hits(["Азаттык"], "Журналист «Азаттык» задержан.")["Азаттык"].form == "Азаттык"
    assert hits(["мигрант"], "Он сказал: 'мигрант'.")["мигрант"].form == "мигрант"


def test_uzbek_apostrophe_letters_are_part_of_the_word():
    # oʻ written with U+02BB, the ASCII apostrophe or a curly quote is the same letter
    text = "Toshkentda O'zbekiston va Qozogʻiston vakillari uchrashdi."
    found = hits(["oʻzbekiston", "qozog'iston", "zbekiston"], text)
    assert found["oʻzbekiston"].form == "O'zbekiston"
    assert found["qozog'iston"].form == "Qozogʻiston"
    assert "zbekiston" not in found  # not a word of its own after "O'"


def test_kazakh_kyrgyz_tajik_letters_are_word_characters():
    assert hits(["шекара"], "Шекарадағы жағдай тұрақты.") == {}
    assert hits(["шекара"], "Мемлекеттік шекара күзетілуде.")["шекара"].form == "шекара"
    assert hits(["муҳоҷир"], "Ҳар як муҳоҷир ҳуқуқ дорад.")["муҳоҷир"].form == "муҳоҷир"


def test_soft_hyphen_inside_a_word_does_not_hide_it():
    assert "мигрантов" in hits(["мигрантов"], "Число ми\u00adгрантов выросло.")


# --- snippets and title -----------------------------------------------------------------------------


def test_snippet_is_the_sentence_containing_the_first_hit():
    text = (
        "В Бишкеке прошло совещание. Трудовой мигрант из Оша рассказал о работе в Москве! "
        "Ещё один мигрант выступил позже."
    )
    match = hits(["мигрант"], text)["мигрант"]
    assert match.snippet == "Трудовой мигрант из Оша рассказал о работе в Москве!"


def test_snippet_stops_at_newlines_and_ellipsis():
    text = "Заголовок раздела\nПограничники задержали нарушителя… Подробности позже."
    assert hits(["нарушителя"], text)["нарушителя"].snippet == "Пограничники задержали нарушителя…"


def test_snippet_does_not_split_on_abbreviations_initials_or_numbers():
    text = "Вчера в г. Бишкек А. Иванов заявил, что 3.5 тыс. мигрантов вернулись домой. Конец."
    snippet = hits(["мигрантов"], text)["мигрантов"].snippet
    assert snippet == "Вчера в г. Бишкек А. Иванов заявил, что 3.5 тыс. мигрантов вернулись домой."


def test_long_sentence_snippet_is_trimmed_around_the_hit():
    text = ("слово " * 150) + "задержан журналист " + ("слово " * 150) + "."
    match = hits(["журналист"], text)["журналист"]
    assert len(match.snippet) <= SNIPPET_MAX + 2
    assert match.snippet.startswith("…") and match.snippet.endswith("…")
    assert "задержан журналист" in match.snippet
    middle = match.snippet.index("журналист")
    assert 100 < middle < 200  # roughly centred


def test_title_counts_as_text_and_gives_its_own_snippet():
    match = hits(["граница"], "Ничего о ней в тексте.", title="Граница закрыта на ремонт")["граница"]
    assert match.form == "Граница"
    assert match.snippet == "Граница закрыта на ремонт"


def test_one_match_per_keyword_in_keyword_order():
    watch = compile_watch("w", ["мигрант", "граница", "мигрант", "МИГРАНТ", "", "  "])
    assert [k.keyword for k in watch.keywords] == ["мигрант", "граница"]
    matches = find_matches(watch, "", "Граница. Мигрант. Ещё мигрант. Граница.")
    assert [(m.keyword, m.form, m.snippet) for m in matches] == [
        ("мигрант", "Мигрант", "Мигрант."),
        ("граница", "Граница", "Граница."),
    ]


def test_regex_characters_in_keywords_are_literal():
    assert hits(["C++"], "Курсы C++ для мигрантов.")["C++"].form == "C++"
    assert hits(["U.S."], "The U.S. said so.")["U.S."].snippet == "The U.S. said so."
    assert hits(["a.b"], "axb") == {}


def test_no_keywords_no_matches():
    assert find_matches(compile_watch("empty", []), "Мигрант", "Мигрант") == []


# --- real data --------------------------------------------------------------------------------------


def test_seed_story_matches_migrant_workers_in_title():
    from crawler.extract import extract_article

    article = extract_article((FIXTURES / "seed" / "article.html").read_bytes(), "http://127.0.0.1/a.html")
    found = {m.keyword: m for m in find_matches(
        compile_watch("migration", ['"migrant workers"', "raid", "deportation"]), article.title, article.text
    )}
    assert set(found) == {"migrant workers", "raid"}
    assert found["migrant workers"].form == "Migrant Workers"
    assert found["raid"].snippet.startswith("The Embassy of Uzbekistan sent a note")
    assert found["raid"].snippet.endswith("Orda.kz reports.")


def test_corpus_ria_articles_hits_are_whole_words_inside_their_snippets():
    path = RUSSIAN_NEWS / "ria.json.gz"
    if not path.exists():
        pytest.skip(f"shared corpus not available ({path})")
    from crawler.parse import html_to_text

    with gzip.open(path, "rt", encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    watch = compile_watch("w", ["москва", "сша", '"риа новости"', "выборы"])
    seen = set()
    for record in records:
        text = html_to_text(record["text"])
        for m in find_matches(watch, record.get("title", ""), text):
            seen.add(m.keyword)
            assert " ".join(m.form.casefold().split()).replace("ё", "е") == m.keyword
            assert " ".join(m.form.split()) in m.snippet
            assert len(m.snippet) <= SNIPPET_MAX + 2
    assert seen == {"москва", "сша", "риа новости", "выборы"}
