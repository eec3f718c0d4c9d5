"""`newswatch sources discover`: what it finds on a homepage, and that the block it prints works
when pasted into sources.yaml (discover -> config -> crawl --once -> articles stored)."""

from __future__ import annotations

import pytest
import yaml
from conftest import cli, crawl_once, write_config
from fixture_outlets import AllOutlets, stage
from test_sources import OUTLETS, by_path, stored

from crawler import config
from crawler.demo.servers import OutletServer
from crawler.discover import alternates, article_pattern, feed_links, language_tag, render_yaml, robots_sitemaps, \
    Discovery, FoundFeed

PAGE = "https://kun.uz/"


def test_feed_links_of_every_kind_resolved_against_the_page():
    html = b"""<html><head>
      <link rel="alternate" type="application/rss+xml" href="/news/rss?lang=uz" title="RSS">
      <link rel="alternate" type="application/atom+xml" href="https://kun.uz/atom.xml">
      <link rel="alternate" type="application/feed+json" href="feed.json">
      <link rel="alternate" type="text/html" hreflang="ru" href="/ru/">
      <link rel="stylesheet" type="text/css" href="/s.css">
      <link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
    </head></html>"""
    assert feed_links(html, PAGE) == [("https://kun.uz/news/rss?lang=uz", "RSS", None),
                                      ("https://kun.uz/atom.xml", "Atom", None),
                                      ("https://kun.uz/feed.json", "JSON Feed", None)]


def test_alternates_keep_same_site_editions_only():
    html = b"""<head><link rel="alternate" hreflang="uz" href="/"><link rel="alternate" hreflang="ru" href="/ru/">
      <link rel="alternate" hreflang="en" href="https://en.kun.uz/"><link rel="alternate" hreflang="x-default" href="/">
      <link rel="alternate" hreflang="de" href="https://other.example/de/"></head>"""
    assert alternates(html, PAGE) == [("uz", "https://kun.uz/"), ("ru", "https://kun.uz/ru/"),
                                      ("en", "https://en.kun.uz/")]


def test_robots_sitemap_lines():
    text = "User-agent: *\nDisallow: /admin\nSitemap: https://kun.uz/sitemap.xml\nsitemap: /news-sitemap.xml\n"
    assert robots_sitemaps(text, PAGE) == ["https://kun.uz/sitemap.xml", "https://kun.uz/news-sitemap.xml"]


@pytest.mark.parametrize("value, text, tag", [
    ("uz", "Toshkentda yangi metro bekatlari ochildi, bu haqda hokimlik xabar berdi va ular bilan", "uz-Latn"),
    ("uz", "Тошкентда янги метро бекатлари очилди, бу ҳақда ҳокимлик хабар берди ва улар билан", "uz-Cyrl"),
    ("oz", "", "uz-Latn"), ("uz-Cyrl", "", "uz-Cyrl"), ("ru-RU", "", "ru"), ("kz", "", "kk"), ("kg", "", "ky"),
    ("tj", "", "tg"), ("de", "", None)])
def test_language_tags_from_hreflang(value, text, tag):
    assert language_tag(value, text) == tag


def test_article_pattern_from_the_dominant_link_shape():
    urls = ["https://x.kg/news/245611-osh/", "https://x.kg/news/245630-ysyk-kol/", "https://x.kg/news/245702-bishkek/",
            "https://x.kg/partner/2026/06/01/sponsored-offer/"]
    assert article_pattern(urls) == r"/news/\d+"
    assert article_pattern(["https://x.kg/uzbekistan-sends-note-to-russia-over-raid"]) is None


def test_yaml_block_quotes_what_the_page_says():
    found = Discovery(homepage="https://kun.uz/", name='Kun: "news"\nsources: evil', language="uz-Latn",
                      feeds=[FoundFeed("https://kun.uz/news/rss?lang=uz#x", "RSS", 12)])
    block = render_yaml(found)
    item = yaml.safe_load("sources:\n" + block)["sources"][0]
    assert item["name"] == 'Kun: "news"\nsources: evil' and item["feeds"] == ["https://kun.uz/news/rss?lang=uz#x"]
    assert item["country"] == "UZ" and item["id"] == "kun-uz"


def test_discover_blocks_pasted_into_sources_yaml_work_for_every_fixture_outlet(tmp_path):
    with AllOutlets(tmp_path) as outlets:
        cfg = write_config(tmp_path / "config", sources=[])
        blocks = {}
        for name in OUTLETS:
            proc = cli(cfg, "sources", "discover", outlets[name].url("/"), "--id", name)
            blocks[name] = "\n".join(line for line in proc.stdout.splitlines() if not line.startswith("#"))
        (cfg / "sources.yaml").write_text("sources:\n" + "\n".join(blocks.values()) + "\n", encoding="utf-8")
        summary = crawl_once(cfg)
        assert summary["errors"] == [], blocks
        articles = stored(cfg)
        for name, (_, expected) in OUTLETS.items():
            got = {p: a["language"] for p, a in by_path(a for a in articles if a["source_id"] == name).items()}
            assert got == expected, (name, blocks[name])
        assert summary["new_articles"] == len(articles) == sum(len(e) for _, e in OUTLETS.values())


def test_discover_add_appends_and_keeps_comments(tmp_path):
    with OutletServer(stage("editions", tmp_path)) as outlet:
        cfg = write_config(tmp_path / "config", sources=[{"id": "tca", "name": "TCA", "feeds": [outlet.url("/rss/ru.xml")]}])
        original = "# my outlets\nsources:\n  # the regional one\n  - id: tca\n    name: TCA\n    feeds:\n" \
                   f"      - {outlet.url('/rss/ru.xml')}   # H\n"
        (cfg / "sources.yaml").write_text(original, encoding="utf-8")
        proc = cli(cfg, "sources", "discover", outlet.url("/"), "--add", "--id", "yangi-kun", check=False)
        # the ru feed is already polled by tca: the appended block is refused, the file left as it was
        assert proc.returncode == 2 and "polled twice" in proc.stderr
        assert (cfg / "sources.yaml").read_text(encoding="utf-8") == original
        (cfg / "sources.yaml").write_text(original.replace("/rss/ru.xml", "/other.xml"), encoding="utf-8")
        cli(cfg, "sources", "discover", outlet.url("/"), "--add", "--id", "yangi-kun")
        text = (cfg / "sources.yaml").read_text(encoding="utf-8")
        assert text.startswith("# my outlets\nsources:\n  # the regional one\n") and "# H" in text
        yangi = config.load(cfg).source("yangi-kun")
        assert [e.language for e in yangi.editions] == ["uz-Latn", "ru"]
        again = cli(cfg, "sources", "discover", outlet.url("/"), "--add", "--id", "yangi-kun", check=False)
        assert again.returncode == 2 and "already there" in again.stderr


def test_homepage_without_feed_or_sitemap_suggests_listing_crawling(tmp_path):
    with OutletServer(stage("listing-heuristic", tmp_path)) as outlet:
        cfg = write_config(tmp_path / "config", sources=[])
        out = cli(cfg, "sources", "discover", outlet.url("/")).stdout
        assert "no feed and no sitemap found: the homepage can be crawled as a listing page" in out
        assert "listings:" in out


def test_discover_obeys_the_network_policy(tmp_path, seed_outlet):
    cfg = write_config(tmp_path / "config", sources=[], network={"allow": []})
    proc = cli(cfg, "sources", "discover", seed_outlet.url("/"), check=False)
    assert proc.returncode == 2 and "not public" in proc.stderr and seed_outlet.hits("/") == 0
    proc = cli(cfg, "sources", "discover", "file:///etc/passwd", check=False)
    assert proc.returncode == 2 and "scheme" in proc.stderr
