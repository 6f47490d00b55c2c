"""The mailer over SMTP, the development mail sink that receives it, and what reads the sink's store: GET /dev/outbox
and the console's Dev outbox page (development only)."""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from crm_backend import mailsink
from crm_backend.app import create_app
from crm_backend.db import Base, make_engine, new_session
from crm_backend.mailer import Mailer, MailError
from crm_backend.seeding import demo
from crm_backend.settings import REPO_ROOT, Settings
from tests.console.conftest import PASSWORD, login
from tests.live_stack import free_port

API_KEY = "mail-test-key"
PRODUCTION_SECRETS = {  # production refuses default and short secrets (Settings.check)
    "api_key": "production-api-key-0123456789",
    "rasa_token": "production-rasa-token-0123456789",
    "grant_secret": "production-grant-secret-0123456789abcdef",
    "shop_login_secret": "production-shop-login-secret-0123456789",
    "data_keys": "cHJvZHVjdGlvbi1kYXRhLWtleS0wMTIzNDU2Nzg5YWI=",  # 32 bytes, URL-safe base64
    "lookup_key": "production-lookup-key-0123456789abcdef",
}


def crm_settings(tmp_path: Path, env: str, smtp_port: int = 8025) -> Settings:
    secrets = PRODUCTION_SECRETS if env != "development" else {"api_key": API_KEY}
    return Settings(
        env=env,
        database_url=f"sqlite:///{tmp_path / 'crm.db'}",
        relay_enabled=False,
        rasa_events_url="",
        smtp_port=smtp_port,
        dev_mail_store=str(tmp_path / "dev_mail.jsonl"),
        **secrets,
    )


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Controller]:
    """The sink's SMTP server (its handler and size limit) on a free loopback port, storing under tmp_path."""
    server = mailsink.controller(mailsink.MailStore(tmp_path / "dev_mail.jsonl"), "127.0.0.1", free_port())
    server.start()
    yield server
    server.stop()


def make_client(settings: Settings, agents: bool = False) -> TestClient:
    engine = make_engine(settings)
    Base.metadata.create_all(engine)
    if agents:
        with new_session(engine) as session:
            demo.ensure_agent(session, "sam", PASSWORD, "agent", "Sam Patel")
            session.commit()
    engine.dispose()
    return TestClient(create_app(settings), follow_redirects=False)


def test_the_sink_receives_what_the_mailer_sends_and_the_outbox_lists_it(tmp_path: Path, sink: Controller) -> None:
    settings = crm_settings(tmp_path, "development", smtp_port=sink.port)
    mailer = Mailer.from_settings(settings)
    mailer.send("Alice.Martin@example.com", "Your code", "Your ShopCare code is 123456.\nIt lasts 10 minutes.")
    mailer.send("ben.okafor@example.com", "Your code", "Your ShopCare code is 654321.")
    mailer.send("alice.martin@example.com", "Your new code", "Your ShopCare code is 111222.")
    with make_client(settings) as client:
        app_mailer = client.app.state.mailer  # type: ignore[attr-defined]
        assert isinstance(app_mailer, Mailer) and app_mailer.port == sink.port
        everything = client.get("/dev/outbox")  # no API key
        alice = client.get("/dev/outbox", params={"to": "ALICE.martin@Example.com"})
    assert everything.status_code == 200 and [m["subject"] for m in everything.json()] == [
        "Your new code",
        "Your code",
        "Your code",
    ]
    assert alice.status_code == 200
    mails = alice.json()
    assert [m["text"] for m in mails] == [
        "Your ShopCare code is 111222.",
        "Your ShopCare code is 123456.\nIt lasts 10 minutes.",
    ]
    assert mails[1]["to"] == "Alice.Martin@example.com" and set(mails[0]) == {"to", "subject", "text", "sent_at"}
    assert datetime.fromisoformat(mails[0]["sent_at"]) >= datetime.fromisoformat(mails[1]["sent_at"])


def test_the_outbox_returns_at_most_50_and_the_store_keeps_at_most_1000(tmp_path: Path) -> None:
    store = mailsink.MailStore(tmp_path / "dev_mail.jsonl")
    for n in range(1203):
        store.append(
            {"to": "a@example.com", "subject": f"mail {n}", "text": "x", "sent_at": "2024-01-01T00:00:00+00:00"}
        )
    kept = store.read()
    assert 500 <= len(kept) <= 1000 and kept[-1]["subject"] == "mail 1202"
    assert [m["subject"] for m in kept] == [f"mail {n}" for n in range(1203 - len(kept), 1203)]
    outbox = mailsink.read_outbox(store.path, to="A@EXAMPLE.COM")
    assert len(outbox) == 50 and outbox[0]["subject"] == "mail 1202" and outbox[-1]["subject"] == "mail 1153"


def test_the_sink_refuses_a_message_over_256_kb(tmp_path: Path, sink: Controller) -> None:
    mailer = Mailer(host="127.0.0.1", port=sink.port, sender="ShopCare <no-reply@shopcare.example>")
    with pytest.raises(MailError, match="552"):
        mailer.send("alice.martin@example.com", "Too big", "x" * (300 * 1024))
    # the same without the SIZE announcement: the DATA itself is refused
    message = mailer.message("alice.martin@example.com", "Too big", "y" * (300 * 1024))
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.esmtp_features.pop("size")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.send_message(message)
    assert refused.value.smtp_code == 552
    mailer.send("alice.martin@example.com", "Fits", "z" * (200 * 1024))
    assert [m["subject"] for m in mailsink.read_outbox(tmp_path / "dev_mail.jsonl")] == ["Fits"]


async def test_the_handler_itself_refuses_a_message_over_256_kb(tmp_path: Path) -> None:
    handler = mailsink.SinkHandler(mailsink.MailStore(tmp_path / "dev_mail.jsonl"))
    big = SimpleNamespace(original_content=b"Subject: big\r\n\r\n" + b"x" * (256 * 1024), rcpt_tos=["a@example.com"])
    assert (await handler.handle_DATA(None, None, big)).startswith("552")
    small = SimpleNamespace(original_content=b"Subject: small\r\n\r\nhello\r\n", rcpt_tos=["a@example.com"])
    assert (await handler.handle_DATA(None, None, small)).startswith("250")
    assert [m["subject"] for m in mailsink.read_outbox(tmp_path / "dev_mail.jsonl")] == ["small"]


def test_mailer_errors_are_mail_errors(sink: Controller) -> None:
    closed = Mailer(host="127.0.0.1", port=free_port(), sender="no-reply@shopcare.example", timeout_seconds=2)
    with pytest.raises(MailError) as unreachable:
        closed.send("alice.martin@example.com", "Code", "123456")
    assert "alice" not in str(unreachable.value)
    mailer = Mailer(host="127.0.0.1", port=sink.port, sender="no-reply@shopcare.example")
    for bad in ("alice.martin@example.com, ben.okafor@example.com", "alice\r\nBcc: eve@example.com", "nobody"):
        with pytest.raises(MailError):
            mailer.send(bad, "Code", "123456")
    with pytest.raises(MailError):
        mailer.send("alice.martin@example.com", "Code\r\nBcc: eve@example.com", "123456")
    with pytest.raises(MailError):  # the sink offers no STARTTLS
        Mailer(host="127.0.0.1", port=sink.port, sender="no-reply@shopcare.example", starttls=True).send(
            "alice.martin@example.com", "Code", "123456"
        )
    with pytest.raises(ValueError, match="STARTTLS"):
        Mailer(host="smtp.example.com", port=587, sender="no-reply@shopcare.example", user="u", password="p")


def test_the_sink_process_listens_on_loopback_only_and_stores_mail(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "crm_backend.mailsink"]
    refused = subprocess.run([*cmd, "--host", "0.0.0.0"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "loopback" in refused.stderr
    port, store = free_port(), tmp_path / "mail" / "out.jsonl"
    proc = subprocess.Popen(
        [*cmd, "--host", "127.0.0.1", "--port", str(port), "--store", str(store)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert "listening on 127.0.0.1" in proc.stdout.readline()
        Mailer(host="127.0.0.1", port=port, sender="no-reply@shopcare.example").send("x@example.com", "Hi", "there")
        (line,) = store.read_text().splitlines()
        assert {k: v for k, v in json.loads(line).items() if k != "sent_at"} == {
            "to": "x@example.com",
            "subject": "Hi",
            "text": "there",
        }
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert proc.returncode == 0


def test_outbox_is_404_outside_development(tmp_path: Path) -> None:
    with make_client(crm_settings(tmp_path, "production")) as client:
        assert client.get("/dev/outbox").status_code == 404
        assert client.get("/dev/outbox", headers={"X-API-Key": PRODUCTION_SECRETS["api_key"]}).status_code == 404
        assert client.get("/health").status_code == 200  # the app itself serves


def test_the_console_page_shows_the_mail_to_a_logged_in_agent_in_development(tmp_path: Path, sink: Controller) -> None:
    settings = crm_settings(tmp_path, "development", smtp_port=sink.port)
    Mailer.from_settings(settings).send("alice.martin@example.com", "Your code <b>", "Your code is 424242.")
    with make_client(settings, agents=True) as client:
        assert client.get("/console/dev/outbox").status_code == 303  # to the login page
        assert login(client, "sam").status_code == 303
        queue = client.get("/console/queue")
        assert 'href="/console/dev/outbox"' in queue.text
        page = client.get("/console/dev/outbox")
        assert page.status_code == 200
        assert "Your code is 424242." in page.text and "Your code &lt;b&gt;" in page.text
        assert "alice.martin@example.com" in page.text
        other = client.get("/console/dev/outbox", params={"to": "ben.okafor@example.com"})
        assert "424242" not in other.text and "No mail to ben.okafor@example.com yet." in other.text


def test_the_console_page_is_404_outside_development(tmp_path: Path) -> None:
    with make_client(crm_settings(tmp_path, "production"), agents=True) as client:
        assert login(client, "sam").status_code == 303
        assert client.get("/console/dev/outbox").status_code == 404
        queue = client.get("/console/queue")
        assert queue.status_code == 200 and "Dev outbox" not in queue.text


def test_a_partly_written_or_broken_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "dev_mail.jsonl"
    ok = '{"to": "a@example.com", "subject": "ok", "text": "t", "sent_at": "2024-01-01T00:00:00"}'
    path.write_text(f'{ok}\n["not", "a", "mail"]\n{{"to": 1}}\n{{"to": "a@')
    assert [m["subject"] for m in mailsink.read_outbox(path)] == ["ok"]
