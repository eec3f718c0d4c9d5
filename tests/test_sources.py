"""Outlets without a usable feed, Atom, JSON Feed and language editions, end to end on loopback:
each fixture outlet, configured as a user would, yields each article exactly once with the right
language tag, and a second poll fetches nothing again."""

from __future__ import annotations

import json
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from conftest import cli, crawl_once, write_config
from fixture_outlets import AllOutlets, stage

from crawler.demo.servers import OutletServer
from crawler.store import Store

# outlet -> (source config, given the server; {article path: language})
OUTLETS = {
    "feed-autodiscovery": (lambda o: {"feeds": [o.url("/rss.xml")]}, {
        "/news/12041-v-bishkeke-zavershili-remont-energobloka-tets.html": "ru",
        "/news/12044-migranty-iz-kyrgyzstana-smogut-oformit-patent-onlain.html": "ru"}),
    "news-sitemap": (lambda o: {"sitemaps": [o.url("/sitemap-news.xml")], "timezone": "Asia/Almaty"}, {
        "/kk/news/almatyda-zhana-metro-bekteteri-ashyldy-4471.html": "kk",
        "/kk/news/qostanai-oblysynda-egin-zhinau-nauqany-bastaldy-4475.html": "kk"}),
    "sitemap-index": (lambda o: {"sitemaps": [o.url("/sitemap_index.xml")]}, {
        "/reports/tajikistan-and-uzbekistan-reopen-rail-link-through-sughd/": "en",
        "/reports/turkmenistan-raises-gas-exports-to-china-through-line-d-talks/": "en"}),
    "listing-pattern": (lambda o: {"listings": [{"url": o.url("/"), "article_links": r"/news/\d+-"}]}, {
        "/news/245611-osh-shaarynda-zhany-mektep-achyldy/": "ky",
        "/news/245630-ysyk-kolgo-kelgen-turistterdin-sany-kobojdu/": "ky"}),
    "listing-heuristic": (lambda o: {"listings": [o.url("/")]}, {
        "/tj/2026/06/18/dar-dushanbe-binoi-navi-bemorkhona-mavridi-istifoda-qaror-girift/": "tg",
        "/tj/2026/06/18/nerugohi-roghun-agregati-seyumro-ba-kor-andokht/": "tg"}),
    "atom": (lambda o: {"feeds": [o.url("/atom.xml")]}, {
        "/uz/yangiliklar/samarqandda-xalqaro-turizm-forumi-boshlandi-8812/": "uz-Cyrl",
        "/uz/yangiliklar/fargona-vodiysida-paxta-yigim-terimi-yakunlandi-8815/": "uz-Cyrl"}),
    "jsonfeed": (lambda o: {"feeds": [o.url("/feed.json")]}, {
        "/habarlar/asgabatda-tazeden-mekdep-acyldy-3307/": "tk",
        "/habarlar/turkmenbasy-portunda-yuk-dolanysygy-artdy-3311/": "tk"}),
    "editions": (lambda o: {"editions": [{"language": "uz-Latn", "feeds": [o.url("/rss/uz.xml")]},
                                         {"language": "ru", "feeds": [o.url("/rss/ru.xml")]}]}, {
        "/news/2026/04/07/toshkentda-yangi-metro-bekatlari-ochildi/": "uz-Latn",
        "/news/2026/04/07/samarqand-viloyatida-bahorgi-ekish-mavsumi-boshlandi/": "uz-Latn",
        "/ru/news/2026/04/07/v-tashkente-otkrylis-novye-stantsii-metro/": "ru",
        "/ru/news/2026/04/07/v-samarkandskoi-oblasti-nachalsya-vesennii-sev/": "ru"}),
}


def stored(config_dir) -> list[dict]:
    store = Store(config_dir / "newswatch.db")
    try:
        return list(store.db.query("SELECT * FROM articles ORDER BY id"))
    finally:
        store.close()


def by_path(articles) -> dict[str, dict]:
    return {urlsplit(a["url"]).path: a for a in articles}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """All eight fixture outlets, configured by hand as a user would, crawled twice."""
    tmp = tmp_path_factory.mktemp("outlets")
    with AllOutlets(tmp) as outlets:
        sources = [{"id": name, "name": name, **make(outlets[name])} for name, (make, _) in OUTLETS.items()]
        cfg = write_config(tmp / "config", sources=sources)
        proc = cli(cfg, "crawl", "--once", "--json")
        first = json.loads(proc.stdout)
        hits = {name: {p: outlets[name].hits(p) for p in expected} for name, (_, expected) in OUTLETS.items()}
        second = crawl_once(cfg)
        hits_after = {name: {p: outlets[name].hits(p) for p in expected} for name, (_, expected) in OUTLETS.items()}
        yield SimpleNamespace(outlets=outlets, cfg=cfg, first=first, log=proc.stderr, second=second, hits=hits,
                              hits_after=hits_after, articles=stored(cfg))


def test_first_poll_stores_every_fixture_article_without_errors(crawled):
    assert crawled.first["errors"] == []
    assert crawled.first["new_articles"] == sum(len(e) for _, e in OUTLETS.values()) == len(crawled.articles)
    assert (crawled.first["feeds_polled"], crawled.first["sitemaps_polled"], crawled.first["listings_polled"]) == (5, 2, 2)


@pytest.mark.parametrize("name", OUTLETS)
def test_fixture_outlet_yields_each_article_once_with_its_language(name, crawled):
    expected = OUTLETS[name][1]
    articles = by_path(a for a in crawled.articles if a["source_id"] == name)
    assert {p: a["language"] for p, a in articles.items()} == expected
    for a in articles.values():
        assert a["summary_only"] == 0 and len(a["text"]) > 200 and a["title"]
    assert set(crawled.hits[name].values()) == {1}


def test_second_poll_fetches_and_stores_nothing(crawled):
    assert crawled.second["new_articles"] == 0 and crawled.second["duplicates"] == 0
    assert crawled.second["errors"] == []
    assert crawled.hits_after == crawled.hits
    assert len(stored(crawled.cfg)) == len(crawled.articles)


def test_sitemaps_skip_old_entries_other_sites_and_old_child_sitemaps(crawled):
    ledger = crawled.outlets["sitemap-index"]
    assert ledger.hits("/sitemaps/recent.xml") == 2  # read on both polls: an index's children are re-read
    assert ledger.hits("/sitemaps/2019-01.xml") == 0  # the index says it has not changed since 2019
    assert ledger.hits("/reports/archive-2019-central-asia-year-in-review/") == 0
    skipped = next(line for line in crawled.log.splitlines()
                   if "event=sitemap_skipped" in line and "source_id=sitemap-index" in line)
    assert "other site: 1" in skipped and "not http(s): 1" in skipped and "no URL: 1" in skipped


def test_news_sitemap_titles_and_dates_come_from_the_sitemap(crawled):
    assert crawled.outlets["news-sitemap"].hits("/kk/news/eski-zhanalyq-2019-1001.html") == 0
    dala = [a for a in crawled.articles if a["source_id"] == "news-sitemap"]
    assert {a["title"] for a in dala} == {"Алматыда жаңа метро бекеттері ашылды",
                                          "Қостанай облысында егін жинау науқаны басталды"}
    assert all(a["published_at"].endswith("Z") and a["published_at"] > "2026" for a in dala)


def test_listing_page_with_pattern_leaves_out_sponsored_links_and_navigation(crawled):
    alatoo = crawled.outlets["listing-pattern"]
    assert alatoo.hits("/partner/2026/06/01/sponsored-tour-to-issyk-kul-lake-special-offer/") == 0
    assert alatoo.hits("/category/sayasat/") == 0 and alatoo.hits("/page/2/") == 0


def test_changed_listing_page_yields_only_its_new_article(tmp_path):
    site = stage("listing-heuristic", tmp_path)
    with OutletServer(site) as outlet:
        cfg = write_config(tmp_path / "config", sources=[{"id": "pomir", "name": "Pomir", "listings": [outlet.url("/")]}])
        assert crawl_once(cfg)["new_articles"] == 2
        old = "/tj/2026/06/18/dar-dushanbe-binoi-navi-bemorkhona-mavridi-istifoda-qaror-girift/"
        new = "/tj/2026/06/19/dar-khujand-pul-navi-sokhta-shud/"
        page = (site / old.strip("/") / "index.html").read_text(encoding="utf-8")
        page = page.replace("Дар Душанбе бинои нави беморхона мавриди истифода қарор гирифт",
                            "Дар Хуҷанд пули нав бар дарёи Сир сохта шуд").replace(
            "ноҳияи Сино шаҳри Душанбе бинои нави беморхонаи шаҳрӣ бо гунҷоиши дусад кат",
            "шаҳри Хуҷанд пули нави автомобилгард бар дарёи Сир бо дарозии чорсад метр").replace(old, new)
        (site / new.strip("/")).mkdir(parents=True)
        (site / new.strip("/") / "index.html").write_text(page, encoding="utf-8")
        home = (site / "index.html").read_text(encoding="utf-8")
        (site / "index.html").write_text(home.replace(
            '<div class="item">', f'<div class="item"><a href="{new}">Дар Хуҷанд пули нав бар дарёи Сир сохта шуд</a></div>'
            '\n      <div class="item">', 1), encoding="utf-8")
        summary = crawl_once(cfg)
        assert summary["new_articles"] == 1 and summary["errors"] == []
        assert outlet.hits(old) == 1 and outlet.hits(new) == 1
        assert by_path(stored(cfg))[new]["title"] == "Дар Хуҷанд пули нав бар дарёи Сир сохта шуд"


def test_listing_page_that_suddenly_has_no_articles_is_reported_and_nothing_is_removed(tmp_path):
    site = stage("listing-heuristic", tmp_path)
    with OutletServer(site) as outlet:
        cfg = write_config(tmp_path / "config", sources=[{"id": "pomir", "name": "Pomir", "listings": [outlet.url("/")]}])
        crawl_once(cfg)
        outlet.set_response("/", 200, b"<html><body><nav><a href='/tj/category/siyosat/'>Siyosat</a></nav>"
                                      b"<p>Site under maintenance</p></body></html>", {"Content-Type": "text/html"})
        summary = crawl_once(cfg)
        assert len(summary["errors"]) == 1
        assert "[pomir]" in summary["errors"][0] and "no article links any more (it had 2)" in summary["errors"][0]
        assert len(stored(cfg)) == 2
        store = Store(cfg / "newswatch.db")
        [row] = store.feeds()
        assert row["kind"] == "listing" and row["last_error_kind"] == "empty"


def test_page_budget_fetches_newest_first_and_the_rest_next_poll(tmp_path):
    with OutletServer(stage("sitemap-index", tmp_path)) as outlet:
        cfg = write_config(tmp_path / "config", sources=[
            {"id": "ledger", "name": "Ledger", "max_pages": 1, "sitemaps": [outlet.url("/sitemaps/recent.xml")]}])
        first = crawl_once(cfg)
        assert first["new_articles"] == 1 and first["waiting"] == 1
        # lastmod now-3h beats now-6h
        assert outlet.hits("/reports/tajikistan-and-uzbekistan-reopen-rail-link-through-sughd/") == 1
        second = crawl_once(cfg)
        assert second["new_articles"] == 1 and second["waiting"] == 0
        third = crawl_once(cfg)
        assert third["new_articles"] == 0 and third["feeds_unchanged"] == 1


def test_sitemap_of_50000_urls_fetches_only_recent_articles_within_the_budget(tmp_path):
    site = stage("sitemap-index", tmp_path)
    from datetime import UTC, datetime, timedelta
    now = datetime.now(UTC)
    recent = ["/reports/tajikistan-and-uzbekistan-reopen-rail-link-through-sughd/",
              "/reports/turkmenistan-raises-gas-exports-to-china-through-line-d-talks/"]
    rows = []
    for i in range(50_000):
        if i < len(recent):
            path, when = recent[i], now - timedelta(hours=2 + i)
        else:
            path, when = f"/reports/{2019 + i % 5}/story-{i}/", now - timedelta(days=10 + i // 100)
        rows.append(f"<url><loc>{{base_url}}{path}</loc><lastmod>{when:%Y-%m-%dT%H:%M:%S}+00:00</lastmod></url>")
    rows.reverse()  # oldest first, as many outlets write them
    (site / "big.xml.tmpl").write_text('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns='
                                       '"http://www.sitemaps.org/schemas/sitemap/0.9">' + "\n".join(rows) + "</urlset>",
                                       encoding="utf-8")
    with OutletServer(site) as outlet:
        cfg = write_config(tmp_path / "config", sources=[
            {"id": "ledger", "name": "Ledger", "max_age": "2d", "sitemaps": [outlet.url("/big.xml")]}])
        summary = crawl_once(cfg)
        assert summary["new_articles"] == 2 and summary["errors"] == []
        fetched = [r.path for r in outlet.requests.snapshot() if r.path.startswith("/reports/")]
        assert sorted(fetched) == sorted(recent)


def test_future_dates_are_clamped_and_flagged_and_naive_dates_read_in_the_source_zone(tmp_path):
    site = stage("feed-autodiscovery", tmp_path)
    feed = (site / "rss.xml.tmpl").read_text(encoding="utf-8")
    feed = feed.replace("Wed, 11 Mar 2026 09:15:00 +0600", "Mon, 11 Mar 2041 09:15:00 +0600")
    feed = feed.replace("Wed, 11 Mar 2026 14:40:00 +0600", "Wed, 11 Mar 2026 14:40:00")
    (site / "rss.xml.tmpl").write_text(feed, encoding="utf-8")
    with OutletServer(site) as outlet:
        cfg = write_config(tmp_path / "config", sources=[
            {"id": "chui", "name": "Chui", "timezone": "Asia/Bishkek", "feeds": [outlet.url("/rss.xml")]}])
        crawl_once(cfg)
        articles = by_path(stored(cfg))
        future = articles["/news/12041-v-bishkeke-zavershili-remont-energobloka-tets.html"]
        assert future["published_at"] == future["fetched_at"]
        assert future["date_note"].startswith("future date 2041-03-11T03:15:00Z clamped")
        naive = articles["/news/12044-migranty-iz-kyrgyzstana-smogut-oformit-patent-onlain.html"]
        assert naive["published_at"] == "2026-03-11T08:40:00Z" and naive["date_note"] is None


def test_sources_check_reports_each_url_as_a_table(tmp_path):
    with OutletServer(stage("editions", tmp_path)) as outlet, OutletServer(stage("news-sitemap", tmp_path)) as dala:
        cfg = write_config(tmp_path / "config", sources=[
            {"id": "yangi", "name": "Yangi Kun", **OUTLETS["editions"][0](outlet)},
            {"id": "dala", "name": "Dala", "sitemaps": [dala.url("/sitemap-news.xml")],
             "listings": [dala.url("/gone/")]}])
        proc = cli(cfg, "sources", "check", check=False)
        assert proc.returncode == 1
        lines = proc.stdout.splitlines()
        assert any(l.startswith("yangi") and "uz-Latn" in l and "yes" in l and "2 items" in l for l in lines)
        assert any(l.startswith("dala") and "sitemap" in l and "Google News sitemap: 3 entries, 2 recent" in l
                   for l in lines)
        assert any(l.startswith("dala") and "listing" in l and "404" in l and "NO" in l for l in lines)
        assert lines[-1] == "3 of 4 URLs answer, parse and yield articles"
        assert not (cfg / "newswatch.db").exists()


def test_sources_list_shows_state_per_source(tmp_path):
    with OutletServer(stage("atom", tmp_path)) as outlet:
        cfg = write_config(tmp_path / "config", sources=[
            {"id": "toshkent", "name": "Toshkent", "country": "UZ", "feeds": [outlet.url("/atom.xml")]},
            {"id": "broken", "name": "Broken", "country": "TJ", "feeds": [outlet.url("/missing.xml")]}])
        crawl_once(cfg)
        out = cli(cfg, "sources", "list").stdout.splitlines()
        toshkent = next(l for l in out if l.startswith("toshkent"))
        broken = next(l for l in out if l.startswith("broken"))
        assert "UZ" in toshkent and " 2  " in toshkent and "never" not in toshkent
        assert "never" in broken and "http: HTTP 404" in broken
