"""End to end: feed -> article page -> extract -> store -> match -> webhook + email, on loopback."""

from __future__ import annotations

import sqlite3
import time

from conftest import SEED, channels_for, cli, crawl_once, write_config

from crawler.alerts.webhook import verify
from crawler.demo.servers import OutletServer, free_port
from crawler.store import Store
from conftest import WEBHOOK_SECRET

LATEST_NEWS = [
    "Kazakhstanis on Vacation in Egypt Witness Missile Strikes Over Israel",
    "Kazakhstan to Help China Restore Saiga Population",
    "Atyrau: Hydrogen Sulfide Levels Soar 11 Times Above Norm Due to Fire",
    "Taraz: Court Hands Down Sentence in Assault Case Involving Minors",
]


def seed_config(tmp_path, outlet, hook=None, mailbox=None, extra_sources=(), **settings):
    sources = [{"id": "timesca", "name": "The Times of Central Asia", "country": "KZ", "languages": ["en"],
                "feeds": [outlet.url("/feed.xml")]}, *extra_sources]
    watches = [{"id": "migrant-workers", "name": "Migrant workers", "keywords": ["migrant workers"],
                "channels": list(channels_for(hook, mailbox))}]
    return write_config(tmp_path / "config", sources=sources, watches=watches,
                        channels=channels_for(hook, mailbox), **settings)


def articles(config_dir):
    store = Store(config_dir / "newswatch.db")
    try:
        return list(store.db.query("SELECT * FROM articles ORDER BY id"))
    finally:
        store.close()


def test_seed_story_stored_once_and_alerted_once_by_webhook_and_email(tmp_path, seed_outlet, hook, mailbox):
    cfg = seed_config(tmp_path, seed_outlet, hook, mailbox)
    summary = crawl_once(cfg)
    assert summary["new_articles"] == 1 and summary["errors"] == []
    assert summary["alerts_sent"] == 2

    [article] = articles(cfg)
    assert article["title"] == "Uzbekistan Sends Diplomatic Note to Russia Over Treatment of Migrant Workers in Moscow"
    assert article["summary_only"] == 0
    assert "Strogino district of Moscow" in article["text"]
    assert "requesting a legal assessment of the law enforcement officers" in article["text"]
    assert "human rights violation" in article["text"]
    for headline in LATEST_NEWS:
        assert headline not in article["text"]
    assert article["language"] == "en"
    assert article["published_at"].startswith("2025-06-18")

    assert len(hook.calls) == 1
    call = hook.calls[0]
    body = call["json"]
    assert body["watch"]["id"] == "migrant-workers"
    assert body["matches"][0]["keyword"] == "migrant workers"
    assert "migrant workers" in body["matches"][0]["snippet"].lower()
    assert body["article"]["url"] == seed_outlet.url("/article.html")
    assert verify(WEBHOOK_SECRET, call["headers"], call["body"])

    assert len(mailbox.messages) == 1
    msg = mailbox.messages[0]
    assert "Migrant workers" in msg["Subject"] and "Uzbekistan Sends Diplomatic Note" in msg["Subject"]
    assert seed_outlet.url("/article.html") in msg.get_body(("plain",)).get_content()


def test_second_crawl_of_unchanged_feed_stores_and_sends_nothing(tmp_path, seed_outlet, hook, mailbox):
    cfg = seed_config(tmp_path, seed_outlet, hook, mailbox)
    crawl_once(cfg)
    page_hits = seed_outlet.hits("/article.html")
    again = crawl_once(cfg)
    assert again["new_articles"] == 0 and again["alerts_sent"] == 0
    assert again["feeds_unchanged"] == 1  # answered 304 to the stored ETag
    assert seed_outlet.hits("/article.html") == page_hits
    assert len(articles(cfg)) == 1 and len(hook.calls) == 1 and len(mailbox.messages) == 1


def test_byte_identical_feed_without_validators_costs_no_parsing(tmp_path, seed_outlet, hook):
    body = seed_outlet.render("/feed.xml")
    seed_outlet.set_response("/feed.xml", 200, body, {"Content-Type": "application/rss+xml"})
    cfg = seed_config(tmp_path, seed_outlet, hook)
    assert crawl_once(cfg)["new_articles"] == 1
    again = crawl_once(cfg)
    assert again["feeds_unchanged"] == 1 and again["new_articles"] == 0
    assert len(hook.calls) == 1


def test_new_item_in_feed_is_the_only_thing_fetched_and_a_rerun_of_the_story_is_not_alerted_again(tmp_path, hook):
    site = tmp_path / "site"
    site.mkdir()
    (site / "article.html").write_bytes((SEED / "article.html").read_bytes())
    feed = (SEED / "feed.xml.tmpl").read_text(encoding="utf-8")
    (site / "feed.xml.tmpl").write_text(feed, encoding="utf-8")
    with OutletServer(site) as outlet:
        cfg = seed_config(tmp_path, outlet, hook)
        crawl_once(cfg)
        # The outlet republishes the story under a second URL with tracking parameters and adds a new one.
        second = (SEED / "article.html").read_text(encoding="utf-8").replace(
            "Uzbekistan Sends Diplomatic Note", "Tashkent Protests Moscow Raid; Uzbekistan Sends Diplomatic Note")
        second = second.replace('href="/article.html"', 'href="/other.html"')
        (site / "other.html").write_text(second.replace("Strogino", "Strogino (north-west Moscow)"), encoding="utf-8")
        item = ("<item><title>Migrant workers: Tashkent protests</title><link>{base_url}/other.html?utm_source=rss"
                "</link><guid>other-1</guid><description>Migrant workers raid.</description></item>")
        (site / "feed.xml.tmpl").write_text(feed.replace("<item>", item + "<item>", 1), encoding="utf-8")
        summary = crawl_once(cfg)
        assert summary["new_articles"] == 1 and summary["story_copies"] == 1
        assert outlet.hits("/article.html") == 1
        # the same story under another headline joins the story: recorded, not alerted a second time
        assert len(hook.calls) == 1
        assert summary["matches"] == 1 and summary["alerts_queued"] == 0


def test_unreachable_feed_is_recorded_and_other_sources_still_crawled(tmp_path, seed_outlet, hook):
    dead = f"http://127.0.0.1:{free_port()}/feed.xml"
    cfg = seed_config(tmp_path, seed_outlet, hook, extra_sources=[{"id": "dead", "name": "Dead", "feeds": [dead]}])
    summary = crawl_once(cfg)
    assert summary["new_articles"] == 1 and len(hook.calls) == 1
    assert len(summary["errors"]) == 1 and "[dead]" in summary["errors"][0] and dead in summary["errors"][0]
    store = Store(cfg / "newswatch.db")
    feed = next(f for f in store.feeds() if f["url"] == dead)
    assert feed["consecutive_errors"] == 1 and feed["last_error_kind"] == "connection"
    assert feed["next_check_at"] > feed["last_polled_at"]


def test_http_error_and_malformed_xml_recorded_without_losing_stored_articles(tmp_path, seed_outlet):
    cfg = seed_config(tmp_path, seed_outlet)
    crawl_once(cfg)
    seed_outlet.set_response("/feed.xml", 500, b"oops")
    summary = crawl_once(cfg)
    assert "HTTP 500" in summary["errors"][0]
    seed_outlet.set_response("/feed.xml", 200, b"<?xml version='1.0'?><rss><channel><item><title>broken",
                             {"Content-Type": "application/rss+xml"})
    summary = crawl_once(cfg)
    assert summary["errors"][0].startswith("parse: [timesca]")
    store = Store(cfg / "newswatch.db")
    [feed] = store.feeds()
    assert feed["consecutive_errors"] == 2 and feed["last_error_kind"] == "parse"
    assert len(articles(cfg)) == 1  # nothing stored before is lost


def test_page_without_article_text_stores_feed_summary_marked_summary_only(tmp_path, seed_outlet, hook):
    seed_outlet.set_response("/article.html", 200, b"<html><body><nav>Home | News</nav></body></html>",
                             {"Content-Type": "text/html; charset=utf-8"})
    cfg = seed_config(tmp_path, seed_outlet, hook)
    summary = crawl_once(cfg)
    assert summary["new_articles"] == 1 and summary["summary_only"] == 1
    [article] = articles(cfg)
    assert article["summary_only"] == 1
    assert article["text"].startswith("The Embassy of Uzbekistan sent a note")
    # The title still names the topic, so the watch still fires: a story is not missed for a bad page.
    assert len(hook.calls) == 1


def test_feed_on_private_address_refused_unless_allowed(tmp_path, seed_outlet):
    cfg = seed_config(tmp_path, seed_outlet, network={"allow": []})
    summary = crawl_once(cfg)
    assert summary["new_articles"] == 0
    assert "not public" in summary["errors"][0]
    assert seed_outlet.hits("/feed.xml") == 0
    store = Store(cfg / "newswatch.db")
    assert store.feeds()[0]["last_error_kind"] == "policy"


def test_failing_webhook_is_retried_next_cycle_and_email_is_not_held_back(tmp_path, seed_outlet, hook, mailbox):
    hook.status = 503
    cfg = seed_config(tmp_path, seed_outlet, hook, mailbox, alerts={"retry_base": 1})
    summary = crawl_once(cfg)
    assert summary["alerts_sent"] == 1 and len(mailbox.messages) == 1
    first_id = hook.calls[0]["headers"]["webhook-id"]
    hook.status = 200
    time.sleep(1.5)
    again = crawl_once(cfg)
    assert again["alerts_sent"] == 1 and again["new_articles"] == 0
    assert len(hook.calls) == 2 and hook.calls[1]["headers"]["webhook-id"] == first_id
    assert len(mailbox.messages) == 1


def test_crawl_unknown_source_is_a_clear_error(tmp_path, seed_outlet):
    cfg = seed_config(tmp_path, seed_outlet)
    proc = cli(cfg, "crawl", "--once", "--source", "nope", check=False)
    assert proc.returncode == 2
    assert "no source with id 'nope'" in proc.stderr


def test_feed_larger_than_the_limit_is_an_error_not_a_partial_parse(tmp_path, seed_outlet):
    cfg = seed_config(tmp_path, seed_outlet, limits={"max_feed_bytes": 1000})
    summary = crawl_once(cfg)
    assert summary["new_articles"] == 0 and len(summary["errors"]) == 1
    store = Store(cfg / "newswatch.db")
    assert store.feeds()[0]["last_error_kind"] == "too_large"


def test_dns_failure_is_recorded_as_dns(tmp_path, seed_outlet):
    cfg = seed_config(tmp_path, seed_outlet, extra_sources=[
        {"id": "nowhere", "name": "Nowhere", "feeds": ["http://no-such-host.invalid/feed.xml"]}],
        network={"allow": ["127.0.0.1", "no-such-host.invalid"]})
    summary = crawl_once(cfg)
    assert summary["new_articles"] == 1
    store = Store(cfg / "newswatch.db")
    feed = next(f for f in store.feeds() if f["source_id"] == "nowhere")
    assert feed["last_error_kind"] == "dns"


def test_crawl_now_moves_the_clock_for_due_sources_and_feed_state(tmp_path, seed_outlet):
    """The seam the daemon benchmark uses to run hours of cycles in minutes (`crawl --now`)."""
    cfg = seed_config(tmp_path, seed_outlet)
    assert crawl_once(cfg, "--due")["feeds_polled"] == 1
    assert crawl_once(cfg, "--due")["feeds_polled"] == 0  # next check is default_interval away
    later = "2099-01-01T00:00:00Z"
    assert crawl_once(cfg, "--due", "--now", later)["feeds_polled"] == 1
    store = Store(cfg / "newswatch.db")
    [feed] = store.feeds()
    assert feed["last_polled_at"] == later and feed["next_check_at"] > later
    store.close()


# --- stored entries whose feed item has not changed are not converted again (issue 9) ------------------

HEADLINES = ["Uzbekistan Sends Diplomatic Note to Russia Over Treatment of Migrant Workers in Moscow",
             "Kyrgyz Border Guards Report Shooting Near Batken", "Tajik Journalist Detained in Dushanbe"]
FEED_ITEM = ('<item><title>{title}</title><link>{{base_url}}/a{n}.html</link>'
             '<guid isPermaLink="false">story-{n}</guid><pubDate>Wed, 18 Jun 2025 0{n}:42:00 GMT</pubDate>'
             '<description>{desc}</description></item>')


class ThreeStories:
    """An outlet with three stored stories whose feed and pages a test edits between crawls."""

    def __init__(self, root):
        self.root = root
        page = (SEED / "article.html").read_text(encoding="utf-8")
        for n, title in enumerate(HEADLINES):
            # each page its own story: another headline and a paragraph of its own
            (root / f"a{n}.html").write_text(page.replace(HEADLINES[0], title).replace(
                'href="/article.html"', f'href="/a{n}.html"').replace(
                "<p>The incident in question", f"<p>Story {n} of three, reported on its own.</p><p>The incident "
                "in question"), encoding="utf-8")
        self.titles = list(HEADLINES)
        self.descs = [f"Summary of story {n}: what happened and where." for n in range(3)]
        self.build = 0

    def write_feed(self, items: str | None = None) -> None:
        self.build += 1  # a new build date: the body changes, so it is parsed
        items = items or "".join(FEED_ITEM.format(n=n, title=t, desc=d)
                                 for n, (t, d) in enumerate(zip(self.titles, self.descs)))
        (self.root / "feed.xml.tmpl").write_text(
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Steppe Wire</title>'
            f"<lastBuildDate>Wed, 18 Jun 2025 10:{self.build:02d}:00 GMT</lastBuildDate>{items}</channel></rss>",
            encoding="utf-8")


def crawl_with_events(cfg) -> tuple[dict, dict]:
    """The crawl's JSON summary and the fields of its feed_polled event."""
    import json

    proc = cli(cfg, "crawl", "--once", "--json")
    [line] = [line for line in proc.stderr.splitlines() if "event=feed_polled" in line]
    fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
    return json.loads(proc.stdout), {k: fields[k] for k in ("entries", "converted", "new")}


def three_stories(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    outlet = ThreeStories(site)
    outlet.write_feed()
    return outlet


def test_edited_title_in_an_otherwise_unchanged_feed_is_noticed_while_the_other_entries_are_skipped(tmp_path):
    outlet = three_stories(tmp_path)
    with OutletServer(outlet.root) as server:
        cfg = seed_config(tmp_path, server)
        first, polled = crawl_with_events(cfg)
        assert first["new_articles"] == 3 and polled == {"entries": "3", "converted": "3", "new": "3"}
        outlet.titles[1] = "Kyrgyz Border Guards Report Shooting Near Batken; Two Wounded"
        page = (outlet.root / "a1.html").read_text(encoding="utf-8")
        (outlet.root / "a1.html").write_text(page.replace(
            "<p>Story 1 of three", "<p>Update: two border guards were wounded.</p><p>Story 1 of three"), encoding="utf-8")
        outlet.write_feed()
        hits = [server.hits(f"/a{n}.html") for n in range(3)]
        again, polled = crawl_with_events(cfg)
        assert polled == {"entries": "3", "converted": "1", "new": "1"}
        assert again["revised"] == 1 and again["new_articles"] == 0 and again["alerts_queued"] == 0
        assert [server.hits(f"/a{n}.html") for n in range(3)] == [hits[0], hits[1] + 1, hits[2]]
        # (the pages are fetched in parallel, so ids follow the order they arrived in)
        edited = next(a for a in articles(cfg) if a["url"].endswith("/a1.html"))
        assert "two border guards were wounded" in edited["text"]


def test_feed_reserialised_with_the_same_entries_converts_nothing(tmp_path):
    outlet = three_stories(tmp_path)
    with OutletServer(outlet.root) as server:
        cfg = seed_config(tmp_path, server)
        crawl_with_events(cfg)
        # another CMS template: CDATA, attributes and children in another order, indentation, comments
        outlet.write_feed("".join(
            f'\n  <!-- story {n} -->\n  <item>\n    <guid  isPermaLink = "false" >story-{n}</guid>\n'
            f"    <description><![CDATA[{d}]]></description>\n    <title>{t}</title>\n"
            f"    <pubDate>Wed, 18 Jun 2025 0{n}:42:00 GMT</pubDate>\n    <link>{{base_url}}/a{n}.html</link>\n  </item>"
            for n, (t, d) in enumerate(zip(outlet.titles, outlet.descs))))
        hits = [server.hits(f"/a{n}.html") for n in range(3)]
        again, polled = crawl_with_events(cfg)
        assert polled == {"entries": "3", "converted": "0", "new": "0"}
        assert again["new_articles"] == again["revised"] == 0 and again["feeds_unchanged"] == 0
        assert [server.hits(f"/a{n}.html") for n in range(3)] == hits


def test_raw_change_that_is_not_an_edit_stores_no_revision_and_is_converted_only_once(tmp_path):
    outlet = three_stories(tmp_path)
    with OutletServer(outlet.root) as server:
        cfg = seed_config(tmp_path, server)
        crawl_with_events(cfg)
        outlet.descs[2] = outlet.descs[2].replace(": ", ":  \n ").upper()  # spacing and case only
        outlet.write_feed()
        hits = server.hits("/a2.html")
        again, polled = crawl_with_events(cfg)
        # converted and compared: the same description, so not fetched again and no revision
        assert polled == {"entries": "3", "converted": "1", "new": "0"}
        assert again["revised"] == 0 and server.hits("/a2.html") == hits
        outlet.write_feed()
        _, polled = crawl_with_events(cfg)
        assert polled["converted"] == "0"  # its new raw form was kept
        assert [a["revisions"] for a in articles(cfg)] == [0, 0, 0]


def test_database_from_before_raw_fingerprints_converts_each_stored_entry_once(tmp_path, monkeypatch):
    from crawler import store as store_mod

    outlet = three_stories(tmp_path)
    with OutletServer(outlet.root) as server:
        cfg = seed_config(tmp_path, server)
        # a database at the schema before the raw fingerprint, with the three stories in it
        before = next(n for n, m in enumerate(store_mod.MIGRATIONS) if any("raw_fingerprint" in sql for sql in m))
        monkeypatch.setattr(store_mod, "MIGRATIONS", store_mod.MIGRATIONS[:before])
        Store(cfg / "newswatch.db").close()
        monkeypatch.undo()
        env_path = cfg / "newswatch.db"
        conn = sqlite3.connect(env_path)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == before
        conn.close()
        first, _ = crawl_with_events(cfg)  # migrates, then stores the stories
        assert first["new_articles"] == 3
        store = Store(env_path)
        store.db.execute("UPDATE sightings SET raw_fingerprint = NULL")  # as stored before the upgrade
        store.db.execute("UPDATE feeds SET item_digests = NULL")
        store.db.conn.commit()
        store.close()
        outlet.write_feed()
        _, polled = crawl_with_events(cfg)
        assert polled == {"entries": "3", "converted": "3", "new": "0"}  # compared the old way, once
        outlet.write_feed()
        _, polled = crawl_with_events(cfg)
        assert polled == {"entries": "3", "converted": "0", "new": "0"}


def test_edit_noticed_in_a_cycle_cut_short_is_noticed_again(tmp_path):
    """The raw form of an edited entry is kept only once its edit is stored: a cycle that ends before
    (a timeout, a crash) leaves the entry to be compared, and fetched, again."""
    from crawler import config as config_mod
    from crawler.crawl import CrawlSession

    url = "https://steppe.example/feed.xml"
    outlet = three_stories(tmp_path)
    cfg = config_mod.load(write_config(tmp_path / "config", sources=[{"id": "sw", "name": "SW", "feeds": [url]}]))
    store = Store(cfg.database_path)
    store.sync_sources(cfg.sources)

    def poll() -> tuple[CrawlSession, list]:
        session = CrawlSession(cfg, store, ["sw"])
        body = (outlet.root / "feed.xml.tmpl").read_bytes().replace(b"{base_url}", b"https://steppe.example")
        return session, session.feed_response(url, url, 200, {"content-type": "application/rss+xml"}, body)

    session, entries = poll()
    for entry in entries:
        session.entry_item({"feed_url": url, "entry": entry, "page": None, "error": "page not fetched here"})
    assert store.count("articles") == 3 and poll()[1] == []
    outlet.descs[0] = "Summary of story 0, corrected: what happened, where and when."
    outlet.write_feed()
    [edited] = poll()[1]  # noticed; the cycle ends before the page is fetched
    assert edited.guid == "story-0"
    session, again = poll()
    assert again == [edited]  # so the next poll notices it again
    session.entry_item({"feed_url": url, "entry": edited, "page": None, "error": "page not fetched here"})
    outlet.write_feed()
    assert poll()[1] == []  # stored now: skipped from here on
    store.close()


def test_items_are_skipped_unparsed_only_once_a_poll_of_them_was_fully_handled(tmp_path, monkeypatch):
    """Item digests are kept with the body hash, when every new entry is stored: a new item whose poll
    ended early (a timeout, a crash) is parsed and returned again at the next poll."""
    from crawler import config as config_mod
    from crawler import parse as parse_mod
    from crawler.crawl import CrawlSession

    url = "https://steppe.example/feed.xml"
    outlet = three_stories(tmp_path)
    cfg = config_mod.load(write_config(tmp_path / "config", sources=[{"id": "sw", "name": "SW", "feeds": [url]}]))
    store = Store(cfg.database_path)
    store.sync_sources(cfg.sources)
    converted = []
    real = parse_mod._to_entry
    monkeypatch.setattr(parse_mod, "_to_entry", lambda raw, base, tz=None: converted.append(1) or real(raw, base, tz))

    def poll(handle: bool = True) -> list:
        session = CrawlSession(cfg, store, ["sw"])
        body = (outlet.root / "feed.xml.tmpl").read_bytes().replace(b"{base_url}", b"https://steppe.example")
        converted.clear()
        entries = session.feed_response(url, url, 200, {"content-type": "application/rss+xml"}, body)
        for entry in entries if handle else ():
            session.entry_item({"feed_url": url, "entry": entry, "page": None, "error": "page not fetched here"})
        return entries

    assert len(poll()) == 3
    assert len(store.feed_state(url).item_digests) == 3 * 16
    outlet.titles.append("Border crossing reopens after talks")
    outlet.descs.append("Summary of story 3: the crossing reopened.")
    outlet.write_feed()
    [new] = poll(handle=False)  # the cycle ends before the new story is stored
    assert len(converted) == 1 and len(store.feed_state(url).item_digests) == 3 * 16
    outlet.write_feed()
    assert poll() == [new] and len(converted) == 1  # parsed again, and this time stored
    assert len(store.feed_state(url).item_digests) == 4 * 16
    outlet.write_feed()
    assert poll() == [] and converted == []  # four items, none parsed
    store.close()


def test_feed_only_feedparser_reads_converts_every_entry_and_still_notices_an_edit(tmp_path):
    """RSS 1.0 (and anything else off the fast path) has no raw fingerprint: robustness first."""
    from crawler import config as config_mod
    from crawler.crawl import CrawlSession

    url = "https://uz.example/rss"
    cfg = config_mod.load(write_config(tmp_path / "config", sources=[{"id": "uz", "name": "UZ", "feeds": [url]}]))
    store = Store(cfg.database_path)
    store.sync_sources(cfg.sources)

    def rdf(first_title: str) -> bytes:
        items = "".join(f'<item rdf:about="https://uz.example/n/{n}"><title>{t}</title><link>https://uz.example/n/{n}'
                        f"</link><description>Matn {n}.</description></item>"
                        for n, t in enumerate([first_title, "Chegarada voqea"]))
        return ('<?xml version="1.0" encoding="utf-8"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
                'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://uz.example/"><title>UZ</title></channel>'
                f"{items}</rdf:RDF>").encode()

    def poll(body: bytes) -> list:
        session = CrawlSession(cfg, store, ["uz"])
        entries = session.feed_response(url, url, 200, {"content-type": "application/rss+xml"}, body)
        for entry in entries:
            session.entry_item({"feed_url": url, "entry": entry, "page": None, "error": "page not fetched here"})
        return entries

    assert len(poll(rdf("Migrantlar qaytdi"))) == 2
    assert all(row["raw_fingerprint"] is None for row in store.db.query("SELECT raw_fingerprint FROM sightings"))
    assert poll(rdf("Migrantlar qaytdi ") + b" ") == []
    assert [e.title for e in poll(rdf("Migrantlar uyga qaytdi"))] == ["Migrantlar uyga qaytdi"]
    store.close()
