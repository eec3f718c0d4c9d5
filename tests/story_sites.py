"""Render tests/fixtures/stories/outlets.yaml into small outlet sites that OutletServer can serve.

Each outlet gets ``feed.xml.tmpl`` and ``news/<slug>.html`` pages laid out like a real news site
(menu, breadcrumbs, a "Latest news" sidebar, a site footer), so extraction has chrome to strip and
the article body keeps the outlet's own byline and footer lines, as republished copies do.
"""

from __future__ import annotations

import html
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

import yaml

from conftest import FIXTURES

STORIES = FIXTURES / "stories" / "outlets.yaml"

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title} | {outlet}</title>
  <meta name="author" content="{author}">
  {canonical}
  <meta property="og:site_name" content="{outlet}">
  <meta property="og:type" content="article">
  <meta property="og:title" content="{title}">
  <meta property="article:published_time" content="{published}">
</head>
<body>
  <header class="site-header">
    <a class="logo" href="/">{outlet}</a>
    <nav class="main-menu"><ul>
      <li><a href="/">Home</a></li><li><a href="/politics/">Politics</a></li><li><a href="/economy/">Economy</a></li>
      <li><a href="/migration/">Migration</a></li><li><a href="/region/">Region</a></li><li><a href="/about/">About</a></li>
    </ul></nav>
  </header>
  <div class="container">
    <main>
      <nav class="breadcrumbs"><a href="/">Home</a> / <a href="/region/">Region</a></nav>
      <article class="news-article">
        <h1>{title}</h1>
        <div class="article-meta"><span class="byline">{author}</span>
          <time datetime="{published}">{published}</time></div>
        <div class="article-body">
{paragraphs}
        </div>
        <div class="share"><span>Share:</span> <button>Telegram</button> <button>Facebook</button></div>
      </article>
    </main>
    <aside class="sidebar">
      <h2>Latest news</h2>
      <ul>
{latest}
      </ul>
    </aside>
  </div>
  <footer class="site-footer">
    <ul><li><a href="/about/">About us</a></li><li><a href="/ads/">Advertising</a></li><li><a href="/feed.xml">RSS</a></li></ul>
    <p>&copy; 2025 {outlet}. Fictional outlet built for Newswatch tests.</p>
  </footer>
</body>
</html>
"""


def outlets() -> list[dict]:
    return yaml.safe_load(STORIES.read_text(encoding="utf-8"))["outlets"]


def _rfc822(when) -> str:
    # YAML reads an unquoted timestamp as a datetime already
    if isinstance(when, str):
        when = datetime.fromisoformat(when.replace("Z", "+00:00"))
    return format_datetime(when, usegmt=True)


def _iso(when) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(when, datetime) else str(when)


def page_path(outlet: dict, article: dict) -> str:
    return f"/news/{article['slug']}.html"


def render_site(outlet: dict, root: Path, *, steppewire_url: str = "") -> Path:
    """Write the outlet's site under ``root`` (created) and return it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "news").mkdir(exist_ok=True)
    if outlet.get("amp"):
        (root / "amp").mkdir(exist_ok=True)
    articles = outlet["articles"]
    items = []
    for article in articles:
        canonical = article.get("canonical", "self")
        href = {"self": page_path(outlet, article), "homepage": "/"}.get(
            canonical, canonical.replace("{steppewire}", steppewire_url))
        latest = "\n".join(f'        <li><a href="{page_path(outlet, a)}">{html.escape(a["title"])}</a></li>'
                           for a in articles if a is not article)
        body = PAGE.format(
            title=html.escape(article["title"]), outlet=html.escape(outlet["name"]),
            author=html.escape(article["author"]), published=_iso(article["published"]),
            canonical=f'<link rel="canonical" href="{html.escape(href)}">',
            paragraphs="\n".join(f"          <p>{html.escape(p)}</p>" for p in article["body"]), latest=latest)
        (root / "news" / f"{article['slug']}.html").write_text(body, encoding="utf-8")
        link = page_path(outlet, article)
        if outlet.get("amp"):
            # the feed links the AMP edition; its canonical is the article page
            amp = body.replace(f'<link rel="canonical" href="{html.escape(href)}">',
                               f'<link rel="canonical" href="{page_path(outlet, article)}">')
            (root / "amp" / f"{article['slug']}.html").write_text(amp, encoding="utf-8")
            link = f"/amp/{article['slug']}.html"
        items.append(
            f"""    <item>
      <title>{html.escape(article['title'])}</title>
      <link>{{base_url}}{link}?utm_source=rss</link>
      <guid isPermaLink="false">{outlet['id']}-{article['slug']}</guid>
      <pubDate>{_rfc822(article['published'])}</pubDate>
      <description>{html.escape(article['body'][1] if len(article['body']) > 1 else article['body'][0])}</description>
    </item>""")
    feed = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>{html.escape(outlet['name'])}</title>
    <link>{{base_url}}/</link>
    <description>Fixture outlet for story tests</description>
{chr(10).join(items)}
  </channel>
</rss>
"""
    (root / "feed.xml.tmpl").write_text(feed, encoding="utf-8")
    return root
