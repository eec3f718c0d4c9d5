"""The match stage: inflections, scripts, normalisation, rules, and the sentence around each match."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

import yaml

from crawler.match import SNIPPET_MAX, WatchRule, compile_watch, compile_watches, find_all, find_matches
from crawler.models import Match
from crawler.rules import parse_rule

FIXTURES = Path(__file__).parent / "fixtures"
RUSSIAN_NEWS = Path(__file__).parents[2] / "shared" / "corpus" / "russian-news"
SENTENCES = yaml.safe_load((FIXTURES / "watches" / "sentences.yaml").read_text(encoding="utf-8"))


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


# --- whole words and normalisation -------------------------------------------------------------


def test_word_matches_regardless_of_case():
    match = hits(["мигрант"], "Вчера МИГРАНТ из Оша вернулся домой.")["мигрант"]
    assert match.form == "МИГРАНТ"


def test_yo_and_ye_are_the_same_letter():
    assert hits(["ёлка"], "Главная елка страны.")["ёлка"].form == "елка"
    assert hits(["елка"], "Главная Ёлка страны.")["елка"].form == "Ёлка"


def test_punctuation_and_quotes_around_a_word_do_not_block_it():
    assert hits(["Азаттык"], "Журналист «Азаттык» задержан.")["Азаттык"].form == "Азаттык"
    assert hits(["мигрант"], "Он сказал: 'мигрант'.")["мигрант"].form == "мигрант"


def test_uzbek_apostrophe_letters_are_part_of_the_word():
    # oʻ written with U+02BB, the ASCII apostrophe or a curly quote is the same letter
    text = "Toshkentda O'zbekiston va Qozogʻiston vakillari uchrashdi."
    found = hits(["oʻzbekiston", "qozog’iston", "zbekiston"], text)
    assert found["oʻzbekiston"].form == "O'zbekiston"
    assert found["qozog’iston"].form == "Qozogʻiston"
    assert "zbekiston" not in found  # not a word of its own after "O'"


def test_soft_hyphen_and_zero_width_inside_a_word_do_not_hide_it():
    found = hits(["мигрант", "шекара"], "Число ми\u00adгрантов выросло. Ше\u200bкарада кезек бар.")
    assert found["мигрант"].form == "мигрантов"  # the invisible character is not part of the form shown
    assert found["шекара"].form == "Шекарада"


def test_latin_lookalike_letters_inside_a_cyrillic_word_are_read_as_cyrillic():
    # "мигрaнты" with a Latin "a", "Pоссия" with a Latin "P": copy-paste and spoofed headlines
    found = hits(["мигрант", "россия"], "Мигрaнты покидают Pоссию.")
    assert found["мигрант"].form == "Мигрaнты"
    assert found["россия"].form == "Pоссию"


def test_fullwidth_and_compatibility_forms_are_folded():
    assert hits(["migrant"], "ＭＩＧＲＡＮＴ workers")["migrant"].form == "ＭＩＧＲＡＮＴ"


def test_a_keyword_is_never_a_bare_prefix_unless_it_has_a_star():
    assert hits(["мигрант"], "Миграция выросла.") == {}
    assert hits(["миграц*"], "Миграция выросла.")["миграц*"].form == "Миграция"
    assert hits(["border"], "Cross-borders trade grew.")["border"].form == "borders"
    assert hits(["граница"], "Приграничная зона закрыта.") == {}


def test_exact_form_keyword_takes_no_inflections():
    assert hits(["=ООН"], "Доклад ООН опубликован.")["=ООН"].form == "ООН"
    assert hits(["=мигрант"], "Мигранты вернулись домой.") == {}


@pytest.mark.parametrize("case", SENTENCES["hits"], ids=lambda c: c["id"])
def test_real_sentence_hit(case):
    found = hits([case["keyword"]], case["text"])
    assert list(found) == [" ".join(case["keyword"].split())], case["text"]
    match = found[case["keyword"]]
    assert match.form == case["form"]
    assert match.snippet == case["text"]


@pytest.mark.parametrize("case", SENTENCES["misses"], ids=lambda c: c["id"])
def test_real_sentence_near_miss_stays_a_miss(case):
    assert hits([case["keyword"]], case["text"]) == {}


# --- rules: any, all, none, near, filters ---------------------------------------------------------


def rule_hits(raw, text, title="", **article):
    index = compile_watches([WatchRule("w", parse_rule(raw), **{k: v for k, v in raw.items() if k in (
        "sources", "countries", "languages")})])
    return {m.keyword: m for m in find_all(index, title, text, **article)}


ARTICLE = ("В Бишкеке задержали журналиста «Азаттыка». По словам коллег, его допрашивали шесть часов. "
           "Ранее на кыргызско-таджикской границе произошла перестрелка.")


def test_all_needs_every_keyword_and_none_vetoes():
    assert set(rule_hits({"all": ["журналист", "граница"]}, ARTICLE)) == {"журналист", "граница"}
    assert rule_hits({"all": ["журналист", "мигрант"]}, ARTICLE) == {}
    assert rule_hits({"any": ["журналист"], "none": ["перестрелка"]}, ARTICLE) == {}
    assert set(rule_hits({"any": ["журналист"], "none": ["футбол"]}, ARTICLE)) == {"журналист"}


def test_near_finds_words_close_together_in_either_order():
    found = rule_hits({"near": [{"words": ["журналист", "задерж*"], "within": 3}]}, ARTICLE)
    assert found["журналист NEAR/3 задерж*"].form == "задержали журналиста"
    assert found["журналист NEAR/3 задерж*"].snippet == "В Бишкеке задержали журналиста «Азаттыка»."


def test_near_misses_words_too_far_apart():
    text = "Журналист рассказал о поездке в Ош, где, по его словам, полиция ночью задержала трех человек."
    assert rule_hits({"near": [{"words": ["журналист", "задерж*"], "within": 6}]}, text) == {}
    assert rule_hits({"near": [{"words": ["журналист", "задерж*"], "within": 14}]}, text) != {}


def test_keywords_by_language_are_stemmed_by_that_language():
    raw = {"any": {"uz": ["muhojir"], "ru": ["мигрант"]}}
    assert set(rule_hits(raw, "Muhojirlarning huquqlari. Мигрантов стало меньше.")) == {"muhojir", "мигрант"}


def test_filters_by_source_country_and_language():
    raw = {"any": ["журналист"], "sources": ("azattyk",), "countries": ("KG",), "languages": ("ru",)}
    assert rule_hits(raw, ARTICLE, source_id="azattyk", country="KG", language="ru")
    assert not rule_hits(raw, ARTICLE, source_id="tengrinews", country="KG", language="ru")
    assert not rule_hits(raw, ARTICLE, source_id="azattyk", country="KZ", language="ru")
    assert not rule_hits(raw, ARTICLE, source_id="azattyk", country="KG", language="ky")
    # an article whose language is unknown is not dropped: a missed story costs more than a stray one
    assert rule_hits(raw, ARTICLE, source_id="azattyk", country="KG", language=None)


def test_uzbek_script_filter_looks_at_the_text():
    raw = {"any": ["muhojir"], "languages": ("uz-Latn",)}
    assert rule_hits(raw, "Muhojirlar qaytdi.", language="uz")
    assert not rule_hits(raw, "Муҳожирлар қайтди.", language="uz")


def test_many_keywords_on_one_word_explain_it_once():
    found = find_all(compile_watches([WatchRule("w", parse_rule({"any": ["мигрант*", "мигрант", "migrant"]}))]),
                     "", "Мигранттардын саны өстү.")
    assert [(m.keyword, m.form) for m in found] == [("мигрант*", "Мигранттардын")]


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


def test_one_match_per_keyword_in_text_order():
    watch = compile_watch("w", ["мигрант", "граница", "мигрант", "МИГРАНТ", "", "  "])
    assert [k.text for k in watch.keywords] == ["мигрант", "граница"]
    matches = find_matches(watch, "", "Граница. Мигрант. Ещё мигрант. Граница.")
    assert [(m.keyword, m.form, m.snippet) for m in matches] == [
        ("граница", "Граница", "Граница."),
        ("мигрант", "Мигрант", "Мигрант."),
    ]


def test_punctuation_in_keywords_is_literal_between_words():
    assert hits(["U.S."], "The U.S. said so.")["U.S."].snippet == "The U.S. said so."
    assert hits(["a.b"], "axb") == {}
    assert hits(["migrant workers"], "the migrant, workers said") == {}


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


def _corpus(name):
    path = RUSSIAN_NEWS / name
    if not path.exists():
        pytest.skip(f"shared corpus not available ({path})")
    return path


def test_corpus_ria_articles_inflected_forms_are_found_inside_their_snippets():
    from crawler.parse import html_to_text
    from crawler.stem import analyse

    with gzip.open(_corpus("ria.json.gz"), "rt", encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    watch = compile_watch("w", ["москва", "сша", '"риа новости"', "выборы"])
    seen, inflected = set(), set()
    for record in records:
        text = html_to_text(record["text"])
        for m in find_matches(watch, record.get("title", ""), text):
            seen.add(m.keyword)
            first_word = m.form.split()[0]
            assert analyse(first_word).r_key == analyse(m.keyword.split()[0]).r_key
            if m.form.casefold() != m.keyword:
                inflected.add(m.form.casefold())
            assert " ".join(m.form.split()) in m.snippet
            assert len(m.snippet) <= SNIPPET_MAX + 2
    assert seen == {"москва", "сша", "риа новости", "выборы"}
    assert inflected  # "Москве", "выборах": forms the whole-word matcher missed


def _ods_articles():
    import csv

    csv.field_size_limit(10 ** 8)
    out = []
    for path in sorted(RUSSIAN_NEWS.glob("ods-*.csv.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            out += [(row["title"], row["text"]) for row in csv.DictReader(fh)]
    if not out:
        pytest.skip("shared corpus not available")
    return out


def test_corpus_detentions_and_arrests_are_found_in_every_form():
    found = {}
    watch = compile_watch("w", ["задержанные", "арест", "журналист"])
    for title, text in _ods_articles():
        for m in find_matches(watch, title, text):
            found.setdefault(m.keyword, set()).add(m.form.casefold())
    assert {"задержанных"} <= found["задержанные"]  # "у задержанных участников акции"
    assert {"ареста"} <= found["арест"]  # "15 суток ареста"
    assert "арестовал" not in found["арест"]  # a verb; write арест* for it
    assert {"журналист", "журналистам"} <= found["журналист"]


def test_corpus_shipped_topics_stay_silent_on_unrelated_news():
    """Russian news with journalists quoted, rallies dispersed, "immigration systems" and the "borders"
    of forest zones: none of it is a migrant, border-incident or detained-journalist story."""
    from crawler import config

    cfg = config.load(Path(__file__).parents[1] / "config")
    index = compile_watches(WatchRule(w.id, w.rule) for w in cfg.watches)
    for title, text in _ods_articles():
        assert find_all(index, title, text) == [], title
