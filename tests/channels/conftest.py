"""One real stack (CRM, action server, Rasa server) for the Slack and Telegram tests, with both channels enabled and
pointed at loopback fakes of Slack's and Telegram's APIs. Payloads are posted to Rasa's webhooks as the services
would send them (signed, with their headers)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.stack import Stack, free_port, local_stack
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.support import crm_client, crm_write, escalation_of, wait_until  # noqa: F401 (re-exported)

ROOT = Path(__file__).resolve().parents[2]

SLACK_TOKEN = "xoxb-test-0000-shopcare"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_SUPPORT_CHANNEL = "CSUPPORT1"
TELEGRAM_TOKEN = "123456789:AAEtestTokenForShopCareBot-loopback"
TELEGRAM_SECRET = "tg-secret-Zx81"
AGENT = "sam"


@pytest.fixture(scope="package")
def slack_api() -> Iterator[FakeSlackAPI]:
    fake = FakeSlackAPI(SLACK_TOKEN)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="package")
def telegram_api() -> Iterator[FakeTelegramAPI]:
    fake = FakeTelegramAPI(TELEGRAM_TOKEN)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="package")
def stack(
    tmp_path_factory: pytest.TempPathFactory, slack_api: FakeSlackAPI, telegram_api: FakeTelegramAPI
) -> Iterator[Stack]:
    rasa_port = free_port()
    running = local_stack(
        tmp_path_factory.mktemp("channels"),
        "channels-api-key",
        rasa_port=rasa_port,
        agents=((AGENT, "correct-horse-battery", "agent", "Sam"),),
        channel_env={
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SLACK_SECRET,
            "SLACK_API_URL": slack_api.api_url,
            "SLACK_CHANNEL": SLACK_SUPPORT_CHANNEL,
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "TELEGRAM_API_URL": telegram_api.url,
            "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{rasa_port}/webhooks/telegram/webhook",
        },
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="package")
def crm_api(stack: Stack) -> Iterator[httpx.Client]:
    yield from crm_client(stack.crm_url, stack.api_key)


def agent_replies(crm_api: httpx.Client, conversation_id: str, text: str) -> dict[str, Any]:
    """The agent claims the conversation's escalation and replies through the CRM API, as the console does."""
    escalation = wait_until(lambda: escalation_of(crm_api, conversation_id))
    assert crm_write(crm_api, f"/escalations/{escalation['id']}/claim", {"agent": AGENT}).status_code == 200
    answer = crm_write(crm_api, f"/escalations/{escalation['id']}/reply", {"agent": AGENT, "text": text})
    assert answer.status_code == 201, answer.text
    return escalation


def customer_thread(crm_api: httpx.Client, conversation_id: str) -> list[str]:
    escalation = escalation_of(crm_api, conversation_id) or {"messages": []}
    return [m["text"] for m in escalation["messages"] if m["sender"] == "customer"]


def slack_headers(body: bytes, timestamp: int | None = None, secret: str = SLACK_SECRET) -> dict[str, str]:
    """Slack's v0 signature: HMAC-SHA256 of ``v0:<timestamp>:<body>`` with the app's signing secret."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def json_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()
