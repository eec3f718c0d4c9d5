"""Store.search: best match first, or newest first (which stays fast on a large archive)."""

from __future__ import annotations

from crawler import dedup
from crawler.config import Source
from crawler.models import Article
from crawler import store as store_mod
from crawler.store import Store


def _Source():
    return Source(id="kg", name="KG", feeds=(), interval=900, country="KG", languages=("ru",))


def _article(i: int, text: str) -> Article:
    url = f"https://news.example.kg/{i}"
    return Article(source_id="kg", feed_url="https://news.example.kg/rss", url=url, canonical_url=url, guid=str(i),
                   entry_key=f"guid:{i}", title=f"Новость {i}", author=None, published_at=None,
                   fetched_at="2026-01-01T00:00:00Z", language="ru", text=text, summary_only=False,
                   content_hash=dedup.content_hash(text + str(i)))


def test_search_ranks_by_relevance_or_lists_the_newest_first(tmp_path):
    store = Store(tmp_path / "nw.db")
    store.sync_sources([_Source()])
    texts = ["мигранты мигранты мигранты вернулись", "граница закрыта", "мигранты на границе", "погода"]
    with store.transaction():
        ids = [store.add_article(_article(i, t)) for i, t in enumerate(texts)]
    assert [r["id"] for r in store.search("мигранты")] == [ids[0], ids[2]]
    assert [r["id"] for r in store.search("мигранты", newest_first=True)] == [ids[2], ids[0]]
    assert [r["id"] for r in store.search("мигранты OR погода", limit=2, newest_first=True)] == [ids[3], ids[2]]
    assert store.search("граница", newest_first=True)[0] == {"id": ids[1], "title": "Новость 1",
                                                              "url": "https://news.example.kg/1"}
    store.close()


def test_best_match_first_ranks_the_newest_matches_of_a_common_word(tmp_path, monkeypatch):
    # bm25 over every match grows with the archive; the ranking window keeps a query on a common word
    # as fast at a million articles as at ten thousand, and a rarer query is ranked whole
    store = Store(tmp_path / "nw.db")
    store.sync_sources([_Source()])
    texts = ["мигранты мигранты мигранты мигранты", "мигранты вернулись домой", "мигранты на границе", "погода"]
    with store.transaction():
        ids = [store.add_article(_article(i, t)) for i, t in enumerate(texts)]
    assert store.search("мигранты")[0]["id"] == ids[0]  # the best of all: the oldest
    monkeypatch.setattr(store_mod, "RANK_WINDOW", 2)  # as if 5,000 newer articles mentioned it
    assert {r["id"] for r in store.search("мигранты")} == {ids[1], ids[2]}  # the best of the newest two
    assert store.search("мигранты", rank_all=True)[0]["id"] == ids[0]
    assert store.search("погода")[0]["id"] == ids[3]
    store.close()
