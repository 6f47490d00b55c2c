"""The CRM's RabbitMQ consumer on a real RabbitMQ and PostgreSQL: a message is acknowledged only after its database
commit, so events published while the CRM's database is unreachable wait in the queue and arrive, in order and once,
when it is back; redelivered and malformed messages change nothing."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime

import aio_pika
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine

from crm_backend.db import Base, Escalation, EscalationMessage, make_engine, new_session
from crm_backend.relay.factory import make_relay
from crm_backend.relay.rabbitmq import PikaEventRelay
from crm_backend.services.grants import GrantPolicy
from crm_backend.settings import Settings
from scripts.scaled_config import ScaledConfig, cleanup_services, ensure_database, temporary_config
from scripts.stack import free_port as _free_port
from tests.support import wait_until


@pytest.fixture
def services() -> Iterator[ScaledConfig]:
    config = temporary_config(uuid.uuid4().hex[:10], _free_port)
    missing = config.missing()
    if missing:
        pytest.skip("needs: " + "; ".join(missing))
    yield config
    cleanup_services(config)


def publish(config: ScaledConfig, bodies: list[bytes]) -> None:
    """What Rasa's pika broker does: persistent messages to the fanout exchange, bound to the durable queue."""

    async def send() -> None:
        connection = await aio_pika.connect(config.rabbitmq_url, timeout=10)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(config.rabbitmq_exchange, aio_pika.ExchangeType.FANOUT)
            queue = await channel.declare_queue(config.rabbitmq_queue, durable=True)
            await queue.bind(exchange, "")
            for body in bodies:
                await exchange.publish(aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), "")

    asyncio.run(send())


def queued(config: ScaledConfig) -> int:
    async def count() -> int:
        connection = await aio_pika.connect(config.rabbitmq_url, timeout=10)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(config.rabbitmq_queue, durable=True, passive=True)
            return int(queue.declaration_result.message_count or 0)

    return asyncio.run(count())


def event(sender: str, **fields: object) -> bytes:
    return json.dumps({"sender_id": sender, "timestamp": time.time(), **fields}).encode()


def thread(engine: Engine, sender: str) -> list[str]:
    with new_session(engine) as session:
        return list(
            session.execute(
                select(EscalationMessage.text)
                .join(Escalation, Escalation.id == EscalationMessage.escalation_id)
                .where(Escalation.conversation_id == sender, EscalationMessage.sender == "customer")
                .order_by(EscalationMessage.id)
            ).scalars()
        )


def test_settings_select_the_consumer_by_url(services: ScaledConfig) -> None:
    engine = create_engine("sqlite://")
    amqp = Settings(rasa_events_url=services.rabbitmq_url, rasa_events_queue="q1", rasa_events_exchange="x1")
    relay = make_relay(amqp, engine)
    assert isinstance(relay, PikaEventRelay) and (relay.queue_name, relay.exchange_name) == ("q1", "x1")
    assert "guest:guest" not in relay.source  # the password never reaches logs or keys
    assert not isinstance(make_relay(Settings(rasa_events_url="sqlite:///x.db"), engine), PikaEventRelay)
    assert make_relay(Settings(rasa_events_url=""), engine) is None


def test_events_wait_in_the_queue_while_the_database_is_down_and_arrive_once_in_order(services: ScaledConfig) -> None:
    sender = f"pika-{uuid.uuid4().hex[:8]}"
    engine = make_engine(Settings(database_url=services.crm_database_url))  # database not created yet
    relay = PikaEventRelay(
        engine,
        services.rabbitmq_url,
        grants=GrantPolicy.from_settings(Settings(env="development")),
        queue=services.rabbitmq_queue,
        exchange=services.rabbitmq_exchange,
    )
    request = {
        "key": f"{sender}:esc",
        "body": {"channel": "rest", "priority": 50, "reason_codes": ["explicit_request"], "summary": "wants a person"},
    }
    escalation_request = event(sender, event="slot", name="escalation_request", value=request)
    first_message = event(sender, event="user", text="hello? anyone?")  # after the request, as in Rasa
    bodies = [
        escalation_request,
        b"\xff not json",
        first_message,
        event(sender, event="user", text="my parcel is wet"),
        first_message,  # a redelivery from Rasa's side (same event): must not be added twice
    ]
    relay.start(interval=0.05)
    try:
        assert relay.connected.wait(15), "the consumer did not connect to RabbitMQ"
        publish(services, bodies)
        time.sleep(1.5)  # the consumer tries, fails on the missing database, puts everything back, retries
        assert relay.handled == 0  # nothing acknowledged without a commit
        ensure_database(services.crm_database_url)  # the database comes back (empty: create the schema)
        Base.metadata.create_all(engine)
        assert wait_until(lambda: thread(engine, sender) == ["hello? anyone?", "my parcel is wet"])
        wait_until(lambda: relay.handled == len(bodies))
        assert queued(services) == 0  # every message acknowledged, none left behind
    finally:
        relay.stop()
        engine.dispose()
    with new_session(make_engine(Settings(database_url=services.crm_database_url))) as session:
        escalations = session.execute(select(Escalation).where(Escalation.conversation_id == sender)).scalars().all()
    assert len(escalations) == 1 and escalations[0].reason_codes == ["explicit_request"]
    assert escalations[0].created_at <= datetime.utcnow()
