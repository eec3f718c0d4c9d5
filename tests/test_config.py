"""Config: the shipped files load; every mistake names file, YAML path and problem; nothing starts."""

from __future__ import annotations

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


def test_watches_alert_once_per_story_unless_told_otherwise(tmp_path):
    cfg = config.load(good(tmp_path, watches=[
        {"id": "mig", "name": "Migrants", "keywords": ["migrant workers"]},
        {"id": "every", "name": "Every copy", "keywords": ["Strogino"], "once_per_story": False}]))
    assert [w.once_per_story for w in cfg.watches] == [True, False]


def test_once_per_story_must_be_true_or_false(tmp_path):
    message = error_of(good(tmp_path, watches=[{"id": "mig", "name": "Migrants", "keywords": ["x"],
                                                "once_per_story": "sometimes"}]))
    assert "watches.yaml" in message and "watches[0].once_per_story" in message and "true or false" in message
