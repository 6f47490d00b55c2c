"""Fixtures of the console suite: a real CRM app on its own SQLite file, agents with argon2 passwords, a recording
fake of Rasa's tracker-events endpoint, and a logged-in client per role."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from crm_backend.app import create_app
from crm_backend.db import make_engine, new_session
from crm_backend.seeding import demo
from crm_backend.settings import Settings
from tests.databases import DatabaseTemplates
from tests.support import FakeRasa

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'crm.db'}",
        api_key="console-test-key",
        env="development",
        relay_enabled=False,
        rasa_events_url="",
        login_max_failures=3,
    )


AGENTS = (
    ("sam", PASSWORD, "agent", "Sam Patel"),
    ("kim", PASSWORD, "agent", "Kim Lee"),
    ("sue", PASSWORD, "supervisor", "Sue Grant"),
)


@pytest.fixture
def engine(settings: Settings, database_templates: DatabaseTemplates) -> Iterator[Engine]:
    """The test's own database: the demo personas and agents sam, kim (agents) and sue (supervisor)."""
    assert settings.sqlite_path is not None
    database_templates.copy_to(settings.sqlite_path, agents=AGENTS)
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
def app(settings: Settings, engine: Engine, rasa: FakeRasa) -> Any:
    application = create_app(settings)
    application.state.rasa_client = rasa
    return application


@pytest.fixture
def make_client(app: Any) -> Iterator[Callable[[], TestClient]]:
    clients: list[TestClient] = []

    def build() -> TestClient:
        client = TestClient(app, base_url="http://testserver", follow_redirects=False)
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    page = client.get("/console/login")
    return client.post(
        "/console/login", data={"username": username, "password": password, "csrf_token": csrf_of(page.text)}
    )


@pytest.fixture
def agent(make_client: Callable[[], TestClient]) -> TestClient:
    client = make_client()
    assert login(client, "sam").status_code == 303
    return client


@pytest.fixture
def supervisor(make_client: Callable[[], TestClient]) -> TestClient:
    client = make_client()
    assert login(client, "sue").status_code == 303
    return client


@pytest.fixture
def add_escalation(engine: Engine) -> Callable[..., int]:
    """Store an escalation shaped like the assistant's (crm_backend/seeding/demo.py); returns its id."""

    def add(conversation_id: str, *, email: str | None = "alice.martin@example.com", created_at=None, **kw: Any) -> int:
        with new_session(engine) as session:
            customer = demo.customer_by_email(email, session=session) if email else None
            body = demo.escalation_request(conversation_id=conversation_id, customer=customer, **kw)
            escalation = demo.create(session, body, created_at=created_at)
            session.commit()
            return int(escalation.id)

    return add
