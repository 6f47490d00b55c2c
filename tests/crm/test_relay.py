"""Event relay over a fake Rasa event-broker table, and the Rasa client (over an httpx mock transport)."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from crm_backend.app import create_app
from crm_backend.db import AuditLog, Escalation, EscalationMessage, new_session
from crm_backend.db.support import RelayCursor
from crm_backend.rasa_client import RasaClient, RasaRejected, RasaUnavailable
from crm_backend.relay.sql import EventRelay
from crm_backend.services import escalations
from crm_backend.services.grants import GrantPolicy
from crm_backend.settings import Settings
from tests.factories import grant_headers

T0 = time.time() - 3600  # the conversation happened an hour ago, while the CRM was down
KEY = "conv-1:escalation:1"
# the CRM's grant policy: the fixtures' settings keep the default grant secret, as tests.factories.grant_headers does
GRANTS = GrantPolicy("dev-grant-secret-not-for-production", idle=timedelta(minutes=30), absolute=timedelta(hours=8))


def identity_grant(customer_id: int) -> str:
    """The CRM's identity grant for ``customer_id`` in conv-1: what lets the escalation request name the customer."""
    return grant_headers(customer_id, conversation_id="conv-1")["X-Identity-Grant"]


class EventStore:
    """Rasa's SQL event broker: table events(id INTEGER PK, sender_id VARCHAR(255), data TEXT)."""

    def __init__(self, path: Path) -> None:
        self.path, self.url = path, f"sqlite:///{path}"
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE events (id INTEGER NOT NULL PRIMARY KEY, sender_id VARCHAR(255), data TEXT)")

    def add(self, sender_id: str, event: dict[str, Any] | str) -> int:
        data = event if isinstance(event, str) else json.dumps(event)
        with sqlite3.connect(self.path) as conn:
            return int(conn.execute("INSERT INTO events (sender_id, data) VALUES (?, ?)", (sender_id, data)).lastrowid)


def user(text: str, at: float, score: float, intent: str = "chitchat") -> dict[str, Any]:
    label = "negative" if score < -0.2 else "neutral"
    return {
        "event": "user", "timestamp": at, "text": text, "input_channel": "rest", "message_id": f"m{at}",
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.93}, "entities": [], "text": text,
            "sentiment": {"label": label, "score": score},
        },
        "metadata": {},
    }  # fmt: skip


def request_body(**extra: Any) -> dict[str, Any]:
    """The escalation request of conv-1; it names a customer (1 unless ``customer_id=``) with that customer's grant."""
    customer_id = extra.get("customer_id", 1)
    return {
        "conversation_id": "conv-1", "channel": "rest", "customer_id": 1, "priority": 72,
        "reason_codes": ["explicit_request", "strong_negative"], "summary": "Late parcel, wants a person.",
        "suggested_action": "Greet the customer and take over the request.",
        "scores": {"sentiment_last": -0.9, "sentiment_mean": -0.6, "churn_probability": 0.3, "customer_value": 120.5},
        "packet": {"transcript": [{"sender": "customer", "text": "I want a human"}]},
        "identity_grant": identity_grant(customer_id) if customer_id is not None else None, **extra,
    }  # fmt: skip


def conversation(store: EventStore, body: dict[str, Any] | None = None) -> dict[str, int]:
    """A realistic escalated conversation; returns the ids of the interesting events."""
    store.add("conv-1", {"event": "action", "name": "action_session_start", "timestamp": T0, "policy": None})
    store.add("conv-1", {"event": "session_started", "timestamp": T0 + 0.01})
    store.add("conv-1", user("where is my parcel", T0 + 1, -0.3, "order_status"))
    store.add("conv-1", {"event": "bot", "text": "Let me check.", "timestamp": T0 + 2, "metadata": {}})
    before = store.add("conv-1", user("this is ridiculous, I want a human", T0 + 10, -0.9, "contact_human_agent"))
    store.add("conv-1", {"event": "action", "name": "action_escalate", "timestamp": T0 + 11})
    store.add("conv-1", {"event": "bot", "text": "I'm passing you to a colleague.", "timestamp": T0 + 11.1})
    value = {"key": KEY, "body": body or request_body()}
    slot = store.add("conv-1", {"event": "slot", "name": "escalation_request", "value": value, "timestamp": T0 + 11.2})
    store.add("conv-1", {"event": "slot", "name": "escalation_count", "value": 1, "timestamp": T0 + 11.2})
    store.add("conv-1", {"event": "pause", "timestamp": T0 + 11.3})
    store.add("conv-2", user("hello", T0 + 20, 0.1))  # another conversation, not escalated
    first = store.add("conv-1", user("hello??", T0 + 60, -0.5))
    second = store.add("conv-1", user("anyone there", T0 + 120, -0.6))
    return {"before": before, "slot": slot, "first": first, "second": second}


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    return EventStore(tmp_path / "rasa_events.db")


def rows(engine: Engine, model: Any) -> list[Any]:
    with new_session(engine) as session:
        return list(session.execute(select(model).order_by(model.id)).scalars())


def test_creates_escalation_and_relays_later_messages(engine: Engine, personas: None, store: EventStore) -> None:
    ids = conversation(store)
    relay = EventRelay(engine, store.url, grants=GRANTS)
    assert relay.run_once() == ids["second"]
    (escalation,) = rows(engine, Escalation)
    assert escalation.request_key == KEY and escalation.conversation_id == "conv-1" and escalation.status == "open"
    assert escalation.customer_id == 1 and escalation.priority == 72 and escalation.channel == "rest"
    assert escalation.packet["customer"]["verified_by"] == "one_time_code" and escalation.packet["customer"]["verified"]
    assert escalation.created_at == datetime.utcfromtimestamp(T0 + 11.2)  # when the assistant escalated
    assert escalation.scores["customer_value"] == 120.5 and escalation.suggested_action.startswith("Greet")
    messages = rows(engine, EscalationMessage)
    assert [(m.sender, m.text, m.sentiment) for m in messages] == [
        ("customer", "hello??", -0.5),
        ("customer", "anyone there", -0.6),
    ]
    assert [m.event_key for m in messages] == [relay.event_key(ids["first"]), relay.event_key(ids["second"])]
    assert messages[0].event_key == f"{store.url}:{ids['first']}"
    assert messages[1].created_at == datetime.utcfromtimestamp(T0 + 120)
    assert relay.position() == ids["second"]
    actions = [(a.actor, a.action) for a in rows(engine, AuditLog)]
    assert actions == [("relay", "escalation.create")] + [("relay", "escalation.customer_message")] * 2


def test_idempotent_across_runs_restarts_and_cursor_loss(engine: Engine, personas: None, store: EventStore) -> None:
    ids = conversation(store)
    assert EventRelay(engine, store.url, grants=GRANTS).run_once() == ids["second"]
    # a restarted relay resumes from the stored cursor
    assert EventRelay(engine, store.url, grants=GRANTS).run_once() == 0
    third = store.add("conv-1", user("still waiting", T0 + 300, -0.7))
    restarted = EventRelay(engine, store.url, grants=GRANTS)
    assert restarted.position() == ids["second"] and restarted.run_once() == 1
    with new_session(engine) as session:  # cursor lost: everything is read again, nothing is added twice
        session.execute(delete(RelayCursor))
        session.commit()
    assert EventRelay(engine, store.url, grants=GRANTS).run_once() == third
    assert len(rows(engine, Escalation)) == 1
    assert [m.text for m in rows(engine, EscalationMessage)] == ["hello??", "anyone there", "still waiting"]


def test_small_batches(engine: Engine, personas: None, store: EventStore) -> None:
    ids = conversation(store)
    relay = EventRelay(engine, store.url, grants=GRANTS, batch_size=2)
    assert relay.run_once() == ids["second"] and relay.position() == ids["second"]
    assert len(rows(engine, EscalationMessage)) == 2


def test_fast_path_first_then_relay(engine: Engine, personas: None, store: EventStore) -> None:
    with new_session(engine) as session:  # the action's POST /escalations succeeded, just before the slot event
        fields = {**request_body(), "request_key": KEY, "actor": "bot:conv-1"}
        del fields["identity_grant"]  # the API checked it before creating the escalation
        escalations.create_escalation(session=session, created_at=datetime.utcfromtimestamp(T0 + 10.9), **fields)
        session.commit()
    conversation(store)
    EventRelay(engine, store.url, grants=GRANTS).run_once()
    (escalation,) = rows(engine, Escalation)
    assert escalation.created_at == datetime.utcfromtimestamp(T0 + 10.9)
    assert [m.text for m in rows(engine, EscalationMessage)] == ["hello??", "anyone there"]


def test_tolerates_bad_rows_and_bad_requests(engine: Engine, personas: None, store: EventStore) -> None:
    store.add("conv-1", "{not json")
    store.add("conv-1", "")
    store.add("conv-1", "[1, 2]")
    store.add("conv-x", {"event": "slot", "name": "escalation_request", "value": None, "timestamp": T0})
    invalid = {"key": "x:1", "body": request_body(priority=500)}
    store.add("conv-x", {"event": "slot", "name": "escalation_request", "value": invalid, "timestamp": T0})
    store.add("conv-1", {"event": "user", "text": "no timestamp"})
    ids = conversation(store, request_body(customer_id=987654))  # unknown customer: kept, link dropped
    assert EventRelay(engine, store.url, grants=GRANTS).run_once() == ids["second"]
    (escalation,) = rows(engine, Escalation)
    assert escalation.customer_id is None and escalation.packet["unknown_customer_id"] == 987654
    assert len(rows(engine, EscalationMessage)) == 2


@pytest.mark.parametrize(
    "grant",
    [
        None,
        grant_headers(1, conversation_id="conv-other")["X-Identity-Grant"],
        grant_headers(1, conversation_id="conv-1", secret="another-grant-secret-0123456789ab")["X-Identity-Grant"],
    ],
    ids=["no grant", "another conversation's", "forged"],
)
def test_a_request_names_the_customer_only_with_their_grant(
    engine: Engine, personas: None, store: EventStore, grant: str | None
) -> None:
    conversation(store, request_body(identity_grant=grant))
    EventRelay(engine, store.url, grants=GRANTS).run_once()
    (escalation,) = rows(engine, Escalation)
    assert escalation.customer_id is None
    assert escalation.packet["customer"] == {
        "claimed_customer_id": 1, "verified": False, "verified_by": None, "verified_at": None,
    }  # fmt: skip
    assert escalation.packet["transcript"] == [{"sender": "customer", "text": "I want a human"}]


def test_closed_escalations_get_no_messages(engine: Engine, personas: None, store: EventStore) -> None:
    conversation(store)
    relay = EventRelay(engine, store.url, grants=GRANTS)
    relay.run_once()
    with new_session(engine) as session:
        session.execute(select(Escalation)).scalar_one().status = "resolved"
        session.commit()
    store.add("conv-1", user("thanks, bye", T0 + 400, 0.6))
    assert relay.run_once() == 1 and len(rows(engine, EscalationMessage)) == 2


def test_missing_source_is_nothing_yet(engine: Engine, tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    assert EventRelay(engine, f"sqlite:///{missing}", grants=GRANTS).run_once() == 0
    assert not missing.exists()  # the relay never creates Rasa's database
    sqlite3.connect(tmp_path / "empty.db").close()
    assert EventRelay(engine, f"sqlite:///{tmp_path / 'empty.db'}", grants=GRANTS).run_once() == 0


def test_source_with_password_is_masked(engine: Engine) -> None:
    relay = EventRelay(engine, "postgresql://rasa:s3cret@db/rasa", grants=GRANTS)
    assert "s3cret" not in relay.source and "s3cret" not in relay.event_key(7)


class FlakyRelay(EventRelay):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ticks = 0

    def run_once(self) -> int:
        self.ticks += 1
        if self.ticks == 1:
            raise RuntimeError("database is locked")
        return super().run_once()


def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_background_thread_survives_errors(engine: Engine, personas: None, store: EventStore) -> None:
    conversation(store)
    relay = FlakyRelay(engine, store.url, grants=GRANTS)
    relay.start(interval=0.02)
    try:
        assert wait_for(lambda: len(rows(engine, EscalationMessage)) == 2)
    finally:
        relay.stop()
    assert relay.ticks >= 2 and relay._thread is None


def test_app_lifespan_runs_the_relay(settings: Settings, engine: Engine, personas: None, store: EventStore) -> None:
    conversation(store)
    app = create_app(
        settings.copy(update={"rasa_events_url": store.url, "relay_interval_seconds": 0.02, "relay_enabled": True})
    )
    with TestClient(app) as client:
        relay = app.state.relay
        assert isinstance(relay, EventRelay)
        assert wait_for(lambda: len(rows(engine, EscalationMessage)) == 2)
        (item,) = client.get("/api/v1/escalations", headers={"X-API-Key": settings.api_key}).json()
        assert item["conversation_id"] == "conv-1" and item["last_customer_message_at"]
    assert relay._thread is None
    off = create_app(settings.copy(update={"rasa_events_url": store.url, "relay_enabled": False}))
    with TestClient(off):
        assert off.state.relay is None


def test_rasa_client_request_and_errors() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = {"down": 503, "bad": 403}.get(request.url.path.split("/")[2], 200)
        return httpx.Response(status, json={})

    client = RasaClient("http://rasa:5005/", "tok", transport=httpx.MockTransport(handler))
    events = [{"event": "bot", "text": "hi"}]
    client.post_events("conv 1", events)
    url = seen[0].url
    assert seen[0].method == "POST" and url.raw_path.startswith(b"/conversations/conv%201/tracker/events?")
    assert dict(url.params) == {"execute_side_effects": "true", "output_channel": "latest", "token": "tok"}
    assert json.loads(seen[0].content) == events
    with pytest.raises(RasaUnavailable):
        client.post_events("down", events)
    with pytest.raises(RasaRejected):
        client.post_events("bad", events)
    client.close()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(RasaUnavailable):
        RasaClient("http://rasa:5005", "tok", transport=httpx.MockTransport(refuse)).post_events("c", events)


def test_cli_relay_once(tmp_path: Path, store: EventStore, capsys: pytest.CaptureFixture[str]) -> None:
    from crm_backend.cli import main

    ids = conversation(store, request_body(customer_id=None))
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}", rasa_events_url=store.url)
    assert main(["relay", "--once"], settings) == 0
    assert f"relayed {ids['second']} event(s); cursor at {ids['second']}" in capsys.readouterr().out
    assert main(["relay", "--once"], settings) == 0 and "relayed 0 event(s)" in capsys.readouterr().out
    assert main(["relay", "--once"], Settings(database_url=settings.database_url, rasa_events_url="")) == 1


def test_csat_given_while_the_crm_was_down_is_stored_once(engine: Engine, personas: None, store: EventStore) -> None:
    conversation(store)
    relay = EventRelay(engine, store.url, grants=GRANTS)
    relay.run_once()
    with new_session(engine) as session:
        (escalation,) = session.execute(select(Escalation)).scalars()
        escalation.handed_back_at = datetime.utcnow()
        session.commit()
    answer = {"key": "conv-1:csat:40:2", "score": 2}
    store.add("conv-1", {"event": "slot", "name": "csat_request", "value": answer, "timestamp": T0 + 300})
    store.add("conv-1", {"event": "slot", "name": "csat_request", "value": None, "timestamp": T0 + 301})  # a reset
    store.add("conv-1", {"event": "slot", "name": "csat_request", "value": {"score": 9}, "timestamp": T0 + 302})
    store.add("conv-9", {"event": "slot", "name": "csat_request", "value": {"score": 4}, "timestamp": T0 + 303})
    relay.run_once()
    (escalation,) = rows(engine, Escalation)
    assert escalation.csat == 2  # the out-of-range answer and the unknown conversation were refused, not stored
    csat_audits = [a for a in rows(engine, AuditLog) if a.action == "escalation.csat"]
    assert len(csat_audits) == 1 and csat_audits[0].after == {"csat": 2}

    with new_session(engine) as session:  # the cursor is lost: every event is read again
        session.execute(delete(RelayCursor))
        session.commit()
    relay.run_once()
    again = [a.id for a in rows(engine, AuditLog) if a.action == "escalation.csat"]
    assert again == [csat_audits[0].id]  # nothing written twice
