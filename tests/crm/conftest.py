"""Fixtures for the CRM suite: every test gets its own temporary SQLite database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from crm_backend.app import create_app
from crm_backend.db import make_engine, new_session
from crm_backend.policies import Policies, load_policies
from crm_backend.settings import Settings
from tests.databases import DatabaseTemplates
from tests.factories import grant_headers

API_KEY = "test-key"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'crm.db'}", api_key=API_KEY, env="development", relay_enabled=False
    )


@pytest.fixture
def engine(
    settings: Settings, request: pytest.FixtureRequest, database_templates: DatabaseTemplates
) -> Iterator[Engine]:
    """The test's database: the schema, with the demo personas when the test also asks for ``personas``."""
    assert settings.sqlite_path is not None
    database_templates.copy_to(settings.sqlite_path, personas="personas" in request.fixturenames)
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with new_session(engine) as session:
        yield session


@pytest.fixture
def policies(settings: Settings) -> Policies:
    return load_policies(settings.policy_file)


@pytest.fixture
def personas(engine: Engine) -> None:
    """The demo personas, in the database ``engine`` copied (Alice 10001-10008, Ben 10011-, Chloe 10021-)."""


@pytest.fixture
def client(settings: Settings, engine: Engine, personas: None) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def headers() -> dict[str, str]:
    return {"X-API-Key": API_KEY}


@pytest.fixture
def write_headers() -> Callable[[str], dict[str, str]]:
    """Headers of a write: API key, Idempotency-Key and actor."""

    def build(key: str) -> dict[str, str]:
        return {"X-API-Key": API_KEY, "Idempotency-Key": key, "X-Actor": "test"}

    return build


@pytest.fixture
def as_customer() -> Callable[..., dict[str, str]]:
    """Headers of a customer-scoped call: API key and the CRM's identity grant for ``customer_id`` (a one-time code
    by default; ``strength=``, ``conversation_id=``, ``channel=`` as in ``grant_headers``); with ``key``, those of a
    write too (Idempotency-Key and actor)."""

    def build(customer_id: int, key: str | None = None, **grant: str) -> dict[str, str]:
        write = {"Idempotency-Key": key, "X-Actor": "test"} if key is not None else {}
        return {"X-API-Key": API_KEY, **write, **grant_headers(customer_id, **grant)}

    return build
