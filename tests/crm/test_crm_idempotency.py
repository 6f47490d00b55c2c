"""Idempotency keys and the audit trail of writes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from crm_backend.db import AuditLog, IdempotencyKey, Refund, new_session
from tests.factories import grant_headers

W = Callable[[str], dict[str, str]]
URL = "/api/v1/customers/1/orders/10003/refunds"


@pytest.fixture
def write_headers(write_headers: W) -> W:
    """Every write here is Alice's (customer 1), from a conversation holding her strong identity grant."""
    return lambda key: {**write_headers(key), **grant_headers(1)}


def count(engine: Engine, model: type) -> int:
    with new_session(engine) as session:
        return int(session.execute(select(func.count(model.id))).scalar_one())


def test_same_key_twice_makes_one_refund(client: TestClient, engine: Engine, write_headers: W) -> None:
    before = count(engine, Refund)
    first = client.post(URL, headers=write_headers("same"), json={"amount": 10, "reason": "scratched"})
    second = client.post(URL, headers=write_headers("same"), json={"reason": "scratched", "amount": 10})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() and second.headers.get("Idempotent-Replayed") == "true"
    assert count(engine, Refund) == before + 1
    assert count(engine, IdempotencyKey) == 1


def test_same_key_different_body_is_rejected(client: TestClient, engine: Engine, write_headers: W) -> None:
    before = count(engine, Refund)
    client.post(URL, headers=write_headers("k"), json={"amount": 10, "reason": "x"})
    reused = client.post(URL, headers=write_headers("k"), json={"amount": 11, "reason": "x"})
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    assert count(engine, Refund) == before + 1


def test_key_scope_is_per_path(client: TestClient, write_headers: W) -> None:
    a = client.post(URL, headers=write_headers("k"), json={"amount": 1, "reason": "x"})
    b = client.post(
        "/api/v1/customers/1/orders/10008/refunds", headers=write_headers("k"), json={"amount": 1, "reason": "x"}
    )
    assert a.status_code == b.status_code == 201 and a.json()["reference"] != b.json()["reference"]


def test_missing_or_too_long_key(client: TestClient, headers: dict[str, str], write_headers: W) -> None:
    missing = client.post(URL, headers={**headers, **grant_headers(1)}, json={"amount": 1, "reason": "x"})
    assert missing.status_code == 400 and missing.json()["code"] == "idempotency_key_required"
    long = client.post(URL, headers=write_headers("x" * 201), json={"amount": 1, "reason": "x"})
    assert long.status_code == 422 and long.json()["code"] == "invalid_request"


def test_error_response_is_stored_and_replayed(client: TestClient, engine: Engine, write_headers: W) -> None:
    url = "/api/v1/customers/1/orders/10001/cancel"
    first = client.post(url, headers=write_headers("e"), json={"reason": "x"})
    again = client.post(url, headers=write_headers("e"), json={"reason": "x"})
    assert first.status_code == again.status_code == 409 and first.json() == again.json()
    assert count(engine, AuditLog) == 0


def test_cancel_replay_changes_nothing(client: TestClient, engine: Engine, write_headers: W) -> None:
    url = "/api/v1/customers/1/orders/10002/cancel"
    first = client.post(url, headers=write_headers("c"), json={"reason": "x"})
    audits = count(engine, AuditLog)
    again = client.post(url, headers=write_headers("c"), json={"reason": "x"})
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert count(engine, AuditLog) == audits == 2  # order.cancel + refund.create


def test_audit_rows_carry_actor_and_key(client: TestClient, engine: Engine, write_headers: W) -> None:
    client.put(
        "/api/v1/customers/1/orders/10004/shipping-address",
        headers=write_headers("addr-1"),
        json={"line1": "1 A St", "city": "York", "postcode": "YO1 7HH", "country": "GB"},
    )
    client.post(URL, headers=write_headers("ref-1"), json={"amount": 2, "reason": "x"})
    client.post(
        "/api/v1/tickets",
        headers=write_headers("tk-1"),
        json={"conversation_id": "c", "channel": "web", "topic": "inquiry", "summary": "s"},
    )
    with new_session(engine) as session:
        rows = list(session.execute(select(AuditLog).order_by(AuditLog.id)).scalars())
    assert [(r.action, r.idempotency_key, r.actor) for r in rows] == [
        ("order.change_address", "addr-1", "test"),
        ("refund.create", "ref-1", "test"),
        ("ticket.create", "tk-1", "test"),
    ]
    assert rows[0].before["shipping_address"]["city"] == "London"
    assert rows[0].after["shipping_address"]["city"] == "York"
