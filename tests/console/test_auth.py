"""Console login, sessions, CSRF, roles and redirects, over HTTP against the real app and database."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from crm_backend.app import create_app
from crm_backend.cli import main as crm
from crm_backend.db import Agent, ConsoleSession, LoginAttempt, make_engine, new_session
from crm_backend.services import agents as agent_service
from tests.console.conftest import PASSWORD, csrf_of, login

PAGES = ["/console/queue", "/console/escalations/1", "/console/dashboard", "/console/queue?channel=slack"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_without_login_redirects_to_the_login_page(make_client, path):
    response = make_client().get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?next=%2Fconsole%2F")


def test_polling_endpoint_without_login_answers_401_json(make_client):
    response = make_client().get("/console/queue.json")
    assert response.status_code == 401 and response.json()["code"] == "login_required"


def test_login_sets_a_hardened_session_cookie_and_logout_ends_the_session(make_client, engine: Engine):
    client = make_client()
    response = login(client, "sam")
    assert response.status_code == 303 and response.headers["location"] == "/console/queue"
    cookie = [h for h in response.headers.get_list("set-cookie") if h.startswith("shopcare_console=")][0].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/console" in cookie
    page = client.get("/console/queue")
    assert page.status_code == 200 and "Sam Patel" in page.text
    with new_session(engine) as session:
        row = session.execute(select(ConsoleSession)).scalar_one()
        token = client.cookies.get("shopcare_console")
        assert token and row.token_hash != token and len(row.token_hash) == 64  # only a digest is stored
    out = client.post("/console/logout", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/console/login"
    with new_session(engine) as session:
        assert session.execute(select(ConsoleSession)).first() is None
    client.cookies.set("shopcare_console", token, path="/console")  # the old cookie no longer works
    assert client.get("/console/queue").status_code == 303


def test_login_returns_to_the_page_asked_for_but_never_to_another_site(make_client):
    client = make_client()
    page = client.get("/console/login?next=%2Fconsole%2Fdashboard")
    data = {"username": "sue", "password": PASSWORD, "csrf_token": csrf_of(page.text), "next": "/console/dashboard"}
    assert client.post("/console/login", data=data).headers["location"] == "/console/dashboard"
    other = make_client()
    page = other.get("/console/login")
    data = {"username": "sue", "password": PASSWORD, "csrf_token": csrf_of(page.text), "next": "https://evil.example"}
    assert other.post("/console/login", data=data).headers["location"] == "/console/queue"


def test_wrong_password_is_refused_with_a_clear_message(make_client):
    response = login(make_client(), "sam", "wrong password")
    assert response.status_code == 401 and "Wrong username or password." in response.text
    unknown = login(make_client(), "nobody", "whatever")
    assert unknown.status_code == 401 and "Wrong username or password." in unknown.text


def test_login_attempts_are_rate_limited(make_client, engine: Engine):
    client = make_client()
    for _ in range(3):  # login_max_failures=3 in these tests
        assert login(client, "kim", "guess").status_code == 401
    limited = login(client, "kim", PASSWORD)  # even the right password is refused for now
    assert limited.status_code == 429 and "Too many failed logins" in limited.text
    with new_session(engine) as session:  # the window passes
        session.execute(update(LoginAttempt).values(at=datetime.utcnow() - timedelta(hours=1)))
        session.commit()
    assert login(client, "kim", PASSWORD).status_code == 303


def test_login_form_without_its_csrf_cookie_is_refused(make_client):
    client = make_client()
    page = client.get("/console/login")
    token = csrf_of(page.text)
    client.cookies.clear()
    response = client.post("/console/login", data={"username": "sam", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 403 and "shopcare_console=" not in response.headers.get("set-cookie", "")


def test_posts_without_the_session_csrf_token_are_refused(agent, add_escalation, rasa):
    escalation_id = add_escalation("conv-csrf")
    for data in ({}, {"csrf_token": "forged"}):
        response = agent.post(f"/console/escalations/{escalation_id}/reply", data={**data, "text": "hello"})
        assert response.status_code == 403 and "Form refused" in response.text
    assert rasa.calls == []  # nothing was sent to the customer
    assert agent.post("/console/logout", data={"csrf_token": "forged"}).status_code == 403


def test_supervisor_pages_answer_403_to_agents(agent, supervisor, add_escalation):
    assert agent.get("/console/dashboard").status_code == 403
    assert supervisor.get("/console/dashboard").status_code == 200
    escalation_id = add_escalation("conv-roles")
    token = csrf_of(agent.get("/console/queue").text)
    refused = agent.post(f"/console/escalations/{escalation_id}/assign", data={"csrf_token": token, "agent": "kim"})
    assert refused.status_code == 403 and "Supervisors only" in refused.text
    assert "Dashboard" not in agent.get("/console/queue").text


def test_expired_sessions_redirect_to_login(agent, engine: Engine):
    with new_session(engine) as session:
        session.execute(update(ConsoleSession).values(expires_at=datetime.utcnow() - timedelta(seconds=1)))
        session.commit()
    assert agent.get("/console/queue").status_code == 303


def test_legacy_scrypt_hashes_still_log_in_and_are_upgraded_to_argon2(make_client, engine: Engine):
    legacy = "scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$"
    digest = hashlib.scrypt(PASSWORD.encode(), salt=b"saltsaltsaltsalt", n=16384, r=8, p=1, dklen=32)
    with new_session(engine) as session:
        session.add(
            Agent(username="old", display_name="Old Timer", password_hash=legacy + base64.b64encode(digest).decode())
        )
        session.commit()
    assert login(make_client(), "old", "not it").status_code == 401
    assert login(make_client(), "old").status_code == 303
    with new_session(engine) as session:
        stored = session.execute(select(Agent.password_hash).where(Agent.username == "old")).scalar_one()
    assert stored.startswith("$argon2id$") and agent_service.verify_password(PASSWORD, stored)


def test_crm_create_agent_on_a_migrated_database_hashes_with_argon2_and_can_log_in(settings, tmp_path, capsys):
    migrated = settings.copy(update={"database_url": f"sqlite:///{tmp_path / 'migrated.db'}"})
    code = crm(["create-agent", "--username", "lee", "--password", "a long password", "--role", "supervisor"], migrated)
    assert code == 0 and "created supervisor 'lee'" in capsys.readouterr().out  # alembic upgrade head ran first
    engine = make_engine(migrated)
    with new_session(engine) as session:
        stored = session.execute(select(Agent.password_hash).where(Agent.username == "lee")).scalar_one()
    engine.dispose()
    assert stored.startswith("$argon2id$")
    with TestClient(create_app(migrated), follow_redirects=False) as client:
        assert login(client, "lee", "a long password").status_code == 303
        assert client.get("/console/dashboard").status_code == 200


def test_demo_agents_for_make_run_log_in_and_are_kept_on_a_second_run(settings, tmp_path, capsys):
    migrated = settings.copy(update={"database_url": f"sqlite:///{tmp_path / 'demo.db'}"})
    assert crm(["demo-agents"], migrated) == 0
    assert crm(["demo-agents", "--password", "something else"], migrated) == 0
    out = capsys.readouterr().out
    assert "created agent 'agent'" in out and "kept supervisor 'supervisor'" in out
    with TestClient(create_app(migrated), follow_redirects=False) as client:
        assert login(client, "supervisor", "shopcare-demo").status_code == 303
    production = migrated.copy(update={"env": "production", "api_key": "a-real-key"})
    assert crm(["demo-agents"], production) == 1
