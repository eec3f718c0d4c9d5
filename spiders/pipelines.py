"""Item pipeline: every item is one feed entry (with its page, or the reason there is none);
the crawl session extracts, deduplicates, stores and matches it."""

from __future__ import annotations


class StorePipeline:
    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item):
        self.crawler.spider.session.entry_item(item)
        return item
