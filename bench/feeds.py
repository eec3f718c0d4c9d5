"""Realistic news feeds and a loopback outlet serving a thousand of them.

A feed looks like a Central Asian outlet's RSS 2.0: per item a title, link, guid (not a permalink),
pubDate, dc:creator, category, a short HTML description and the full text in content:encoded, so
1000 feeds span 50-200 KB and 20-100 items. Text comes from the corpus's Russian news when it is
there, otherwise from a deterministic made-up vocabulary (the figures say which).

``FeedFarm`` serves ``/f/<n>.xml`` (generation ``g`` of feed ``n``: item ``g`` is the newest) and
``/a/<n>/<k>.html`` (a small article page) from one ThreadingHTTPServer on 127.0.0.1, with ETag and
Last-Modified and 304 answers while ``validators`` is on.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from email.utils import format_datetime
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from bench.common import russian_texts

_WORDS = ("граница мигранты журналист задержан правительство парламент выборы экономика бюджет тенге сом "
          "сомони сум президент министр район область город село Бишкек Алматы Астана Ташкент Душанбе "
          "Ашхабад суд прокуратура полиция заявление встреча договор проект строительство вода газ").split()


# The corpus text lost the backslash of some "\n": "согласноnзаявлениюnМЧС". Such a title looks garbled
# (two odd words) and is rightly stored flagged and never alerts, which is not what these benchmarks
# measure: the glued words are parted again.
_LOST_NEWLINE = re.compile(r"(?<=[А-ЯЁа-яё])n(?![a-z])|(?<![A-Za-z])n(?=[А-ЯЁа-яё])|(?<=[a-z])n(?=[А-ЯЁа-яё])")


def sentences(limit: int = 4000) -> tuple[list[str], str]:
    """Sentences of real Russian news (or made-up ones) and where they came from."""
    texts = russian_texts(limit=400)
    if texts:
        out = []
        for title, text in texts:
            out.extend(_LOST_NEWLINE.sub(" ", s.strip()) + "." for s in text.replace("\n", " ").split(". ")
                       if len(s) > 40)
        return out[:limit], "corpus russian-news"
    rng = random.Random(1)
    return [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 20))).capitalize() + "."
            for _ in range(limit)], "made-up vocabulary (corpus absent)"


class FeedMaker:
    def __init__(self, base_url: str, pool: list[str]):
        self.base_url = base_url
        self.pool = pool

    def shape(self, n: int) -> tuple[int, int]:
        """(items, bytes per item) of feed n: 20-100 items, 50-200 KB in all."""
        rng = random.Random(n)
        size = rng.randint(47_000, 170_000)  # each item's last sentence overshoots: 50-200 KB served
        items = rng.randint(20, min(100, size // 1300))  # an item with no body text is ~1 KB
        return items, size // items

    def item(self, n: int, k: int, per_item: int) -> str:
        rng = random.Random(n * 1_000_003 + k)
        title = rng.choice(self.pool)[:120]
        link = f"{self.base_url}/a/{n}/{k}.html"
        when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=k * 7 + n)
        desc = " ".join(rng.choice(self.pool) for _ in range(2))[:300]
        head = (f"<item><title>{escape(title)}</title><link>{link}</link>"
                f'<guid isPermaLink="false">outlet-{n}-{k}</guid><pubDate>{format_datetime(when)}</pubDate>'
                f"<dc:creator>Редакция {n}</dc:creator><category>Новости</category>"
                f"<description><![CDATA[<p>{desc}</p>]]></description><content:encoded><![CDATA[")
        tail = "]]></content:encoded></item>"
        paragraphs = []
        size = len(head.encode()) + len(tail)
        while size < per_item:
            p = rng.choice(self.pool)
            paragraphs.append(f"<p>{p}</p>")
            size += len(p.encode()) + 7
        return head + "".join(paragraphs) + tail

    def feed(self, n: int, generation: int = 0, build: int = 0) -> bytes:
        """Generation ``generation`` of feed n; ``build`` changes only the channel's build date."""
        items, per_item = self.shape(n)
        newest = generation + items - 1
        body = "".join(self.item(n, k, per_item) for k in range(newest, newest - items, -1))
        return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
                'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
                f"<channel><title>Outlet {n}</title><link>{self.base_url}/</link><description>Новости</description>"
                + (f"<lastBuildDate>{format_datetime(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=build))}"
                   f"</lastBuildDate>" if build else "")
                + f"{body}</channel></rss>").encode("utf-8")

    def item_keys(self, n: int, generation: int = 0) -> list[str]:
        items, _ = self.shape(n)
        newest = generation + items - 1
        return [f"outlet-{n}-{k}" for k in range(newest, newest - items, -1)]

    def page(self, n: int, k: int) -> bytes:
        rng = random.Random(n * 7_919 + k)
        # "newswatch" in every article: the latency benchmark's watch matches each new one
        text = "".join(f"<p>{'newswatch: ' if i == 0 else ''}{rng.choice(self.pool)} {rng.choice(self.pool)}</p>"
                       for i in range(4))
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>Article {k}</title></head><body>"
                f"<nav><a href='/'>Home</a></nav><article><h1>Article {n}/{k}</h1>{text}</article>"
                f"<footer>Outlet {n}</footer></body></html>").encode("utf-8")


class _Handler(BaseHTTPRequestHandler):
    farm: "FeedFarm"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        farm = self.farm
        parts = self.path.strip("/").split("/")
        try:
            if parts[0] == "f":
                n = int(parts[1].removesuffix(".xml"))
                body, ctype = farm.body(n), "application/rss+xml; charset=utf-8"
            elif parts[0] == "a":
                body, ctype = farm.maker.page(int(parts[1]), int(parts[2].removesuffix(".html"))), \
                    "text/html; charset=utf-8"
            else:
                raise ValueError
        except (ValueError, IndexError):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with farm.lock:
            farm.requests += 1
        headers = {"Content-Type": ctype}
        if farm.validators:
            etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
            headers["ETag"] = etag
            headers["Last-Modified"] = "Thu, 01 Jan 2026 00:00:00 GMT"
            if self.headers.get("If-None-Match") == etag:
                with farm.lock:
                    farm.not_modified += 1
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass


class FeedFarm:
    """``count`` feeds on one loopback server. ``generation[n]`` moves feed n on by one item; ``build``
    changes every feed's build date (a new body, the same items)."""

    def __init__(self, count: int, pool: list[str], host: str = "127.0.0.1"):
        self.count = count
        self.lock = threading.Lock()
        self.validators = True
        self.requests = 0
        self.not_modified = 0
        self.generation = [0] * count
        self.build = 0
        self._cache: dict[tuple[int, int], bytes] = {}
        self.server = _Server((host, 0), type("H", (_Handler,), {"farm": self}))
        self.base_url = f"http://{host}:{self.server.server_address[1]}"
        self.maker = FeedMaker(self.base_url, pool)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def body(self, n: int) -> bytes:
        key = (n, self.generation[n], self.build)
        with self.lock:
            cached = self._cache.get(key)
        if cached is None:
            cached = self.maker.feed(n, key[1], key[2])
            with self.lock:
                self._cache[key] = cached
        return cached

    def feed_url(self, n: int) -> str:
        return f"{self.base_url}/f/{n}.xml"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
