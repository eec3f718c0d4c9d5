"""``newswatch browse``: the archive in a browser, as a person sees it (headless Chromium)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from html import unescape
from pathlib import Path
from urllib.parse import quote

import pytest
from archive import ARCHIVE, article_of, build_archive

from crawler.demo.servers import free_port
from crawler.pipeline import Matcher, save
from crawler.store import Store, utcnow

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


def chromium(tmp_path, url, screenshot: Path | None = None) -> str:
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1400,1000"]
    if screenshot is not None:
        args.append(f"--screenshot={screenshot}")
    else:
        args.append("--dump-dom")
    proc = subprocess.run([*args, url], capture_output=True, text=True, timeout=90)
    return unescape(proc.stdout)


@pytest.fixture
def browse(tmp_path):
    cfg, config = build_archive(tmp_path / "config")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "crawler", "--config", str(cfg), "browse", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/-/versions.json", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(proc.stderr.read())
            time.sleep(0.2)
    yield base + "/newswatch", config
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_articles_page_shows_titles_outlets_and_facets(tmp_path, browse):
    db_url, _ = browse
    page = chromium(tmp_path, db_url + "/article_list")
    assert "Articles" in page
    for title in ("Трудовые мигранты из Кыргызстана вернулись домой после отмены рейсов",
                  "Rossiyadagi muhojirlar uchun yangi qoidalar kuchga kirdi",
                  "Қазақстан мен Қырғызстан Тоқтоғұл су қоймасы бойынша келісті"):
        assert title in page
    for facet in ("Outlet", "Country", "Language", "Watches"):
        assert f'data-column="{facet}"' in page, facet
    for value in ("Tengrinews", "Kun.uz", "TJ", "uz-Latn", "migrant-workers"):
        assert value in page, value
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "browse-articles.png"
    chromium(tmp_path, db_url + "/article_list", screenshot=shot)
    assert shot.exists() and shot.stat().st_size > 10_000


def test_cyrillic_search_finds_the_russian_story_and_not_the_others(tmp_path, browse):
    db_url, _ = browse
    page = chromium(tmp_path, db_url + "/article_list?_search=" + quote("мигрантов"))
    assert "Трудовые мигранты из Кыргызстана вернулись домой после отмены рейсов" in page
    assert "Uzbekistan Sends Diplomatic Note" not in page
    assert "В Алматы задержан журналист" not in page
    ARTIFACTS.mkdir(exist_ok=True)
    chromium(tmp_path, db_url + "/article_list?_search=" + quote("мигрантов"),
             screenshot=ARTIFACTS / "browse-search-cyrillic.png")


def test_canned_queries_latest_matches_stories_and_failing_sources(tmp_path, browse):
    db_url, _ = browse
    home = chromium(tmp_path, db_url)
    for title in ("Latest matches per watch", "Stories with their outlets", "Failing sources"):
        assert title in home
    latest = chromium(tmp_path, db_url + "/latest_matches?watch=detained-journalists")
    assert "Дар Душанбе рӯзноманигор боздошт шуд" in latest
    assert "Трудовые мигранты" not in latest
    stories = chromium(tmp_path, db_url + "/stories_with_outlets?since=2000-01-01")
    assert "Uzbekistan Sends Diplomatic Note to Russia" in stories and "The Times of Central Asia" in stories


def test_the_page_is_live_new_articles_appear_without_a_restart(tmp_path, browse):
    db_url, config = browse
    store = Store(config.database_path)  # what the daemon does while the page is open
    item = {**ARCHIVE["articles"][0], "url": "https://24.kg/obschestvo/318400_novyie_reysyi/",
            "title": "Рейсы в Екатеринбург возобновят для трудовых мигрантов", "text": "Рейсы возобновят с июля."}
    save(store, Matcher(config), article_of(item, utcnow()))
    store.close()
    page = chromium(tmp_path, db_url + "/article_list")
    assert "Рейсы в Екатеринбург возобновят для трудовых мигрантов" in page
