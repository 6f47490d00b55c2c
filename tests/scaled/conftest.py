"""The scaled profile on loopback for tests: CRM + 2 action servers + 2 Rasa replicas behind nginx, on the machine's
PostgreSQL, Redis and RabbitMQ. Each run gets its own databases, Redis key prefix and RabbitMQ queue/exchange, dropped
afterwards, so runs never collide. Skips with the reason when a service is missing."""

from __future__ import annotations

import asyncio
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
from scaled import ScaledConfig, ScaledStack, drop_database, ensure_database  # noqa: E402
from stack import ensure_model  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_config(run_id: str) -> ScaledConfig:
    defaults = ScaledConfig.from_env()
    return ScaledConfig(
        replicas=2,
        action_replicas=2,
        port=free_port(),
        action_lb_port=free_port(),
        crm_port=free_port(),
        crm_database_url=f"{PG}/sc_crm_{run_id}",
        tracker_database_url=f"{PG}/sc_tracker_{run_id}",
        redis_url=defaults.redis_url,
        redis_key_prefix=f"sc{run_id}",
        rabbitmq_url=defaults.rabbitmq_url,
        rabbitmq_queue=f"sc_events_{run_id}",
        rabbitmq_exchange=f"sc_events_{run_id}",
    )


def cleanup_services(config: ScaledConfig) -> None:
    """Drop what this run created: its databases, its lock keys, its queue and exchange."""
    import aio_pika
    import redis

    for url in (config.crm_database_url, config.tracker_database_url):
        drop_database(url)
    client = redis.Redis.from_url(config.redis_url)
    for key in client.scan_iter(f"{config.redis_key_prefix}:*", count=500):
        client.delete(key)
    client.close()

    async def drop_queue() -> None:
        connection = await aio_pika.connect(config.rabbitmq_url, timeout=10)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(config.rabbitmq_queue)
            await channel.exchange_delete(config.rabbitmq_exchange)

    asyncio.run(drop_queue())


@pytest.fixture(scope="session")
def scaled_config() -> ScaledConfig:
    config = run_config(uuid.uuid4().hex[:10])
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
