"""The console's data-subject requests page (/console/privacy): supervisors only, every POST with the CSRF token;
Export downloads the customer's data and completes the request, Erase needs the reference typed and erases her from
every store, Reject closes a request; a supervisor records a request for a customer id."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from rasa.shared.core.domain import Domain
from sqlalchemy import select
from sqlalchemy.engine import Engine

from crm_backend.db import AccessLog, Agent, AuditLog, Customer, DataRequest, Escalation, new_session
from crm_backend.services import data_requests
from crm_backend.services.customers import find_by_email
from crm_backend.settings import Settings
from tests.console.conftest import csrf_of
from tests.privacy_world import (
    EMAIL,
    NEEDLES,
    World,
    build_crm,
    build_rasa_stores,
    load_domain,
    settings_for,
    sqlite_rows,
    sqlite_text,
)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return load_domain()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path, api_key="console-test-key", login_max_failures=3)


@pytest.fixture
async def world(tmp_path: Path, settings: Settings, engine: Engine, domain: Domain) -> World:
    ids = build_crm(engine, settings)
    await build_rasa_stores(settings, domain)
    return World(*ids, tmp_path / "rasa_tracker.db", tmp_path / "rasa_events.db", tmp_path / "crm.db")


def _request(engine: Engine, customer_id: int, kind: str) -> str:
    with new_session(engine) as session:
        request, _ = data_requests.create_request(
            session=session, customer_id=customer_id, kind=kind, source="assistant", requested_by="bot:rest:zelda"
        )
        session.commit()
        return str(request.reference)


def _status(engine: Engine, reference: str) -> tuple[str, str | None]:
    with new_session(engine) as session:
        request = data_requests.get_request(reference, session=session)
        return request.status, request.completed_by


def test_agents_get_403_on_the_page_and_every_post(world, engine, agent, supervisor):
    reference = _request(engine, world.customer_id, "erase")
    assert agent.get("/console/privacy").status_code == 403
    assert "/console/privacy" not in agent.get("/console/queue").text  # no nav link for agents
    token = csrf_of(agent.get("/console/queue").text)  # the agent's own valid token
    posts = {
        "/console/privacy/requests": {"customer_id": str(world.customer_id), "kind": "export"},
        f"/console/privacy/{reference}/export": {},
        f"/console/privacy/{reference}/erase": {"confirm": reference},
        f"/console/privacy/{reference}/reject": {"reason": "no"},
    }
    for path, form in posts.items():
        response = agent.post(path, data={**form, "csrf_token": token})
        assert response.status_code == 403, path
        assert "Supervisors only" in response.text
    assert _status(engine, reference) == ("pending", None)
    with new_session(engine) as session:
        assert session.execute(select(DataRequest)).scalars().all()[0].reference == reference  # none created


def test_every_post_needs_the_csrf_token(world, engine, supervisor):
    reference = _request(engine, world.customer_id, "erase")
    export = _request(engine, world.customer_id, "export")
    posts = {
        "/console/privacy/requests": {"customer_id": str(world.other_id), "kind": "export"},
        f"/console/privacy/{export}/export": {},
        f"/console/privacy/{reference}/erase": {"confirm": reference},
        f"/console/privacy/{reference}/reject": {"reason": "no"},
    }
    for path, form in posts.items():
        for token in (None, "wrong-token"):
            data = {**form, **({"csrf_token": token} if token else {})}
            response = supervisor.post(path, data=data)
            assert response.status_code == 403 and "Form refused" in response.text, (path, token)
    assert _status(engine, reference) == ("pending", None) and _status(engine, export) == ("pending", None)
    with new_session(engine) as session:
        assert session.get(Customer, world.customer_id).email == EMAIL
        assert len(session.execute(select(DataRequest)).scalars().all()) == 2


def test_the_page_lists_pending_requests_first_and_the_nav_links_it(world, engine, supervisor):
    done = _request(engine, world.other_id, "export")
    with new_session(engine) as session:
        data_requests.complete_request(data_requests.get_request(done, session=session), session=session, by="x")
        session.commit()
    pending = _request(engine, world.customer_id, "erase")
    page = supervisor.get("/console/privacy")
    assert page.status_code == 200
    assert page.text.index(pending) < page.text.index(done)
    assert f'action="/console/privacy/{pending}/erase"' in page.text
    assert f'action="/console/privacy/{done}/' not in page.text  # a closed request has no actions
    assert 'href="/console/privacy"' in supervisor.get("/console/queue").text


def test_export_downloads_her_data_and_completes_the_request(world, engine, supervisor):
    reference = _request(engine, world.customer_id, "export")
    token = csrf_of(supervisor.get("/console/privacy").text)
    response = supervisor.post(f"/console/privacy/{reference}/export", data={"csrf_token": token})
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert f"customer-{world.customer_id}-{reference}.json" in response.headers["content-disposition"]
    export = response.json()
    assert export["crm"]["customers"][0]["email"] == EMAIL
    assert len(export["tracker_store"]["events"]) == 20 and len(export["event_broker"]["events"]) == 20
    assert _status(engine, reference) == ("done", "agent:sue")
    with new_session(engine) as session:
        read = session.execute(select(AccessLog).where(AccessLog.purpose == f"dsr:{reference}")).scalar_one()
        sue = session.execute(select(Agent).where(Agent.username == "sue")).scalar_one()
        assert (read.actor, read.agent_id, read.customer_id) == ("agent:sue", sue.id, world.customer_id)
    again = supervisor.post(f"/console/privacy/{reference}/export", data={"csrf_token": token})
    assert again.status_code == 303 and "error=data_request_closed" in again.headers["location"]
    assert "already closed" in supervisor.get(again.headers["location"]).text


def test_erase_needs_the_reference_typed_then_erases_every_store(world, engine, supervisor):
    reference = _request(engine, world.customer_id, "erase")
    token = csrf_of(supervisor.get("/console/privacy").text)
    for confirm in ("", "DR-000000", "yes"):
        refused = supervisor.post(f"/console/privacy/{reference}/erase", data={"csrf_token": token, "confirm": confirm})
        assert refused.status_code == 303 and "error=confirm" in refused.headers["location"]
    assert _status(engine, reference) == ("pending", None)

    erased = supervisor.post(f"/console/privacy/{reference}/erase", data={"csrf_token": token, "confirm": reference})
    assert erased.status_code == 303 and "ok=erased" in erased.headers["location"]
    assert "erased from every store" in supervisor.get(erased.headers["location"]).text
    assert _status(engine, reference) == ("done", "agent:sue")
    with new_session(engine) as session:
        assert find_by_email(EMAIL, session=session) is None
        escalation = session.execute(select(Escalation).where(Escalation.customer_id == world.customer_id)).scalar_one()
        actors = session.execute(select(AuditLog.actor).where(AuditLog.action == "data_request.erase.done")).all()
        assert actors == [("agent:sue",)]
    for path in (world.tracker_db, world.events_db):
        assert {row[1] for row in sqlite_rows(path, "events")} == {"rest:otto", "rest:stranger"}
        assert not [n for n in NEEDLES if n in sqlite_text(path)]
    # the erased escalation still opens for agents, showing nothing of her
    page = supervisor.get(f"/console/escalations/{escalation.id}")
    assert page.status_code == 200 and not [n for n in NEEDLES if n in page.text]


def test_erase_refuses_while_an_order_is_open(world, engine, supervisor):
    from tests.factories import make_order

    with new_session(engine) as session:
        make_order(session, session.get(Customer, world.customer_id), status="packed")
        session.commit()
    reference = _request(engine, world.customer_id, "erase")
    token = csrf_of(supervisor.get("/console/privacy").text)
    response = supervisor.post(f"/console/privacy/{reference}/erase", data={"csrf_token": token, "confirm": reference})
    assert "error=open_orders" in response.headers["location"]
    assert "orders or refunds still open" in supervisor.get(response.headers["location"]).text
    assert _status(engine, reference) == ("pending", None)


def test_reject_closes_the_request_without_touching_her_data(world, engine, supervisor):
    reference = _request(engine, world.customer_id, "erase")
    token = csrf_of(supervisor.get("/console/privacy").text)
    response = supervisor.post(f"/console/privacy/{reference}/reject", data={"csrf_token": token, "reason": "not her"})
    assert response.status_code == 303 and "ok=rejected" in response.headers["location"]
    with new_session(engine) as session:
        request = data_requests.get_request(reference, session=session)
        assert (request.status, request.completed_by, request.result) == (
            "rejected",
            "agent:sue",
            {"reason": "not her"},
        )
        assert session.get(Customer, world.customer_id).email == EMAIL


def test_a_supervisor_records_a_request_for_a_customer(world, engine, supervisor):
    token = csrf_of(supervisor.get("/console/privacy").text)
    created = supervisor.post(
        "/console/privacy/requests", data={"csrf_token": token, "customer_id": str(world.customer_id), "kind": "export"}
    )
    assert created.status_code == 303 and "ok=created" in created.headers["location"]
    reference = re.search(r"ref=(DR-\d{6})", created.headers["location"]).group(1)
    with new_session(engine) as session:
        request = data_requests.get_request(reference, session=session)
        assert (request.source, request.requested_by, request.kind) == ("console", "agent:sue", "export")
        assert session.execute(
            select(AuditLog).where(AuditLog.entity_id == reference, AuditLog.action == "data_request.export.create")
        ).scalar_one()
    same = supervisor.post(
        "/console/privacy/requests", data={"csrf_token": token, "customer_id": str(world.customer_id), "kind": "export"}
    )
    assert "ok=existing" in same.headers["location"] and reference in same.headers["location"]
    for form, code in (
        ({"customer_id": "999999", "kind": "export"}, "customer_not_found"),
        ({"customer_id": "abc", "kind": "export"}, "customer_id"),
        ({"customer_id": str(world.customer_id), "kind": "delete-everything"}, "kind"),
    ):
        refused = supervisor.post("/console/privacy/requests", data={"csrf_token": token, **form})
        assert f"error={code}" in refused.headers["location"], form


def test_hostile_references_and_fields_are_refused_without_a_server_error(world, engine, supervisor):
    reference = _request(engine, world.customer_id, "erase")
    token = csrf_of(supervisor.get("/console/privacy").text)
    values = ("<script>alert(1)</script>", "DR-' OR 1=1 --", "%2e%2e%2f", "\u202e\u00e9", "9" * 400, "")
    for value in values:
        for action in ("export", "erase", "reject"):
            path = f"/console/privacy/{quote(value, safe='')}x/{action}"
            answer = supervisor.post(path, data={"csrf_token": token, "confirm": value})
            assert answer.status_code in (303, 404, 405), (value, action, answer.status_code)
        answer = supervisor.post("/console/privacy/requests", data={"csrf_token": token, "customer_id": value})
        assert answer.status_code == 303 and "error=" in answer.headers["location"]
        query = urlencode({"ok": value, "error": value, "ref": value})
        page = supervisor.get(f"/console/privacy?{query}")
        assert page.status_code == 200 and "<script>alert" not in page.text
    assert _status(engine, reference) == ("pending", None)
