"""The scaled profile on loopback for tests: CRM + 2 action servers + 2 Rasa replicas behind nginx, on the machine's
PostgreSQL, Redis and RabbitMQ. Each run gets its own databases, Redis key prefix and RabbitMQ queue/exchange, dropped
afterwards, so runs never collide. Skips with the reason when a service is missing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.scaled import ScaledStack, running_scaled
from scripts.scaled_config import ScaledConfig, temporary_config
from scripts.stack import free_port

ROOT = Path(__file__).resolve().parents[2]

from tests.support import api_client  # noqa: E402


@pytest.fixture(scope="session")
def scaled_config() -> ScaledConfig:
    config = temporary_config(uuid.uuid4().hex[:10], free_port)
    missing = config.missing()
    if missing:
        pytest.skip("scaled profile needs: " + "; ".join(missing))
    return config


@pytest.fixture(scope="session")
def scaled(scaled_config: ScaledConfig) -> Iterator[ScaledStack]:
    with running_scaled(scaled_config, ROOT / "var" / "scaled-test", "scaled-api-key") as stack:  # logs stay there
        yield stack


@pytest.fixture
def crm_api(scaled: ScaledStack) -> Iterator[httpx.Client]:
    with api_client(scaled.crm_url, scaled.api_key, timeout=30) as client:
        yield client
