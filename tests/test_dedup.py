"""dedup: the same article reached by different URLs or retyped text gets the same key."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest

from crawler.dedup import canonical_url, content_hash, entry_key, normalise_text

RUSSIAN_NEWS = Path(__file__).parents[2] / "shared" / "corpus" / "russian-news"


@pytest.mark.parametrize(
    "url, expected",
    [
        ("HTTPS://News.Example.KG/news/1", "https://news.example.kg/news/1"),
        ("https://news.example.kg:443/news/1", "https://news.example.kg/news/1"),
        ("http://news.example.kg:80/news/1", "http://news.example.kg/news/1"),
        ("http://news.example.kg:8080/news/1", "http://news.example.kg:8080/news/1"),
        ("https://news.example.kg:80/news/1", "https://news.example.kg:80/news/1"),
        ("https://news.example.kg", "https://news.example.kg/"),
        ("https://news.example.kg/news/1#comments", "https://news.example.kg/news/1"),
        ("  https://news.example.kg/news/1\n", "https://news.example.kg/news/1"),
    ],
    ids=["case", "https-443", "http-80", "other-port", "80-on-https", "empty-path", "fragment", "whitespace"],
)
def test_canonical_url_scheme_host_port_path(url, expected):
    assert canonical_url(url) == expected


def test_tracking_parameters_are_dropped_and_the_rest_keep_their_order():
    url = (
        "https://kz.example.org/kk/news/1201?utm_source=telegram&page=2&fbclid=IwAR0x&id=7"
        "&UTM_Campaign=may&gclid=a&yclid=b&dclid=c&msclkid=d&_openstat=e&mc_cid=f&mc_eid=g"
        "&igshid=h&ref_src=twsrc&from=rss&a=1"
    )
    assert canonical_url(url) == "https://kz.example.org/kk/news/1201?page=2&id=7&from=rss&a=1"


def test_query_made_only_of_tracking_is_removed_entirely():
    assert canonical_url("https://a.example.uz/x?utm_source=tg&utm_medium=social") == "https://a.example.uz/x"


def test_blank_values_and_plus_signs_in_kept_params_survive():
    assert canonical_url("https://a.example.uz/search?q=migrant+workers&empty=&flag") == (
        "https://a.example.uz/search?q=migrant+workers&empty=&flag"
    )


def test_cyrillic_domain_and_path_match_their_encoded_forms():
    assert canonical_url("http://Кремль.рф/новости") == canonical_url(
        "http://xn--e1ajeds9e.xn--p1ai/%d0%bd%d0%be%d0%b2%d0%be%d1%81%d1%82%d0%b8"
    )
    assert canonical_url("http://кремль.рф/") == "http://xn--e1ajeds9e.xn--p1ai/"


def test_ipv6_and_userinfo_are_kept():
    assert canonical_url("http://[::1]:8080/a") == "http://[::1]:8080/a"
    assert canonical_url("https://user@Example.COM:443/") == "https://user@example.com/"


def test_canonical_url_is_idempotent():
    url = "HTTP://Пример.KZ:80/новости/?utm_source=x&id=5#top"
    once = canonical_url(url)
    assert canonical_url(once) == once


# --- text -------------------------------------------------------------------------------------------


def test_normalise_text_folds_case_yo_punctuation_and_spaces():
    assert normalise_text("  Ёлка  на\u00a0площади,\n«Ала-Тоо»!  ") == "елка на площади ала тоо"


def test_normalise_text_treats_uzbek_apostrophes_alike():
    assert normalise_text("Oʻzbekiston") == normalise_text("O'zbekiston") == normalise_text("O’zbekiston")


def test_normalise_text_drops_soft_hyphens_and_zero_width_spaces():
    assert normalise_text("ми\u00adгранты\u200b вернулись") == "мигранты вернулись"


def test_normalise_text_applies_nfkc():
    assert normalise_text("ﬁnance №５") == "finance no5"


def test_content_hash_is_equal_for_retyped_copies():
    a = "Трудовые мигранты вернулись домой. Об этом сообщили в министерстве."
    b = "трудовые  мигранты вернулись домой — об этом сообщили в министерстве"
    assert content_hash(a) == content_hash(b)
    assert len(content_hash(a)) == 64 and all(c in "0123456789abcdef" for c in content_hash(a))


def test_content_hash_differs_for_different_text():
    assert content_hash("мигранты вернулись") != content_hash("мигранты уехали")


# --- entry keys -------------------------------------------------------------------------------------


def test_entry_key_prefers_guid():
    assert entry_key("news-example-kg-48213", "https://x.kg/a") == "guid:news-example-kg-48213"


def test_entry_key_falls_back_to_canonical_url():
    assert entry_key(None, "https://News.Example.KG/a?utm_source=rss#x") == "url:https://news.example.kg/a"
    assert entry_key("  ", "https://news.example.kg/a") == "url:https://news.example.kg/a"


def test_entry_key_falls_back_to_content_hash():
    key = entry_key(None, None, title="Мигранты вернулись", summary="Подробности позже.")
    assert key == "hash:" + content_hash("Мигранты вернулись\nПодробности позже.")
    assert key == entry_key(None, "", title="мигранты  вернулись", summary="подробности позже")


# --- real Russian news from the shared corpus -------------------------------------------------------


def test_corpus_russian_articles_hash_uniquely_and_stably():
    files = sorted(RUSSIAN_NEWS.glob("ods-*.csv.gz")) if RUSSIAN_NEWS.is_dir() else []
    if not files:
        pytest.skip(f"shared corpus not available ({RUSSIAN_NEWS})")
    with gzip.open(files[0], "rt", encoding="utf-8") as fh:
        rows = [r for _, r in zip(range(200), csv.DictReader(fh)) if r.get("text")]
    assert rows
    hashes = {content_hash(r["text"]) for r in rows}
    assert len(hashes) == len({normalise_text(r["text"]) for r in rows})
    sample = rows[0]["text"]
    retyped = sample.replace("е", "ё").replace(" ", "  ").upper()
    assert content_hash(retyped) == content_hash(sample)
    assert all(canonical_url(r["url"]).startswith(("http://", "https://")) for r in rows if r.get("url"))


# --- rel=canonical, GUID collisions, edit fingerprints ------------------------------------------------

from crawler.dedup import entry_fingerprint, usable_canonical  # noqa: E402

PAGE = "https://www.example.kz/ru/news/2025/06/18/migranty-1201"


@pytest.mark.parametrize(
    "canonical, usable",
    [
        ("https://example.kz/ru/news/2025/06/18/migranty-1201", True),
        ("https://m.example.kz/ru/news/2025/06/18/migranty-1201", True),
        ("http://www.example.kz/ru/news/2025/06/18/migranty-1201", True),
        ("https://www.example.kz/?p=1201", True),
        ("https://www.example.kz/", False),
        ("https://www.example.kz", False),
        ("https://www.example.kz/ru/", False),
        ("https://www.example.kz/kk", False),
        ("https://www.example.kz/en/index.html", False),
        ("https://www.example.kz/index.php", False),
        ("https://kazinform.example/ru/news/migranty-1201", False),
        ("https://www.example.kz:8443/ru/news/2025/06/18/migranty-1201", False),
        ("javascript:alert(1)", False),
        ("", False),
        (None, False),
    ],
    ids=["bare-host", "mobile-host", "http", "wordpress-query", "homepage", "homepage-no-slash", "language-root",
         "language-root-no-slash", "language-index", "index-php", "other-outlet", "other-port", "javascript",
         "empty", "none"],
)
def test_canonical_link_is_used_only_within_the_site_and_never_for_a_homepage(canonical, usable):
    assert usable_canonical(canonical, PAGE) is usable


def test_guid_already_used_for_another_url_gets_the_url_in_its_key():
    assert entry_key("https://24.example.kg/", "https://24.example.kg/news/1?utm_source=rss", guid_taken=True) == (
        "guid:https://24.example.kg/|url:https://24.example.kg/news/1")
    assert entry_key("g-1", None, title="T", guid_taken=True) == "guid:g-1"  # no URL to tell them apart


def test_fingerprint_changes_with_the_feed_description_but_not_with_spacing_or_case():
    base = entry_fingerprint("Мигранты вернулись", "Трудовые мигранты вернулись домой.", None, "2025-06-18T05:42:00Z")
    assert base == entry_fingerprint("мигранты  вернулись", "трудовые мигранты вернулись домой", None,
                                     "2025-06-18T05:42:00Z")
    assert base != entry_fingerprint("Мигранты вернулись", "Трудовые мигранты вернулись домой. Обновлено.", None,
                                     "2025-06-18T05:42:00Z")
    assert base != entry_fingerprint("Мигранты вернулись", "Трудовые мигранты вернулись домой.",
                                     "2025-06-19T08:00:00Z", "2025-06-18T05:42:00Z")
