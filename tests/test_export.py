"""``newswatch export``: what an analyst gets in a spreadsheet or a script."""

from __future__ import annotations

import csv
import io
import json

from archive import build_archive
from conftest import cli


def test_jsonl_export_of_the_last_week_has_every_recent_article_with_its_matches(tmp_path):
    cfg, _ = build_archive(tmp_path / "config")
    proc = cli(cfg, "export", "--since", "7d")
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    titles = [r["title"] for r in records]
    assert len(records) == 7  # the two articles from more than a year ago are left out
    assert "Пограничный инцидент на кыргызско-таджикской границе" not in titles
    migrants = next(r for r in records if r["source_id"] == "24kg")
    assert migrants["outlet"] == "24.kg" and migrants["country"] == "KG" and migrants["language"] == "ru"
    assert "Более двух тысяч трудовых мигрантов" in migrants["text"]
    assert {m["watch"] for m in migrants["matches"]} == {"migrant-workers"}
    assert "exported 7 articles" in proc.stderr


def test_csv_for_one_watch_opens_in_a_spreadsheet_with_cyrillic_intact(tmp_path):
    cfg, _ = build_archive(tmp_path / "config")
    out = tmp_path / "exports" / "journalists.csv"
    cli(cfg, "export", "--since", "2y", "--format", "csv", "--watch", "detained-journalists", "--output", str(out),
        check=False)  # "2y" is not a duration: refused
    assert not out.exists()
    cli(cfg, "export", "--since", "800d", "--format", "csv", "--watch", "detained-journalists", "--output", str(out))
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheet programs read the file as UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert sorted(r["title"] for r in rows) == sorted([
        "В Алматы задержан журналист независимого издания", "Дар Душанбе рӯзноманигор боздошт шуд",
        "Журналист задержан в Худжанде после репортажа"])
    assert all(r["watches"] == "detained-journalists" for r in rows)
    assert all("\n" not in r["title"] for r in rows)


def test_csv_defuses_a_formula_in_a_feed_title(tmp_path):
    cfg, _ = build_archive(tmp_path / "config")
    proc = cli(cfg, "export", "--since", "1d", "--format", "csv", "--watch", "border")
    [row] = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert row["title"].startswith("'=HYPERLINK(")  # shown as text, never run as a formula
    # JSON Lines keeps the title exactly as the feed gave it.
    [record] = [json.loads(x) for x in cli(cfg, "export", "--since", "1d", "--watch", "border").stdout.splitlines()]
    assert record["title"].startswith("=HYPERLINK(")


def test_export_since_a_date_and_a_bad_since_value(tmp_path):
    cfg, _ = build_archive(tmp_path / "config")
    proc = cli(cfg, "export", "--since", "2000-01-01")
    assert len(proc.stdout.splitlines()) == 9
    bad = cli(cfg, "export", "--since", "last week", check=False)
    assert bad.returncode == 2 and "neither a duration" in bad.stderr
