"""The feed spider as a Scrapy component (built with get_crawler, as Scrapy's own tests do)."""

from __future__ import annotations

from scrapy import signals
from scrapy.http import Request, TextResponse
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from conftest import write_config
from crawler import config as config_mod
from crawler.crawl import CrawlSession
from crawler.store import Store
from spiders.feeds import FeedSpider


def session(tmp_path):
    cfg = config_mod.load(write_config(tmp_path / "config", sources=[
        {"id": "tca", "name": "TCA", "feeds": ["http://127.0.0.1:9/feed.xml"]}]))
    store = Store(cfg.database_path)
    store.sync_sources(cfg.sources)
    return CrawlSession(cfg, store, ["tca"])


def test_exception_in_newswatch_code_is_an_error_in_the_summary_not_a_quiet_cycle(tmp_path):
    s = session(tmp_path)
    crawler = get_crawler(FeedSpider)
    spider = FeedSpider.from_crawler(crawler, session=s)
    response = TextResponse("http://127.0.0.1:9/feed.xml", body=b"<rss/>", request=Request("http://127.0.0.1:9/"))
    try:
        1 / 0
    except ZeroDivisionError:
        failure = Failure()
    crawler.signals.send_catch_log(signals.spider_error, failure=failure, response=response, spider=spider)
    item = {"entry": None, "feed_url": "http://127.0.0.1:9/feed.xml"}
    crawler.signals.send_catch_log(signals.item_error, item=item, response=response, spider=spider, failure=failure)
    assert len(s.summary.errors) == 2
    assert s.summary.errors[0].startswith("internal: http://127.0.0.1:9/feed.xml: spider:")
    assert "division by zero" in s.summary.errors[1]
