"""The queue (order, filters, SLA timers, polling), the escalation view and its actions, escaping, over HTTP."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from unittest.mock import ANY

from sqlalchemy import select
from sqlalchemy.engine import Engine

from crm_backend.db import AuditLog, Escalation, EscalationMessage, new_session
from tests.console.conftest import csrf_of

XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def queue_ids(page_html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr class="row[^"]*" data-id="(\d+)"', page_html)]


def test_queue_is_ordered_by_priority_then_age_with_sla_timers(agent, add_escalation):
    now = datetime.utcnow()
    low = add_escalation("c-low", priority=30, reasons=("repeated_fallback",), created_at=now - timedelta(minutes=20))
    old_high = add_escalation("c-old", priority=85, created_at=now - timedelta(minutes=9))
    new_high = add_escalation("c-new", priority=85, created_at=now - timedelta(minutes=1))
    top = add_escalation("c-top", priority=95, reasons=("explicit_request",), created_at=now - timedelta(seconds=30))
    page = agent.get("/console/queue")
    assert page.status_code == 200
    assert queue_ids(page.text) == [top, old_high, new_high, low]
    assert "9 min" in page.text and "20 min" in page.text  # time waiting
    assert f'class="row prio-high late" data-id="{old_high}"' in page.text  # unclaimed for over the SLA
    assert f'class="row prio-high" data-id="{new_high}"' in page.text


def test_the_late_threshold_comes_from_the_policies(agent, app, add_escalation):
    now = datetime.utcnow()
    waiting = add_escalation("c-wait", priority=85, created_at=now - timedelta(minutes=3))
    assert f'class="row prio-high" data-id="{waiting}"' in agent.get("/console/queue").text  # 3 min < 5 (default)
    app.state.policies.escalations.late_after_minutes = 2  # a team with a stricter SLA (policies.yml `escalations`)
    assert f'class="row prio-high late" data-id="{waiting}"' in agent.get("/console/queue").text


def test_queue_filters_by_channel_reason_status_and_assignee(agent, supervisor, add_escalation):
    slack = add_escalation("c-slack", channel="slack", reasons=("explicit_request",))
    web = add_escalation("c-web", channel="socketio", reasons=("strong_negative",))
    tg = add_escalation("c-tg", channel="telegram", reasons=("at_risk_customer",))
    token = csrf_of(agent.get("/console/queue").text)
    assert agent.post(f"/console/escalations/{web}/claim", data={"csrf_token": token}).status_code == 303
    assert queue_ids(agent.get("/console/queue?channel=slack").text) == [slack]
    assert queue_ids(agent.get("/console/queue?reason=at_risk_customer").text) == [tg]
    assert queue_ids(agent.get("/console/queue?assignee=me").text) == [web]
    assert queue_ids(agent.get("/console/queue?assignee=sam").text) == [web]
    assert sorted(queue_ids(agent.get("/console/queue?assignee=none").text)) == sorted([slack, tg])
    assert queue_ids(agent.get("/console/queue?status=claimed").text) == [web]
    assert queue_ids(agent.get("/console/queue?status=resolved").text) == []
    assert "No escalations match these filters." in agent.get("/console/queue?channel=nowhere").text
    # unknown filter values are ignored or match nothing; never an error
    assert agent.get("/console/queue?status=bogus&reason=%3Cscript%3E&assignee=ghost").status_code == 200


def test_polling_endpoint_returns_escaped_rows_and_the_urgent_escalations(agent, add_escalation):
    urgent = add_escalation("c-urgent", priority=90, summary=XSS)
    add_escalation("c-calm", priority=40)
    data = agent.get("/console/queue.json").json()
    assert data["count"] == 2
    assert [u["id"] for u in data["urgent"]] == [urgent]
    assert "<script>" not in data["rows_html"] and html.escape("<script>", quote=False) in data["rows_html"]


def test_escalation_view_shows_the_packet_transcript_and_chart(agent, add_escalation):
    escalation_id = add_escalation("c-view", email="dan.reyes@example.com", orders=("10031",))
    page = agent.get(f"/console/escalations/{escalation_id}")
    assert page.status_code == 200
    text = page.text
    assert "Dan" in text and "verified by order number + e-mail at" in text  # identity: how and when
    assert "Order 10031" in text  # the order in question, with its status from the CRM
    assert "22 %" in text and "3 late deliveries in the last 6 months" in text  # churn and drivers in words
    assert "£640 over 12 months" in text  # value
    assert "Very upset message" in text and "Growing frustration" in text  # reason codes in words
    assert "Apologise, offer a refund" in text  # suggested next action
    assert "POST /api/v1/identity/verify" in text  # the CRM calls the bot made
    assert "absolutely useless, I want my money back" in text  # transcript
    assert text.count('<circle class="point"') == 3  # one dot per scored customer message
    assert page.headers["content-security-policy"].startswith("default-src 'self'")


def test_customer_text_is_escaped_everywhere(agent, add_escalation, engine: Engine):
    lines = [("customer", XSS, -0.9), ("bot", "ok", None)]
    escalation_id = add_escalation("c-xss", lines=lines, summary=XSS, drivers=(XSS,))
    page = agent.get(f"/console/escalations/{escalation_id}").text
    assert "<script>window.__pwned" not in page and "<img src=x" not in page
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    assert "<script>window" not in agent.get("/console/queue").text


def test_claim_reply_note_resolve_hand_back(agent, add_escalation, rasa, engine: Engine):
    escalation_id = add_escalation("c-work")
    url = f"/console/escalations/{escalation_id}"
    token = csrf_of(agent.get(url).text)
    claimed = agent.post(f"{url}/claim", data={"csrf_token": token})
    assert claimed.status_code == 303 and claimed.headers["location"] == f"{url}?ok=claimed"
    sent = agent.post(f"{url}/reply", data={"csrf_token": token, "text": "Hi, Sam here. I'm on it."})
    assert sent.headers["location"] == f"{url}?ok=replied"
    assert rasa.calls[-1] == (
        "c-work",
        [{"event": "bot", "text": "Hi, Sam here. I'm on it.", "metadata": {"agent": "Sam Patel", "from_agent": True}}],
    )
    agent.post(f"{url}/note", data={"csrf_token": token, "text": "Offered a £5 voucher"})
    empty = agent.post(f"{url}/note", data={"csrf_token": token, "text": "   "})
    assert empty.headers["location"] == f"{url}?error=empty_text"
    assert "Write something first." in agent.get(empty.headers["location"]).text
    bad = agent.post(f"{url}/resolve", data={"csrf_token": token, "verdict": "maybe"})
    assert bad.headers["location"] == f"{url}?error=invalid_verdict"
    assert agent.post(f"{url}/resolve", data={"csrf_token": token, "verdict": "justified"}).status_code == 303
    back = agent.post(f"{url}/hand-back", data={"csrf_token": token, "text": ""})
    assert back.headers["location"] == f"{url}?ok=handed_back"
    handed = rasa.calls[-1][1]
    assert {"event": "resume"} in handed and handed[-2]["data"]["buttons"][0][
        "payload"
    ] == '/rate_service{"csat_score":"1"}'
    with new_session(engine) as session:
        e = session.get(Escalation, escalation_id)
        assert (e.status, e.verdict, e.agent.username) == ("resolved", "justified", "sam") and e.handed_back_at
        senders = [m.sender for m in session.execute(select(EscalationMessage)).scalars()]
        assert senders == ["agent", "note"]
        actions = {a.action for a in session.execute(select(AuditLog)).scalars()}
        assert {
            "escalation.claim",
            "escalation.reply",
            "escalation.note",
            "escalation.resolve",
            "escalation.hand_back",
        } <= actions
    page = agent.get(url).text
    assert "Offered a £5 voucher" in page and "Note by Sam Patel" in page and 'id="hand-back"' not in page


def test_reply_that_cannot_be_delivered_changes_nothing_and_says_so(agent, add_escalation, rasa, engine: Engine):
    escalation_id = add_escalation("c-down")
    url = f"/console/escalations/{escalation_id}"
    token = csrf_of(agent.get(url).text)
    rasa.down = True
    response = agent.post(f"{url}/reply", data={"csrf_token": token, "text": "hello?"})
    assert response.headers["location"] == f"{url}?error=delivery_failed"
    assert "could not be delivered" in agent.get(response.headers["location"]).text
    with new_session(engine) as session:
        assert session.execute(select(EscalationMessage)).first() is None
        assert session.get(Escalation, escalation_id).status == "open"


def test_a_form_sent_twice_reaches_the_customer_once(agent, add_escalation, rasa, engine: Engine):
    escalation_id = add_escalation("c-twice")
    url = f"/console/escalations/{escalation_id}"
    page = agent.get(url).text
    token = csrf_of(page)
    submission = re.search(r'name="submission" value="([^"]+)"', page).group(1)
    form = {"csrf_token": token, "text": "I have refunded you.", "submission": submission}
    first, again = agent.post(f"{url}/reply", data=form), agent.post(f"{url}/reply", data=form)  # a double click
    assert first.headers["location"] == f"{url}?ok=replied" and again.headers["location"] == f"{url}?ok=duplicate"
    assert "already been sent" in agent.get(again.headers["location"]).text
    assert [c for c in rasa.calls if c[0] == "c-twice"] == [
        ("c-twice", [{"event": "bot", "text": "I have refunded you.", "metadata": ANY}])
    ]
    note = {"csrf_token": token, "text": "Refunded", "submission": submission}
    assert agent.post(f"{url}/note", data=note).headers["location"] == f"{url}?ok=noted"  # another form, same page
    assert agent.post(f"{url}/note", data=note).headers["location"] == f"{url}?ok=duplicate"
    fresh = re.search(r'name="submission" value="([^"]+)"', agent.get(url).text).group(1)
    assert fresh != submission
    assert agent.post(f"{url}/reply", data={**form, "submission": fresh}).headers["location"] == f"{url}?ok=replied"
    with new_session(engine) as session:
        senders = [m.sender for m in session.execute(select(EscalationMessage)).scalars()]
        assert senders == ["agent", "note", "agent"]


def test_a_reply_that_failed_can_be_sent_again_from_the_same_form(agent, add_escalation, rasa, engine: Engine):
    escalation_id = add_escalation("c-retry")
    url = f"/console/escalations/{escalation_id}"
    page = agent.get(url).text
    submission = re.search(r'name="submission" value="([^"]+)"', page).group(1)
    form = {"csrf_token": csrf_of(page), "text": "Are you still there?", "submission": submission}
    rasa.down = True
    assert agent.post(f"{url}/reply", data=form).headers["location"] == f"{url}?error=delivery_failed"
    rasa.down = False
    assert agent.post(f"{url}/reply", data=form).headers["location"] == f"{url}?ok=replied"
    with new_session(engine) as session:
        assert [m.text for m in session.execute(select(EscalationMessage)).scalars()] == ["Are you still there?"]


def test_another_agents_escalation_cannot_be_taken_but_a_supervisor_can_assign_it(
    agent, supervisor, make_client, add_escalation, engine: Engine
):
    from tests.console.conftest import login

    escalation_id = add_escalation("c-assign")
    url = f"/console/escalations/{escalation_id}"
    token = csrf_of(agent.get(url).text)
    agent.post(f"{url}/claim", data={"csrf_token": token})
    kim = make_client()
    login(kim, "kim")
    kim_token = csrf_of(kim.get(url).text)
    taken = kim.post(f"{url}/claim", data={"csrf_token": kim_token})
    assert taken.headers["location"] == f"{url}?error=already_claimed"
    sup_token = csrf_of(supervisor.get(url).text)
    assigned = supervisor.post(f"{url}/assign", data={"csrf_token": sup_token, "agent": "kim"})
    assert assigned.headers["location"] == f"{url}?ok=assigned"
    with new_session(engine) as session:
        assert session.get(Escalation, escalation_id).agent.username == "kim"
    ghost = supervisor.post(f"{url}/assign", data={"csrf_token": sup_token, "agent": "ghost"})
    assert ghost.headers["location"] == f"{url}?error=agent_not_found"


def test_unknown_escalation_is_a_clear_404_page(agent):
    page = agent.get("/console/escalations/999")
    assert page.status_code == 404 and "There is no such escalation." in page.text


def test_queue_shows_an_alert_when_failed_identity_checks_cross_the_budget(agent, engine):
    from crm_backend.services import audit

    assert "failed identity" not in agent.get("/console/queue").text
    with new_session(engine) as session:
        audit.record(
            session=session,
            actor="crm",
            action="security_alert",
            entity="verification",
            entity_id="failure_budget",
            after={"failures": 120, "window_minutes": 15},
        )
        session.commit()
    page = agent.get("/console/queue").text
    assert "120 failed identity" in page and 'role="alert"' in page


def test_an_escalation_whose_customer_was_not_vouched_for_says_so(agent, add_escalation, engine):
    escalation_id = add_escalation("c-claimed", email=None)
    with new_session(engine) as session:
        escalation = session.get(Escalation, escalation_id)
        escalation.packet = {**escalation.packet, "customer": {"verified": False, "claimed_customer_id": 4}}
        session.commit()
    text = agent.get(f"/console/escalations/{escalation_id}").text
    assert "not verified (claimed customer 4: no grant from the CRM)" in text
