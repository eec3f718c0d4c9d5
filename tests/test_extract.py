"""extract_article: article pages in the encodings and languages Newswatch meets -> clean text."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.errors import ExtractError
from crawler.extract import decode_html, extract_article, guess_language, normalise_article_text

FIXTURES = Path(__file__).parent / "fixtures"
PAGES = FIXTURES / "pages"
FUNDUS = Path(__file__).parents[2] / "shared" / "corpus" / "fundus-pages"
ARTICLE_URL = "https://news.example.kg/news/2024/05/14/migranty-vernulis?utm_source=tg"
FIRST_SENTENCE = (
    "Более двух тысяч трудовых мигрантов из Кыргызстана за последнюю неделю вернулись на родину из России"
)


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


# --- Russian pages in windows-1251 ---------------------------------------------------------------


@pytest.fixture(scope="module")
def ru_article():
    return extract_article(page("ru-windows-1251-meta.html"), ARTICLE_URL, source_id="kg-news")


def test_windows_1251_page_with_meta_charset_reads_as_cyrillic(ru_article):
    assert ru_article.title == "Трудовые мигранты из Кыргызстана вернулись домой"
    assert ru_article.text.startswith(FIRST_SENTENCE)
    assert "Денежные переводы мигрантов составляют почти треть ВВП страны." in ru_article.text


def test_metadata_author_date_language(ru_article):
    assert ru_article.author == "Айгуль Омурбекова"
    assert ru_article.published_at == "2024-05-14"
    assert ru_article.language == "ru"


def test_relative_canonical_link_is_resolved(ru_article):
    assert ru_article.canonical_url == "https://news.example.kg/news/2024/05/14/migranty-vernulis"


def test_navigation_related_links_and_comments_are_not_article_text(ru_article):
    for boilerplate in ("Главная", "Читайте также", "Курс доллара", "Гость:", "Все права защищены"):
        assert boilerplate not in ru_article.text


def test_paragraphs_stay_on_their_own_lines(ru_article):
    assert len(ru_article.text.split("\n")) == 5


def test_windows_1251_page_without_declared_charset_is_detected(ru_article):
    undeclared = extract_article(page("ru-windows-1251-undeclared.html"), ARTICLE_URL)
    assert undeclared.text == ru_article.text
    assert undeclared.title == ru_article.title


def test_utf8_page_with_stale_windows_1251_meta_is_read_as_utf8(ru_article):
    stale = extract_article(page("ru-utf8-stale-meta.html"), ARTICLE_URL)
    assert stale.text == ru_article.text


def test_http_charset_wins_over_the_meta_tag():
    # re-encoded by a proxy: the bytes are KOI8-R, the template still says windows-1251
    koi8 = page("ru-windows-1251-meta.html").decode("cp1251").encode("koi8-r", errors="replace")
    article = extract_article(koi8, ARTICLE_URL, encoding="koi8-r")
    assert article.text.startswith(FIRST_SENTENCE)


def test_str_input_gives_the_same_result_as_bytes(ru_article):
    html = page("ru-windows-1251-meta.html").decode("cp1251")
    assert extract_article(html, ARTICLE_URL) == ru_article


# --- other languages and failures ----------------------------------------------------------------


def test_kazakh_page_language_and_absolute_canonical():
    article = extract_article(page("kk-utf8.html"), "https://kz.example.org/kk/news/1201")
    assert article.language == "kk"
    assert article.author == "Әсел Нұрланқызы"
    assert "еңбек мигранттарына арналған кеңес беру орталығы ашылды" in article.text
    assert article.canonical_url == "https://kz.example.org/kk/news/1201?utm_source=share"


def test_seed_story_without_the_latest_news_sidebar():
    article = extract_article((FIXTURES / "seed" / "article.html").read_bytes(),
                              "http://127.0.0.1:8000/article.html")
    assert article.title == (
        "Uzbekistan Sends Diplomatic Note to Russia Over Treatment of Migrant Workers in Moscow"
    )
    assert article.language == "en"
    assert "treated migrant workers rudely and humiliatingly" in article.text
    assert "Latest news" not in article.text
    assert "Kazakhstan to Help China Restore Saiga Population" not in article.text


def test_paywall_page_is_no_article_text_and_names_the_source():
    with pytest.raises(ExtractError) as caught:
        extract_article(page("paywall.html"), "https://news.example.kg/investigation", source_id="kg-news")
    assert str(caught.value).startswith(
        "extract: [kg-news] https://news.example.kg/investigation: no article text"
    )


@pytest.mark.parametrize("html", [b"", b"   ", "<html><body><p>Коротко.</p></body></html>", b"\x00\x01\x02"],
                         ids=["empty", "blank", "too-short", "binary"])
def test_pages_without_an_article_raise_extract_error(html):
    with pytest.raises(ExtractError, match="no article text"):
        extract_article(html, "https://news.example.kg/x")


def test_non_http_canonical_is_dropped():
    html = page("ru-windows-1251-meta.html").decode("cp1251").replace(
        'href="/news/2024/05/14/migranty-vernulis"', 'href="javascript:void(0)"'
    )
    assert extract_article(html, ARTICLE_URL).canonical_url is None


def test_control_characters_in_the_page_do_not_reach_the_text():
    html = page("kk-utf8.html").decode("utf-8").replace("тегін көмек", "тегін\x00 \x07көмек")
    article = extract_article(html, "https://kz.example.org/kk/news/1201")
    assert "\x00" not in article.text and "\x07" not in article.text
    assert "тегін көмек" in article.text


# --- decoding and text normalisation ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data, expected",
    [
        ("<p>Жаңалық</p>".encode("utf-8-sig"), "<p>Жаңалық</p>"),
        ("<p>Жаңалық</p>".encode("utf-16"), "<p>Жаңалық</p>"),
        ('<meta charset="windows-1251"><p>Новости</p>'.encode("cp1251"), '<meta charset="windows-1251"><p>Новости</p>'),
        ("<meta charset='koi8-r'><p>Новости</p>".encode("koi8-r"), "<meta charset='koi8-r'><p>Новости</p>"),
        ('<meta charset="bogus-charset"><p>Ок</p>'.encode(), '<meta charset="bogus-charset"><p>Ок</p>'),
    ],
    ids=["utf8-bom", "utf16-bom", "meta-cp1251", "meta-koi8r", "unknown-label"],
)
def test_decode_html(data, expected):
    assert decode_html(data) == expected


def test_normalise_article_text():
    decomposed = "Йошкар-Ола"  # Й written as И + combining breve
    decomposed = decomposed.replace("Й", "И\u0306")
    raw = f"{decomposed}\r\n\r\n\r\n\r\nвторой\x00 абзац\x0b  \n\tтаб\n\n\n"
    assert normalise_article_text(raw) == "Йошкар-Ола\n\nвторой абзац\n\tтаб"


_CONTROL_TABLE = dict.fromkeys(c for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if c not in (9, 10))


def _normalise_line_by_line(text: str) -> str:
    """normalise_article_text as first written (str.translate, a loop over the lines)."""
    import re
    import unicodedata

    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROL_TABLE)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


@given(st.text(alphabet=st.sampled_from("ab Жж\t\n\r\x00\x0b\x85\x9f\xa0\u2009\u2028\u3000\u0306И"), max_size=200))
@settings(max_examples=300, deadline=None)
def test_normalise_article_text_is_the_line_by_line_result(text):
    assert normalise_article_text(text) == _normalise_line_by_line(text)


# --- language guess --------------------------------------------------------------------------------

SAMPLES = {
    "ru": "Президент Казахстана Касым-Жомарт Токаев провёл совещание по вопросам трудовой миграции. "
    "В Қазақстан ежегодно приезжают тысячи граждан соседних стран, сообщает пресс-служба Акорды.",
    "kk": "Қазақстан Республикасының Президенті Қасым-Жомарт Тоқаев бүгін Ақордада еңбек көші-қоны "
    "мәселелері бойынша кеңес өткізді. Жиында шетелдегі азаматтардың құқықтары талқыланды.",
    "ky": "Кыргыз Республикасынын Президенти Садыр Жапаров бүгүн эмгек мигранттарынын укуктарын коргоо "
    "боюнча жарлыкка кол койду. Мигранттар Орусияда жана Казакстанда иштешет.",
    "tg": "Президенти Ҷумҳурии Тоҷикистон Эмомалӣ Раҳмон имрӯз бо муҳоҷирони меҳнатӣ вохӯрд. "
    "Дар ин вохӯрӣ масъалаҳои шуғли аҳолӣ баррасӣ шуданд.",
    "uz-Cyrl": "Ўзбекистон Республикаси Президенти Шавкат Мирзиёев меҳнат мигрантлари билан учрашди. "
    "Учрашувда хорижда ишлаётган фуқароларнинг ҳуқуқларини ҳимоя қилиш масалалари муҳокама қилинди.",
    "uz-Latn": "Oʻzbekiston Respublikasi Prezidenti Shavkat Mirziyoyev mehnat migrantlari bilan uchrashdi. "
    "Uchrashuvda xorijda ishlayotgan fuqarolarning huquqlarini himoya qilish va ularni qo'llab-quvvatlash "
    "masalalari muhokama qilindi.",
    "en": "The Embassy of Uzbekistan sent a note to the Russian Ministry of Foreign Affairs regarding the "
    "situation in Moscow, where security forces reportedly treated migrant workers rudely.",
    "uk": "Президент України підписав закон про захист прав трудових мігрантів. Це рішення набуде "
    "чинності з наступного місяця, повідомляє пресслужба.",
}


@pytest.mark.parametrize("expected, text", SAMPLES.items(), ids=SAMPLES.keys())
def test_guess_language(expected, text):
    assert guess_language(text) == expected


@pytest.mark.parametrize("text", ["", "Ок.", "12 345 678 — 2024", "Nach Kalifat-Rufen in Hamburg: Sind wir zu "
                                  "sanft zu den Islamisten? Die Demonstration zeigt ein Problem auf."],
                         ids=["empty", "tiny", "digits", "german"])
def test_guess_language_declines_when_unsure(text):
    assert guess_language(text) is None


def _guess_latin_word_by_word(sample: str):
    """_guess_latin as first written, letter by letter in every word."""
    from crawler.extract import _EN_WORDS, _UZ_APOS, _UZ_WORDS, _WORD

    words = _WORD.findall(sample)
    if not words:
        return None
    q_x = sum(1 for w in words for i, c in enumerate(w) if c == "x" or c == "q" and w[i + 1:i + 2] != "u")
    uz = sum(1 for w in words if w in _UZ_WORDS) + len(_UZ_APOS.findall(sample)) / 2 + q_x / 4
    en = sum(1 for w in words if w in _EN_WORDS)
    if uz > en and uz / len(words) >= 0.03:
        return "uz-Latn"
    if en / len(words) >= 0.05:
        return "en"
    return None


@given(st.lists(st.sampled_from(["qu", "q", "x", "va", "bilan", "the", "and", "o'z", "oʻ", "quick", "qx", "4x4",
                                 "iraq", "q'u", " ", " ", ". ", "said", "word"]), max_size=80))
@settings(max_examples=300, deadline=None)
def test_guess_latin_counts_as_word_by_word(parts):
    from crawler.extract import _guess_latin

    sample = "".join(parts).lower()
    assert _guess_latin(sample) == _guess_latin_word_by_word(sample)


# --- real pages from the shared corpus (skipped where it is absent) -------------------------------


def fundus(country: str, publisher: str):
    folder = FUNDUS / country
    if not folder.is_dir():
        pytest.skip(f"shared corpus not available ({folder})")
    meta = json.loads((folder / "meta.info").read_text())
    (name,) = [n for n in meta if n.startswith(publisher + "_")]
    expected = next(iter(json.loads((folder / f"{publisher}.json").read_text()).values()))
    paragraphs = [p for s in expected["body"]["sections"] for p in s["paragraphs"]]
    return gzip.decompress((folder / name).read_bytes()), meta[name]["url"], expected, paragraphs


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    "country, publisher, language",
    [("ru", "Kommersant", "ru"), ("ua", "Pravda", "ru"), ("uk", "TheGuardian", "en"), ("us", "CNBC", "en")],
)
def test_corpus_article_text_matches_the_expected_body(country, publisher, language):
    html, url, expected, paragraphs = fundus(country, publisher)
    article = extract_article(html, url, source_id=publisher)
    assert article.title == expected["title"]
    assert article.language == language
    assert article.published_at == expected["publishing_date"][:10]
    text = flat(article.text)
    found = sum(1 for p in paragraphs if flat(p)[:60] in text)
    assert found >= 0.9 * len(paragraphs)
    assert article.canonical_url and article.canonical_url.startswith("https://")


def test_corpus_russian_article_has_cyrillic_author():
    html, url, expected, _ = fundus("ru", "Kommersant")
    article = extract_article(html, url)
    assert article.author == expected["authors"][0] == "Андрей Колесников"
