"""POST /api/v1/escalations/csat: the answer to the CSAT question asked at hand-back."""

from __future__ import annotations

from sqlalchemy import select

from crm_backend.db import AuditLog, Escalation, new_session
from tests.console.conftest import csrf_of


def post(client, conversation_id, score, key):
    headers = {"X-API-Key": "console-test-key", "Idempotency-Key": key}
    return client.post(
        "/api/v1/escalations/csat", json={"conversation_id": conversation_id, "score": score}, headers=headers
    )


def test_csat_is_stored_after_hand_back_and_shown_to_agents(agent, add_escalation, engine):
    escalation_id = add_escalation("c-csat")
    url = f"/console/escalations/{escalation_id}"
    assert post(agent, "c-csat", 4, "early").status_code == 404  # not handed back yet: nothing to rate
    token = csrf_of(agent.get(url).text)
    agent.post(f"{url}/claim", data={"csrf_token": token})
    agent.post(f"{url}/hand-back", data={"csrf_token": token})
    done = post(agent, "c-csat", 4, "k1")
    assert done.status_code == 200 and done.json() == {"escalation_id": escalation_id, "csat": 4}
    assert post(agent, "c-csat", 9, "k2").status_code == 422
    with new_session(engine) as session:
        assert session.get(Escalation, escalation_id).csat == 4
        (row,) = session.execute(select(AuditLog).where(AuditLog.action == "escalation.csat")).scalars()
        assert row.after == {"csat": 4} and row.actor == "bot:c-csat"
    assert "<dt>CSAT</dt><dd>4 / 5</dd>" in agent.get(url).text
