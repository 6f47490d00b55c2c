"""One real stack on loopback per test session: CRM (temporary SQLite, seeded), action server, Rasa server.

Shared by the end-to-end, hostile-input, security and fault suites (tests/conftest.py registers the fixtures), so a
full run starts the three processes once. Tests that stop or kill a process start it again before they return.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from stack import Stack, ensure_model  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("stack")
    running = Stack(
        crm_port=free_port(),
        action_port=free_port(),
        rasa_port=free_port(),
        database_url=f"sqlite:///{workdir / 'crm.db'}",
        tracker_db=workdir / "tracker.db",
        events_db=workdir / "events.db",
        api_key="e2e-api-key",
        model=ensure_model(),
        log_dir=workdir / "log",
    )
    running.crm("init")
    running.crm("seed", "--customers", "40", "--seed", "7")
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
def chat(stack: Stack, request: pytest.FixtureRequest) -> Callable[[str], list[dict[str, Any]]]:
    """Send one message as this test's customer over the REST channel; returns the bot's messages."""
    sender = f"{request.node.name}-{id(request)}"

    def send(text: str) -> list[dict[str, Any]]:
        response = httpx.post(
            f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30
        )
        response.raise_for_status()
        return response.json()

    send.sender = sender  # type: ignore[attr-defined]
    return send


@pytest.fixture
def crm_api(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=f"{stack.crm_url}/api/v1", headers={"X-API-Key": stack.api_key}, timeout=10)


def joined(messages: list[dict[str, Any]]) -> str:
    return " ".join(m.get("text", "") for m in messages)
