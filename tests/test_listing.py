"""Listing stage on bytes: article links chosen by pattern or by their shape, in page order."""

from __future__ import annotations

import pytest

from crawler.listing import looks_like_article, parse_listing

PAGE = "https://24.kg/"


@pytest.mark.parametrize("url", [
    "https://24.kg/obschestvo/345678_v_bishkeke_otkryli_shkolu/",
    "https://kloop.kg/blog/2026/06/18/kyrgyzstan-news/",
    "https://kun.uz/news/2026/06/18/toshkentda-yangi-metro",
    "https://timesca.com/uzbekistan-sends-diplomatic-note-to-russia-over-migrant-workers/",
    "https://akipress.com/news:812345/",
    "https://www.gazeta.uz/ru/2026/06/18/metro/",
])
def test_article_urls(url):
    assert looks_like_article(url)


@pytest.mark.parametrize("url", [
    "https://24.kg/", "https://24.kg/obschestvo/", "https://24.kg/tag/migration/", "https://24.kg/page/2/",
    "https://kloop.kg/author/ivan-petrov-2019/", "https://kun.uz/news/category/2026-economy",
    "https://kun.uz/ru/", "https://24.kg/news/?page=3", "https://24.kg/files/2026/06/report.pdf",
    "https://24.kg/rss/", "https://timesca.com/about-us/",
])
def test_navigation_urls(url):
    assert not looks_like_article(url)


LISTING = """<html><head><base href="https://24.kg/"></head><body>
<nav><a href="/">Главная</a> <a href="/obschestvo/">Общество</a> <a href="/tag/migranty/">#мигранты</a>
<a href="/page/2/">Далее</a></nav>
<div class="lenta">
 <a href="obschestvo/345678_v_bishkeke/"><img src="a.jpg"></a>
 <a href="obschestvo/345678_v_bishkeke/#comments">В Бишкеке открыли школу</a>
 <a href="https://24.kg/ekonomika/345670_tarify/">Тарифы на свет вырастут</a>
 <a href="https://other.example/2026/06/18/story-123456/">Партнёрский материал</a>
 <a href="mailto:news@24.kg">Почта</a> <a href="javascript:void(0)">Ещё</a> <a href="tel:+996312">Тел</a>
 <a href="#top">Наверх</a>
</div></body></html>""".encode()


def test_heuristic_takes_articles_in_page_order_once_with_their_headline():
    page = parse_listing(LISTING, PAGE)
    assert [(link.url, link.text) for link in page.links] == [
        ("https://24.kg/obschestvo/345678_v_bishkeke/", "В Бишкеке открыли школу"),
        ("https://24.kg/ekonomika/345670_tarify/", "Тарифы на свет вырастут")]
    assert page.skipped == {"other site": 1, "not http(s)": 3, "navigation": 3}


def test_pattern_decides_when_given():
    page = parse_listing(LISTING, PAGE, article_links=r"/ekonomika/\d+")
    assert [link.url for link in page.links] == ["https://24.kg/ekonomika/345670_tarify/"]
    assert page.skipped["does not match article_links"] == 5


def test_windows_1251_listing_page():
    body = '<html><head><meta charset="windows-1251"></head><body><a href="/news/123456-shkola/">Школа</a></body></html>'
    page = parse_listing(body.encode("cp1251"), PAGE)
    assert page.links[0].text == "Школа"
