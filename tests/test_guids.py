"""Feeds with duplicate, random and missing GUIDs: the first poll stores each story once, and 100 more polls of
the same stories (with a new lastBuildDate each time, so every poll is really parsed) add nothing.
Runs the crawl session in-process, as the spider drives it, against a real SQLite file."""

from __future__ import annotations

import uuid

import pytest
from conftest import write_config

from crawler import config as config_mod
from crawler.crawl import CrawlSession
from crawler.store import Store

BASE = "https://kaktus.example.kg"


def item(title: str, link: str | None, guid: str | None, summary: str) -> str:
    return ("<item>" + f"<title>{title}</title>" + (f"<link>{BASE}{link}</link>" if link else "")
            + (f"<guid isPermaLink=\"false\">{guid}</guid>" if guid else "") + f"<description>{summary}</description></item>")


def duplicate_guids(poll: int) -> str:
    return "".join([
        item("Мигранты вернулись из Москвы", "/news/1", "42", "Более двух тысяч мигрантов вернулись."),
        item("Мигранты вернулись из Москвы", "/news/1", "42", "Более двух тысяч мигрантов вернулись."),
        # the CMS gives the same GUID to another story
        item("Журналист задержан в Оше", "/news/2", "42", "Журналиста задержали на границе."),
    ])


def random_guids(poll: int) -> str:
    return "".join(item(f"Новость {n}", f"/news/r{n}", str(uuid.uuid4()), f"Текст новости {n}.") for n in range(5))


def missing_guids(poll: int) -> str:
    return "".join([
        item("С ссылкой без GUID", "/news/m1?utm_source=rss&amp;utm_campaign=" + str(poll), None, "Текст."),
        item("Без ссылки и без GUID", None, None, "Только заголовок и текст."),
        item("Ещё одна без ссылки", None, None, "Другой текст."),
    ])


def feed(items: str, poll: int) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Kaktus</title>'
            f"<lastBuildDate>Mon, 02 Mar 2026 06:{poll // 60:02d}:{poll % 60:02d} +0000</lastBuildDate>"
            f"{items}</channel></rss>").encode()


@pytest.mark.parametrize("make_items, stories", [(duplicate_guids, 2), (random_guids, 5), (missing_guids, 3)],
                         ids=["duplicate-guids", "random-guids", "missing-guids"])
def test_hundred_polls_of_an_unchanged_feed_add_nothing(tmp_path, make_items, stories):
    url = f"{BASE}/rss"
    cfg = config_mod.load(write_config(tmp_path / "config", sources=[{"id": "kaktus", "name": "Kaktus", "feeds": [url]}]))
    store = Store(cfg.database_path)
    store.sync_sources(cfg.sources)
    fetched = []
    for poll in range(101):
        session = CrawlSession(cfg, store, ["kaktus"])
        entries = session.feed_response(url, url, 200, {"content-type": "application/rss+xml"},
                                        feed(make_items(poll), poll))
        fetched.append(len(entries))
        for entry in entries:
            session.entry_item({"feed_url": url, "entry": entry, "page": None, "error": "page not fetched here"})
    assert fetched[0] == stories and sum(fetched[1:]) == 0
    assert store.count("articles") == stories
    titles = sorted(r["title"] for r in store.db.query("SELECT title FROM articles"))
    assert len(set(titles)) == len(titles)  # each story once
    assert store.feeds()[0]["consecutive_errors"] == 0
    store.close()
