"""One crawl cycle against a hostile web on loopback: every source misbehaves in its own way except one.

127.0.0.1 is a well-behaved outlet, 127.0.0.3 and 127.0.0.4 are hostile outlets (allow-listed, as
local feeds would be), and 127.0.0.2 is a canary that is *not* allow-listed: it must not receive a
single TCP connection, whichever way a feed, a redirect, an article link or an XML entity spells it.
The cycle runs once (the real ``newswatch crawl`` in a child process) and each test checks one case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
from conftest import SEED, write_config
from hostile import Canary, HostileServer

from crawler.store import Store

MAX_FEED_BYTES = 2_000_000  # above the bomb's ~1 MB on the wire, far below its 1 GiB inflated


def canary_spellings(port: int) -> dict[str, str]:
    return {
        "dotted": f"http://127.0.0.2:{port}/feed.xml",
        "decimal": f"http://2130706434:{port}/feed.xml",
        "hex-dotted": f"http://0x7f.0.0.2:{port}/feed.xml",
        "hex": f"http://0x7f000002:{port}/feed.xml",
        "short": f"http://127.0.2:{port}/feed.xml",
        "octal": f"http://017700000002:{port}/feed.xml",
        "octal-dotted": f"http://0177.0.0.2:{port}/feed.xml",
        "ipv4-mapped-ipv6": f"http://[::ffff:127.0.0.2]:{port}/feed.xml",
        "ipv4-mapped-ipv6-hex": f"http://[::ffff:7f00:2]:{port}/feed.xml",
        "userinfo": f"http://127.0.0.1@127.0.0.2:{port}/feed.xml",
    }


OTHER_FORBIDDEN = {
    "cloud-metadata": "http://169.254.169.254/latest/meta-data/",
    "ipv6-loopback": "http://[::1]:9/feed.xml",
    "any-address": "http://0.0.0.0:9/feed.xml",
    "private-10": "http://10.0.0.1/feed.xml",
}


def rss(items: str, title: str = "Hostile") -> str:
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>{items}</channel></rss>'


def billion_laughs() -> str:
    entities = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, 12))
    # "<b>" inside the first value defeats feedparser's own DOCTYPE stripping (see parse._strip_doctypes)
    return ('<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY l0 "<b>lol</b>">' + entities + ']>\n'
            '<rss version="2.0"><channel><title>&l11;</title><item><title>Laughs &l11;</title>'
            '<link>{base}/laughs</link><guid>laughs-1</guid><description>&l11;</description></item>'
            '</channel></rss>')


def xxe(canary: Canary) -> str:
    return ('<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY file SYSTEM "file:///etc/passwd">'
            f'<!ENTITY canary SYSTEM "{canary.url("/xxe")}">]>\n'
            '<rss version="2.0"><channel><title>XXE</title><item><title>Passwd: &file; Canary: &canary;</title>'
            '<link>{base}/xxe-item</link><guid>xxe-1</guid><description>&file;&canary;</description></item>'
            '</channel></rss>')


def xxe_dtd(canary: Canary) -> str:
    return ('<?xml version="1.0"?>\n'
            f'<!DOCTYPE rss SYSTEM "{canary.url("/evil.dtd")}">\n'
            '<rss version="2.0"><channel><title>DTD</title><item><title>External DTD</title>'
            '<link>{base}/dtd-item</link><guid>dtd-1</guid></item></channel></rss>')


def xxe_parameter_entity(canary: Canary) -> str:
    return ('<?xml version="1.0"?>\n'
            f'<!DOCTYPE rss [<!ENTITY % remote SYSTEM "{canary.url("/param.dtd")}"> %remote;]>\n'
            '<rss version="2.0"><channel><title>PE</title><item><title>Parameter entity</title>'
            '<link>{base}/pe-item</link><guid>pe-1</guid></item></channel></rss>')


@dataclass
class Cycle:
    summary: dict
    feeds: dict  # url -> feeds row
    articles: list
    canary: Canary
    good: HostileServer
    evil: HostileServer
    drip: HostileServer
    max_rss_kb: int
    urls: dict


@pytest.fixture(scope="module")
def cycle(tmp_path_factory) -> Cycle:
    tmp = tmp_path_factory.mktemp("hostile")
    with Canary("127.0.0.2") as canary, HostileServer("127.0.0.1") as good, \
            HostileServer("127.0.0.3") as evil, HostileServer("127.0.0.4") as drip:
        good.static("/feed.xml", (SEED / "feed.xml.tmpl").read_text(encoding="utf-8").replace("{base_url}", good.base_url))
        good.static("/article.html", (SEED / "article.html").read_bytes(), headers={"Content-Type": "text/html; charset=utf-8"})
        spelled = canary_spellings(canary.port)
        urls = {
            "redirect-to-canary": evil.redirect("/to-canary", canary.url("/feed.xml")),
            "redirect-to-canary-spelled": evil.redirect("/to-canary-spelled", spelled["hex-dotted"], 301),
            "redirect-to-file": evil.redirect("/to-file", "file:///etc/passwd"),
            "redirect-loop": evil.redirect("/loop-a", evil.url("/loop-b")),
            "bomb": evil.bomb(),
            "endless": evil.endless(),
            "drip": drip.drip(every=2.0),
            "laughs": evil.static("/laughs.xml", billion_laughs().replace("{base}", evil.base_url)),
            "xxe": evil.static("/xxe.xml", xxe(canary).replace("{base}", evil.base_url)),
            "xxe-dtd": evil.static("/xxe-dtd.xml", xxe_dtd(canary).replace("{base}", evil.base_url)),
            "xxe-pe": evil.static("/xxe-pe.xml", xxe_parameter_entity(canary).replace("{base}", evil.base_url)),
            "links-to-canary": evil.static("/links.xml", rss("".join(
                f"<item><title>Link {name}</title><link>{url}</link><guid>link-{name}</guid>"
                f"<description>Entry linking to {name}</description></item>" for name, url in spelled.items()))),
        }
        evil.redirect("/loop-b", evil.url("/loop-a"))
        sources = [
            {"id": "good", "name": "Good outlet", "languages": ["en"], "feeds": [good.url("/feed.xml")]},
            {"id": "ssrf", "name": "SSRF spellings", "feeds": [*spelled.values(), *OTHER_FORBIDDEN.values()]},
            *({"id": name, "name": name, "feeds": [url]} for name, url in urls.items()),
        ]
        watches = [{"id": "all", "name": "Everything", "keywords": ["migrant workers", "passwd", "root", "lol"]}]
        cfg = write_config(tmp / "config", sources=sources, watches=watches,
                           network={"allow": ["127.0.0.1", "127.0.0.3", "127.0.0.4"]},
                           limits={"request_timeout": 1, "max_feed_bytes": MAX_FEED_BYTES, "cycle_timeout": 60})
        out_path, err_path = tmp / "stdout", tmp / "stderr"
        with open(out_path, "w") as out_file, open(err_path, "w") as err_file:
            proc = subprocess.Popen([sys.executable, "-m", "crawler", "--config", str(cfg), "crawl", "--once",
                                     "--json"], stdout=out_file, stderr=err_file)
            # wait4 gives this child's own peak memory (getrusage would mix in every earlier child)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        out, err = out_path.read_text(), err_path.read_text()
        assert proc.returncode == 0, err
        max_rss = usage.ru_maxrss
        store = Store(cfg / "newswatch.db")
        feeds = {f["url"]: f for f in store.feeds()}
        articles = list(store.db.query("SELECT * FROM articles ORDER BY id"))
        store.close()
        yield Cycle(json.loads(out), feeds, articles, canary, good, evil, drip, max_rss, urls)


def kind(cycle: Cycle, url: str) -> str:
    return cycle.feeds[url]["last_error_kind"]


def test_canary_receives_no_connection_at_all(cycle):
    assert cycle.canary.connections == 0


def test_good_source_is_stored_despite_every_hostile_neighbour(cycle):
    stored = [a for a in cycle.articles if a["source_id"] == "good"]
    assert len(stored) == 1 and "Strogino district of Moscow" in stored[0]["text"]


def test_good_source_is_not_held_up_by_the_drip_feed(cycle):
    article_fetched = cycle.good.events("request", "/article.html")[0]
    drip_given_up = cycle.drip.events("closed", "/drip.xml")
    assert drip_given_up and article_fetched < drip_given_up[0]


@pytest.mark.parametrize("name", list(canary_spellings(1)) + list(OTHER_FORBIDDEN))
def test_forbidden_address_spellings_are_refused_as_policy(cycle, name):
    url = {**canary_spellings(cycle.canary.port), **OTHER_FORBIDDEN}[name]
    assert kind(cycle, url) == "policy"
    assert "not public" in cycle.feeds[url]["last_error"]


def test_redirect_to_canary_is_refused_on_the_hop(cycle):
    assert kind(cycle, cycle.urls["redirect-to-canary"]) == "policy"
    assert kind(cycle, cycle.urls["redirect-to-canary-spelled"]) == "policy"


def test_redirect_to_file_url_is_not_followed(cycle):
    feed = cycle.feeds[cycle.urls["redirect-to-file"]]
    assert feed["last_error_kind"] == "redirects" and "file:///etc/passwd" in feed["last_error"]


def test_redirect_loop_stops_after_five_hops(cycle):
    assert kind(cycle, cycle.urls["redirect-loop"]) == "redirects"
    assert cycle.evil.hits("/loop-a") + cycle.evil.hits("/loop-b") == 6  # the request and 5 redirects


def test_gzip_bomb_is_cut_at_the_feed_limit_and_memory_stays_bounded(cycle):
    assert kind(cycle, cycle.urls["bomb"]) == "too_large"
    assert cycle.evil.hits("/bomb.xml") == 1  # not retried
    # Inflating the whole bomb would take over 1 GiB; the crawl process stays far below.
    assert cycle.max_rss_kb < 400 * 1024


def test_endless_chunked_body_is_cut_at_the_feed_limit(cycle):
    assert kind(cycle, cycle.urls["endless"]) == "too_large"
    assert cycle.evil.events("closed", "/endless.xml")


def test_drip_feed_times_out_and_is_tried_at_most_twice(cycle):
    assert kind(cycle, cycle.urls["drip"]) == "timeout"
    assert cycle.drip.hits("/drip.xml") == 2  # one retry, then the feed backs off


def test_article_links_to_canary_keep_the_feed_summary_only(cycle):
    linked = [a for a in cycle.articles if a["source_id"] == "links-to-canary"]
    assert len(linked) == len(canary_spellings(1))
    assert all(a["summary_only"] == 1 for a in linked)


def test_billion_laughs_is_parsed_without_expanding_entities(cycle):
    [article] = [a for a in cycle.articles if a["source_id"] == "laughs"]
    assert "lollol" not in article["title"] + article["text"]
    assert len(article["title"]) < 100


@pytest.mark.parametrize("source", ["xxe", "xxe-dtd", "xxe-pe"])
def test_external_entities_are_neither_read_nor_fetched(cycle, source):
    stored = [a for a in cycle.articles if a["source_id"] == source]
    assert len(stored) == 1
    text = stored[0]["title"] + stored[0]["text"]
    assert "root:" not in text and "/bin/" not in text


def test_every_hostile_feed_is_recorded_with_backoff(cycle):
    for url, feed in cycle.feeds.items():
        if feed["source_id"] in ("good", "links-to-canary", "laughs", "xxe", "xxe-dtd", "xxe-pe"):
            continue
        assert feed["consecutive_errors"] == 1, url
        assert feed["next_check_at"] > feed["last_polled_at"], url
