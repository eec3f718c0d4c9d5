"""The network policy: which addresses may be reached, checked before a request and again at connection time.

The second check matters for DNS rebinding: a name that resolves to a public address when the
middleware looks and to 127.0.0.1 when Scrapy connects. No DNS server can be run here, so the test
takes the first check away (as a rebinding answer would) and shows the connection-time check alone
keeps a real Scrapy crawl off the canary.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import write_config
from hostile import Canary

from crawler.errors import PolicyError
from crawler.netpolicy import Allowlist, address_allowed, check_url


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://2130706433/", "http://0x7f.1/", "http://127.1/", "http://0177.0.0.1/",
    "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/latest/meta-data/",
    "http://10.1.2.3/", "http://192.168.0.1/", "http://172.16.0.1/", "http://100.64.0.1/", "http://0.0.0.0/",
    "http://[fe80::1]/", "http://[fd00::1]/", "http://224.0.0.1/", "http://localhost/",
], ids=lambda u: u.split("/")[2])
def test_non_public_addresses_are_refused(url):
    with pytest.raises(PolicyError, match="not public"):
        check_url(url, source_id="x")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/feed", "data:text/xml,<rss/>",
                                 "gopher://127.0.0.1:25/", "s3://bucket/feed.xml", "//example.org/rss"])
def test_only_http_and_https_schemes(url):
    with pytest.raises(PolicyError, match="scheme"):
        check_url(url)


def test_allowlist_by_address_network_and_host():
    allow = Allowlist(["127.0.0.1", "10.1.0.0/16", "intranet.example"])
    assert address_allowed("whatever", "127.0.0.1", allow)
    assert address_allowed("whatever", "10.1.200.3", allow)
    assert not address_allowed("whatever", "10.2.0.1", allow)
    assert address_allowed("intranet.example", "192.168.1.1", allow)
    assert not address_allowed("whatever", "::ffff:127.0.0.2", allow)
    assert address_allowed("news.example", "93.184.215.14", allow)  # public


REBIND_SCRIPT = textwrap.dedent('''
    import json, sys
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from crawler import config
    from crawler.crawl import scrapy_settings
    from spiders.feeds import describe_failure

    cfg = config.load(sys.argv[1])
    settings = scrapy_settings(cfg)
    # What a rebinding DNS answer does: the pre-request check saw a public address and let it through.
    settings["DOWNLOADER_MIDDLEWARES"] = {"spiders.middlewares.NetworkPolicyMiddleware": None}
    settings["RETRY_TIMES"] = 0
    results = []

    class Probe(scrapy.Spider):
        name = "probe"

        async def start(self):
            for url in sys.argv[2:]:
                yield scrapy.Request(url, callback=self.ok, errback=self.failed, dont_filter=True)

        def ok(self, response):
            results.append(["fetched", response.url])

        def failed(self, failure):
            results.append(list(describe_failure(failure)))

    process = CrawlerProcess(settings)
    process.crawl(Probe)
    process.start()
    print(json.dumps(results))
''')


def test_connection_time_check_alone_keeps_scrapy_off_private_addresses(tmp_path):
    cfg = write_config(tmp_path / "config", sources=[{"id": "x", "name": "X", "feeds": ["http://127.0.0.1/x"]}],
                       network={"allow": []})
    with Canary("127.0.0.2") as canary:
        urls = [canary.url("/a"), f"http://2130706434:{canary.port}/b", f"http://localhost:{canary.port}/c"]
        proc = subprocess.run([sys.executable, "-c", REBIND_SCRIPT, str(cfg), *urls], capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        results = json.loads(proc.stdout.strip().splitlines()[-1])
        assert canary.connections == 0
    assert len(results) == 3
    assert all(kind == "policy" and "refused when connecting" in message for kind, message in results)
