"""The scaled profile on loopback for tests: CRM + 2 action servers + 2 Rasa replicas behind nginx, on the machine's
PostgreSQL, Redis and RabbitMQ. Each run gets its own databases, Redis key prefix and RabbitMQ queue/exchange, dropped
afterwards, so runs never collide. Skips with the reason when a service is missing."""

from __future__ import annotations

import shutil
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from scaled import ScaledStack  # noqa: E402
from scaled_config import ScaledConfig, cleanup_services, ensure_database, temporary_config  # noqa: E402
from stack import ensure_model  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def scaled_config() -> ScaledConfig:
    config = temporary_config(uuid.uuid4().hex[:10], free_port)
    missing = config.missing()
    if missing:
        pytest.skip("scaled profile needs: " + "; ".join(missing))
    return config


@pytest.fixture(scope="session")
def scaled(scaled_config: ScaledConfig) -> Iterator[ScaledStack]:
    run_dir = ROOT / "var" / "scaled-test"  # logs of the last run stay here (pytest's tmp dirs rotate away)
    shutil.rmtree(run_dir, ignore_errors=True)
    stack = ScaledStack(
        config=scaled_config,
        rasa_ports=[free_port(), free_port()],
        action_ports=[free_port(), free_port()],
        run_dir=run_dir,
        api_key="scaled-api-key",
        model=ensure_model(),
    )
    try:
        for url in (scaled_config.crm_database_url, scaled_config.tracker_database_url):
            ensure_database(url)
        stack.crm("init")
        stack.crm("seed", "--customers", "40", "--seed", "7")
        stack.start()
        yield stack
    finally:
        stack.stop()
        cleanup_services(scaled_config)


@pytest.fixture
def crm_api(scaled: ScaledStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{scaled.crm_url}/api/v1", headers={"X-API-Key": scaled.api_key}, timeout=30) as client:
        yield client
