"""Config: the shipped files load; every mistake names file, YAML path and problem; nothing starts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import cli, write_config

from crawler import config
from crawler.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def good(tmp_path, **overrides):
    sources = overrides.pop("sources", [{"id": "tca", "name": "TCA", "feeds": ["https://timesca.com/feed/"]},
                                        {"id": "kun", "name": "Kun.uz", "interval": "10m",
                                         "feeds": ["https://kun.uz/news/rss"]}])
    watches = overrides.pop("watches", [{"id": "mig", "name": "Migrants", "keywords": ["migrant workers"]}])
    return write_config(tmp_path / "cfg", sources=sources, watches=watches, **overrides)


def error_of(directory) -> str:
    with pytest.raises(ConfigError) as info:
        config.load(directory)
    return str(info.value)


def test_shipped_config_is_valid():
    cfg = config.load(REPO / "config")
    assert len(cfg.sources) >= 10
    assert {s.country for s in cfg.sources} >= {"KZ", "KG", "UZ", "TJ", "TM"}
    assert cfg.settings.database == "data/newswatch.db"


def test_durations_and_defaults(tmp_path):
    cfg = config.load(good(tmp_path))
    assert cfg.source("kun").interval == 600
    assert cfg.source("tca").interval == 900  # settings default_interval
    assert cfg.settings.politeness["delay"] == 0 and cfg.settings.limits["max_items_per_feed"] == 200


def test_bad_feed_url_names_file_and_yaml_path(tmp_path):
    d = good(tmp_path, sources=[{"id": "a", "name": "A", "feeds": ["https://a.example/rss"]},
                                {"id": "b", "name": "B", "feeds": ["https://b.example/rss", "file:///etc/passwd"]}])
    msg = error_of(d)
    assert msg.startswith("config: ") and "sources.yaml" in msg
    assert "sources[1].feeds[1]" in msg and "not an http(s) URL" in msg


def test_unknown_key_suggests_the_right_one(tmp_path):
    d = good(tmp_path, sources=[{"id": "a", "name": "A", "feeds": ["https://a.example/rss"], "intervall": "5m"}])
    msg = error_of(d)
    assert "sources[0]" in msg and "'intervall'" in msg and "did you mean 'interval'" in msg


def test_missing_required_key_and_duplicate_ids(tmp_path):
    assert "sources[0].feeds: is required" in error_of(good(tmp_path, sources=[{"id": "a", "name": "A"}]))
    dup = [{"id": "a", "name": "A", "feeds": ["https://a.example/"]}, {"id": "a", "name": "B",
                                                                        "feeds": ["https://b.example/"]}]
    assert "sources[1].id: duplicate source id 'a'" in error_of(good(tmp_path, sources=dup))


def test_watch_naming_an_undefined_channel(tmp_path):
    d = good(tmp_path, watches=[{"id": "w", "name": "W", "keywords": ["x"], "channels": ["desk-mail"]}])
    msg = error_of(d)
    assert "watches.yaml" in msg and "watches[0].channels[0]" in msg and "unknown channel 'desk-mail'" in msg


def test_bad_settings_values(tmp_path):
    assert "politeness.delay: must be a number" in error_of(good(tmp_path, politeness={"delay": "fast"}))
    assert "tick" in error_of(good(tmp_path, tick="soon"))
    bad_channel = {"mail": {"type": "email", "host": "smtp.example.org", "from": "a@b", "to": ["c@d"],
                            "tls": "yes"}}
    assert "channels.mail.tls: must be one of none, starttls, ssl" in error_of(good(tmp_path, channels=bad_channel))
    assert "channels.x.type" in error_of(good(tmp_path, channels={"x": {"type": "pigeon"}}))


def test_invalid_yaml_reports_line(tmp_path):
    d = good(tmp_path)
    (d / "watches.yaml").write_text("watches:\n  - id: a\n    name: [unclosed\n", encoding="utf-8")
    msg = error_of(d)
    assert "watches.yaml" in msg and "line" in msg


def test_check_config_command_exits_2_with_the_message_and_nothing_starts(tmp_path):
    d = good(tmp_path, sources=[{"id": "Bad Id", "name": "A", "feeds": ["https://a.example/"]}])
    proc = cli(d, "check-config", check=False)
    assert proc.returncode == 2
    assert "sources[0].id" in proc.stderr and "Traceback" not in proc.stderr
    run = cli(d, "run", check=False, timeout=30)
    assert run.returncode == 2 and "sources[0].id" in run.stderr
    assert not (d / "newswatch.db").exists()


def test_check_config_ok(tmp_path):
    proc = cli(good(tmp_path), "check-config")
    assert "config ok: 2 sources" in proc.stdout


def test_every_settings_key_in_shipped_settings_file():
    """The shipped settings.yaml shows every setting, so users can discover them by reading it."""
    text = (REPO / "config" / "settings.yaml").read_text(encoding="utf-8")
    shown = yaml.safe_load(text)
    flat = set()
    for key, value in shown.items():
        if isinstance(value, dict) and key != "channels":
            flat |= {f"{key}.{k}" for k in value}
        else:
            flat.add(key)
    assert {k.name for k in config.SETTINGS_KEYS} <= flat


# --- watch rules (issue 4): a bad keyword names the file, the place and the watch; nothing starts -----


@pytest.mark.parametrize("watch, where, problem", [
    ({"any": ["мигрант", ""]}, "watches[0].any[1]", "empty keyword"),
    ({"keywords": ['"migrant workers']}, "watches[0].keywords[0]", "unbalanced quote"),
    ({"any": ["«Азаттык"]}, "watches[0].any[0]", "unbalanced quote"),
    ({"topics": ["migrants"]}, "watches[0].topics[0]", "unknown topic 'migrants'"),
    ({"any": ["мигрант"], "languages": ["uzbek"]}, "watches[0].languages", "unknown language 'uzbek'"),
    ({"any": {"kz": ["мигрант"]}}, "watches[0].any.kz", "unknown language 'kz'"),
    ({"any": ["ми*"]}, "watches[0].any[0]", "at least 3 letters"),
    ({"near": [{"words": ["журналист"], "within": 5}]}, "watches[0].near[0].words", "at least two words"),
    ({"near": [{"words": ["журналист", "задерж*"], "within": 500}]}, "watches[0].near[0].within", "1 to 50"),
    ({"any": ["мигрант"], "sources": ["nope"]}, "watches[0].sources[0]", "unknown source 'nope'"),
    ({"channels": []}, "watches[0]", "needs keywords"),
], ids=["empty", "unbalanced-quote", "unbalanced-guillemet", "unknown-topic", "unknown-language",
        "unknown-language-key", "short-wildcard", "near-one-word", "near-too-far", "unknown-source", "no-keywords"])
def test_bad_watch_names_file_place_and_watch_id(tmp_path, watch, where, problem):
    cfg = good(tmp_path, watches=[{"id": "migrants-kg", "name": "Migrants", **watch}])
    message = error_of(cfg)
    assert str(cfg / "watches.yaml") in message
    assert where in message and problem in message
    assert "migrants-kg" in message


def test_bad_watch_stops_check_config_and_the_daemon(tmp_path):
    cfg = good(tmp_path, watches=[{"id": "migrants-kg", "name": "Migrants", "any": ['"мигранты']}])
    for command in (["check-config"], ["run"]):
        proc = cli(cfg, *command, check=False, timeout=30)
        assert proc.returncode == 2
        assert "watches.yaml" in proc.stderr and "migrants-kg" in proc.stderr and "unbalanced quote" in proc.stderr


def test_own_topic_file_with_a_bad_keyword_is_named(tmp_path):
    cfg = good(tmp_path, watches=[{"id": "water", "name": "Water", "topics": ["water"]}])
    (cfg / "topics").mkdir()
    (cfg / "topics" / "water.yaml").write_text("any:\n  ru: [Токтогул, '']\n", encoding="utf-8")
    message = error_of(cfg)
    assert str(cfg / "topics" / "water.yaml") in message and "any.ru[1]" in message
    assert "empty keyword" in message and "'water'" in message


def test_shipped_topics_load_and_cover_every_language():
    from crawler.rules import load_topic, topic_names

    names = topic_names()
    assert {"migrant-workers", "border-incidents", "journalist-detentions"} <= set(names)
    migrants = yaml.safe_load(names["migrant-workers"].read_text(encoding="utf-8"))
    assert {"en", "ru", "kk", "ky", "uz", "uz-Cyrl", "tg"} <= set(migrants["any"])
    for path in names.values():
        assert load_topic(path).positive
    assert [w.rule.topics[0][0] for w in config.load(REPO / "config").watches] == [
        "migrant-workers", "journalist-detentions", "border-incidents"]


def test_sources_with_sitemaps_listings_and_editions(tmp_path):
    d = good(tmp_path, sources=[{"id": "kun", "name": "Kun.uz", "timezone": "Asia/Tashkent", "max_pages": 10,
                                 "editions": [
                                     {"language": "uz-latn", "feeds": ["https://kun.uz/news/rss?lang=uz"]},
                                     {"language": "ru", "sitemaps": ["https://kun.uz/ru/sitemap.xml"],
                                      "listings": ["https://kun.uz/ru/news/list",
                                                   {"url": "https://kun.uz/ru/news/", "article_links": r"/news/\d{4}/"}]}]},
                                {"id": "listing-only", "name": "L", "listings": ["https://24.kg/"]}])
    kun = config.load(d).source("kun")
    assert [(e.kind, e.language, e.article_links) for e in kun.endpoints()] == [
        ("feed", "uz-Latn", None), ("sitemap", "ru", None), ("listing", "ru", None), ("listing", "ru", r"/news/\d{4}/")]
    assert kun.timezone == "Asia/Tashkent" and kun.max_pages == 10


@pytest.mark.parametrize("source, where, message", [
    ({"editions": [{"language": "uzbek", "feeds": ["https://a.uz/rss"]}]}, "sources[0].editions[0].language",
     "not a language tag"),
    ({"editions": [{"language": "ru"}]}, "sources[0].editions[0]", "needs at least one feed, sitemap or listing"),
    ({"listings": [{"url": "https://a.uz/", "article_links": "/news/(\\d+"}]}, "sources[0].listings[0].article_links",
     "not a regular expression"),
    ({"sitemaps": ["ftp://a.uz/sitemap.xml"]}, "sources[0].sitemaps[0]", "not an http(s) URL"),
    ({"feeds": ["https://a.uz/rss"], "timezone": "Asia/Tashkentt"}, "sources[0].timezone", "not a time zone"),
    ({"feeds": ["https://a.uz/rss"], "editions": [{"language": "ru", "feeds": ["https://a.uz/rss"]}]}, "sources[0]",
     "polled twice"),
], ids=["language", "empty-edition", "regex", "scheme", "timezone", "twice"])
def test_bad_source_shapes_name_the_yaml_path(tmp_path, source, where, message):
    msg = error_of(good(tmp_path, sources=[{"id": "a", "name": "A", **source}]))
    assert where in msg and message in msg


def test_shipped_catalogue_covers_the_region_with_editions_and_confidence_marks():
    cfg = config.load(REPO / "config")
    assert len(cfg.sources) >= 30
    countries = {s.country for s in cfg.sources}
    assert {"KZ", "KG", "UZ", "TJ", "TM"} <= countries
    ids = {s.id for s in cfg.sources}
    assert {"24kg", "akipress", "kaktus", "kloop", "azattyk", "tengrinews", "zakon", "kursiv", "orda", "vlast",
            "azattyq", "kazinform", "kun-uz", "gazeta-uz", "daryo", "podrobno", "uzdaily", "asiaplus", "ozodi",
            "avesta", "turkmen-news", "timesca", "eurasianet", "cabar"} <= ids
    gazeta = cfg.source("gazeta-uz")
    assert {e.language for e in gazeta.editions} == {"ru", "uz-Latn", "uz-Cyrl", "en"}
    # every URL in the file carries its confidence from the research notes
    text = (REPO / "config" / "sources.yaml").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.strip().startswith(("- http", "- url: http")):
            assert re.search(r"#\s+[HMLG]\b", line), line


def test_watches_alert_once_per_story_unless_told_otherwise(tmp_path):
    cfg = config.load(good(tmp_path, watches=[
        {"id": "mig", "name": "Migrants", "keywords": ["migrant workers"]},
        {"id": "every", "name": "Every copy", "keywords": ["Strogino"], "once_per_story": False}]))
    assert [w.once_per_story for w in cfg.watches] == [True, False]


def test_once_per_story_must_be_true_or_false(tmp_path):
    message = error_of(good(tmp_path, watches=[{"id": "mig", "name": "Migrants", "keywords": ["x"],
                                                "once_per_story": "sometimes"}]))
    assert "watches.yaml" in message and "watches[0].once_per_story" in message and "true or false" in message
