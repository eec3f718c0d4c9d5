"""``newswatch crawl --once`` on a terminal: a progress bar while it runs, a table at the end, and
log lines that stay one event per line."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

from conftest import cli, write_config

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def run_in_terminal(args: list[str], columns: int = 120, timeout: float = 120) -> str:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(columns))
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=10)
    os.close(master)
    return out.decode("utf-8", errors="replace")


def test_terminal_shows_progress_and_a_summary_table_and_keeps_log_lines_whole(tmp_path, seed_outlet):
    seed_outlet.set_response("/down.xml", 502, b"bad gateway", {"Content-Type": "text/plain"})
    cfg = write_config(tmp_path / "config", sources=[
        {"id": "timesca", "name": "The Times of Central Asia", "feeds": [seed_outlet.url("/feed.xml")]},
        {"id": "kaktus", "name": "Kaktus Media", "feeds": [seed_outlet.url("/down.xml")]}])
    raw = run_in_terminal([sys.executable, "-m", "crawler", "--config", str(cfg), "crawl", "--once"])
    text = ANSI.sub("", raw)
    assert "feeds" in text and "2/2" in text, text  # the progress bar reached the end
    assert "Crawl summary" in text
    assert re.search(r"new articles\s+1", text) and re.search(r"errors\s+1", text)
    # Each event is one line with its stable fields, even a long one on a 120-column terminal.
    lines = [line for line in text.splitlines() if "event=feed_error" in line]
    assert len(lines) == 1
    assert "source_id=kaktus" in lines[0] and "stage=fetch" in lines[0] and "kind=http" in lines[0]
    stored = [line for line in text.splitlines() if "event=article_stored" in line]
    assert len(stored) == 1 and "source_id=timesca" in stored[0] and "url=http://127.0.0.1" in stored[0]


def test_piped_output_has_no_progress_bar_and_the_plain_summary(tmp_path, seed_outlet):
    cfg = write_config(tmp_path / "config", sources=[
        {"id": "timesca", "name": "The Times of Central Asia", "feeds": [seed_outlet.url("/feed.xml")]}])
    proc = cli(cfg, "crawl", "--once")
    assert ["new", "articles", "1"] in [line.split() for line in proc.stdout.splitlines()]
    assert "\x1b[" not in proc.stdout + proc.stderr
    # No library banners or multi-line dumps between the events.
    assert all("event=" in line for line in proc.stderr.splitlines() if line.strip()), proc.stderr
