"""Escalation endpoints: queue, claim, reply (delivery through a fake Rasa), notes, resolve, hand-back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from crm_backend.app import create_app
from crm_backend.db import Agent, AuditLog, Escalation, EscalationMessage, IdempotencyKey, new_session
from crm_backend.services import escalations
from crm_backend.settings import Settings
from tests.factories import grant_headers
from tests.support import FakeRasa

W = Callable[[str], dict[str, str]]
HAND_BACK_TEXT = "You're back with the ShopCare assistant. Is there anything else I can help with?"


@pytest.fixture
def rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
def api(settings: Settings, engine: Engine, personas: None, rasa: FakeRasa) -> Iterator[TestClient]:
    app = create_app(settings.copy(update={"relay_enabled": False}))
    app.state.rasa_client = rasa
    with new_session(engine) as session:
        for username in ("ann", "bob"):
            session.add(Agent(username=username, display_name=f"{username.title()} Agent", password_hash="x"))
        session.commit()
    with TestClient(app) as test_client:
        yield test_client


def body(conversation_id: str = "conv-1", priority: int = 50, **extra: Any) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "channel": "rest",
        "customer_id": None,
        "priority": priority,
        "reason_codes": ["strong_negative"],
        "summary": "The customer is angry about a late parcel.",
        "suggested_action": "Apologise and resolve it in this conversation.",
        "scores": {"sentiment_last": -0.8, "sentiment_mean": -0.5, "churn_probability": 0.4, "customer_value": 310.0},
        "packet": {"orders": ["10001"], "transcript": [{"sender": "customer", "text": "where is my parcel?!"}]},
        **extra,
    }


def identity_grant(customer_id: int, conversation_id: str) -> str:
    """The CRM's identity grant for ``customer_id`` in ``conversation_id``: what lets an escalation name the customer."""
    return grant_headers(customer_id, conversation_id=conversation_id)["X-Identity-Grant"]


def create(api: TestClient, wh: W, key: str, **kwargs: Any) -> httpx.Response:
    return api.post("/api/v1/escalations", json=body(**kwargs), headers=wh(key))


def count(engine: Engine, model: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def audits(engine: Engine, action: str) -> list[AuditLog]:
    with new_session(engine) as session:
        return list(session.execute(select(AuditLog).where(AuditLog.action == action)).scalars())


def test_create_queue_position_and_wait(api: TestClient, write_headers: W, engine: Engine) -> None:
    first = create(api, write_headers, "k1", conversation_id="c1", priority=40)
    assert first.status_code == 201
    assert first.json() == {"id": 1, "status": "open", "priority": 40, "position": 1, "expected_wait_minutes": 4}
    second = create(api, write_headers, "k2", conversation_id="c2", priority=90)
    assert second.json()["position"] == 1 and second.json()["expected_wait_minutes"] == 4
    third = create(api, write_headers, "k3", conversation_id="c3", priority=40)  # same priority, younger
    assert third.json()["position"] == 3 and third.json()["expected_wait_minutes"] == 12
    detail = api.get("/api/v1/escalations/1", headers=write_headers("x")).json()
    assert detail["position"] == 2 and detail["channel"] == "rest"
    (row,) = [a for a in audits(engine, "escalation.create") if a.entity_id == "1"]
    assert row.actor == "test" and row.idempotency_key == "k1" and row.after["priority"] == 40


def test_create_is_idempotent_and_one_per_conversation(api: TestClient, write_headers: W, engine: Engine) -> None:
    first = create(api, write_headers, "k1", conversation_id="c1")
    replay = create(api, write_headers, "k1", conversation_id="c1")
    assert replay.status_code == 201 and replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    again = create(api, write_headers, "k2", conversation_id="c1", priority=70)  # the assistant escalates again
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert create(api, write_headers, "k2", conversation_id="c1", priority=70).json() == again.json()
    reused = api.post("/api/v1/escalations", json=body(conversation_id="c9"), headers=write_headers("k1"))
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    assert count(engine, Escalation) == 1 and len(audits(engine, "escalation.create")) == 1


def test_create_dedupes_on_request_key_with_the_relay(api: TestClient, write_headers: W, engine: Engine) -> None:
    with new_session(engine) as session:  # the relay got there first with the same key
        fields = {**body(conversation_id="c1"), "request_key": "c1:escalation:1", "actor": "relay"}
        escalation, created = escalations.create_escalation(session=session, **fields)
        session.commit()
    assert created
    response = create(api, write_headers, "c1:escalation:1", conversation_id="c1")
    assert response.status_code == 200 and response.json()["id"] == escalation.id
    assert count(engine, Escalation) == 1


def test_create_validation(api: TestClient, write_headers: W, headers: dict[str, str]) -> None:
    missing_key = api.post("/api/v1/escalations", json=body(), headers=headers)
    assert missing_key.status_code == 400 and missing_key.json()["code"] == "idempotency_key_required"
    no_api_key = api.post("/api/v1/escalations", json=body(), headers={"Idempotency-Key": "k"})
    assert no_api_key.status_code == 401 and no_api_key.json()["code"] == "invalid_api_key"
    for bad in (body(priority=101), body(priority=-1), {"conversation_id": "c1"}):
        response = api.post("/api/v1/escalations", json=bad, headers=write_headers(f"bad-{bad.get('priority')}"))
        assert response.status_code == 422 and response.json()["code"] == "invalid_request"
    unknown = create(
        api, write_headers, "k-unknown", customer_id=999999, identity_grant=identity_grant(999999, "conv-1")
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "customer_not_found"


def test_list_orders_filters_and_describes(api: TestClient, write_headers: W, headers: dict[str, str]) -> None:
    for key, (conversation, priority) in enumerate((("a", 20), ("b", 80), ("c", 20), ("d", 50))):
        create(api, write_headers, f"k{key}", conversation_id=conversation, priority=priority)
    api.post("/api/v1/escalations/4/claim", json={"agent": "ann"}, headers=write_headers("claim"))
    items = api.get("/api/v1/escalations", headers=headers).json()
    assert [(i["conversation_id"], i["status"]) for i in items] == [
        ("b", "open"), ("d", "claimed"), ("a", "open"), ("c", "open"),
    ]  # fmt: skip
    assert set(items[0]) == {
        "id", "conversation_id", "channel", "customer_id", "status", "priority", "reason_codes", "summary",
        "created_at", "claimed_at", "agent", "waiting_seconds", "last_customer_message_at",
    }  # fmt: skip
    assert items[1]["agent"] == "ann" and items[0]["agent"] is None and items[0]["waiting_seconds"] >= 0
    assert items[0]["last_customer_message_at"] is None and items[0]["reason_codes"] == ["strong_negative"]
    only_open = api.get("/api/v1/escalations?status=open&limit=2", headers=headers).json()
    assert [i["conversation_id"] for i in only_open] == ["b", "a"]
    bad = api.get("/api/v1/escalations?status=open,bogus", headers=headers)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"


def test_detail_and_not_found(api: TestClient, write_headers: W, headers: dict[str, str]) -> None:
    create(api, write_headers, "k1", conversation_id="c1", customer_id=1, identity_grant=identity_grant(1, "c1"))
    detail = api.get("/api/v1/escalations/1", headers=headers).json()
    assert detail["packet"]["orders"] == ["10001"] and detail["scores"]["churn_probability"] == 0.4
    assert detail["customer_id"] == 1 and detail["messages"] == [] and detail["verdict"] is None
    customer = detail["packet"]["customer"]
    assert customer["verified"] is True and customer["verified_by"] == "one_time_code" and customer["verified_at"]
    assert detail["suggested_action"].startswith("Apologise")
    missing = api.get("/api/v1/escalations/999", headers=headers)
    assert missing.status_code == 404 and missing.json()["code"] == "escalation_not_found"


def test_claim_rules(api: TestClient, write_headers: W, engine: Engine) -> None:
    create(api, write_headers, "k1")
    claimed = api.post("/api/v1/escalations/1/claim", json={"agent": "ann"}, headers=write_headers("c1"))
    assert claimed.status_code == 200
    assert (
        claimed.json()["status"] == "claimed" and claimed.json()["agent"] == "ann" and claimed.json()["position"] == 0
    )
    again = api.post("/api/v1/escalations/1/claim", json={"agent": "ann"}, headers=write_headers("c2"))
    assert again.status_code == 200 and len(audits(engine, "escalation.claim")) == 1
    taken = api.post("/api/v1/escalations/1/claim", json={"agent": "bob"}, headers=write_headers("c3"))
    assert taken.status_code == 409 and taken.json()["code"] == "already_claimed"
    assert taken.json()["details"] == {"claimed_by": "ann"}
    nobody = api.post("/api/v1/escalations/1/claim", json={"agent": "zed"}, headers=write_headers("c4"))
    assert nobody.status_code == 404 and nobody.json()["code"] == "agent_not_found"
    missing = api.post("/api/v1/escalations/9/claim", json={"agent": "ann"}, headers=write_headers("c5"))
    assert missing.status_code == 404 and missing.json()["code"] == "escalation_not_found"
    api.post("/api/v1/escalations/1/resolve", json={"agent": "ann", "verdict": "justified"}, headers=write_headers("r"))
    closed = api.post("/api/v1/escalations/1/claim", json={"agent": "ann"}, headers=write_headers("c6"))
    assert closed.status_code == 409 and closed.json()["code"] == "escalation_closed"
    (row,) = audits(engine, "escalation.claim")
    assert row.actor == "ann" and row.before["status"] == "open" and row.after["status"] == "claimed"


def test_reply_auto_claims_and_delivers(api: TestClient, write_headers: W, rasa: FakeRasa, engine: Engine) -> None:
    create(api, write_headers, "k1", conversation_id="c1")
    response = api.post(
        "/api/v1/escalations/1/reply", json={"agent": "ann", "text": "Hi, I'm Ann."}, headers=write_headers("r1")
    )
    assert response.status_code == 201
    message = response.json()
    assert message["sender"] == "agent" and message["agent"] == "ann" and message["delivered"] is True
    assert rasa.calls == [
        ("c1", [{"event": "bot", "text": "Hi, I'm Ann.", "metadata": {"agent": "Ann Agent", "from_agent": True}}])
    ]
    replay = api.post(
        "/api/v1/escalations/1/reply", json={"agent": "ann", "text": "Hi, I'm Ann."}, headers=write_headers("r1")
    )
    assert replay.json() == message and len(rasa.calls) == 1  # a retried request is not delivered twice
    detail = api.get("/api/v1/escalations/1", headers=write_headers("x")).json()
    assert detail["status"] == "claimed" and detail["agent"] == "ann" and len(detail["messages"]) == 1
    other = api.post("/api/v1/escalations/1/reply", json={"agent": "bob", "text": "Hi"}, headers=write_headers("r2"))
    assert other.status_code == 409 and other.json()["code"] == "not_claimed_by_agent" and len(rasa.calls) == 1
    (row,) = audits(engine, "escalation.reply")
    assert row.actor == "ann" and row.idempotency_key == "r1"
    assert [a.actor for a in audits(engine, "escalation.claim")] == ["ann"]


def test_reply_delivery_failure_stores_nothing(
    api: TestClient, write_headers: W, rasa: FakeRasa, engine: Engine
) -> None:
    create(api, write_headers, "k1")
    keys_before = count(engine, IdempotencyKey)
    rasa.down = True
    failed = api.post(
        "/api/v1/escalations/1/reply", json={"agent": "ann", "text": "Hello"}, headers=write_headers("r1")
    )
    assert failed.status_code == 503 and failed.json()["code"] == "delivery_failed"
    assert count(engine, EscalationMessage) == 0 and count(engine, IdempotencyKey) == keys_before
    detail = api.get("/api/v1/escalations/1", headers=write_headers("x")).json()
    assert detail["status"] == "open" and detail["agent"] is None  # not even auto-claimed
    rasa.down = False
    retried = api.post(
        "/api/v1/escalations/1/reply", json={"agent": "ann", "text": "Hello"}, headers=write_headers("r1")
    )
    assert retried.status_code == 201 and len(rasa.calls) == 1


def test_notes_are_private(api: TestClient, write_headers: W, rasa: FakeRasa, engine: Engine) -> None:
    create(api, write_headers, "k1")
    note = api.post("/api/v1/escalations/1/notes", json={"agent": "bob", "text": "VIP"}, headers=write_headers("n1"))
    assert note.status_code == 201
    assert note.json()["sender"] == "note" and note.json()["delivered"] is False and note.json()["agent"] == "bob"
    assert rasa.calls == []
    assert api.get("/api/v1/escalations/1", headers=write_headers("x")).json()["status"] == "open"
    empty = api.post("/api/v1/escalations/1/notes", json={"agent": "bob", "text": ""}, headers=write_headers("n2"))
    assert empty.status_code == 422
    (row,) = audits(engine, "escalation.note")
    assert row.actor == "bob"


def test_resolve(api: TestClient, write_headers: W, engine: Engine) -> None:
    create(api, write_headers, "k1")
    invalid = api.post(
        "/api/v1/escalations/1/resolve", json={"agent": "ann", "verdict": "meh"}, headers=write_headers("v0")
    )
    assert invalid.status_code == 422 and invalid.json()["code"] == "invalid_request"
    resolved = api.post(
        "/api/v1/escalations/1/resolve", json={"agent": "ann", "verdict": "too_late"}, headers=write_headers("v1")
    ).json()
    assert resolved["status"] == "resolved" and resolved["verdict"] == "too_late" and resolved["resolved_at"]
    twice = api.post(
        "/api/v1/escalations/1/resolve", json={"agent": "ann", "verdict": "justified"}, headers=write_headers("v2")
    )
    assert twice.status_code == 409 and twice.json()["code"] == "escalation_closed"
    reply = api.post("/api/v1/escalations/1/reply", json={"agent": "ann", "text": "Hi"}, headers=write_headers("v3"))
    assert reply.status_code == 409 and reply.json()["code"] == "escalation_closed"
    (row,) = audits(engine, "escalation.resolve")
    assert row.actor == "ann" and row.after["verdict"] == "too_late" and row.before["verdict"] is None


def test_hand_back(api: TestClient, write_headers: W, rasa: FakeRasa, engine: Engine) -> None:
    create(api, write_headers, "k1", conversation_id="c1")
    create(api, write_headers, "k2", conversation_id="c2")
    api.post("/api/v1/escalations/1/claim", json={"agent": "ann"}, headers=write_headers("c"))
    other = api.post("/api/v1/escalations/1/hand-back", json={"agent": "bob"}, headers=write_headers("h0"))
    assert other.status_code == 409 and other.json()["code"] == "not_claimed_by_agent"
    done = api.post("/api/v1/escalations/1/hand-back", json={"agent": "ann"}, headers=write_headers("h1")).json()
    assert done["status"] == "handed_back" and done["handed_back_at"]
    assert rasa.calls == [
        (
            "c1",
            [
                {"event": "slot", "name": "escalation_status", "value": "handed_back"},
                {"event": "resume"},
                {"event": "bot", "text": HAND_BACK_TEXT},
                escalations.csat_question_event(),
                {"event": "action", "name": "action_listen"},
            ],
        )
    ]
    twice = api.post("/api/v1/escalations/1/hand-back", json={"agent": "ann"}, headers=write_headers("h2"))
    assert twice.status_code == 409 and twice.json()["code"] == "escalation_closed"
    # resolved first, handed back afterwards: stays resolved; a custom goodbye is sent
    api.post("/api/v1/escalations/2/resolve", json={"agent": "bob", "verdict": "justified"}, headers=write_headers("v"))
    later = api.post(
        "/api/v1/escalations/2/hand-back", json={"agent": "bob", "message": "Bye from Bob"}, headers=write_headers("h3")
    ).json()
    assert later["status"] == "resolved" and later["handed_back_at"] and later["verdict"] == "justified"
    assert rasa.calls[-1][1][-3] == {"event": "bot", "text": "Bye from Bob"}
    assert rasa.calls[-1][1][-2]["data"]["buttons"][4] == {"title": "5", "payload": '/rate_service{"csat_score":"5"}'}
    assert sorted(a.actor for a in audits(engine, "escalation.hand_back")) == ["ann", "bob"]


def test_hand_back_rasa_down_changes_nothing(api: TestClient, write_headers: W, rasa: FakeRasa) -> None:
    create(api, write_headers, "k1")
    api.post("/api/v1/escalations/1/claim", json={"agent": "ann"}, headers=write_headers("c"))
    rasa.down = True
    failed = api.post("/api/v1/escalations/1/hand-back", json={"agent": "ann"}, headers=write_headers("h1"))
    assert failed.status_code == 503 and failed.json()["code"] == "delivery_failed"
    detail = api.get("/api/v1/escalations/1", headers=write_headers("x")).json()
    assert detail["status"] == "claimed" and detail["handed_back_at"] is None
