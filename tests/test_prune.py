"""``newswatch prune``: old article text goes, the archive's memory of the story stays."""

from __future__ import annotations

from archive import ARCHIVE, article_of, build_archive
from conftest import cli

from crawler.store import Store, utcnow

OLD_BORDER = "Пограничный инцидент на кыргызско-таджикской границе"
OLD_PENDING = "Журналист задержан в Худжанде после репортажа"


def by_title(store, title):
    return next(store.db.query("SELECT * FROM articles WHERE title = ?", [title]))


def fts_titles(store, query):
    return {r["title"] for r in store.search(query)}


def test_dry_run_reports_and_changes_nothing(tmp_path):
    cfg, config = build_archive(tmp_path / "config")
    proc = cli(cfg, "prune", "--older-than", "365d", "--dry-run")
    # The old article with a pending alert keeps its text until the alert is settled.
    assert "would drop the text of 1 articles" in proc.stdout and "dry run" in proc.stdout
    store = Store(config.database_path)
    assert by_title(store, OLD_BORDER)["text"].startswith("На участке Баткенской области")


def test_prune_drops_old_text_keeps_metadata_matches_and_reclaims_space(tmp_path):
    cfg, config = build_archive(tmp_path / "config")
    store = Store(config.database_path)
    old = by_title(store, OLD_BORDER)
    assert OLD_BORDER in fts_titles(store, "перестрелка")
    size_before = store.file_bytes()
    store.close()

    proc = cli(cfg, "prune", "--older-than", "365d")
    assert "dropped the text of 1 articles" in proc.stdout

    store = Store(config.database_path)
    pruned = by_title(store, OLD_BORDER)
    assert pruned["text"] is None and pruned["text_pruned_at"]
    for column in ("url", "canonical_url", "title", "published_at", "fetched_at", "language", "source_id",
                   "content_hash"):
        assert pruned[column] == old[column]
    assert store.db.execute("SELECT count(*) FROM matches WHERE article_id = ?", [old["id"]]).fetchone()[0] == 1
    assert store.db.execute("SELECT count(*) FROM sightings WHERE article_id = ?", [old["id"]]).fetchone()[0] == 1
    # Search stays consistent: the dropped text is no longer found, the title still is.
    assert OLD_BORDER not in fts_titles(store, "перестрелка")
    assert OLD_BORDER in fts_titles(store, "Пограничный")
    # Text of an article whose alert has not gone out yet stays; recent articles are untouched.
    assert by_title(store, OLD_PENDING)["text"]
    assert store.count("articles") == 9
    assert store.file_bytes() < size_before
    assert "->" in proc.stdout


def test_a_pruned_story_republished_is_still_recognised_and_not_alerted_again(tmp_path):
    cfg, config = build_archive(tmp_path / "config")
    cli(cfg, "prune", "--older-than", "365d")
    item = next(a for a in ARCHIVE["articles"] if a["title"] == OLD_BORDER)
    again = article_of({**item, "url": "https://fergana.news/amp/news/120001/", "days_ago": 0}, utcnow())
    store = Store(config.database_path)
    assert store.add_article(again) is None  # same text hash: a sighting, not a new article
    assert store.count("articles") == 9


def test_prune_refuses_a_bad_duration(tmp_path):
    cfg, _ = build_archive(tmp_path / "config")
    proc = cli(cfg, "prune", "--older-than", "a year", check=False)
    assert proc.returncode == 2 and "--older-than" in proc.stderr
