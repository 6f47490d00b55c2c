"""Need-to-know access in the console: who sees a customer's personal data on an escalation, the masked view for the
others, the audit row of every read, and the supervisors' access-log page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from crm_backend.db import AccessLog, Agent, Escalation, new_session
from crm_backend.seeding import demo
from tests.console.conftest import login

# Alice Martin's details on file (crm_backend/seeding/personas.py) and in her own words
EMAIL, FIRST, LAST, POSTCODE, STREET, PHONE = (
    "alice.martin@example.com",
    "Alice",
    "Martin",
    "SW1A 1AA",
    "1 Parliament Street",
    "07700900001",
)
LINES = [
    ("customer", "where is my order 10002? it was meant to come on monday", -0.35),
    ("bot", "What's the e-mail address or postcode on your account?", None),
    ("customer", f"{EMAIL}, I live at {STREET}, London {POSTCODE}", 0.0),
    ("bot", f"Thanks {FIRST}, you're verified. Order 10002 is delayed at the depot.", None),
    ("customer", f"this is useless. I'm {FIRST} {LAST}, call me on {PHONE} or write to {EMAIL}!!!", -0.95),
]
PERSONAL = (EMAIL, FIRST, LAST, POSTCODE, STREET, PHONE)
RESOURCE = "GET /console/escalations/{escalation_id}"


def absent(page: str) -> list[str]:
    return [value for value in PERSONAL if value.lower() not in page.lower()]


@pytest.fixture
def kim(make_client: Callable[[], TestClient]) -> TestClient:
    client = make_client()
    assert login(client, "kim").status_code == 303
    return client


@pytest.fixture
def alice_escalation(add_escalation: Callable[..., int], engine: Engine) -> Callable[..., int]:
    """Alice's escalation (her details in the transcript and summary) in ``status``, assigned to ``agent``."""

    def make(status: str = "open", agent: str | None = None, conversation_id: str = "c-alice") -> int:
        escalation_id = add_escalation(
            conversation_id, lines=LINES, summary=f"Customer {FIRST} {LAST} ({EMAIL}) is upset.", orders=("10001",)
        )
        with new_session(engine) as session:
            escalation = session.get(Escalation, escalation_id)
            escalation.status = status
            if agent:
                escalation.agent_id = session.execute(select(Agent.id).where(Agent.username == agent)).scalar_one()
            session.commit()
        return escalation_id

    return make


def reads(engine: Engine) -> list[AccessLog]:
    with new_session(engine) as session:
        return list(session.execute(select(AccessLog).order_by(AccessLog.id)).scalars())


def alice_id(engine: Engine) -> int:
    with new_session(engine) as session:
        customer = demo.customer_by_email(EMAIL, session=session)
        assert customer is not None
        return int(customer.id)


def test_another_agents_resolved_escalation_shows_no_personal_data(agent, kim, supervisor, alice_escalation):
    escalation_id = alice_escalation("resolved", agent="kim")
    url = f"/console/escalations/{escalation_id}"

    page = agent.get(url)
    assert page.status_code == 200
    assert absent(page.text) == list(PERSONAL)  # nowhere: packet, contact, orders, transcript, chart, summary
    assert "Personal details are hidden: this escalation is closed." in page.text
    assert "[email]" in page.text and "[address]" in page.text and "[postcode]" in page.text
    assert "[name]" in page.text and "[phone]" in page.text
    assert "Order 10001" in page.text and "where is my order 10002?" in page.text  # the rest stays readable

    for allowed in (kim, supervisor):  # the agent it is assigned to, a supervisor
        full = allowed.get(url).text
        assert absent(full) == [], absent(full)
        assert "Personal details are hidden" not in full
        assert f"ships to {STREET}, London, {POSTCODE}" in full  # the order's shipping address
        assert f"{FIRST} {LAST}" in full and PHONE in full


def test_an_open_escalation_is_shown_in_full_to_any_agent(agent, alice_escalation):
    page = agent.get(f"/console/escalations/{alice_escalation('open')}").text
    assert absent(page) == [] and "Personal details are hidden" not in page


def test_an_escalation_claimed_by_another_agent_names_who_handles_it(agent, kim, alice_escalation):
    escalation_id = alice_escalation("claimed", agent="kim")
    url = f"/console/escalations/{escalation_id}"
    page = agent.get(url).text
    assert "Personal details are hidden: this escalation is handled by Kim Lee." in page
    assert absent(page) == list(PERSONAL)
    assert 'id="claim"' in page  # the actions keep their own rules: claiming is refused by the service
    assert absent(kim.get(url).text) == []


def test_an_agent_still_sees_their_own_escalation_after_it_is_handed_back(kim, alice_escalation):
    page = kim.get(f"/console/escalations/{alice_escalation('handed_back', agent='kim')}").text
    assert absent(page) == [] and "Personal details are hidden" not in page


def test_every_escalation_page_view_is_in_the_access_log(agent, kim, supervisor, alice_escalation, engine):
    escalation_id = alice_escalation("resolved", agent="kim")
    url = f"/console/escalations/{escalation_id}"
    agent.get(url)
    kim.get(url)
    supervisor.get(url)
    agent.get(url + "?ok=noted")
    agent.get("/console/escalations/999")  # no such escalation: nothing read
    rows = reads(engine)
    assert [(r.actor, r.masked) for r in rows] == [
        ("agent:sam", True),
        ("agent:kim", False),
        ("agent:sue", False),
        ("agent:sam", True),
    ]
    customer = alice_id(engine)
    with new_session(engine) as session:
        agents = {a.username: a.id for a in session.execute(select(Agent)).scalars()}
    for row in rows:
        assert row.agent_id == agents[row.actor.split(":")[1]]
        assert (row.customer_id, row.escalation_id) == (customer, escalation_id)
        assert (row.purpose, row.resource) == (f"escalation:{escalation_id}", RESOURCE)
        assert row.at is not None


def test_the_queue_shows_no_personal_data_and_is_not_a_read(agent, supervisor, alice_escalation, engine):
    alice_escalation("open")
    for client in (agent, supervisor):
        queue = client.get("/console/queue").text
        rows = client.get("/console/queue.json").json()["rows_html"]
        for text in (queue, rows):
            assert "Customer [name] ([email]) is upset." in text
            assert EMAIL not in text and LAST not in text
    assert reads(engine) == []


def test_the_access_log_lists_reads_newest_first_with_filters(
    agent, kim, supervisor, alice_escalation, add_escalation, engine
):
    alice = alice_escalation("resolved", agent="kim")
    other = add_escalation("c-dan", email="dan.reyes@example.com")
    agent.get(f"/console/escalations/{alice}")
    kim.get(f"/console/escalations/{alice}")
    agent.get(f"/console/escalations/{other}")

    def listed(query: str = "") -> list[tuple[int, str]]:
        page = supervisor.get("/console/access-log" + query)
        assert page.status_code == 200
        return [(r.escalation_id, r.actor) for r in _rows(page.text, engine)]

    assert listed() == [(other, "agent:sam"), (alice, "agent:kim"), (alice, "agent:sam")]
    assert listed("?agent=kim") == [(alice, "agent:kim")]
    assert listed(f"?escalation={alice}") == [(alice, "agent:kim"), (alice, "agent:sam")]
    assert listed(f"?customer={alice_id(engine)}&agent=sam") == [(alice, "agent:sam")]
    assert listed("?agent=ghost") == []
    assert len(listed("?customer=abc&escalation=-1&before=x")) == 3  # malformed filters are ignored
    page = supervisor.get("/console/access-log").text
    assert "Kim Lee" in page and "masked" in page and RESOURCE in page
    assert 'href="/console/access-log"' in page  # in the supervisor's navigation
    assert EMAIL not in page and FIRST not in page  # ids only


def _rows(page: str, engine: Engine) -> list[AccessLog]:
    import re

    ids = [int(x) for x in re.findall(r'<tr class="read" data-id="(\d+)"', page)]
    by_id = {r.id: r for r in reads(engine)}
    return [by_id[i] for i in ids]


def test_the_access_log_pages_to_older_reads(supervisor, alice_escalation, engine, monkeypatch):
    from crm_backend.console import supervisor as supervisor_pages

    monkeypatch.setattr(supervisor_pages, "ACCESS_LOG_PAGE", 2)
    escalation_id = alice_escalation("open")
    for _ in range(3):
        supervisor.get(f"/console/escalations/{escalation_id}")
    first = supervisor.get(f"/console/access-log?escalation={escalation_id}").text
    ids = [r.id for r in _rows(first, engine)]
    assert len(ids) == 2 and ids == sorted(ids, reverse=True)
    assert f'href="/console/access-log?escalation={escalation_id}&amp;before={ids[-1]}"' in first
    older = supervisor.get(f"/console/access-log?escalation={escalation_id}&before={ids[-1]}").text
    assert [r.id for r in _rows(older, engine)] == [ids[-1] - 1]


def test_an_agent_cannot_open_the_access_log(agent):
    page = agent.get("/console/access-log")
    assert page.status_code == 403
    assert 'href="/console/access-log"' not in agent.get("/console/queue").text


def test_api_reads_are_in_the_log_and_shown_escaped(app: Any, supervisor, alice_escalation, engine):
    escalation_id = alice_escalation("open")
    api = TestClient(app)
    key = {"X-API-Key": "console-test-key"}
    assert api.get(f"/api/v1/escalations/{escalation_id}", headers=key).status_code == 200
    hostile = {**key, "X-Actor": "<script>alert(1)</script>"}
    assert api.get(f"/api/v1/escalations/{escalation_id}", headers=hostile).status_code == 200
    assert [(r.actor, r.masked, r.resource) for r in reads(engine)] == [
        ("api", False, "GET /api/v1/escalations/{escalation_id}"),
        ("api:<script>alert(1)</script>", False, "GET /api/v1/escalations/{escalation_id}"),
    ]
    page = supervisor.get("/console/access-log").text
    assert "<script>alert(1)</script>" not in page and "api:&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_access_log_filters_take_hostile_values_without_a_5xx(supervisor, alice_escalation):
    from urllib.parse import quote

    from tests.console.test_hostile_forms import corpus, markup_counts

    escalation_id = alice_escalation("open")
    supervisor.get(f"/console/escalations/{escalation_id}")
    baseline = markup_counts(supervisor.get("/console/access-log").text)
    values = [case.text[:3000] for case in corpus()] + ["²", "١٢", "9" * 400, "-1", "0", "1e3"]
    for value in values:
        for field in ("customer", "agent", "escalation", "before"):
            page = supervisor.get(f"/console/access-log?{field}={quote(value, safe='')}")
            assert page.status_code == 200, (field, value)
            assert markup_counts(page.text) == baseline, (field, value)
