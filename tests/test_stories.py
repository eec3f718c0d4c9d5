"""End to end: one wire story republished by three outlets, two other stories on the same topic the
same day, one-line "breaking" posts, and an edit -- through loopback outlets and a webhook receiver.

The seed story (tests/fixtures/seed) is served as Steppe Wire; tests/fixtures/stories/outlets.yaml
describes the other outlets (rendered by tests/story_sites.py).
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from contextlib import ExitStack

import pytest
from conftest import SEED, channels_for, cli, crawl_once, write_config
from story_sites import outlets, render_site

from crawler.demo.servers import OutletServer
from crawler.store import Store

SEED_TITLE = "Uzbekistan Sends Diplomatic Note to Russia Over Treatment of Migrant Workers in Moscow"
UPDATE = ("Update, June 19: Russia’s Foreign Ministry confirmed it had received the note and said the Moscow "
          "police would examine the conduct of the officers involved in the Strogino raid.")

WATCHES = [
    {"id": "migrant-workers", "name": "Migrant workers", "keywords": ["migrant workers"], "channels": ["desk-hook"]},
    # a researcher who wants every outlet's copy of raids in Strogino
    {"id": "strogino", "name": "Strogino raid, every copy", "keywords": ["Strogino"], "channels": ["desk-hook"],
     "once_per_story": False},
    {"id": "almaty", "name": "Almaty", "keywords": ["Almaty"], "channels": ["desk-hook"]},
]


@pytest.fixture
def sites(tmp_path):
    """Steppe Wire (the seed story, editable) and the three outlets that rerun it, on loopback."""
    with ExitStack() as stack:
        seed_dir = tmp_path / "steppewire"
        seed_dir.mkdir()
        for name in ("article.html", "feed.xml.tmpl"):
            shutil.copy(SEED / name, seed_dir / name)
        servers = {"steppewire": stack.enter_context(OutletServer(seed_dir))}
        names = {"steppewire": "Steppe Wire"}
        for outlet in outlets():
            root = render_site(outlet, tmp_path / outlet["id"], steppewire_url=servers["steppewire"].base_url)
            servers[outlet["id"]] = stack.enter_context(OutletServer(root))
            names[outlet["id"]] = outlet["name"]
        servers["_seed_dir"] = seed_dir
        servers["_names"] = names
        yield servers


def story_config(tmp_path, sites, hook):
    sources = [{"id": sid, "name": sites["_names"][sid], "feeds": [server.url("/feed.xml")], "languages": ["en"]}
               for sid, server in sites.items() if not sid.startswith("_")]
    return write_config(tmp_path / "config", sources=sources, watches=WATCHES, channels=channels_for(hook))


def alerts_per_watch(hook) -> Counter:
    return Counter(call["json"]["watch"]["id"] for call in hook.calls)


def db_rows(cfg, sql, params=()):
    store = Store(cfg / "newswatch.db")
    try:
        return list(store.db.query(sql, params))
    finally:
        store.close()


def test_rerun_wire_story_is_one_story_with_every_outlet_and_one_alert_per_watch(tmp_path, sites, hook):
    cfg = story_config(tmp_path, sites, hook)
    first = crawl_once(cfg, "--source", "steppewire")
    assert first["new_articles"] == 1 and first["errors"] == []
    rest = crawl_once(cfg, "--source", "asiacourier", "--source", "ferganadaily", "--source", "pamirpost")
    assert rest["errors"] == []
    # 3 copies of the wire story, 2 other migrant stories, 2 breaking posts: all stored, 3 join the story
    assert rest["new_articles"] == 7 and rest["story_copies"] == 3

    per_watch = alerts_per_watch(hook)
    # the wire story once, plus each of the two different stories on the same topic
    assert per_watch["migrant-workers"] == 3
    titles = {c["json"]["article"]["title"] for c in hook.calls if c["json"]["watch"]["id"] == "migrant-workers"}
    assert titles == {SEED_TITLE, "Kyrgyzstan Summons Russian Envoy Over Detention of Kyrgyz Migrant Workers",
                      "Uzbekistan Opens Pre-Departure Centres for Migrant Workers Heading to Russia"}
    # once_per_story: false -> every outlet's copy alerts
    assert per_watch["strogino"] == 4
    # two one-line posts about the same event are too short to be called one story on text alone
    assert per_watch["almaty"] == 2

    listing = json.loads(cli(cfg, "stories", "--since", "7d", "--json").stdout)
    [wire] = [s for s in listing if s["size"] > 1]
    assert wire["title"] == SEED_TITLE and wire["first_source_id"] == "steppewire"
    assert wire["size"] == 4 and wire["outlets"][0] == "steppewire"
    assert set(wire["outlets"]) == {"steppewire", "asiacourier", "ferganadaily", "pamirpost"}
    assert [c["source_id"] for c in wire["copies"]][0] == "steppewire"
    assert len(listing) == 1 + 2 + 2  # the wire story, two other migrant stories, two breaking posts

    text = cli(cfg, "stories", "--since", "7d", "--min-size", "2").stdout
    assert SEED_TITLE in text and "4 copies on 4 outlets" in text
    assert text.splitlines()[2].split()[:2] == ["first", "steppewire"]
    assert "Kyrgyzstan Summons" not in text  # a story that ran once is left out with --min-size 2

    by_watch = json.loads(cli(cfg, "stories", "--since", "7d", "--watch", "almaty", "--json").stdout)
    assert len(by_watch) == 2 and all(s["size"] == 1 for s in by_watch)


def test_copies_keep_their_own_urls_when_canonical_points_at_a_homepage_or_another_site(tmp_path, sites, hook):
    cfg = story_config(tmp_path, sites, hook)
    crawl_once(cfg)
    rows = {r["title"]: r["canonical_url"] for r in db_rows(cfg, "SELECT title, canonical_url FROM articles")}
    courier = sites["asiacourier"].url("/news/tashkent-protests-rough-treatment-of-uzbek-migrants.html")
    fergana = sites["ferganadaily"].url("/news/uzbek-embassy-demands-legal-assessment-of-moscow-raid.html")
    pamir = sites["pamirpost"].url("/news/uzbekistan-sends-note-to-russia-over-raid-on-migrant-dormitory.html")
    assert rows["Tashkent Protests Rough Treatment of Uzbek Migrants in Moscow Raid"] == courier  # rel=canonical "/" ignored
    assert rows["Uzbek Embassy Demands Legal Assessment of Moscow Police Raid"] == fergana  # rel=canonical on Steppe Wire ignored
    assert rows["Uzbekistan Sends Note to Russia Over Raid on Migrant Dormitory"] == pamir  # the AMP page joined its article
    # the same story nonetheless, found by its text
    stories = db_rows(cfg, "SELECT story_id, count(*) AS n FROM articles GROUP BY story_id ORDER BY n DESC")
    assert stories[0]["n"] == 4


def test_edited_story_updates_text_counts_a_revision_and_alerts_no_one_again(tmp_path, sites, hook):
    cfg = story_config(tmp_path, sites, hook)
    crawl_once(cfg, "--source", "steppewire")
    before = alerts_per_watch(hook)
    seed_dir = sites["_seed_dir"]
    page = (seed_dir / "article.html").read_text(encoding="utf-8")
    last = "commented on whether reciprocal measures would be considered.</p>"
    (seed_dir / "article.html").write_text(page.replace(last, last + f"\n          <p>{UPDATE}</p>"),
                                           encoding="utf-8")
    feed = (seed_dir / "feed.xml.tmpl").read_text(encoding="utf-8")
    (seed_dir / "feed.xml.tmpl").write_text(
        feed.replace("Orda.kz reports.</description>", "Orda.kz reports. Updated with Moscow's response.</description>"),
        encoding="utf-8")

    again = crawl_once(cfg, "--source", "steppewire")
    assert again["revised"] == 1 and again["new_articles"] == 0 and again["alerts_queued"] == 0
    assert alerts_per_watch(hook) == before
    [article] = db_rows(cfg, "SELECT * FROM articles")
    assert "confirmed it had received the note" in article["text"] and article["revisions"] == 1
    assert article["revised_at"]
    # search finds the new text
    found = db_rows(cfg, "SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'confirmed received note'")
    assert [r["rowid"] for r in found] == [article["id"]]
    assert "(edited 1x)" in cli(cfg, "stories", "--since", "7d").stdout

    # the feed changes its description again but the page is the same: fetched, nothing stored
    hits = sites["steppewire"].hits("/article.html")
    (seed_dir / "feed.xml.tmpl").write_text(
        feed.replace("Orda.kz reports.</description>", "Orda.kz reports (updated).</description>"), encoding="utf-8")
    third = crawl_once(cfg, "--source", "steppewire")
    assert sites["steppewire"].hits("/article.html") == hits + 1
    assert third["revised"] == 0 and third["duplicates"] == 0 and third["new_articles"] == 0
    assert db_rows(cfg, "SELECT revisions FROM articles")[0]["revisions"] == 1


def test_edit_that_brings_a_new_topic_alerts_the_watch_that_had_not_fired(tmp_path, sites, hook):
    cfg = story_config(tmp_path, sites, hook)
    crawl_once(cfg, "--source", "steppewire")
    assert alerts_per_watch(hook)["almaty"] == 0
    seed_dir = sites["_seed_dir"]
    page = (seed_dir / "article.html").read_text(encoding="utf-8")
    added = "<p>Update: a second raid was reported at a dormitory in Almaty on Thursday morning.</p>"
    (seed_dir / "article.html").write_text(page.replace("</div>\n        <footer", added + "</div>\n        <footer", 1),
                                           encoding="utf-8")
    feed = (seed_dir / "feed.xml.tmpl").read_text(encoding="utf-8")
    (seed_dir / "feed.xml.tmpl").write_text(feed.replace("<pubDate>Wed, 18 Jun 2025 05:42:00 GMT</pubDate>",
                                                         "<pubDate>Thu, 19 Jun 2025 07:10:00 GMT</pubDate>"),
                                            encoding="utf-8")
    again = crawl_once(cfg, "--source", "steppewire")
    assert again["revised"] == 1
    per_watch = alerts_per_watch(hook)
    assert per_watch["almaty"] == 1 and per_watch["migrant-workers"] == 1 and per_watch["strogino"] == 1


def test_feed_repeating_one_guid_for_every_item_loses_no_entry(tmp_path, sites, hook):
    site = tmp_path / "repeat"
    render_site(next(o for o in outlets() if o["id"] == "ferganadaily"), site,
                steppewire_url=sites["steppewire"].base_url)
    feed = (site / "feed.xml.tmpl").read_text(encoding="utf-8")
    (site / "feed.xml.tmpl").write_text(re.sub(r"<guid[^>]*>[^<]*</guid>", "<guid>{base_url}/</guid>", feed),
                                        encoding="utf-8")
    with OutletServer(site) as outlet:
        cfg = write_config(tmp_path / "config", sources=[{"id": "fd", "name": "Fergana Daily",
                                                          "feeds": [outlet.url("/feed.xml")]}],
                           watches=WATCHES, channels=channels_for(hook))
        assert crawl_once(cfg)["new_articles"] == 2
        # next poll, a third item with the same GUID appears: it is new, the other two are not refetched
        hits = outlet.hits("/news/uzbekistan-opens-pre-departure-centres-for-migrant-workers.html")
        (site / "news" / "third.html").write_text(
            (site / "news" / "uzbekistan-opens-pre-departure-centres-for-migrant-workers.html").read_text(
                encoding="utf-8").replace("Samarkand", "Bukhara").replace(
                "uzbekistan-opens-pre-departure-centres-for-migrant-workers.html", "third.html"),
            encoding="utf-8")
        item = ("<item><title>Third</title><link>{base_url}/news/third.html</link><guid>{base_url}/</guid>"
                "<description>Bukhara centre opens.</description></item>")
        (site / "feed.xml.tmpl").write_text(
            (site / "feed.xml.tmpl").read_text(encoding="utf-8").replace("<item>", item + "<item>", 1),
            encoding="utf-8")
        again = crawl_once(cfg)
        assert again["new_articles"] == 1
        assert outlet.hits("/news/uzbekistan-opens-pre-departure-centres-for-migrant-workers.html") == hits
        keys = [r["entry_key"] for r in db_rows(cfg, "SELECT entry_key FROM articles ORDER BY id")]
        plain = f"guid:{outlet.base_url}/"
        assert keys.count(plain) == 1 and len(set(keys)) == 3
        assert all(k.startswith(plain + "|url:" + outlet.base_url + "/news/") for k in keys if k != plain)


def test_stories_command_refuses_an_unknown_watch_and_a_bad_duration(tmp_path, sites, hook):
    cfg = story_config(tmp_path, sites, hook)
    bad = cli(cfg, "stories", "--watch", "nope", check=False)
    assert bad.returncode == 2 and "nope" in bad.stderr
    bad = cli(cfg, "stories", "--since", "yesterday", check=False)
    assert bad.returncode == 2 and "duration" in bad.stderr
    assert cli(cfg, "stories").stdout.strip() == "no stories in that time"
