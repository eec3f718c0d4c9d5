"""Alert delivery you can trust: the dispatcher against real SMTP and HTTP servers on loopback.

Alerts are queued the way a crawl queues them (pipeline.save into a real SQLite file); the
dispatcher runs with an injected clock, so retries hours apart take no time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
import trustme
from aiosmtpd.controller import Controller
from conftest import cli, write_config
from test_alerts import Receiver, free_port

from crawler import config as config_mod
from crawler.alerts.dispatcher import dispatch_pending
from crawler.models import Article
from crawler.pipeline import Matcher, save
from crawler.store import Store, iso, utcnow

NEW_SECRET = "whsec_" + base64.b64encode(b"new secret for the desk hook 2026").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"old secret for the desk hook 2025").decode()

STORIES = [
    ("Мигранты из Кыргызстана задержаны на границе с Казахстаном",
     "Около сорока трудовых мигрантов задержаны на посту Кордай. Мигранты возвращались домой."),
    ("Uzbekistan sends diplomatic note over treatment of migrant workers in Moscow",
     "Tashkent protested the detention of migrant workers during raids in Moscow markets."),
    ("Migrant workers stranded at the Kazakh border after new rules",
     "Hundreds of migrant workers waited for days at the checkpoint."),
]


class Clock:
    """The dispatcher's notion of now, moved by the test."""

    def __init__(self):
        self.start = self.now = utcnow()

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class SMTPScript:
    """aiosmtpd handler answering DATA with the next scripted reply (the last one repeats)."""

    def __init__(self, *replies: str):
        self.replies = list(replies)
        self.tries = 0
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.tries += 1
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if reply.startswith("250"):
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos),
                                  bytes(envelope.original_content or envelope.content)))
        return reply


@pytest.fixture
def smtp():
    started = []

    def start(handler, **kwargs):
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(), server_hostname="localhost",
                                **kwargs)
        controller.start()
        started.append(controller)
        return controller.port

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def hooks():
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def setup(tmp_path, channels: dict, *, watch_digest=None, operator=(), **settings):
    watch = {"id": "migrants", "name": "Migrant workers", "keywords": ["migrant workers", "мигранты"],
             "channels": [name for name in channels if not name.startswith("ops")]}
    if watch_digest:
        watch["digest"] = watch_digest
    alerts = {"retry_base": 1, **settings.pop("alerts", {})}
    cfg_dir = write_config(tmp_path / "config", sources=[{"id": "kloop", "name": "Kloop",
                                                          "feeds": ["https://kloop.kg/feed/"]}],
                           watches=[watch], channels=channels, alerts=alerts,
                           operator={"channels": list(operator)}, **settings)
    cfg = config_mod.load(cfg_dir)
    store = Store(cfg.database_path)
    store.sync_sources(cfg.sources)
    return cfg, store


def queue(cfg, store, n=1, title=None):
    """Store ``n`` matching articles as a crawl would; return their alert ids."""
    matcher, ids = Matcher(cfg), []
    for i in range(n):
        head, text = STORIES[i % len(STORIES)]
        head = title or f"{head} ({i})"
        url = f"https://kloop.kg/2026/03/02/story-{time.monotonic_ns()}/"
        article = Article(source_id="kloop", feed_url="https://kloop.kg/feed/", url=url, canonical_url=url,
                          guid=url, entry_key=url, title=head, author=None, published_at="2026-03-02T08:00:00Z",
                          fetched_at="2026-03-02T09:00:00Z", language="ru", text=f"{text} {i}",
                          summary_only=False, content_hash=hashlib.sha256(url.encode()).hexdigest())
        ids += save(store, matcher, article).alerts
    return ids


def readme_verify(secret: str, headers, body: bytes) -> bool:
    """The receiver's check exactly as the README documents it."""
    key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(ts)) > 300:
        return False
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, sig.split(",", 1)[1])
               for sig in headers["webhook-signature"].split() if sig.startswith("v1,"))


def mail_channel(port, **over):
    return {"type": "email", "host": "127.0.0.1", "port": port, "tls": "none", "from": "newswatch@desk.kg",
            "to": ["desk@desk.kg"], "timeout": 3, **over}


def hook_channel(url, **over):
    return {"type": "webhook", "url": url, "timeout": 3, **over}


def notices_received(hooks, path="/ops"):
    return [json.loads(r.body) for r in hooks.requests if r.path == path]


# ============================================================================= email


def test_smtp_451_451_then_250_delivers_exactly_one_message(tmp_path, smtp):
    handler = SMTPScript("451 4.3.0 Try again later", "451 4.3.0 Try again later", "250 OK")
    cfg, store = setup(tmp_path, {"desk-mail": mail_channel(smtp(handler))})
    [alert_id] = queue(cfg, store)
    clock = Clock()
    for _ in range(6):  # more passes than needed: a sent alert is never sent again
        dispatch_pending(cfg, store, clock=clock)
        clock.advance(30)
    assert handler.tries == 3
    assert len(handler.received) == 1
    row = store.delivery("outbox", alert_id)
    assert row["state"] == "sent" and row["attempts"] == 3
    log = store.attempts_log(alert_id)
    assert [a["outcome"] for a in log] == ["retry", "retry", "sent"]
    assert "451" in log[0]["error"]
    _, rcpt, raw = handler.received[0]
    assert rcpt == ["desk@desk.kg"]
    assert f"<{alert_id}@newswatch>".encode() in raw


def test_smtp_550_is_one_attempt_dead_lettered_and_the_operator_told_once(tmp_path, smtp, hooks):
    handler = SMTPScript("550 5.7.1 Message rejected as spam")
    ops = hooks.route("/ops", {"status": 204})
    cfg, store = setup(tmp_path, {"desk-mail": mail_channel(smtp(handler)), "ops-hook": hook_channel(ops)},
                       operator=["ops-hook"], network={"allow": ["127.0.0.1"]})
    [alert_id] = queue(cfg, store)
    clock = Clock()
    for _ in range(4):
        dispatch_pending(cfg, store, clock=clock)
        clock.advance(3600)
    assert handler.tries == 1 and handler.received == []
    row = store.delivery("outbox", alert_id)
    assert row["state"] == "failed" and row["attempts"] == 1 and "550" in row["last_error"]
    [told] = notices_received(hooks)
    assert told["type"] == "operator.notices"
    [notice] = told["notices"]
    assert notice["kind"] == "dead_letter" and notice["channel"] == "desk-mail"
    assert alert_id in notice["message"] and "alerts retry" in notice["message"]


def test_email_starttls_checks_the_certificate_and_trusts_a_configured_ca(tmp_path, smtp):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = __import__("ssl").create_default_context(__import__("ssl").Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    handler = SMTPScript("250 OK")
    port = smtp(handler, tls_context=server_ctx, require_starttls=True)
    ca_file = tmp_path / "desk-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cfg, store = setup(tmp_path, {"desk-mail": mail_channel(port, tls="starttls"),
                                  "desk-mail-ca": mail_channel(port, tls="starttls", ca_file=str(ca_file))})
    queue(cfg, store)
    dispatch_pending(cfg, store, clock=Clock())
    rows = {r["channel"]: r for r in store.outbox()}
    # An unknown CA is a configuration problem, not a passing outage: dead-lettered at once.
    assert rows["desk-mail"]["state"] == "failed"
    assert "certificate" in rows["desk-mail"]["last_error"].lower()
    assert rows["desk-mail-ca"]["state"] == "sent"
    assert len(handler.received) == 1


def test_email_title_with_crlf_bcc_and_u2028_adds_no_header_or_recipient(tmp_path, smtp):
    handler = SMTPScript("250 OK")
    cfg, store = setup(tmp_path, {"desk-mail": mail_channel(smtp(handler))})
    queue(cfg, store, title="Migrant workers\r\nBcc: leak@evil.example\u2028Reply-To: x@evil.example")
    dispatch_pending(cfg, store, clock=Clock())
    [(_, rcpt, raw)] = handler.received
    assert rcpt == ["desk@desk.kg"]
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\nBcc:" not in head and b"\nReply-To:" not in head
    from email import message_from_bytes, policy
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Bcc"] is None and msg["Reply-To"] is None
    assert msg["Subject"] == ("[Newswatch] Migrant workers: Migrant workers Bcc: leak@evil.example "
                              "Reply-To: x@evil.example")
    assert msg.get_body(("html",)) is not None and msg.get_body(("plain",)) is not None


# ============================================================================= webhooks


def test_webhook_500_500_timeout_200_is_one_accepted_verified_delivery(tmp_path, hooks, monkeypatch):
    monkeypatch.setenv("NW_DESK_SECRET", NEW_SECRET)
    monkeypatch.setenv("NW_DESK_SECRET_OLD", OLD_SECRET)
    url = hooks.route("/desk", {"status": 500}, {"status": 500}, {"status": 200, "delay": 2.5}, {"status": 200})
    cfg, store = setup(tmp_path, {"desk-hook": hook_channel(url, timeout=0.5, secret_env="NW_DESK_SECRET",
                                                            previous_secret_env="NW_DESK_SECRET_OLD")},
                       network={"allow": ["127.0.0.1"]})
    [alert_id] = queue(cfg, store)
    clock = Clock()
    for _ in range(6):
        dispatch_pending(cfg, store, clock=clock)
        clock.advance(60)
    calls = hooks.requests
    assert len(calls) == 4
    assert {c.headers["webhook-id"] for c in calls} == {alert_id}
    assert [a["outcome"] for a in store.attempts_log(alert_id)] == ["retry", "retry", "retry", "sent"]
    assert "timed out" in store.attempts_log(alert_id)[2]["error"]
    accepted = calls[-1]
    # Rotation: the call carries two signatures; a receiver on either secret accepts it.
    assert len(accepted.headers["webhook-signature"].split()) == 2
    assert readme_verify(NEW_SECRET, accepted.headers, accepted.body)
    assert readme_verify(OLD_SECRET, accepted.headers, accepted.body)
    assert not readme_verify("whsec_" + base64.b64encode(b"someone else").decode(), accepted.headers, accepted.body)
    assert json.loads(accepted.body)["id"] == alert_id
    assert store.delivery("outbox", alert_id)["state"] == "sent"


def test_webhook_retry_after_is_honoured(tmp_path, hooks):
    url = hooks.route("/desk", {"status": 429, "headers": {"Retry-After": "600"}}, {"status": 200})
    cfg, store = setup(tmp_path, {"desk-hook": hook_channel(url)}, network={"allow": ["127.0.0.1"]})
    [alert_id] = queue(cfg, store)
    clock = Clock()
    dispatch_pending(cfg, store, clock=clock)
    assert store.delivery("outbox", alert_id)["next_attempt_at"] == iso(clock.start + timedelta(seconds=600))
    clock.advance(590)  # backoff alone (retry_base 1 s) would have retried long ago
    dispatch_pending(cfg, store, clock=clock)
    assert len(hooks.requests) == 1
    clock.advance(15)
    dispatch_pending(cfg, store, clock=clock)
    assert len(hooks.requests) == 2
    assert store.delivery("outbox", alert_id)["state"] == "sent"


def test_webhook_failing_past_max_age_is_dead_lettered_and_the_operator_told_once(tmp_path, hooks):
    url = hooks.route("/desk", {"status": 503})
    ops = hooks.route("/ops", {"status": 200})
    cfg, store = setup(tmp_path, {"desk-hook": hook_channel(url), "ops-hook": hook_channel(ops)},
                       operator=["ops-hook"], network={"allow": ["127.0.0.1"]},
                       alerts={"retry_base": 60, "retry_max_delay": "10m", "max_age": "1h"})
    ids = queue(cfg, store, n=3)
    clock = Clock()
    for _ in range(40):
        dispatch_pending(cfg, store, clock=clock)
        clock.advance(120)
    rows = [store.delivery("outbox", i) for i in ids]
    assert all(r["state"] == "failed" for r in rows)
    desk_calls = [r for r in hooks.requests if r.path == "/desk"]
    # 1 min, 2, 4, 8, then every 10 min up to the hour: about 9 tries each, the last at the deadline
    assert 3 * 6 <= len(desk_calls) <= 3 * 11
    last = store.attempts_log(ids[0])[-1]
    assert last["outcome"] == "failed" and last["started_at"] <= iso(clock.start + timedelta(minutes=62))
    told = notices_received(hooks)
    assert len(told) == 1
    [notice] = told[0]["notices"]
    assert notice["kind"] == "dead_letter" and notice["message"].startswith("3 alert(s)")


def test_410_disables_the_channel_keeps_its_alerts_and_tells_the_operator_once(tmp_path, hooks):
    url = hooks.route("/desk", {"status": 410})
    ops = hooks.route("/ops", {"status": 200})
    cfg, store = setup(tmp_path, {"desk-hook": hook_channel(url), "ops-hook": hook_channel(ops)},
                       operator=["ops-hook"], network={"allow": ["127.0.0.1"]})
    first = queue(cfg, store, n=2)
    clock = Clock()
    dispatch_pending(cfg, store, clock=clock)
    later = queue(cfg, store, n=2)
    clock.advance(3600)
    dispatch_pending(cfg, store, clock=clock)
    assert len([r for r in hooks.requests if r.path == "/desk"]) == 1  # nothing more after the 410
    assert all(store.delivery("outbox", i)["state"] == "failed" for i in first + later)
    assert "disabled" in store.delivery("outbox", later[0])["last_error"]
    told = [n for msg in notices_received(hooks) for n in msg["notices"]]
    assert [n["kind"] for n in told] == ["channel_disabled"]
    assert "desk-hook" in told[0]["message"] and "410" in told[0]["message"]

    # The receiver is back (at the same URL): a passing test enables the channel, a retry resends.
    hooks.route("/desk", {"status": 200})
    proc = cli(cfg.directory, "alerts", "test", "desk-hook")
    assert "enabled again" in proc.stdout
    proc = cli(cfg.directory, "alerts", "retry", "--all-failed")
    assert "queued 4: sent 4" in proc.stdout
    ids = [r.headers["webhook-id"] for r in hooks.requests if r.path == "/desk"]
    assert sorted(ids[2:]) == sorted(first + later)


def test_channel_unknown_after_config_edit_dead_letters_instead_of_looping(tmp_path, hooks):
    url = hooks.route("/desk", {"status": 200})
    cfg, store = setup(tmp_path, {"desk-hook": hook_channel(url)}, network={"allow": ["127.0.0.1"]})
    [alert_id] = queue(cfg, store)
    edited = config_mod.load(write_config(tmp_path / "config2", sources=[{"id": "kloop", "name": "Kloop",
                                          "feeds": ["https://kloop.kg/feed/"]}],
                                          database=str(cfg.database_path)))
    dispatch_pending(edited, store, clock=Clock())
    row = store.delivery("outbox", alert_id)
    assert row["state"] == "failed" and "no longer in settings.yaml" in row["last_error"]


# ============================================================================= apprise


def test_apprise_channel_posts_through_a_json_url_from_the_environment(tmp_path, hooks, monkeypatch):
    path = hooks.route("/notify", {"status": 200})
    monkeypatch.setenv("NW_CHAT_URL", path.replace("http://", "json://"))
    cfg, store = setup(tmp_path, {"desk-chat": {"type": "apprise", "url_env": "NW_CHAT_URL", "timeout": 3}},
                       network={"allow": ["127.0.0.1"]})
    [alert_id] = queue(cfg, store, title="Мигранты: <b>задержаны</b> {{ config }}")
    dispatch_pending(cfg, store, clock=Clock())
    [call] = hooks.requests
    doc = json.loads(call.body)
    assert doc["title"] == "[Newswatch] Migrant workers: Мигранты: <b>задержаны</b> {{ config }}"
    assert "URL: https://kloop.kg/2026/03/02/" in doc["message"]
    assert store.delivery("outbox", alert_id)["state"] == "sent"


def test_apprise_failure_is_retried_and_a_missing_url_is_a_dead_letter(tmp_path, hooks, monkeypatch):
    path = hooks.route("/notify", {"status": 502}, {"status": 200})
    monkeypatch.setenv("NW_CHAT_URL", path.replace("http://", "json://"))
    monkeypatch.delenv("NW_NO_SUCH_URL", raising=False)
    cfg, store = setup(tmp_path, {"desk-chat": {"type": "apprise", "url_env": "NW_CHAT_URL"},
                                  "desk-chat2": {"type": "apprise", "url_env": "NW_NO_SUCH_URL"}},
                       network={"allow": ["127.0.0.1"]})
    queue(cfg, store)
    clock = Clock()
    for _ in range(3):
        dispatch_pending(cfg, store, clock=clock)
        clock.advance(60)
    rows = {r["channel"]: r for r in store.outbox()}
    assert rows["desk-chat"]["state"] == "sent" and rows["desk-chat"]["attempts"] == 2
    assert rows["desk-chat2"]["state"] == "failed" and "NW_NO_SUCH_URL" in rows["desk-chat2"]["last_error"]
    assert len(hooks.requests) == 2


def test_apprise_target_obeys_network_allow(tmp_path, hooks, monkeypatch):
    path = hooks.route("/notify", {"status": 200})
    monkeypatch.setenv("NW_CHAT_URL", path.replace("http://", "json://"))
    cfg, store = setup(tmp_path, {"desk-chat": {"type": "apprise", "url_env": "NW_CHAT_URL"}},
                       network={"allow": []})
    queue(cfg, store)
    dispatch_pending(cfg, store, clock=Clock())
    [row] = store.outbox()
    assert row["state"] == "failed" and "network policy" in row["last_error"]
    assert hooks.requests == []


# ============================================================================= digests


def test_hourly_digest_sends_one_message_per_period(tmp_path, hooks):
    url = hooks.route("/desk", {"status": 200})
    cfg, store = setup(tmp_path, {"desk-hook": hook_channel(url)}, watch_digest="hourly",
                       network={"allow": ["127.0.0.1"]})
    ids = queue(cfg, store, n=3)
    clock = Clock()
    assert {row["state"] for row in store.outbox()} == {"held"}
    dispatch_pending(cfg, store, clock=clock)
    assert hooks.requests == []
    clock.advance(3660)
    dispatch_pending(cfg, store, clock=clock)
    dispatch_pending(cfg, store, clock=clock)
    [call] = hooks.requests
    doc = json.loads(call.body)
    assert doc["type"] == "digest" and doc["kind"] == "hourly"
    assert sorted(a["id"] for a in doc["alerts"]) == sorted(ids)
    assert call.headers["webhook-id"] == doc["id"]
    assert {r["state"] for r in store.outbox()} == {"digested"}
    assert store.delivery("digests", doc["id"])["state"] == "sent"


def test_daily_digest_on_a_channel_is_one_email_with_every_story(tmp_path, smtp):
    handler = SMTPScript("250 OK")
    cfg, store = setup(tmp_path, {"desk-mail": mail_channel(smtp(handler), digest="daily")})
    queue(cfg, store, n=3)
    clock = Clock()
    clock.advance(86400)
    dispatch_pending(cfg, store, clock=clock)
    [(_, _, raw)] = handler.received
    from email import message_from_bytes, policy
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == "[Newswatch] Daily digest: 3 stories (Migrant workers)"
    text = msg.get_body(("plain",)).get_content()
    for head, _ in STORIES:
        assert head in text


# ============================================================================= CLI


def test_alerts_list_retry_and_test_commands(tmp_path, hooks):
    url = hooks.route("/desk", {"status": 404})
    cfg, store = setup(tmp_path, {"desk-hook": hook_channel(url)}, network={"allow": ["127.0.0.1"]})
    ids = queue(cfg, store, n=2)
    dispatch_pending(cfg, store, clock=Clock())
    out = cli(cfg.directory, "alerts", "list", "--failed").stdout
    assert all(i in out for i in ids) and "HTTP 404" in out
    assert cli(cfg.directory, "alerts", "list", "--pending").stdout.strip() == "no alerts"
    rows = json.loads(cli(cfg.directory, "alerts", "list", "--json").stdout)
    assert {r["id"] for r in rows} == set(ids)

    fail = cli(cfg.directory, "alerts", "test", "desk-hook", check=False)
    assert fail.returncode == 1 and "HTTP 404" in fail.stderr

    hooks.route("/desk", {"status": 200})
    assert "desk-hook: test alert accepted" in cli(cfg.directory, "alerts", "test", "desk-hook").stdout
    assert "queued 1: sent 1" in cli(cfg.directory, "alerts", "retry", ids[0]).stdout
    assert hooks.requests[-1].headers["webhook-id"] == ids[0]
    wrong = cli(cfg.directory, "alerts", "retry", ids[0], check=False)
    assert wrong.returncode == 2 and "not a failed or pending alert" in wrong.stderr
    assert cli(cfg.directory, "alerts", "test", "nope", check=False).returncode == 2


# ============================================================================= end to end: storm guard

STORM_TITLES = [
    "Трудовые мигранты из Оша застряли на границе", "Migrant workers face new registration rules in Russia",
    "Мигранты из Таджикистана жалуются на задержки зарплаты", "Uzbek migrant workers return from Kazakhstan",
    "Kyrgyz migrant workers detained in Moscow raid", "Мигранты из Узбекистана получат новые патенты",
]


def write_feed(directory, items: list[tuple[str, str]]) -> None:
    """An RSS 2.0 feed of (guid, title) items, newest first; links point at pages that do not
    exist, so the summary is stored (summary_only) - enough for matching."""
    from xml.sax.saxutils import escape
    body = "".join(
        f"<item><title>{escape(title, {chr(13): '&#13;'})}</title><link>{{base_url}}/news/{guid}.html</link>"
        f"<guid isPermaLink=\"false\">{guid}</guid><pubDate>Mon, 02 Mar 2026 08:00:00 GMT</pubDate>"
        f"<description>{escape(title)}. Подробности позже.</description></item>"
        for guid, title in items)
    tmp = directory / "feed.xml.tmpl.tmp"
    tmp.write_text('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Steppe Wire</title>'
                   f"<link>{{base_url}}/</link><description>news</description>{body}</channel></rss>",
                   encoding="utf-8")
    tmp.replace(directory / "feed.xml.tmpl")


def test_storm_stores_everything_holds_alerts_and_sends_one_digest(tmp_path, hooks):
    from crawler.demo.servers import OutletServer

    site = tmp_path / "site"
    site.mkdir()
    write_feed(site, [(f"steppe-{i}", STORM_TITLES[i]) for i in range(3)])
    url = hooks.route("/desk", {"status": 200})
    ops = hooks.route("/ops", {"status": 200})
    with OutletServer(site) as outlet:
        cfg = write_config(tmp_path / "config", channels={"desk-hook": hook_channel(url), "ops-hook": hook_channel(ops)},
                           operator={"channels": ["ops-hook"]}, storm={"min_items": 10, "factor": 4},
                           sources=[{"id": "steppe", "name": "Steppe Wire", "feeds": [outlet.url("/feed.xml")]}],
                           watches=[{"id": "migrants", "name": "Migrant workers",
                                     "keywords": ["migrant workers", "мигранты"], "channels": ["desk-hook"]}])
        first = json.loads(cli(cfg, "crawl", "--once", "--json").stdout)
        assert first["new_articles"] == 3 and first["alerts_sent"] == 3
        # The outlet re-publishes its archive with new GUIDs: 40 "new" items at once.
        write_feed(site, [(f"steppe-v2-{i}", f"{STORM_TITLES[i % 6]} ({i})") for i in range(40)])
        second = json.loads(cli(cfg, "crawl", "--once", "--json").stdout)
    assert second["new_articles"] == 40 and second["alerts_queued"] == 40
    desk = [json.loads(r.body) for r in hooks.requests if r.path == "/desk"]
    assert [d["type"] for d in desk] == ["article.matched"] * 3 + ["digest"]
    assert desk[-1]["kind"] == "storm" and len(desk[-1]["alerts"]) == 40
    told = [n for msg in notices_received(hooks) for n in msg["notices"]]
    assert [n["kind"] for n in told] == ["storm"]
    assert "40 new items" in told[0]["message"] and told[0]["source_id"] == "steppe"
    assert Store(cfg / "newswatch.db").count("articles") == 43


def test_crawled_title_with_crlf_bcc_and_u2028_reaches_the_mailbox_as_one_subject(tmp_path):
    from crawler.demo.servers import Mailbox, OutletServer

    site = tmp_path / "site"
    site.mkdir()
    write_feed(site, [("steppe-1", "Migrant workers\r\nBcc: leak@evil.example\u2028To: all@evil.example")])
    with OutletServer(site) as outlet, Mailbox() as box:
        cfg = write_config(tmp_path / "config", channels={"desk-mail": mail_channel(box.port)},
                           sources=[{"id": "steppe", "name": "Steppe Wire", "feeds": [outlet.url("/feed.xml")]}],
                           watches=[{"id": "migrants", "name": "Migrant workers", "keywords": ["migrant workers"],
                                     "channels": ["desk-mail"]}])
        assert json.loads(cli(cfg, "crawl", "--once", "--json").stdout)["alerts_sent"] == 1
    [envelope] = box.envelopes
    assert envelope.rcpt_tos == ["desk@desk.kg"]
    [msg] = box.messages
    assert msg["Bcc"] is None and msg.get_all("To") == ["desk@desk.kg"]
    assert "leak@evil.example" in msg["Subject"] and "\n" not in msg["Subject"]
