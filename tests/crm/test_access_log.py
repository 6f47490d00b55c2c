"""The read audit of the CRM API and the need-to-know rule: which reads write an access_log row, with what, and who
may see an escalation's personal data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from crm_backend.db import AccessLog, Agent, Escalation, new_session
from crm_backend.services import access, escalations
from tests.databases import throwaway_postgres

ALICE, BEN = 1, 2
As = Callable[..., dict[str, str]]


def reads(engine: Engine) -> list[AccessLog]:
    with new_session(engine) as session:
        return list(session.execute(select(AccessLog).order_by(AccessLog.id)).scalars())


def test_the_assistants_reads_of_profile_and_order_are_audited(client: TestClient, as_customer: As, engine: Engine):
    headers = as_customer(ALICE, conversation_id="conv-7", strength="email")
    assert client.get(f"/api/v1/customers/{ALICE}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/customers/{ALICE}/orders/10001", headers=headers).status_code == 200
    rows = reads(engine)
    assert [(r.actor, r.customer_id, r.purpose, r.resource) for r in rows] == [
        ("bot:conv-7", ALICE, "grant:email", "GET /api/v1/customers/{customer_id}"),
        ("bot:conv-7", ALICE, "grant:email", "GET /api/v1/customers/{customer_id}/orders/{order_number}"),
    ]
    assert all(r.agent_id is None and r.escalation_id is None and not r.masked for r in rows)
    assert all(datetime.utcnow() - r.at < timedelta(minutes=1) for r in rows)


def test_a_passed_identity_check_names_the_customer_and_is_audited_a_failed_one_is_not(
    client: TestClient, headers: dict[str, str], engine: Engine
):
    body = {"order_number": "10001", "conversation_id": "conv-v", "channel": "rest"}
    wrong = client.post("/api/v1/identity/verify", headers=headers, json={**body, "email": "mallory@example.com"})
    assert wrong.status_code == 401 and reads(engine) == []
    right = client.post("/api/v1/identity/verify", headers=headers, json={**body, "email": "alice.martin@example.com"})
    assert right.status_code == 200 and right.json()["first_name"] == "Alice"
    assert [(r.actor, r.customer_id, r.purpose, r.resource) for r in reads(engine)] == [
        ("bot:conv-v", ALICE, "grant:email", "POST /api/v1/identity/verify")
    ]


def test_refused_or_empty_reads_and_reads_without_personal_data_write_nothing(
    client: TestClient, as_customer: As, headers: dict[str, str], engine: Engine
):
    alice = as_customer(ALICE)
    assert client.get(f"/api/v1/customers/{ALICE}/orders/10011", headers=alice).status_code == 404  # Ben's order
    assert client.get(f"/api/v1/customers/{BEN}", headers=alice).status_code == 403  # Alice's grant
    assert client.get(f"/api/v1/customers/{ALICE}", headers=headers).status_code == 401  # no grant
    assert client.get(f"/api/v1/customers/{ALICE}/orders", headers=alice).status_code == 200  # numbers and totals
    assert reads(engine) == []


def test_an_api_read_of_an_escalation_is_audited_with_the_callers_identity(
    client: TestClient, headers: dict[str, str], engine: Engine
):
    with new_session(engine) as session:
        escalation, _ = escalations.create_escalation(
            session=session,
            request_key="k-1",
            conversation_id="conv-e",
            channel="rest",
            customer_id=ALICE,
            priority=50,
            reason_codes=["explicit_request"],
            summary="asked for a person",
            suggested_action="",
            scores={},
            packet={"transcript": [{"sender": "customer", "text": "alice.martin@example.com"}]},
            actor="test",
        )
        session.commit()
        escalation_id = escalation.id
    url = f"/api/v1/escalations/{escalation_id}"
    assert client.get(url, headers=headers).status_code == 200
    assert client.get(url, headers={**headers, "X-Actor": "helpdesk-sync"}).status_code == 200
    assert client.get("/api/v1/escalations", headers=headers).status_code == 200  # the list has no packet
    assert client.get("/api/v1/escalations/999", headers=headers).status_code == 404
    rows = reads(engine)
    assert [(r.actor, r.customer_id, r.escalation_id, r.purpose, r.resource, r.masked) for r in rows] == [
        ("api", ALICE, escalation_id, f"escalation:{escalation_id}", "GET /api/v1/escalations/{escalation_id}", False),
        (
            "api:helpdesk-sync",
            ALICE,
            escalation_id,
            f"escalation:{escalation_id}",
            "GET /api/v1/escalations/{escalation_id}",
            False,
        ),
    ]


AGENT = Agent(id=1, username="sam", display_name="Sam", password_hash="x", role="agent")
OTHER = Agent(id=2, username="kim", display_name="Kim", password_hash="x", role="agent")
SUPERVISOR = Agent(id=3, username="sue", display_name="Sue", password_hash="x", role="supervisor")


@pytest.mark.parametrize(
    ("status", "assigned", "agent", "allowed"),
    [
        ("open", None, AGENT, True),  # open in the queue: anyone may pick it up
        ("open", OTHER, AGENT, True),
        ("claimed", AGENT, AGENT, True),  # assigned to them, whatever the status
        ("resolved", AGENT, AGENT, True),
        ("handed_back", AGENT, AGENT, True),
        ("claimed", OTHER, AGENT, False),  # someone else's
        ("resolved", OTHER, AGENT, False),
        ("handed_back", OTHER, AGENT, False),
        ("resolved", None, AGENT, False),
        ("claimed", OTHER, SUPERVISOR, True),  # supervisors always
        ("resolved", OTHER, SUPERVISOR, True),
        ("handed_back", None, SUPERVISOR, True),
    ],
)
def test_who_may_see_an_escalations_personal_data(status: str, assigned: Agent | None, agent: Agent, allowed: bool):
    escalation = Escalation(id=9, status=status, agent_id=assigned.id if assigned else None)
    assert access.may_see_personal_data(agent, escalation) is allowed


def test_the_review_query_filters_and_pages_newest_first(session: Session):
    for i, (agent_id, customer_id, escalation_id) in enumerate([(None, 1, None), (None, 2, 5), (None, 1, 5)]):
        access.record_read(
            session=session,
            actor=f"a{i}",
            agent_id=agent_id,
            customer_id=customer_id,
            escalation_id=escalation_id,
            purpose="escalation:5",
            resource="GET /x",
            masked=bool(i % 2),
        )
    session.commit()
    assert [r.actor for r in access.list_reads(session=session)] == ["a2", "a1", "a0"]
    assert [r.actor for r in access.list_reads(session=session, customer_id=1)] == ["a2", "a0"]
    assert [r.actor for r in access.list_reads(session=session, escalation_id=5, customer_id=2)] == ["a1"]
    newest = access.list_reads(session=session, limit=1)
    assert [r.actor for r in newest] == ["a2"] and newest[0].masked is False
    assert [r.actor for r in access.list_reads(session=session, before_id=newest[0].id)] == ["a1", "a0"]
    assert access.list_reads(session=session, agent_id=1) == []


def test_on_postgresql_a_read_commits_without_waiting_for_the_disk_and_only_that_transaction() -> None:
    with throwaway_postgres("access") as (url,):
        engine = create_engine(url, future=True, pool_size=1, max_overflow=0)
        try:
            read_commits_without_waiting(engine)
        finally:
            engine.dispose()


def read_commits_without_waiting(engine: Engine) -> None:
    """A read's commit sets synchronous_commit off for its own transaction only."""
    Agent.__table__.create(engine)
    AccessLog.__table__.create(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with new_session(engine) as session:
        access.record_read(session=session, actor="bot:c", customer_id=7, purpose="grant:email", resource="GET /x")
        assert session.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
        access.commit_read(session=session)
        assert statements[-1] == "SET LOCAL synchronous_commit TO OFF"  # then the commit
        # SET LOCAL ended with that transaction: the pool's one connection is back to durable commits
        assert session.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
    with new_session(engine) as session:
        assert session.execute(select(func.count(AccessLog.id))).scalar_one() == 1
