"""The encoding matrix: a Russian page and feed in utf-8, utf-8 with BOM, windows-1251 and KOI8-R, with the
HTTP charset right, missing or wrong and the in-document declaration right, missing or wrong. Every cell
must come out as the Russian text, or be flagged ``encoding_suspect`` (never silently garbled). Text that is
mojibake in the source itself is flagged and never alerts.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler import config as config_mod
from crawler.encoding import clean_text, decode, looks_like_mojibake
from crawler.extract import extract_article
from crawler.models import FeedEntry
from crawler.parse import parse_feed
from crawler.pipeline import Matcher, build_article, save
from crawler.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "encoding"
PAGE = (FIXTURES / "ru-article.html").read_text(encoding="utf-8")
FEED = (FIXTURES / "ru-feed.xml").read_text(encoding="utf-8")
SENTENCE = "Более двух тысяч трудовых мигрантов из Кыргызстана за последнюю неделю вернулись на родину из России"
TITLES = ["Трудовые мигранты возвращаются из России после ужесточения правил",
          "На границе с Таджикистаном задержали журналиста", "Ещё один рейс в Новосибирск отменён"]

ENCODINGS = {  # name: (python codec, BOM, right label, wrong label)
    "utf-8": ("utf-8", b"", "utf-8", "windows-1251"),
    "utf-8-bom": ("utf-8", b"\xef\xbb\xbf", "utf-8", "windows-1251"),
    "windows-1251": ("cp1251", b"", "windows-1251", "koi8-r"),
    "koi8-r": ("koi8_r", b"", "koi8-r", "windows-1251"),
}
CHOICES = ("right", "missing", "wrong")
CELLS = list(itertools.product(ENCODINGS, CHOICES, CHOICES))
IDS = [f"{enc}-header-{h}-declaration-{d}" for enc, h, d in CELLS]


def label(enc: str, choice: str) -> str | None:
    _, _, right, wrong = ENCODINGS[enc]
    return {"right": right, "missing": None, "wrong": wrong}[choice]


def encode(text: str, enc: str) -> bytes:
    codec, bom, _, _ = ENCODINGS[enc]
    return bom + text.encode(codec)


@pytest.mark.parametrize("enc, header, declaration", CELLS, ids=IDS)
def test_page_is_decoded_right_or_flagged(enc, header, declaration):
    declared = label(enc, declaration)
    meta = f'<meta charset="{declared}">\n' if declared else ""
    body = encode(PAGE.replace("{meta}", meta), enc)
    article = extract_article(body, "https://vb.example.kg/news/1", encoding=label(enc, header))
    assert SENTENCE in article.text and not article.encoding_suspect


@pytest.mark.parametrize("enc, header, declaration", CELLS, ids=IDS)
def test_feed_is_decoded_right_or_flagged(enc, header, declaration):
    declared = label(enc, declaration)
    decl = f'<?xml version="1.0" encoding="{declared}"?>\n' if declared else ""
    body = encode(FEED.replace("{decl}", decl), enc)
    content_type = "application/rss+xml" + (f"; charset={label(enc, header)}" if header != "missing" else "")
    feed = parse_feed(body, {"Content-Type": content_type}, "https://vb.example.kg/rss")
    assert feed.title == "Вечерний Бишкек - Главное"
    assert [e.title for e in feed.entries] == TITLES
    assert not any(e.encoding_suspect for e in feed.entries)


@pytest.mark.parametrize("enc", ["windows-1251", "koi8-r"])
def test_undeclared_cyrillic_is_not_read_as_windows_1252(enc):
    decoded = decode(encode(PAGE.replace("{meta}", ""), enc))
    assert SENTENCE in decoded.text and not decoded.suspect


@pytest.mark.parametrize("label_", ["iso-8859-1", "windows-1252"])
def test_cyrillic_declared_as_western_is_read_as_cyrillic(label_):
    body = encode(PAGE.replace("{meta}", f'<meta charset="{label_}">\n'), "windows-1251")
    assert SENTENCE in decode(body, [label_]).text


@pytest.mark.parametrize("garbled", [
    SENTENCE.encode("utf-8").decode("cp1251"),    # РўСЂСѓРґРѕРІС‹Рµ: UTF-8 shown as windows-1251
    SENTENCE.encode("utf-8").decode("latin-1"),   # Ð¢Ñ€Ñ: UTF-8 shown as latin-1
    SENTENCE.encode("cp1251").decode("cp1252"),   # Áîëåå: windows-1251 shown as windows-1252
    SENTENCE.encode("cp1251").decode("koi8_r"),   # бНКЕЕ: windows-1251 shown as KOI8-R
    "Трудовые \ufffd\ufffd\ufffd\ufffd \ufffd\ufffd\ufffd\ufffd\ufffd\ufffd \ufffd\ufffd",
], ids=["utf8-as-1251", "utf8-as-latin1", "1251-as-1252", "1251-as-koi8", "replacement-chars"])
def test_mojibake_is_recognised(garbled):
    assert looks_like_mojibake(garbled)


@pytest.mark.parametrize("text", [
    SENTENCE, "Qazaqstan Respublikasynyń Prezıdenti", "Türkmenistanyň Prezidenti Serdar Berdimuhamedow çykyş etdi",
    "Oʻzbekiston Respublikasi Prezidenti mehnat muhojirlari bilan uchrashdi",
    "Қазақстан Республикасының Президенті Қасым-Жомарт Тоқаев", "Ҷумҳурии Тоҷикистон, Душанбе",
    "МВД РФ: новые правила для мигрантов с 1 января", "Café, naïve, Zürich — all fine", "NATO and the CSTO",
], ids=["ru", "kk-latn", "tk", "uz-latn", "kk", "tg", "ru-caps", "fr-de", "acronyms"])
def test_real_text_is_not_taken_for_mojibake(text):
    assert not looks_like_mojibake(text)


@pytest.mark.parametrize("title", [
    "Трудовые мигранты вКазахстане получили новые права",  # a lost space
    "Cамолет с мигрантами приземлился в Алматы",  # a Latin C
    "Kaspiден несие алған азаматтар саны артты",  # a brand with a Kazakh suffix
    "Во-вторых, позиция университета есть наnсайтеnВысшей школы",  # a lost backslash
], ids=["lost-space", "latin-lookalike", "suffixed-brand", "one-broken-token"])
def test_one_odd_word_in_a_title_is_a_typo_not_mojibake(title):
    # such an article would be stored flagged and never alert: a story missed for a typo
    assert not looks_like_mojibake(title)


@pytest.mark.parametrize("title", ["бНКЕЕ ДБСУ", "тРУДОВЫЕ мИГРАНТЫ вЕРНУЛИСЬ дОМОЙ",
                                   "Мигранты вернулись".encode("utf-8").decode("cp1251"),
                                   "пРИВЕТ мИР Cамолет гОРОД"],
                         ids=["short-swapped", "swapped", "utf8-as-1251", "two-odd-words"])
def test_short_garbled_titles_are_still_mojibake(title):
    assert looks_like_mojibake(title)


def _score_char_by_char(text: str) -> float:
    """mojibake_score as first written, one character at a time: the fast one must agree with it."""
    import re

    from crawler.encoding import _UTF8_AS_1251, _UTF8_AS_1252, _WORD

    sample = text[:20000]
    letters = cyr = cyr_upper = latin_high = odd = 0
    for ch in sample:
        if ch.isalpha():
            letters += 1
            if "\u0400" <= ch <= "\u04ff":
                cyr += 1
                cyr_upper += ch.isupper()
            elif "\u00c0" <= ch <= "\u00ff":
                latin_high += 1
        elif ch == "\ufffd" or "\u0080" <= ch <= "\u009f" or "\u2500" <= ch <= "\u259f":
            odd += 1
    if not letters:
        return 1.0 if odd else 0.0
    score = odd / letters * 5 + (len(_UTF8_AS_1251.findall(sample)) + len(_UTF8_AS_1252.findall(sample))) * 2 / letters
    if latin_high / letters > 0.3:
        score += latin_high / letters
    if cyr >= 20 and cyr_upper / cyr > 0.4:
        score += cyr_upper / cyr
    words = _WORD.findall(sample)
    if words:
        mixed = [bool(re.search("[\u0400-\u04ff]", w) and re.search("[\x00-\x7f\u00c0-\u024f]", w)) for w in words]
        camel = [len(w) >= 3 and w[0].islower() and any(c.isupper() for c in w[1:]) and "\u0400" <= w[0] <= "\u04ff"
                 for w in words]
        odd_words = sum(m or c for m, c in zip(mixed, camel))
        if not (odd_words == 1 and len(words) >= 4):  # one odd word among several: a typo, not a charset
            score += (sum(mixed) + sum(camel)) / len(words)
    return score


_GARBLED = [SENTENCE.encode("utf-8").decode("cp1251"), SENTENCE.encode("utf-8").decode("latin-1"),
            SENTENCE.encode("cp1251").decode("cp1252"), SENTENCE.encode("cp1251").decode("koi8_r")]


@pytest.mark.parametrize("text", [
    "", "plain ASCII <html> only", "\ufffd\ufffd", "лХЦПЮМРШ пРИВЕТ", "ǅабв дǅa д𝐀бв aбв ½²³ Ⅻ", PAGE, FEED,
    *_GARBLED, PAGE.encode("utf-8").decode("cp1251", errors="replace"), "x" * 19990 + "РџСЂРёРІРµС‚",
], ids=["empty", "ascii", "replacement", "swapped-case", "odd-letters", "page", "feed", "utf8-as-1251",
        "utf8-as-latin1", "1251-as-1252", "1251-as-koi8", "page-as-1251", "cut-at-20000"])
def test_mojibake_score_is_the_character_by_character_score(text):
    from crawler.encoding import mojibake_score

    assert mojibake_score(text) == _score_char_by_char(text)


@given(st.text(alphabet=st.sampled_from("aZ é ÐÑŸ€ РСТУџ Привет лХЦ ҚқӘә ǅ𝐀½\ufffd\u0085─ \n1_"), max_size=300))
@settings(max_examples=300, deadline=None)
def test_mojibake_score_agrees_on_random_mixtures(text):
    from crawler.encoding import mojibake_score

    assert mojibake_score(text) == _score_char_by_char(text)


@given(st.text(alphabet=st.sampled_from("aZ é ÐÑŸ€ РСТУџ Привет лХЦ ҚқӘә ǅ𝐀½\ufffd\u0085─ \n1_"), min_size=1,
               max_size=60), st.integers(1000, 25000))
@settings(max_examples=100, deadline=None)
def test_mojibake_score_agrees_on_long_mixtures(text, size):
    """Long samples (pages, feeds) are counted another way than short ones (titles)."""
    from crawler.encoding import mojibake_score

    long = (text * (size // len(text) + 1))[:size]
    assert mojibake_score(long) == _score_char_by_char(long)


def test_garbled_article_is_stored_flagged_and_never_alerts(tmp_path):
    from conftest import write_config

    cfg = config_mod.load(write_config(tmp_path / "config", sources=[{"id": "vb", "name": "VB", "feeds": [
        "https://vb.example.kg/rss"]}], watches=[{"id": "migrants", "name": "Migrants",
                                                   "keywords": ["мигрантов", "РјРёРіСЂР°РЅС‚РѕРІ"]}]))
    store = Store(cfg.database_path)
    store.sync_sources(cfg.sources)
    garbled_page = PAGE.replace("{meta}", '<meta charset="utf-8">\n').encode("utf-8").decode("cp1251").encode("utf-8")
    entry = FeedEntry(guid="g1", url="https://vb.example.kg/news/1", title=TITLES[0].encode().decode("cp1251"),
                      summary="", encoding_suspect=True)
    article, _ = build_article(source_id="vb", feed_url="https://vb.example.kg/rss", entry=entry,
                               page=garbled_page, page_url=entry.url, content_type="text/html; charset=utf-8")
    assert article.encoding_suspect
    saved = save(store, Matcher(cfg), article)
    assert saved.article_id is not None and saved.matches == [] and saved.alerts == []
    assert store.article(saved.article_id)["encoding_suspect"] == 1
    assert store.count("outbox") == 0
    store.close()


def test_readable_page_title_replaces_a_garbled_feed_title():
    entry = FeedEntry(guid="g1", url="https://vb.example.kg/news/1", title=TITLES[0].encode().decode("cp1251"),
                      encoding_suspect=True)
    article, _ = build_article(source_id="vb", feed_url="https://vb.example.kg/rss", entry=entry,
                               page=encode(PAGE.replace("{meta}", ""), "windows-1251"), page_url=entry.url)
    assert article.title.startswith("Трудовые мигранты") and not article.encoding_suspect


def test_stored_text_has_no_control_characters_or_lone_surrogates():
    raw = "Заголовок\x00 с\x07 мусором\ud800 и\x1b[31m цветом\u0085\ufffe"
    cleaned = clean_text(raw, one_line=True)
    cleaned.encode("utf-8")  # would raise on a lone surrogate
    assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in cleaned)
    assert cleaned.startswith("Заголовок с мусором")


def test_feed_with_control_characters_and_surrogate_references_stores_clean_text(tmp_path):
    body = ('<rss version="2.0"><channel><title>T</title><item><title>Bad&#0;title&#xD800;&#x1B;here</title>'
            '<link>https://vb.example.kg/x</link><description>Text&#x7;with&#x85;junk</description></item>'
            '</channel></rss>').encode()
    [entry] = parse_feed(body, {}, "https://vb.example.kg/rss").entries
    for value in (entry.title, entry.summary):
        value.encode("utf-8")
        assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in value)


def test_text_per_item_is_capped_at_a_word_boundary():
    long_text = ("слово " * 50000).strip()
    entry = FeedEntry(guid="g", url=None, title="Длинный текст", summary=long_text)
    article, _ = build_article(source_id="vb", feed_url="https://vb.example.kg/rss", entry=entry, page=None,
                               page_url=None, max_text=1000)
    assert len(article.text) <= 1002 and article.text.endswith("слово …")


@pytest.mark.parametrize("content_type, charset", [
    ("text/html; charset=windows-1251", "windows-1251"), ('application/rss+xml; Charset="UTF-8"', "utf-8"),
    ("text/xml;charset='koi8-r' ; q=1", "koi8-r"), ("text/html", None), ("text/html; charset=", None), (None, None),
], ids=["plain", "quoted-capitals", "single-quotes", "none", "empty", "no-header"])
def test_charset_param_reads_the_content_type_every_stage_uses(content_type, charset):
    from crawler.encoding import charset_param

    assert charset_param(content_type) == charset
