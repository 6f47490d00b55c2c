"""POST /customers/{id}/data-requests: a strong grant creates one pending export or erasure request per kind, with
the proof and the conversation taken from the grant; it is audited and idempotent; nothing is exported or erased."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from crm_backend.db import AuditLog, Customer, DataRequest, IdempotencyKey, Order, new_session

ALICE, BEN = 1, 2
URL = "/api/v1/customers/{}/data-requests"
AsCustomer = Callable[..., dict[str, str]]


def requests_of(engine: Engine, customer_id: int) -> list[DataRequest]:
    with new_session(engine) as session:
        query = select(DataRequest).where(DataRequest.customer_id == customer_id).order_by(DataRequest.id)
        rows = list(session.execute(query).scalars())
        session.expunge_all()
        return rows


def audit_rows(engine: Engine, reference: str) -> list[tuple[str, str, dict]]:
    with new_session(engine) as session:
        query = select(AuditLog.actor, AuditLog.action, AuditLog.after).where(AuditLog.entity_id == reference)
        return [tuple(row) for row in session.execute(query)]


@pytest.mark.parametrize("kind", ["export", "erase"])
def test_a_strong_grant_creates_a_pending_request_with_the_grants_proof_and_conversation(
    client: TestClient, engine: Engine, as_customer: AsCustomer, kind: str
) -> None:
    headers = as_customer(ALICE, key=f"dr-{kind}", conversation_id="conv-42", channel="rest")
    # what the body says of the proof or conversation is not taken: only the grant's
    body = {"kind": kind, "proof": "shop_login", "conversation_id": "conv-other", "source": "console"}
    response = client.post(URL.format(ALICE), headers=headers, json=body)

    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["kind"] == kind and answer["status"] == "pending" and answer["created"] is True
    assert answer["reference"].startswith("DR-") and len(answer["reference"]) == 9
    [row] = requests_of(engine, ALICE)
    assert (row.reference, row.kind, row.status, row.source) == (answer["reference"], kind, "pending", "assistant")
    assert (row.proof, row.conversation_id, row.requested_by) == ("one_time_code", "conv-42", "bot:conv-42")
    assert audit_rows(engine, answer["reference"]) == [
        (
            "bot:conv-42",
            f"data_request.{kind}.create",
            {"customer_id": ALICE, "source": "assistant", "proof": "one_time_code"},
        )
    ]


def test_the_pending_request_is_returned_not_a_second_one(
    client: TestClient, engine: Engine, as_customer: AsCustomer
) -> None:
    first = client.post(URL.format(ALICE), headers=as_customer(ALICE, key="a"), json={"kind": "erase"})
    again = client.post(
        URL.format(ALICE), headers=as_customer(ALICE, key="b", strength="shop_login"), json={"kind": "erase"}
    )
    export = client.post(URL.format(ALICE), headers=as_customer(ALICE, key="c"), json={"kind": "export"})

    assert (first.status_code, again.status_code, export.status_code) == (201, 200, 201)
    assert again.json() == {**first.json(), "created": False}
    assert export.json()["reference"] != first.json()["reference"]
    assert [(r.kind, r.proof) for r in requests_of(engine, ALICE)] == [
        ("erase", "one_time_code"),
        ("export", "one_time_code"),
    ]


def test_a_repeated_call_with_the_same_key_is_replayed(
    client: TestClient, engine: Engine, as_customer: AsCustomer
) -> None:
    headers = as_customer(ALICE, key="same")
    first = client.post(URL.format(ALICE), headers=headers, json={"kind": "export"})
    second = client.post(URL.format(ALICE), headers=headers, json={"kind": "export"})
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json() and second.headers.get("Idempotent-Replayed") == "true"
    assert len(requests_of(engine, ALICE)) == 1
    with new_session(engine) as session:
        assert session.execute(select(func.count(IdempotencyKey.id))).scalar_one() == 1
    missing_key = client.post(URL.format(ALICE), headers=as_customer(ALICE), json={"kind": "export"})
    assert missing_key.status_code == 400 and missing_key.json()["code"] == "idempotency_key_required"


@pytest.mark.parametrize("strength", ["postcode", "email"])
def test_a_read_strength_grant_is_refused(
    client: TestClient, engine: Engine, as_customer: AsCustomer, strength: str
) -> None:
    response = client.post(
        URL.format(ALICE), headers=as_customer(ALICE, key="k", strength=strength), json={"kind": "export"}
    )
    assert response.status_code == 403 and response.json()["code"] == "stronger_proof_required"
    assert requests_of(engine, ALICE) == []


def test_another_customers_id_is_refused(client: TestClient, engine: Engine, as_customer: AsCustomer) -> None:
    response = client.post(URL.format(BEN), headers=as_customer(ALICE, key="k"), json={"kind": "erase"})
    assert response.status_code == 403 and response.json()["code"] == "grant_other_customer"
    assert requests_of(engine, BEN) == [] and requests_of(engine, ALICE) == []


def test_no_grant_and_an_unknown_kind_are_refused(
    client: TestClient, engine: Engine, headers: dict[str, str], as_customer: AsCustomer
) -> None:
    no_grant = client.post(URL.format(ALICE), headers={**headers, "Idempotency-Key": "k"}, json={"kind": "export"})
    assert no_grant.status_code == 401 and no_grant.json()["code"] == "grant_required"
    unknown = client.post(URL.format(ALICE), headers=as_customer(ALICE, key="k2"), json={"kind": "sell"})
    assert unknown.status_code == 422
    assert requests_of(engine, ALICE) == []


def test_a_request_exports_or_erases_nothing(client: TestClient, engine: Engine, as_customer: AsCustomer) -> None:
    def snapshot() -> tuple[str | None, int]:
        with new_session(engine) as session:
            customer = session.get(Customer, ALICE)
            orders = session.execute(select(func.count(Order.id)).where(Order.customer_id == ALICE)).scalar_one()
            return (customer.email if customer else None), int(orders)

    before = snapshot()
    response = client.post(URL.format(ALICE), headers=as_customer(ALICE, key="k"), json={"kind": "erase"})
    assert response.status_code == 201
    assert snapshot() == before and before[1] > 0
