"""`newswatch search`: the stored archive searched with the watches' normalisation (crawler/search.py).

Articles are stored through the same pipeline the crawl uses (pipeline.save) into real SQLite files;
the sentences are the real-world ones the matcher is tested on (fixtures/watches/sentences.yaml)."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from crawler import config as config_mod
from crawler import dedup, match, pipeline, search
from crawler.models import Article
from crawler.rules import RuleError
from crawler.store import Store, iso, utcnow

from conftest import cli, crawl_once, write_config

FIXTURES = Path(__file__).parent / "fixtures"
SENTENCES = yaml.safe_load((FIXTURES / "watches" / "sentences.yaml").read_text(encoding="utf-8"))
RUSSIAN_NEWS = Path(__file__).parents[2] / "shared" / "corpus" / "russian-news"
SOURCES = [{"id": "azattyk", "name": "Azattyk", "country": "KG", "feeds": ["http://127.0.0.1:9/rss"]},
           {"id": "asiaplus", "name": "Asia-Plus", "country": "TJ", "feeds": ["http://127.0.0.1:9/tj"]}]


@pytest.fixture
def archive(tmp_path):
    """A config with no watches and its (empty) store; add(...) stores an article as the crawl would."""
    cfg = config_mod.load(write_config(tmp_path / "config", sources=SOURCES))
    store = Store(cfg.database_path)
    store.sync_sources(cfg.sources)
    matcher = pipeline.Matcher(cfg)
    counter = iter(range(1, 10 ** 6))

    def add(title: str, text: str, *, source: str = "azattyk", language: str | None = None,
            key: str | None = None, fetched_at: str | None = None) -> int:
        n = next(counter)
        key = key or f"entry-{n}"
        article = Article(
            source_id=source, feed_url=f"http://127.0.0.1:9/{source}", url=f"https://{source}.example/{key}",
            canonical_url=f"https://{source}.example/{key}", guid=key, entry_key=key, title=title, author=None,
            published_at=None, fetched_at=fetched_at or iso(utcnow()), language=language, text=text,
            summary_only=False, content_hash=dedup.content_hash(text or title))
        saved = pipeline.save(store, matcher, article)
        return saved.article_id

    add.store, add.cfg = store, cfg
    yield add
    store.close()


def found(store, query: str, **options) -> dict[int, list]:
    """Article id -> its matches, in result order."""
    result = search.search(store, search.parse_query(query), **options)
    return {hit.article["id"]: hit.matches for hit in result.hits}


def fts_consistent(store) -> None:
    store.db.execute("INSERT INTO search_fts (search_fts, rank) VALUES ('integrity-check', 1)")


# --------------------------------------------------------------------------- what a user finds


def test_every_real_sentence_is_found_by_its_keyword_in_its_inflected_or_other_script_form(archive):
    ids = {case["id"]: archive("", case["text"]) for case in SENTENCES["hits"] + SENTENCES["misses"]}
    for case in SENTENCES["hits"]:
        results = found(archive.store, f'"{case["keyword"]}"', limit=100)
        assert ids[case["id"]] in results, f"{case['keyword']!r} did not find: {case['text']}"
        forms = [m.form for m in results[ids[case["id"]]]]
        assert case["form"] in forms
        assert results[ids[case["id"]]][0].snippet == case["text"]


def test_near_misses_stay_out_of_the_results(archive):
    ids = {case["id"]: archive("", case["text"]) for case in SENTENCES["hits"] + SENTENCES["misses"]}
    for case in SENTENCES["misses"]:
        results = found(archive.store, f'"{case["keyword"]}"', limit=100)
        assert ids[case["id"]] not in results, f"{case['keyword']!r} wrongly found: {case['text']}"


def test_phrase_needs_its_words_together_though_the_index_finds_both_words(archive):
    together = archive("", "Денежные переводы трудовых мигрантов составляют почти треть ВВП Кыргызстана.")
    apart = archive("", "Трудовые споры разбирает суд. Мигранты на заседание не пришли.")
    result = search.search(archive.store, search.parse_query('"трудовые мигранты"'))
    assert [h.article["id"] for h in result.hits] == [together]
    assert result.rejected == 1  # the other article had both words, apart: read and turned down
    assert apart not in found(archive.store, '"трудовые мигранты"')


def test_a_word_in_the_title_ranks_above_the_same_word_in_the_text(archive):
    in_text = archive("Новости дня", "Власти обсудили положение мигрантов на рынке труда. " * 2)
    in_title = archive("Мигранты вернулись домой", "Самолёт из Москвы приземлился в Оше утром.")
    assert list(found(archive.store, "мигрант")) == [in_title, in_text]


def test_newest_first_lists_the_latest_stored_article_first(archive):
    older = archive("Мигранты вернулись домой", "Первый рейс прибыл утром.")
    newer = archive("Новости", "Ещё одна группа мигрантов прибыла вечером.")
    assert list(found(archive.store, "мигрант", newest_first=True)) == [newer, older]


def test_more_is_said_only_when_there_are_more_articles(archive):
    archive("Мигранты вернулись домой", "Первый рейс прибыл утром.")
    assert not search.search(archive.store, search.parse_query("мигрант"), limit=1).more
    archive("Новости", "Ещё одна группа мигрантов прибыла вечером.")
    assert search.search(archive.store, search.parse_query("мигрант"), limit=1).more


def test_minus_excludes_and_or_takes_either(archive):
    border = archive("", "На кыргызско-таджикской границе вновь произошла перестрелка между пограничниками.")
    uz = archive("", "Toshkentda muhojirlar uchun yangi oʻquv markazi ochildi.")
    tj = archive("", "Муҳоҷирҳо аз вазъи кор дар шаҳри Маскав шикоят карданд.", source="asiaplus")
    assert set(found(archive.store, "муҳожир OR граница")) == {border, uz, tj}
    assert set(found(archive.store, "muhojir -Маскав")) == {uz}
    assert set(found(archive.store, "muhojir", sources=("asiaplus",))) == {tj}


def test_prefix_wildcard_finds_words_in_either_script(archive):
    ru = archive("", "Миграционная служба Узбекистана открыла новый центр подготовки к работе за рубежом.")
    uz = archive("", "Oʻzbekiston migratsiya agentligi yangi dastur eʼlon qildi.")
    other = archive("", "Британские власти рассчитывают ввести в действие новую иммиграционную систему.")
    # a prefix of five letters or more is also matched on the script-free skeleton (миграц = migrats)
    assert set(found(archive.store, "миграц*")) == {ru, uz}
    assert set(found(archive.store, "migrats*")) == {ru, uz}
    assert other not in found(archive.store, "миграц* OR migrats*")


def test_language_filter_takes_the_script_variants_of_a_language(archive):
    latn = archive("", "Rossiyadagi oʻzbekistonlik mehnat muhojirlarining huquqlari muhokama qilindi.",
                   language="uz-Latn")
    cyrl = archive("", "Москвадаги ўзбекистонлик муҳожирлар элчихонага мурожаат қилди.", language="uz-Cyrl")
    tg = archive("", "Вазорати меҳнат барои муҳоҷирон курсҳои забони русӣ ташкил кард.", language="tg")
    assert set(found(archive.store, "muhojir", languages=("uz",))) == {latn, cyrl}
    assert set(found(archive.store, "muhojir", languages=("tg", "uz-Latn"))) == {tg, latn}


def test_since_filters_by_date(archive):
    old = archive("Мигранты", "Старая новость о мигрантах.", fetched_at=iso(utcnow() - timedelta(days=40)))
    new = archive("Мигранты", "Свежая новость о мигрантах.")
    assert set(found(archive.store, "мигрант", since=utcnow() - timedelta(days=7))) == {new}
    assert old in found(archive.store, "мигрант")


def test_search_and_watches_find_the_same_forms_in_the_same_article(archive):
    text = ("Ресейдегі Қазақстан еңбек мигранттары жаңа ережелерге наразылық білдірді. "
            "Россиядагы кыргызстандык мигранттардын саны былтыркыга салыштырмалуу азайган.")
    article_id = archive("", text)
    index = match.compile_watches([match.WatchRule("w", search.parse_query("мигрант").alternatives[0])])
    by_watch = [(m.form, m.snippet) for m in match.find_all(index, "", text)]
    by_search = [(m.form, m.snippet) for m in found(archive.store, "мигрант")[article_id]]
    assert by_search == by_watch[:search.SNIPPETS_PER_HIT]


# --------------------------------------------------------------------------- the index follows the archive


def test_an_edited_article_is_found_by_its_new_text_only(archive):
    first = archive("Сообщение", "Полиция задержала журналиста в Бишкеке.", key="same-entry")
    again = archive("Сообщение", "Полиция задержала мигрантов в Бишкеке.", key="same-entry")
    assert again == first
    assert set(found(archive.store, "мигрант")) == {first}
    assert found(archive.store, "журналист") == {}
    assert archive.store.search_stale_count(search.VERSION) == 0  # the old entry came out exactly
    fts_consistent(archive.store)


def test_prune_keeps_titles_searchable_and_drops_the_text_from_the_index(archive):
    old = archive("Мигранты вернулись", "Граница закрыта для грузовиков.",
                  fetched_at=iso(utcnow() - timedelta(days=400)))
    kept = archive("Граница", "Граница закрыта для грузовиков.")
    archive.store.prune_text(utcnow() - timedelta(days=365), search_terms=search.terms, search_version=search.VERSION)
    assert set(found(archive.store, "мигрант")) == {old}
    assert set(found(archive.store, "граница")) == {kept}
    assert search.catch_up(archive.store) == 0  # nothing left stale
    fts_consistent(archive.store)


def test_an_entry_that_cannot_be_taken_out_exactly_makes_the_next_search_rebuild_the_index(archive):
    old = archive("Мигранты вернулись", "Граница закрыта для грузовиков.",
                  fetched_at=iso(utcnow() - timedelta(days=400)))
    kept = archive("Новости", "Граница открыта.")
    archive.store.prune_text(utcnow() - timedelta(days=365))  # no search_terms: entries marked stale
    assert search.catch_up(archive.store) == 2
    assert set(found(archive.store, "граница")) == {kept}
    assert set(found(archive.store, "мигрант")) == {old}
    fts_consistent(archive.store)


def test_garbled_text_is_not_indexed(archive):
    article = Article(source_id="azattyk", feed_url="f", url="https://a.example/x", canonical_url="https://a.example/x",
                      guid=None, entry_key="x", title="Мигранты", author=None, published_at=None,
                      fetched_at=iso(utcnow()), language="ru", text="Мигранты вернулись домой.", summary_only=False,
                      content_hash=dedup.content_hash("x"), encoding_suspect=True)
    pipeline.save(archive.store, pipeline.Matcher(archive.cfg), article)
    assert found(archive.store, "мигрант") == {}


def test_articles_stored_before_the_index_and_after_a_normalisation_change_are_indexed_once(archive, monkeypatch):
    store = archive.store
    indexed = archive("Мигранты", "Мигранты вернулись домой.")
    # as in a database from before `newswatch search`: articles without index rows
    for n in range(3):
        store.add_article(Article(
            source_id="azattyk", feed_url="f", url=f"https://a.example/{n}", canonical_url=f"https://a.example/{n}",
            guid=None, entry_key=f"old-{n}", title="", author=None, published_at=None, fetched_at=iso(utcnow()),
            language="ky", text=f"Эмгек министрлиги мигранттарга акысыз жардам көрсөтөт ({n}).", summary_only=False,
            content_hash=dedup.content_hash(str(n))))
    assert store.search_backlog_count(search.VERSION) == 3
    assert search.catch_up(store) == 3
    assert len(found(store, "мигрант")) == 4
    assert search.catch_up(store) == 0
    monkeypatch.setattr(search, "VERSION", search.VERSION + 1)
    assert search.pending(store) == 4
    assert search.catch_up(store) == 4  # every article again, replacing its old entry
    assert len(found(store, "мигрант")) == 4 and indexed in found(store, "мигрант")
    fts_consistent(store)


def test_a_long_backlog_is_indexed_batch_after_batch_with_progress(archive):
    store = archive.store
    for n in range(5):
        store.add_article(Article(
            source_id="azattyk", feed_url="f", url=f"https://a.example/{n}", canonical_url=f"https://a.example/{n}",
            guid=None, entry_key=f"old-{n}", title="", author=None, published_at=None, fetched_at=iso(utcnow()),
            language="ky", text=f"Мигранттар үйлөрүнө кайтышты ({n}).", summary_only=False, content_hash=f"b{n}"))
    seen = []
    assert search.catch_up(store, batch=2, progress=lambda done, total: seen.append((done, total))) == 5
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert len(found(store, "мигрант")) == 5 and search.pending(store) == 0


def test_two_catch_ups_filing_the_same_backlog_leave_the_index_whole(archive):
    """The crawl child and `newswatch search` may both read the same backlog and file it one after
    the other: the second filing of an unchanged article must change nothing."""
    store = archive.store
    article_id = store.add_article(Article(
        source_id="azattyk", feed_url="f", url="https://a.example/x", canonical_url="https://a.example/x", guid=None,
        entry_key="x", title="Мигранты", author=None, published_at=None, fetched_at=iso(utcnow()), language="ru",
        text="Мигранты вернулись домой.", summary_only=False, content_hash="hx"))
    backlog = store.search_backlog(search.VERSION)  # both read it before either writes
    for _ in range(2):
        with store.transaction():
            for row in backlog:
                search.index_article(store, row["id"], row["title"], row["text"])
    assert store.search_stale_count(search.VERSION) == 0
    assert set(found(store, "мигрант")) == {article_id}
    fts_consistent(store)


# --------------------------------------------------------------------------- bad queries


@pytest.mark.parametrize("query, problem", [
    ("", "empty query"),
    ('"трудовые мигранты', "unbalanced quote"),
    ("-мигрант", "only excludes"),
    ("мигрант OR", "OR must stand between"),
    ("OR мигрант", "OR must stand between"),
    ("ми*", "at least 3 letters"),
    ("мигрант OR -граница", "not excluded ones"),
    (" ".join(f"a{n} OR b{n}" for n in range(6)), "too many OR combinations"),
])
def test_bad_query_says_what_is_wrong(query, problem):
    with pytest.raises(RuleError, match=problem):
        search.parse_query(query)


def test_query_syntax_characters_inside_words_are_not_fts_syntax(archive):
    article = archive("", "Президент NEAR границы AND заявил: «мы готовы» (OR нет).")
    for query in ("NEAR", "AND", "границы:", "(OR", "«мы готовы»", "\"мы\" готовы*"):
        assert article in found(archive.store, query), query


# --------------------------------------------------------------------------- the command


def test_search_command_after_a_crawl_finds_the_seed_story_with_its_sentence(tmp_path, seed_outlet):
    config_dir = write_config(tmp_path / "config", sources=[
        {"id": "seed", "name": "Seed outlet", "country": "KZ", "feeds": [seed_outlet.url("/feed.xml")]}])
    crawl_once(config_dir)
    proc = cli(config_dir, "search", '"migrant worker"', "dormitor*", "--json")
    data = json.loads(proc.stdout)
    assert len(data["results"]) == 1
    hit = data["results"][0]
    assert hit["source_id"] == "seed" and hit["url"] == seed_outlet.url("/article.html")
    assert {m["keyword"] for m in hit["matches"]} == {"migrant worker", "dormitor*"}
    assert all(m["form"] in m["snippet"] for m in hit["matches"])
    assert "Migrant Workers" in {m["form"] for m in hit["matches"]}  # the plural, in title case

    # a Russian keyword finds the English text through the shared skeleton (мигрант = migrant)
    assert json.loads(cli(config_dir, "search", "мигрант", "--json").stdout)["results"][0]["id"] == hit["id"]

    plain = cli(config_dir, "search", '"migrant worker"', "dormitor*")
    assert hit["title"] in plain.stdout and hit["matches"][0]["snippet"] in plain.stdout

    nothing = cli(config_dir, "search", "землетрясение", check=False)
    assert nothing.returncode == 1 and "no stored article matches" in nothing.stdout

    bad = cli(config_dir, "search", '"мигрант', check=False)
    assert bad.returncode == 2 and "unbalanced quote" in bad.stderr


def test_search_command_indexes_an_archive_from_before_the_index(tmp_path):
    config_dir = write_config(tmp_path / "config", sources=SOURCES)
    cfg = config_mod.load(config_dir)
    store = Store(cfg.database_path)
    store.sync_sources(cfg.sources)
    store.add_article(Article(
        source_id="azattyk", feed_url="f", url="https://a.example/1", canonical_url="https://a.example/1", guid=None,
        entry_key="1", title="Чек арадагы окуя", author=None, published_at=None, fetched_at=iso(utcnow()),
        language="ky", text="Чек арадагы окуядан кийин эки өлкөнүн өкмөт башчылары телефон аркылуу сүйлөштү.",
        summary_only=False, content_hash="h1"))
    store.close()
    proc = cli(config_dir, "search", "чек ара")
    assert "indexing 1 stored articles" in proc.stderr
    assert "Чек арадагы" in proc.stdout
    again = cli(config_dir, "search", "чек ара")
    assert "indexing" not in again.stderr


# --------------------------------------------------------------------------- real Russian news


def _ods(limit: int) -> list[tuple[str, str]]:
    csv.field_size_limit(10 ** 8)
    out = []
    for path in sorted(RUSSIAN_NEWS.glob("ods-*.csv.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                out.append((row["title"], row["text"]))
                if len(out) >= limit:
                    return out
    if not out:
        pytest.skip("shared corpus not available")
    return out


def test_corpus_search_finds_exactly_what_a_watch_would_match(archive):
    """The index must never lose a candidate the matcher would accept: for each query the search
    results are the articles the watch matcher matches, over the real articles of the shared corpus."""
    articles = _ods(10_000)
    ids = [archive(title, text, key=f"ods-{n}") for n, (title, text) in enumerate(articles)]
    for query in ("суд", "задержанные", '"уголовное дело"', "президент* -путин", "москва OR петербург",
                  "=ООН", "полиц* задержа*"):
        parsed = search.parse_query(query)
        expected = {aid for aid, (title, text) in zip(ids, articles)
                    if aid is not None and match.find_all(parsed.index, title, text)}
        assert expected, query
        got = set(found(archive.store, query, limit=1000))
        assert got == expected, query
    fts_consistent(archive.store)


def test_a_crawl_cycle_indexes_articles_stored_before_the_index(tmp_path, seed_outlet):
    config_dir = write_config(tmp_path / "config", sources=[
        {"id": "seed", "name": "Seed outlet", "country": "KZ", "feeds": [seed_outlet.url("/feed.xml")]}])
    cfg = config_mod.load(config_dir)
    store = Store(cfg.database_path)
    store.sync_sources(cfg.sources)
    for n in range(3):
        store.add_article(Article(
            source_id="seed", feed_url="f", url=f"https://a.example/{n}", canonical_url=f"https://a.example/{n}",
            guid=None, entry_key=f"old-{n}", title="", author=None, published_at=None, fetched_at=iso(utcnow()),
            language="ru", text=f"Мигранты вернулись домой ({n}).", summary_only=False, content_hash=f"h{n}"))
    assert store.search_backlog_count(search.VERSION) == 3
    store.close()
    crawl_once(config_dir)  # the cycle stores the seed article and files the three old ones too
    store = Store(cfg.database_path)
    assert store.search_backlog_count(search.VERSION) == 0
    assert len(found(store, "мигрант")) == 4
    store.close()



def test_best_match_first_ranks_the_newest_matches_unless_asked_to_rank_all(archive, monkeypatch):
    from crawler import store as store_mod

    best = archive("Мигранты, мигранты, мигранты", "Мигранты вернулись домой: мигрантов встретили родные.")
    newer = [archive("Новости", f"Группа мигрантов номер {n} прибыла утром.") for n in range(3)]
    assert list(found(archive.store, "мигрант"))[0] == best
    monkeypatch.setattr(store_mod, "RANK_WINDOW", 3)  # as if the archive held 5,000 newer mentions
    assert set(found(archive.store, "мигрант")) == set(newer)
    assert list(found(archive.store, "мигрант", rank_all=True))[0] == best
