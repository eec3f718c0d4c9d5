"""``newswatch demo``: the whole pipeline, offline, in well under a minute.

Starts the bundled sample outlet, a webhook receiver and an SMTP mailbox on 127.0.0.1, writes a demo
config that points at them, runs one crawl cycle in a child process (as the daemon does) and one
dispatch, then prints what was stored and what arrived.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from .servers import OUTLET_DIR, Mailbox, OutletServer, WebhookReceiver

SECRET_ENV = "NEWSWATCH_DEMO_WEBHOOK_SECRET"


def write_demo_config(directory: Path, outlet_url: str, hook_url: str, smtp_port: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    settings = {
        "database": str(directory.parent / "demo.db"),
        "network": {"allow": ["127.0.0.1"]},
        "politeness": {"delay": 0, "obey_robots": False},
        "channels": {
            "desk-mail": {"type": "email", "host": "127.0.0.1", "port": smtp_port, "tls": "none",
                          "from": "newswatch@demo.local", "to": ["desk@demo.local"]},
            "desk-hook": {"type": "webhook", "url": hook_url, "secret_env": SECRET_ENV},
        },
    }
    sources = {"sources": [{
        "id": "steppe-wire", "name": "Steppe Wire (demo outlet)", "homepage": outlet_url + "/",
        "country": "KZ", "languages": ["en"], "interval": "15m", "feeds": [outlet_url + "/feed.xml"]}]}
    watches = {"watches": [
        {"id": "migrant-workers", "name": "Migrant workers", "topics": ["migrant-workers"],
         "channels": ["desk-mail", "desk-hook"]},
        {"id": "journalists", "name": "Detained journalists", "topics": ["journalist-detentions"],
         "channels": ["desk-hook"]},
    ]}
    for name, data in (("settings.yaml", settings), ("sources.yaml", sources), ("watches.yaml", watches)):
        (directory / name).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def run_demo(keep: Path | None = None, out=None) -> int:
    out = out or sys.stdout
    tmp = None
    if keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="newswatch-demo-")
        workdir = Path(tmp.name)
    else:
        workdir = Path(keep)
    env = dict(os.environ, **{SECRET_ENV: "demo-secret"})
    try:
        with OutletServer(OUTLET_DIR) as outlet, WebhookReceiver() as hook, Mailbox() as mailbox:
            cfg_dir = workdir / "config"
            write_demo_config(cfg_dir, outlet.base_url, hook.url, mailbox.port)
            print(f"Sample outlet   {outlet.base_url}/feed.xml", file=out)
            print(f"Webhook         {hook.url}", file=out)
            print(f"SMTP mailbox    127.0.0.1:{mailbox.port}", file=out)
            print(f"Config          {cfg_dir}\n", file=out)
            print("Crawling once...\n", file=out, flush=True)
            proc = subprocess.run([sys.executable, "-m", "crawler", "--config", str(cfg_dir), "--log-level",
                                   "WARNING", "crawl", "--once"], env=env, capture_output=True, text=True)
            print(proc.stdout, file=out)
            if proc.returncode != 0:
                print(proc.stderr, file=out)
                return proc.returncode
            hook.wait_for(1, timeout=5)
            mailbox.wait_for(1, timeout=5)

            from ..store import Store

            store = Store(workdir / "demo.db")
            print("Stored articles:", file=out)
            for a in reversed(store.recent_articles()):
                print(f"  #{a['id']} [{a['language']}] {a['title']}  ({a['chars']} chars)", file=out)
            store.close()
            print(f"\nWebhook calls received: {len(hook.calls)}", file=out)
            for call in hook.calls:
                body = call["json"] or {}
                matches = ", ".join(f"{m['keyword']} «{m['form']}»" for m in body.get("matches", []))
                print(f"  {body.get('watch', {}).get('name')}: {body.get('article', {}).get('title')}", file=out)
                print(f"    matched {matches}; signed: {call['headers'].get('webhook-signature', '-')[:24]}...",
                      file=out)
            print(f"\nEmails received: {len(mailbox.messages)}", file=out)
            for msg in mailbox.messages:
                print(f"  To: {msg['To']}  Subject: {msg['Subject']}", file=out)
            print("\nNext: copy config/ and edit sources.yaml, watches.yaml and settings.yaml; "
                  "then `make run`.", file=out)
            return 0
    finally:
        if tmp is not None:
            tmp.cleanup()
