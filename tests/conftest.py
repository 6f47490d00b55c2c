"""Shared fixtures: the real domain, a tracker factory, and a real CRM app on a temporary SQLite database that the
actions reach through their one client (`actions.crm_client`), over an in-process ASGI transport."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.crm_client import CRMClient, CRMSettings, start_call_log, use_client
from crm_backend.app import create_app
from crm_backend.settings import Settings
from tests.databases import DatabaseTemplates
from tests.factories import grant_headers
from tests.live_stack import chat, crm_api, stack  # noqa: F401 - one live stack per session for every suite

ROOT = Path(__file__).resolve().parent.parent
TEST_API_KEY = "actions-test-key"
# No CRM a test creates, in process or as a child process, runs the retention job unless the test asks for it
# (crm_backend/services/retention.py, tests/crm/test_retention.py).
os.environ["CRM_RETENTION_INTERVAL_HOURS"] = "0"


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "domain.yml").read_text())


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture
def make_tracker(domain: dict[str, Any]) -> Callable[..., Tracker]:
    """A tracker with every domain slot at its initial value, overridden by `slots`.

    A tracker of a verified customer (`customer_id` in `slots`) holds the CRM's grant for that customer, this
    conversation and channel, with a strong proof, unless `slots` gives its own `identity_grant` (None: no grant).
    """

    def build(
        *,
        slots: dict[str, Any] | None = None,
        intent: str = "inform",
        text: str = "",
        entities: list[dict[str, Any]] | None = None,
        active_loop: str | None = None,
        sender_id: str = "test-conversation",
        events: list[dict[str, Any]] | None = None,
    ) -> Tracker:
        values = {name: spec.get("initial_value") for name, spec in domain["slots"].items()}
        values["requested_slot"] = None
        values.update(slots or {})
        if values.get("customer_id") and "identity_grant" not in (slots or {}):
            values["identity_grant"] = grant_token(int(values["customer_id"]), conversation_id=sender_id)
        latest = {
            "intent": {"name": intent, "confidence": 1.0},
            "intent_ranking": [{"name": intent, "confidence": 1.0}],
            "entities": entities or [],
            "text": text,
        }
        return Tracker(
            sender_id=sender_id,
            slots=values,
            latest_message=latest,
            events=events or [{"event": "user", "text": text, "parse_data": latest}],
            paused=False,
            followup_action=None,
            active_loop={"name": active_loop} if active_loop else {},
            latest_action_name="action_listen",
        )

    return build


def grant_token(
    customer_id: int,
    *,
    strength: str = "one_time_code",
    conversation_id: str = "test-conversation",
    channel: str = "unknown",
) -> str:
    """The CRM's grant as the test CRM (default grant secret) issues it; trackers built here have no input channel."""
    return grant_headers(customer_id, strength=strength, conversation_id=conversation_id, channel=channel)[
        "X-Identity-Grant"
    ]


def act_as(customer_id: int, *, conversation_id: str = "test-conversation", channel: str = "unknown") -> None:
    """Let the test itself call customer-scoped CRM routes through the actions' client, as that conversation."""
    context = start_call_log()
    context.conversation_id, context.channel = conversation_id, channel
    context.grant = grant_token(customer_id, conversation_id=conversation_id, channel=channel)


@pytest.fixture(scope="session")
def database_templates(tmp_path_factory: pytest.TempPathFactory) -> DatabaseTemplates:
    """CRM databases built once per session; each test gets its own copy (``tests/databases.py``)."""
    return DatabaseTemplates(tmp_path_factory.mktemp("crm-templates"))


@pytest.fixture
def crm_app(tmp_path: Path, database_templates: DatabaseTemplates) -> FastAPI:
    """A real CRM app on its own SQLite file, with the demo personas (Alice 10001-10008, Ben 10011-, Chloe 10021-)."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'crm.db'}", api_key=TEST_API_KEY, env="development", relay_enabled=False
    )
    database_templates.copy_to(tmp_path / "crm.db")
    return create_app(settings)


@pytest.fixture
def crm(crm_app: FastAPI) -> Iterator[CRMClient]:
    """The actions' client, installed for the test, talking to `crm_app`."""
    client = CRMClient(
        CRMSettings(base_url="http://crm.test", api_key=TEST_API_KEY, retries=0),
        transport=httpx.ASGITransport(app=crm_app),
    )
    use_client(client)
    yield client
    use_client(None)


@pytest.fixture
def crm_down() -> Iterator[CRMClient]:
    """A client whose CRM refuses connections (nothing listens on the port)."""
    client = CRMClient(CRMSettings(base_url="http://127.0.0.1:9", api_key=TEST_API_KEY, timeout=1, retries=1))
    use_client(client)
    yield client
    use_client(None)


@pytest.fixture
def said(dispatcher: CollectingDispatcher) -> Callable[[], list[str]]:
    """What the assistant has said so far: message texts, or the names of the domain responses it uttered."""
    return lambda: [m.get("text") or m.get("response") or "" for m in dispatcher.messages]


# ----------------------------------------------------------------------------- markers, by what a test needs
SUITE_MARKERS = {"browser": "browser", "scaled": "scaled", "faults": "faults", "e2e": "e2e"}
# fixtures that start the servers as processes: the shared live stack, and the suites' own stacks
LIVE_STACK_FIXTURES = {"stack", "chat", "crm_api", "identity_stack", "action_server"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """browser / scaled / faults / e2e by directory; a test elsewhere that uses the live stack is e2e; the rest unit."""
    tests_dir = ROOT / "tests"
    for item in items:
        parts = Path(str(item.fspath)).relative_to(tests_dir).parts
        marker = SUITE_MARKERS.get(parts[0]) if len(parts) > 1 else None
        if marker is None and LIVE_STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            marker = "e2e"
        item.add_marker(getattr(pytest.mark, marker or "unit"))
