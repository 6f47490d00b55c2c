"""Urgent escalations reach the agents' Slack channel once, through a loopback fake of Slack's incoming webhook."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from crm_backend.app import create_app
from crm_backend.console.notify import SlackNotifier
from crm_backend.db import Escalation, new_session


class FakeSlack:
    """Speaks Slack's incoming-webhook wire format: POST JSON, answers 200 "ok" (or 500 while ``failing``)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.failing = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if fake.failing:
                    self.send_response(500)
                    self.end_headers()
                    return
                fake.received.append(json.loads(body))
                self.send_response(200)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/XXXX"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.close()


def test_each_urgent_escalation_is_announced_once(engine: Engine, add_escalation, slack: FakeSlack):
    urgent = add_escalation("c-urgent", priority=88, summary="Angry <@channel> & upset")
    add_escalation("c-calm", priority=40)
    notifier = SlackNotifier(engine, slack.url, min_priority=70, console_url="http://crm.example")
    try:
        assert notifier.run_once() == 1
        assert notifier.run_once() == 0  # never twice
    finally:
        notifier.stop()
    (message,) = slack.received
    assert f"Urgent escalation #{urgent} (priority 88" in message["text"]
    assert f"<http://crm.example/console/escalations/{urgent}|Open in the console>" in message["text"]
    assert "&lt;@channel&gt; &amp; upset" in message["text"] and "<@channel>" not in message["text"]
    with new_session(engine) as session:
        assert session.get(Escalation, urgent).notified_at is not None


def test_a_failed_post_is_retried_later(engine: Engine, add_escalation, slack: FakeSlack):
    urgent = add_escalation("c-retry", priority=90)
    notifier = SlackNotifier(engine, slack.url, min_priority=70, console_url="http://crm.example")
    slack.failing = True
    try:
        with pytest.raises(httpx.HTTPError):
            notifier.run_once()
        with new_session(engine) as session:
            assert session.get(Escalation, urgent).notified_at is None  # released for the next tick
        slack.failing = False
        assert notifier.run_once() == 1
    finally:
        notifier.stop()
    assert len(slack.received) == 1


def test_the_crm_announces_escalations_created_through_the_api_without_waiting(settings, engine, slack: FakeSlack):
    app = create_app(settings.copy(update={"agent_slack_webhook_url": slack.url, "notify_interval_seconds": 0.2}))
    body = {"conversation_id": "c-api", "channel": "slack", "priority": 92, "reason_codes": ["explicit_request"]}
    headers = {"X-API-Key": settings.api_key, "Idempotency-Key": "k-1"}
    with TestClient(app) as client:
        slack.failing = True  # Slack is down when the escalation is raised: creation does not care
        created = client.post("/api/v1/escalations", json=body, headers=headers)
        assert created.status_code == 201
        slack.failing = False
        deadline = time.monotonic() + 15
        while not slack.received and time.monotonic() < deadline:
            time.sleep(0.1)
    assert len(slack.received) == 1 and "priority 92" in slack.received[0]["text"]
