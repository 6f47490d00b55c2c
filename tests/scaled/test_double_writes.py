"""Concurrent double cancel / double refund against the CRM on PostgreSQL create exactly one, with and without the
same Idempotency-Key (requests race in the CRM's thread pool on real PostgreSQL transactions)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from crm_backend.db import AuditLog, Customer, Order, Payment, Refund, make_engine
from crm_backend.settings import Settings
from tests.support import api_client, as_customer, one_time_code

ROUNDS = 2  # orders per case (the 40-customer seed has 5 paid or packed orders)


@pytest.fixture(scope="module")
def crm_db(scaled) -> Iterator[Engine]:
    engine = make_engine(Settings(database_url=scaled.config.crm_database_url))  # the CRM's keys (env / .env)
    yield engine
    engine.dispose()


def orders_with(engine: Engine, statuses: tuple[str, ...], limit: int) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Order.customer_id, Order.order_number)
            .join(Payment, Payment.order_id == Order.id)
            .where(Order.status.in_(statuses), Payment.status == "captured")
            .order_by(Order.id)
            .limit(limit)
        ).all()
    return [(int(r.customer_id), str(r.order_number)) for r in rows]


def count(engine: Engine, model: type, *where: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def refunds_of(engine: Engine, order_number: str) -> int:
    return count(
        engine, Refund, Refund.order_id == select(Order.id).where(Order.order_number == order_number).scalar_subquery()
    )


async def twice(scaled, customer_id: int, path: str, body: dict, keys: tuple[str, str]) -> list[httpx.Response]:
    """The same write sent twice at once, as a conversation verified as the customer with a one-time code would."""
    headers = {"X-API-Key": scaled.api_key, **as_customer(customer_id)}
    async with httpx.AsyncClient(base_url=f"{scaled.crm_url}/api/v1", headers=headers, timeout=30) as client:
        return list(
            await asyncio.gather(*(client.post(path, json=body, headers={"Idempotency-Key": key}) for key in keys))
        )


@pytest.fixture(scope="module")
def cancellable(crm_db: Engine) -> list[tuple[int, str]]:
    found = orders_with(crm_db, ("paid", "packed"), 2 * ROUNDS)
    assert len(found) == 2 * ROUNDS, "the seed has too few paid orders to cancel"
    return found


@pytest.fixture(scope="module")
def refundable(scaled, crm_db: Engine) -> list[tuple[int, str, float]]:
    found = []
    with api_client(scaled.crm_url, scaled.api_key) as client:
        for customer_id, number in orders_with(crm_db, ("delivered",), 200):
            quote = client.get(f"/customers/{customer_id}/orders/{number}/refund-eligibility").json()
            if quote.get("eligible") and quote.get("max_amount", 0) > 0:
                found.append((customer_id, number, float(quote["max_amount"])))
            if len(found) == 2 * ROUNDS:
                break
    assert len(found) == 2 * ROUNDS, "the seed has too few refundable orders"
    return found


async def test_double_cancel_with_different_keys_cancels_once(scaled, crm_db, cancellable):
    for customer_id, number in cancellable[:ROUNDS]:
        path = f"/customers/{customer_id}/orders/{number}/cancel"
        responses = await twice(
            scaled, customer_id, path, {"reason": "changed my mind"}, (uuid.uuid4().hex, uuid.uuid4().hex)
        )
        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 409], [r.text for r in responses]
        refused = next(r for r in responses if r.status_code == 409).json()
        assert refused["code"] == "order_already_cancelled"
        assert count(crm_db, AuditLog, AuditLog.action == "order.cancel", AuditLog.entity_id == number) == 1
        assert refunds_of(crm_db, number) == 1  # a paid order: exactly one refund of what was paid


async def test_double_cancel_with_the_same_key_cancels_once_and_replays(scaled, crm_db, cancellable):
    for customer_id, number in cancellable[ROUNDS:]:
        key = uuid.uuid4().hex
        path = f"/customers/{customer_id}/orders/{number}/cancel"
        responses = await twice(scaled, customer_id, path, {"reason": "changed my mind"}, (key, key))
        assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
        assert responses[0].json() == responses[1].json()
        assert count(crm_db, AuditLog, AuditLog.action == "order.cancel", AuditLog.entity_id == number) == 1
        assert refunds_of(crm_db, number) == 1


async def test_double_refund_with_different_keys_refunds_once(scaled, crm_db, refundable):
    for customer_id, number, amount in refundable[:ROUNDS]:
        path = f"/customers/{customer_id}/orders/{number}/refunds"
        body = {"amount": amount, "reason": "arrived broken"}
        responses = await twice(scaled, customer_id, path, body, (uuid.uuid4().hex, uuid.uuid4().hex))
        codes = sorted(r.status_code for r in responses)
        assert codes[0] == 201 and codes[1] in (409, 422), [r.text for r in responses]
        assert refunds_of(crm_db, number) == 1


async def test_double_refund_with_the_same_key_refunds_once_and_replays(scaled, crm_db, refundable):
    for customer_id, number, amount in refundable[ROUNDS:]:
        key = uuid.uuid4().hex
        path = f"/customers/{customer_id}/orders/{number}/refunds"
        responses = await twice(scaled, customer_id, path, {"amount": amount, "reason": "arrived broken"}, (key, key))
        assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
        assert responses[0].json()["reference"] == responses[1].json()["reference"]
        assert refunds_of(crm_db, number) == 1


def say(base: str, sender: str, text: str) -> str:
    response = httpx.post(f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60)
    response.raise_for_status()
    return " ".join(str(m.get("text") or "") for m in response.json())


async def test_double_confirmation_on_both_replicas_cancels_once(scaled, crm_db, cancellable):
    """A customer's "yes" arriving twice at once, on both replicas (a double click, a retried webhook): the lock
    store serialises the two turns and each replica calls the action servers behind nginx; one cancellation."""
    first, second = scaled.replica_urls
    with crm_db.connect() as conn:
        rows = conn.execute(
            select(Order.order_number, Customer.email)
            .join(Customer, Customer.id == Order.customer_id)
            .where(
                Order.status.in_(("paid", "packed", "pending")), Order.order_number.not_in([n for _, n in cancellable])
            )
            .order_by(Order.id)
        ).all()
    sender, number = "", ""
    for candidate, email in rows:  # the first order whose owner gets the plain confirmation (not a retention offer)
        sender = f"confirm-{uuid.uuid4().hex[:8]}"
        say(first, sender, f"I want to cancel order {candidate}")
        asked = time.time()
        if "e-mailed a 6-digit code" not in say(second, sender, email):  # a change needs the code first
            continue
        code = one_time_code(scaled.crm_url, email, after=asked - 1)
        if f"Shall I cancel order {candidate}?" in say(first, sender, code):
            number = candidate
            break
    assert number, "no seeded order reached the cancellation confirmation"

    async with httpx.AsyncClient(timeout=60) as client:
        replies = await asyncio.gather(
            *(
                client.post(f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": "yes"})
                for base in (first, second)
            )
        )
    texts = [" ".join(str(m.get("text") or "") for m in r.json()) for r in replies]
    assert sum(f"order {number} is cancelled" in t for t in texts) == 1, texts
    assert count(crm_db, AuditLog, AuditLog.action == "order.cancel", AuditLog.entity_id == number) == 1
    with crm_db.connect() as conn:
        assert conn.execute(select(Order.status).where(Order.order_number == number)).scalar_one() == "cancelled"
