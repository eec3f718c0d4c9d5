"""Shared test helpers: real servers on loopback, real config directories, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crawler.demo.servers import Mailbox, OutletServer, WebhookReceiver

FIXTURES = Path(__file__).parent / "fixtures"
SEED = FIXTURES / "seed"
SHARED = Path(__file__).resolve().parents[2] / "shared"
WEBHOOK_SECRET = "whsec_" + "c2VjcmV0LWZvci10ZXN0cw=="  # base64("secret-for-tests")


def write_config(directory: Path, *, sources: list[dict], watches: list[dict] | None = None,
                 channels: dict | None = None, **settings) -> Path:
    """A config directory as a user would write it. Database inside ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    base = {"database": str(directory / "newswatch.db"), "network": {"allow": ["127.0.0.1"]},
            "politeness": {"delay": 0, "obey_robots": False}, "limits": {"request_timeout": 5}}
    for key, value in settings.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    if channels:
        base["channels"] = channels
    files = {"settings.yaml": base, "sources.yaml": {"sources": sources},
             "watches.yaml": {"watches": watches or []}}
    for name, data in files.items():
        (directory / name).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return directory


def channels_for(hook: WebhookReceiver | None = None, mailbox: Mailbox | None = None) -> dict:
    out = {}
    if hook is not None:
        out["desk-hook"] = {"type": "webhook", "url": hook.url, "secret_env": "NW_TEST_WEBHOOK_SECRET",
                            "timeout": 3}
    if mailbox is not None:
        out["desk-mail"] = {"type": "email", "host": "127.0.0.1", "port": mailbox.port, "tls": "none",
                            "from": "newswatch@test.local", "to": ["desk@test.local"], "timeout": 3}
    return out


def cli(config_dir: Path, *args: str, check: bool = True, timeout: float = 120,
        input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``newswatch`` as a user would: a separate process (the Twisted reactor runs once per process)."""
    env = dict(os.environ, NW_TEST_WEBHOOK_SECRET=WEBHOOK_SECRET)
    proc = subprocess.run([sys.executable, "-m", "crawler", "--config", str(config_dir), *args],
                          capture_output=True, text=True, timeout=timeout, env=env, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"newswatch {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def crawl_once(config_dir: Path, *args: str) -> dict:
    proc = cli(config_dir, "crawl", "--once", "--json", *args)
    return json.loads(proc.stdout)


@pytest.fixture
def seed_outlet():
    with OutletServer(SEED) as server:
        yield server


@pytest.fixture
def hook():
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def mailbox():
    with Mailbox() as box:
        yield box
