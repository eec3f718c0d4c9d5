"""Alert channels against real servers on 127.0.0.1: aiosmtpd for email, http.server for webhooks."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from crawler import alerts
from crawler.alerts import render, webhook
from crawler.errors import ChannelGoneError, PermanentAlertError, RetryableAlertError
from crawler.models import Alert

LOOPBACK = "127.0.0.1"
ALLOW = ("127.0.0.1",)
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # base64 of 24 bytes


# ----------------------------------------------------------------------------- helpers


def make_alert(**over) -> Alert:
    fields = dict(
        id="a-20240501-0001",
        channel="desk",
        watch_id="migrants",
        watch_name="Migrant workers",
        article_id=42,
        source_id="kloop",
        source_name="Kloop",
        url="https://kloop.kg/2024/05/01/migrants/",
        title="Мигранты из Кыргызстана задержаны на границе",
        author="Айгуль Т.",
        published_at="2024-05-01T08:30:00Z",
        language="ru",
        text_excerpt="Около 40 трудовых мигрантов задержаны.\nОни возвращались домой.",
        matches=[{"keyword": "мигрант", "form": "Мигранты", "snippet": "Мигранты из Кыргызстана задержаны"},
                 {"keyword": "граница", "form": "границе", "snippet": "задержаны на границе"}],
        created_at="2024-05-01T08:31:02Z",
    )
    fields.update(over)
    return Alert(**fields)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def email_channel(port, **over):
    fields = dict(name="desk-mail", type="email", host=LOOPBACK, port=port, tls="none", user=None,
                  password_env=None, sender="Newswatch <newswatch@example.org>",
                  to=("desk@example.org", "research@example.net"), timeout=5.0)
    fields.update(over)
    return SimpleNamespace(**fields)


def webhook_channel(url, **over):
    fields = dict(name="desk-hook", type="webhook", url=url, secret_env=None, timeout=5.0)
    fields.update(over)
    return SimpleNamespace(**fields)


# ----------------------------------------------------------------------------- SMTP server


class SMTPRecorder:
    """aiosmtpd handler: keeps what it accepts; can answer RCPT or DATA with a fixed reply."""

    def __init__(self, rcpt_reply=None, data_reply=None):
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.received = []  # (mail_from, rcpt_tos, raw bytes)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos),
                              bytes(envelope.original_content or envelope.content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    started = []

    def start(handler=None, **smtp_kwargs):
        handler = handler or SMTPRecorder()
        controller = Controller(handler, hostname=LOOPBACK, port=free_port(),
                                server_hostname="localhost", **smtp_kwargs)
        controller.start()
        started.append(controller)
        return handler, controller.port

    yield start
    for controller in started:
        controller.stop()


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


# ----------------------------------------------------------------------------- HTTP receiver


class Receiver:
    """A webhook receiver: records every request; answers per path from a queue of responses
    (the last one repeats). A response is a dict: status, headers, body, delay (seconds)."""

    def __init__(self):
        self.requests = []
        self.routes = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver.lock:
                    receiver.requests.append(SimpleNamespace(
                        method=self.command, path=self.path, headers=self.headers, body=body))
                    queue = receiver.routes.get(self.path, [{"status": 404}])
                    reply = queue.pop(0) if len(queue) > 1 else queue[0]
                if reply.get("delay"):
                    time.sleep(reply["delay"])
                payload = reply.get("body", b"")
                self.send_response(reply["status"])
                for key, value in reply.get("headers", {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_GET = _handle

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that gave up (timeout tests) is expected

        self.server = Server((LOOPBACK, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path):
        return f"http://{LOOPBACK}:{self.port}{path}"

    def route(self, path, *replies):
        self.routes[path] = list(replies)
        return self.url(path)

    def paths(self):
        return [r.path for r in self.requests]


@pytest.fixture
def receiver():
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


# ============================================================================= render


def test_subject_has_prefix_watch_and_title():
    assert render.subject(make_alert(title="Border incident")) == \
        "[Newswatch] Migrant workers: Border incident"


@pytest.mark.parametrize("sep", ["\r", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e",
                                 "\x85", "\u2028", "\u2029", "\x00", "\x1b", "\x7f", "\t"])
def test_subject_removes_every_line_separator_and_control(sep):
    subj = render.subject(make_alert(title=f"Hello{sep}Bcc: evil@x{sep}{sep}end"))
    assert subj == "[Newswatch] Migrant workers: Hello Bcc: evil@x end"
    assert subj.splitlines() == [subj]


def test_subject_drops_bidi_overrides_and_truncates():
    subj = render.subject(make_alert(title="\u202eevil\u202c " + "слово " * 100))
    assert "\u202e" not in subj and "\u202c" not in subj
    assert len(subj) <= render.SUBJECT_MAX
    assert subj.endswith("…")


def test_feed_text_is_never_a_format_string():
    alert = make_alert(title="{watch_name} %s {0} {alert.id}", author="%(x)s",
                       matches=[{"keyword": "{k}", "form": "%d", "snippet": "{0!r}"}])
    assert render.subject(alert).endswith(": {watch_name} %s {0} {alert.id}")
    text = render.plain_text(alert)
    assert "Title: {watch_name} %s {0} {alert.id}" in text
    assert "- {k} «%d»: {0!r}" in text


def test_plain_text_lists_article_and_matches():
    text = render.plain_text(make_alert())
    assert "Watch: Migrant workers" in text
    assert "Title: Мигранты из Кыргызстана задержаны на границе" in text
    assert "Source: Kloop (kloop)" in text
    assert "URL: https://kloop.kg/2024/05/01/migrants/" in text
    assert "Published: 2024-05-01T08:30:00Z" in text
    assert "- мигрант «Мигранты»: Мигранты из Кыргызстана задержаны" in text
    assert "- граница «границе»: задержаны на границе" in text


def test_payload_is_json_with_the_documented_shape():
    alert = make_alert()
    doc = json.loads(json.dumps(render.payload(alert)))
    assert doc["type"] == "article.matched"
    assert doc["id"] == alert.id
    assert doc["watch"] == {"id": "migrants", "name": "Migrant workers"}
    assert doc["matches"][0] == {"keyword": "мигрант", "form": "Мигранты",
                                 "snippet": "Мигранты из Кыргызстана задержаны"}
    assert doc["article"] == {
        "id": 42, "url": alert.url, "title": alert.title, "author": alert.author,
        "published_at": alert.published_at, "language": "ru", "source_id": "kloop",
        "source_name": "Kloop", "excerpt": alert.text_excerpt}
    assert doc["created_at"] == "2024-05-01T08:31:02Z"


def test_message_id_local_part_is_deterministic_and_safe():
    assert render.message_id_local("a-1") == "a-1"
    odd = render.message_id_local("a 1>\r\n<b@c")
    assert odd == render.message_id_local("a 1>\r\n<b@c")
    assert all(ch not in odd for ch in " <>@\r\n")
    assert odd != render.message_id_local("a 1>\r\n<b@d")


# ============================================================================= email


def test_email_is_delivered_with_headers_and_body(smtp_server):
    handler, port = smtp_server()
    alert = make_alert()
    alerts.send(email_channel(port), alert)
    assert len(handler.received) == 1
    mail_from, rcpt_tos, raw = handler.received[0]
    assert mail_from == "newswatch@example.org"
    assert rcpt_tos == ["desk@example.org", "research@example.net"]
    msg = parse(raw)
    assert msg["From"] == "Newswatch <newswatch@example.org>"
    assert msg["To"] == "desk@example.org, research@example.net"
    assert msg["Subject"] == "[Newswatch] Migrant workers: " + alert.title
    assert msg["Message-ID"] == "<a-20240501-0001@newswatch>"
    assert msg["Date"]
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    body = msg.get_body(("plain",)).get_content()
    assert "URL: https://kloop.kg/2024/05/01/migrants/" in body
    assert "- мигрант «Мигранты»: Мигранты из Кыргызстана задержаны" in body
    page = msg.get_body(("html",)).get_content()
    assert '<a href="https://kloop.kg/2024/05/01/migrants/">' + alert.title + "</a>" in page
    assert "<b>мигрант</b> «Мигранты»" in page


def test_email_html_part_escapes_feed_markup_and_refuses_script_links(smtp_server):
    handler, port = smtp_server()
    alert = make_alert(title='<img src=x onerror="alert(1)">Ош: <b>митинг</b>',
                       url="javascript:alert(document.cookie)",
                       matches=[{"keyword": "митинг", "form": "митинг", "snippet": "<script>x()</script> митинг"}])
    alerts.send(email_channel(port), alert)
    page = parse(handler.received[0][2]).get_body(("html",)).get_content()
    assert "<img" not in page and "<script>" not in page and "javascript:" not in page.split("<h2>")[1].split("href")[0]
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;Ош: &lt;b&gt;митинг&lt;/b&gt;" in page
    assert "href=" not in page.split("<h2>")[1].split("</h2>")[0]
    assert "&lt;script&gt;x()&lt;/script&gt; митинг" in page


def test_email_message_id_is_the_same_on_a_retry(smtp_server):
    handler, port = smtp_server()
    alert = make_alert()
    alerts.send(email_channel(port), alert)
    alerts.send(email_channel(port), alert)
    ids = [parse(raw)["Message-ID"] for _, _, raw in handler.received]
    assert ids == ["<a-20240501-0001@newswatch>"] * 2


def test_email_header_injection_in_title_stays_in_the_subject(smtp_server):
    handler, port = smtp_server()
    alert = make_alert(title="Breaking\r\nBcc: evil@x\r\n\r\nfake body\u2028X-Evil: 1")
    alerts.send(email_channel(port), alert)
    _, rcpt_tos, raw = handler.received[0]
    assert rcpt_tos == ["desk@example.org", "research@example.net"]
    msg = parse(raw)
    assert msg.get_all("Subject") == [
        "[Newswatch] Migrant workers: Breaking Bcc: evil@x fake body X-Evil: 1"]
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in header_block and b"\nX-Evil" not in header_block


@pytest.mark.parametrize("title", [
    "Қазақстан мен Қырғызстан шекарасында жүк көліктерінің кезегі тағы да ұзарды, " * 3,
    "Chegara punktida navbat yana uzaydi va haydovchilar bir necha kun kutmoqda " * 3,
])
def test_email_long_subject_keeps_every_space_when_folded(smtp_server, title):
    # CPython 3.11's header folder drops the space at a fold between encoded-words; the channel
    # must not: "Қазақстан мен" may not arrive as "Қазақстанмен".
    handler, port = smtp_server()
    alert = make_alert(title=title)
    alerts.send(email_channel(port), alert)
    raw = handler.received[0][2]
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in header_block.split(b"\r\n")) <= 78
    assert parse(raw)["Subject"] == render.subject(alert)


@pytest.mark.parametrize("reply, error", [
    ("451 4.3.0 Try again later", RetryableAlertError),
    ("550 5.7.1 Message rejected", PermanentAlertError),
])
def test_email_data_reply_maps_to_retryable_or_permanent(smtp_server, reply, error):
    _, port = smtp_server(SMTPRecorder(data_reply=reply))
    with pytest.raises(error) as info:
        alerts.send(email_channel(port), make_alert())
    assert "desk-mail" in str(info.value)
    assert reply.split()[0] in str(info.value)


@pytest.mark.parametrize("reply, error", [
    ("450 4.2.1 Mailbox busy", RetryableAlertError),
    ("550 5.1.1 No such user", PermanentAlertError),
])
def test_email_recipients_refused(smtp_server, reply, error):
    _, port = smtp_server(SMTPRecorder(rcpt_reply=reply))
    with pytest.raises(error, match="recipients refused"):
        alerts.send(email_channel(port), make_alert())


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and \
        (auth_data.login, auth_data.password) == (b"newswatch", b"s3cret")
    # handled=False: aiosmtpd then answers 535 itself (its default, handled=True, says nothing)
    return AuthResult(success=ok, handled=False)


def test_email_logs_in_with_password_from_environment(smtp_server, monkeypatch):
    handler, port = smtp_server(authenticator=_authenticator, auth_require_tls=False)
    monkeypatch.setenv("NW_TEST_SMTP_PASSWORD", "s3cret")
    alerts.send(email_channel(port, user="newswatch", password_env="NW_TEST_SMTP_PASSWORD"),
                make_alert())
    assert len(handler.received) == 1


def test_email_refused_login_is_permanent(smtp_server, monkeypatch):
    handler, port = smtp_server(authenticator=_authenticator, auth_require_tls=False)
    monkeypatch.setenv("NW_TEST_SMTP_PASSWORD", "wrong")
    with pytest.raises(PermanentAlertError, match="login as 'newswatch' refused.*535"):
        alerts.send(email_channel(port, user="newswatch", password_env="NW_TEST_SMTP_PASSWORD"),
                    make_alert())
    assert handler.received == []


def test_email_missing_password_variable_is_permanent_and_named(smtp_server, monkeypatch):
    handler, port = smtp_server()
    monkeypatch.delenv("NW_TEST_NO_SUCH_VAR", raising=False)
    with pytest.raises(PermanentAlertError, match="NW_TEST_NO_SUCH_VAR"):
        alerts.send(email_channel(port, user="u", password_env="NW_TEST_NO_SUCH_VAR"),
                    make_alert())
    assert handler.received == []


def test_email_starttls_unsupported_is_permanent(smtp_server):
    _, port = smtp_server()
    with pytest.raises(PermanentAlertError, match="desk-mail"):
        alerts.send(email_channel(port, tls="starttls", timeout=2.0), make_alert())


def test_email_connection_refused_is_retryable():
    with pytest.raises(RetryableAlertError, match="desk-mail"):
        alerts.send(email_channel(free_port(), timeout=0.5), make_alert())


def test_email_server_that_never_greets_times_out_as_retryable():
    with socket.socket() as silent:
        silent.bind((LOOPBACK, 0))
        silent.listen(1)  # accepts the TCP connection (backlog), never says 220
        start = time.monotonic()
        with pytest.raises(RetryableAlertError, match="timed out"):
            alerts.send(email_channel(silent.getsockname()[1], timeout=0.5), make_alert())
        assert time.monotonic() - start < 3


# ============================================================================= webhook


def test_webhook_posts_signed_json(receiver, monkeypatch):
    monkeypatch.setenv("NW_TEST_HOOK_SECRET", SECRET)
    url = receiver.route("/hook", {"status": 204})
    alert = make_alert()
    alerts.send(webhook_channel(url, secret_env="NW_TEST_HOOK_SECRET"), alert, allow=ALLOW)
    [req] = receiver.requests
    assert req.method == "POST"
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["User-Agent"] == "Newswatch/0.1"
    assert req.headers["webhook-id"] == alert.id
    assert abs(int(req.headers["webhook-timestamp"]) - time.time()) < 60
    assert req.headers["webhook-signature"].startswith("v1,")
    assert req.body == json.dumps(render.payload(alert), ensure_ascii=False,
                                  sort_keys=True).encode()
    doc = json.loads(req.body)
    assert doc["type"] == "article.matched" and doc["id"] == alert.id
    assert doc["article"]["title"] == alert.title  # UTF-8, not \u escapes
    assert alert.title.encode() in req.body
    assert webhook.verify(SECRET, req.headers, req.body)
    assert not webhook.verify(SECRET, req.headers, req.body + b" ")
    assert not webhook.verify("whsec_" + "A" * 32, req.headers, req.body)


def test_webhook_same_id_on_retry_and_fresh_signature(receiver, monkeypatch):
    monkeypatch.setenv("NW_TEST_HOOK_SECRET", "plain secret, not whsec")
    url = receiver.route("/flaky", {"status": 503, "body": b"busy"}, {"status": 200})
    channel = webhook_channel(url, secret_env="NW_TEST_HOOK_SECRET")
    alert = make_alert()
    with pytest.raises(RetryableAlertError, match="503"):
        alerts.send(channel, alert, allow=ALLOW)
    alerts.send(channel, alert, allow=ALLOW)
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == alert.id
    assert first.body == second.body
    for req in (first, second):
        assert webhook.verify("plain secret, not whsec", req.headers, req.body)


def test_webhook_without_secret_is_unsigned(receiver):
    url = receiver.route("/hook", {"status": 200})
    alerts.send(webhook_channel(url), make_alert(), allow=ALLOW)
    [req] = receiver.requests
    assert req.headers["webhook-id"] == "a-20240501-0001"
    assert req.headers["webhook-signature"] is None


def test_webhook_missing_secret_variable_is_permanent_and_named(receiver, monkeypatch):
    monkeypatch.delenv("NW_TEST_NO_SUCH_VAR", raising=False)
    url = receiver.route("/hook", {"status": 200})
    with pytest.raises(PermanentAlertError, match="NW_TEST_NO_SUCH_VAR"):
        alerts.send(webhook_channel(url, secret_env="NW_TEST_NO_SUCH_VAR"), make_alert(),
                    allow=ALLOW)
    assert receiver.requests == []


@pytest.mark.parametrize("status, error, text", [
    (500, RetryableAlertError, "HTTP 500"),
    (502, RetryableAlertError, "HTTP 502"),
    (408, RetryableAlertError, "HTTP 408"),
    (404, PermanentAlertError, "HTTP 404"),
    (400, PermanentAlertError, "HTTP 400"),
    (410, ChannelGoneError, "receiver is gone"),
])
def test_webhook_status_mapping(receiver, status, error, text):
    url = receiver.route("/hook", {"status": status})
    with pytest.raises(error, match=text) as info:
        alerts.send(webhook_channel(url), make_alert(), allow=ALLOW)
    assert type(info.value) is error
    assert "desk-hook" in str(info.value)


def test_webhook_429_keeps_retry_after(receiver):
    url = receiver.route("/hook", {"status": 429, "headers": {"Retry-After": "30"}})
    with pytest.raises(RetryableAlertError) as info:
        alerts.send(webhook_channel(url), make_alert(), allow=ALLOW)
    assert info.value.retry_after == 30


def test_webhook_redirect_is_permanent_and_not_followed(receiver):
    target = receiver.route("/target", {"status": 200})
    url = receiver.route("/hook", {"status": 302, "headers": {"Location": target}})
    with pytest.raises(PermanentAlertError, match="redirects are not followed"):
        alerts.send(webhook_channel(url), make_alert(), allow=ALLOW)
    assert receiver.paths() == ["/hook"]


def test_webhook_to_loopback_without_allow_is_refused_before_any_request(receiver):
    url = receiver.route("/hook", {"status": 200})
    with pytest.raises(PermanentAlertError, match="network policy") as info:
        alerts.send(webhook_channel(url), make_alert())
    assert "network.allow" in str(info.value)
    assert receiver.requests == []


def test_webhook_non_http_scheme_is_refused():
    with pytest.raises(PermanentAlertError, match="network policy"):
        alerts.send(webhook_channel("file:///etc/passwd"), make_alert(), allow=ALLOW)


def test_webhook_receiver_slower_than_timeout_is_retryable(receiver):
    url = receiver.route("/slow", {"status": 200, "delay": 2.0})
    start = time.monotonic()
    with pytest.raises(RetryableAlertError, match="timed out"):
        alerts.send(webhook_channel(url, timeout=0.5), make_alert(), allow=ALLOW)
    assert time.monotonic() - start < 1.8


def test_webhook_connection_refused_is_retryable():
    url = f"http://{LOOPBACK}:{free_port()}/hook"
    with pytest.raises(RetryableAlertError, match="desk-hook"):
        alerts.send(webhook_channel(url, timeout=0.5), make_alert(), allow=ALLOW)


# ----------------------------------------------------------------------------- verify


def test_verify_checks_timestamp_tolerance_and_accepts_rotated_signatures():
    body = b'{"id": "x"}'
    ts = int(time.time())
    sig = webhook.sign(SECRET, "msg_1", ts, body)
    headers = {"Webhook-Id": "msg_1", "Webhook-Timestamp": str(ts),
               "Webhook-Signature": "v1,AAAA " + sig}
    assert webhook.verify(SECRET, headers, body)
    assert not webhook.verify(SECRET, headers, body, now=ts + 301)
    assert not webhook.verify(SECRET, headers, body, now=ts - 301)
    assert webhook.verify(SECRET, headers, body, tolerance=1000, now=ts + 301)
    assert not webhook.verify(SECRET, {**headers, "Webhook-Id": "msg_2"}, body)
    assert not webhook.verify(SECRET, {"webhook-id": "msg_1"}, body)


def test_verify_matches_the_standard_webhooks_reference_vector():
    # the example from the Standard Webhooks specification / reference libraries
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
               "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
    assert webhook.verify(secret, headers, body, now=1614265330)


# ----------------------------------------------------------------------------- dispatch


def test_unknown_channel_type_is_permanent():
    with pytest.raises(PermanentAlertError, match="unknown channel type 'pigeon'"):
        alerts.send(SimpleNamespace(name="coo", type="pigeon"), make_alert())


def test_unexpected_exceptions_are_wrapped_as_retryable(receiver):
    url = receiver.route("/hook", {"status": 200})
    with pytest.raises(RetryableAlertError, match="desk-hook: unexpected AttributeError"):
        alerts.send(webhook_channel(url), object(), allow=ALLOW)
