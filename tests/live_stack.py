"""One real stack on loopback per test session: CRM (temporary SQLite, seeded), action server, Rasa server.

Shared by the end-to-end, hostile-input, security and fault suites (tests/conftest.py registers the fixtures), so a
full run starts the three processes once. Tests that stop or kill a process start it again before they return.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.stack import Stack, free_port, local_stack  # noqa: F401 (free_port re-exported)

ROOT = Path(__file__).resolve().parents[1]

from tests.support import crm_client  # noqa: E402


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # development: the REST channel is on (channels/credentials.py leaves it out in production without a token)
    running = local_stack(tmp_path_factory.mktemp("stack"), "e2e-api-key", channel_env={"CRM_ENV": "development"})
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
def chat(stack: Stack, request: pytest.FixtureRequest) -> Callable[[str], list[dict[str, Any]]]:
    """Send one message as this test's customer over the REST channel; returns the bot's messages.

    ``chat.sender`` is the REST body's sender; ``chat.conversation_id`` the tracker's (and the CRM's) id for it.
    """
    sender = rest_sender(request.node.name)

    def send(text: str) -> list[dict[str, Any]]:
        response = httpx.post(
            f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30
        )
        response.raise_for_status()
        return response.json()

    send.sender = sender  # type: ignore[attr-defined]
    send.conversation_id = f"rest:{sender}"  # type: ignore[attr-defined]
    return send


def rest_sender(name: str) -> str:
    """A unique REST sender id for a test named ``name``, within the channel's 64 characters of A-Z a-z 0-9 . _ @ -."""
    return re.sub(r"[^A-Za-z0-9._@-]", "-", name)[:47] + "-" + uuid.uuid4().hex[:16]


@pytest.fixture
def crm_api(stack: Stack) -> Iterator[httpx.Client]:
    yield from crm_client(stack.crm_url, stack.api_key)


def joined(messages: list[dict[str, Any]]) -> str:
    return " ".join(m.get("text", "") for m in messages)
