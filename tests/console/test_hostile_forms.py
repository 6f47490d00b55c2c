"""The hostile corpus (tests/hostile/inputs.py) through every console form and query parameter, over HTTP on a real
CRM app (SQLite, TestClient): login username/password/next, the queue's filters (page and polling endpoint), reply,
note, resolve verdict, assign agent, hand-back text, the escalation id in the path, the page's notice parameters and
the dashboard's window. Each with a valid session and CSRF token and also without or with a wrong token.

What must hold: never a 5xx; an invalid value gets a 4xx or a notice on the page; a refused form changes nothing;
what was stored is shown escaped (the page carries no more markup than before the hostile text went in). A seeded
slice of the corpus per field (``SLICE`` cases, every ``STEP``-th) keeps this module at a few seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from crm_backend.db import EscalationMessage, new_session
from tests.console.conftest import csrf_of
from tests.hostile.inputs import Case, messages

STEP = 7
SLICE = 60
TAGS = ("<script", "<img", "<svg", "<iframe", "<b>")
BAD_IDS = ["0", "-1", "abc", "1e3", "99999999999999999999999", "9" * 400, "%00", "1%20OR%201=1", "..%2F..%2Fetc"]


def corpus() -> list[Case]:
    """A deterministic slice of the corpus: every ``STEP``-th case, the first ``SLICE`` of them (the atoms first)."""
    return [case for i, case in enumerate(messages()) if i % STEP == 0][:SLICE]


def markup_counts(page: str) -> dict[str, int]:
    """How many elements that could run script the page has (an unescaped echo adds some). Attribute-like text
    (``onerror=``, ``javascript:``) may appear inside escaped text and is harmless there; the browser test checks
    that nothing runs."""
    lowered = page.lower()
    return {marker: lowered.count(marker) for marker in TAGS}


def stored_messages(engine: Engine, escalation_id: int) -> int:
    with new_session(engine) as session:
        query = select(func.count(EscalationMessage.id)).where(EscalationMessage.escalation_id == escalation_id)
        return int(session.execute(query).scalar_one())


def no_5xx(outcomes: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(name, status) for name, status in outcomes if status >= 500]


def test_login_form_with_hostile_username_password_and_next(make_client: Callable[[], TestClient]):
    baseline = markup_counts(make_client().get("/console/login").text)
    outcomes: list[tuple[str, int]] = []
    for case in corpus():
        client = make_client()  # a fresh client per case: its own login CSRF cookie
        page = client.get(f"/console/login?next={quote(case.text, safe='')}")
        outcomes.append((f"next-get:{case.name}", page.status_code))
        assert markup_counts(page.text) == baseline, case.name  # ``next`` is not echoed as markup
        token = csrf_of(page.text)
        form = {"username": case.text, "password": case.text, "next": case.text, "csrf_token": token}
        answer = client.post("/console/login", data=form)
        outcomes.append((f"login:{case.name}", answer.status_code))
        assert answer.status_code in (401, 429), (case.name, answer.status_code)
        assert "Wrong username or password." in answer.text or "Too many failed logins" in answer.text
        assert markup_counts(answer.text) == baseline, case.name  # the username comes back in the form, escaped
        for bad in ({**form, "csrf_token": "wrong"}, {k: v for k, v in form.items() if k != "csrf_token"}):
            refused = client.post("/console/login", data=bad)
            outcomes.append((f"login-csrf:{case.name}", refused.status_code))
            assert refused.status_code == 403 and "expired" in refused.text
    assert no_5xx(outcomes) == []


def test_right_password_with_a_hostile_next_stays_inside_the_console(make_client: Callable[[], TestClient]):
    for case in corpus()[:4] + [Case("proto", "//evil.example/x"), Case("bs", "/console\\..\\evil")]:
        client = make_client()
        token = csrf_of(client.get("/console/login").text)
        form = {"username": "kim", "password": "correct horse battery", "next": case.text, "csrf_token": token}
        answer = client.post("/console/login", data=form)
        assert answer.status_code == 303, (case.name, answer.status_code)
        assert answer.headers["location"].startswith("/console"), (case.name, answer.headers["location"])


def test_queue_filters_and_polling_endpoint_with_hostile_values(agent: TestClient, add_escalation: Any):
    add_escalation("c-filters", channel="slack")
    baseline = markup_counts(agent.get("/console/queue").text)
    outcomes: list[tuple[str, int]] = []
    for case in corpus():
        value = quote(case.text[:3000], safe="")
        for field in ("status", "channel", "reason", "assignee"):
            for path in ("/console/queue", "/console/queue.json"):
                answer = agent.get(f"{path}?{field}={value}")
                outcomes.append((f"{path}?{field}:{case.name}", answer.status_code))
                if path == "/console/queue" and answer.status_code == 200:
                    assert markup_counts(answer.text) == baseline, (field, case.name)
        answer = agent.get(f"/console/dashboard?days={value}")  # an agent: 403; the supervisor test covers 200
        outcomes.append((f"dashboard:{case.name}", answer.status_code))
    assert no_5xx(outcomes) == []
    assert not [o for o in outcomes if o[0].startswith("/console/queue") and o[1] != 200]


def test_dashboard_window_and_escalation_path_and_notices(supervisor: TestClient, add_escalation: Any):
    escalation_id = add_escalation("c-path")
    baseline = markup_counts(supervisor.get(f"/console/escalations/{escalation_id}").text)
    outcomes: list[tuple[str, int]] = []
    for case in corpus()[:30]:
        value = quote(case.text[:3000], safe="")
        outcomes.append((f"days:{case.name}", supervisor.get(f"/console/dashboard?days={value}").status_code))
        page = supervisor.get(f"/console/escalations/{escalation_id}?ok={value}&error={value}")
        outcomes.append((f"notice:{case.name}", page.status_code))
        assert markup_counts(page.text) == baseline, case.name
    for bad in BAD_IDS:
        for path in (f"/console/escalations/{bad}", f"/console/escalations/{bad}/claim"):
            token = csrf_of(supervisor.get("/console/queue").text)
            answer = supervisor.get(path) if path.count("/") == 3 else supervisor.post(path, data={"csrf_token": token})
            outcomes.append((path, answer.status_code))
            assert 400 <= answer.status_code < 500 or "?error=" in answer.headers.get("location", ""), (path, answer)
    assert no_5xx(outcomes) == []


def test_note_reply_and_hand_back_with_hostile_text(agent: TestClient, add_escalation: Any, engine: Engine, rasa):
    escalation_id = add_escalation("c-texts")
    page_url = f"/console/escalations/{escalation_id}"
    baseline = markup_counts(agent.get(page_url).text)
    token = csrf_of(agent.get(page_url).text)
    assert agent.post(f"{page_url}/claim", data={"csrf_token": token}).headers["location"].endswith("ok=claimed")
    outcomes: list[tuple[str, int]] = []
    for case in corpus():
        for action in ("note", "reply"):
            answer = agent.post(f"{page_url}/{action}", data={"text": case.text, "csrf_token": token})
            outcomes.append((f"{action}:{case.name}", answer.status_code))
            assert answer.status_code == 303, (action, case.name, answer.status_code)
            expected = (
                "error=empty_text" if not case.text.strip() else f"ok={action}d" if action == "note" else "ok=replied"
            )
            assert answer.headers["location"].endswith(expected), (action, case.name, answer.headers["location"])
        if case.text.strip():
            assert rasa.calls[-1][1][0]["text"] == case.text.strip()[:4000]  # delivered as written
    page = agent.get(page_url)
    assert page.status_code == 200
    assert markup_counts(page.text) == baseline  # every hostile note and reply is on the page, escaped
    shown = next(c.text.strip() for c in corpus() if "<" in c.text and len(c.text) < 200)
    assert str(escape(shown)) in page.text  # shown literally, escaped

    before = stored_messages(engine, escalation_id)
    for bad_token in ("", "wrong", token[:-1], token + "x", "\x00" + token):
        for action in ("note", "reply", "hand-back"):
            refused = agent.post(f"{page_url}/{action}", data={"text": "<b>sneaky</b>", "csrf_token": bad_token})
            assert refused.status_code == 403 and "Form refused" in refused.text, (action, bad_token)
    assert agent.post(f"{page_url}/note", data={"text": "no token"}).status_code == 403
    assert stored_messages(engine, escalation_id) == before  # a refused form changed nothing

    for case in corpus()[:10]:
        answer = agent.post(f"{page_url}/hand-back", data={"text": case.text, "csrf_token": token})
        outcomes.append((f"hand-back:{case.name}", answer.status_code))
        assert answer.status_code == 303 and "?" in answer.headers["location"]
    assert no_5xx(outcomes) == []


def test_resolve_verdict_and_assign_agent_with_hostile_values(
    supervisor: TestClient, add_escalation: Any, engine: Engine
):
    escalation_id = add_escalation("c-verdict")
    page_url = f"/console/escalations/{escalation_id}"
    token = csrf_of(supervisor.get(page_url).text)
    outcomes: list[tuple[str, int]] = []
    for case in corpus():
        verdict = supervisor.post(f"{page_url}/resolve", data={"verdict": case.text, "csrf_token": token})
        assign = supervisor.post(f"{page_url}/assign", data={"agent": case.text, "csrf_token": token})
        outcomes += [(f"resolve:{case.name}", verdict.status_code), (f"assign:{case.name}", assign.status_code)]
        assert verdict.headers["location"].endswith("error=invalid_verdict"), case.name
        assert assign.headers["location"].endswith("error=agent_not_found"), case.name
    shown = supervisor.get(f"{page_url}?error=invalid_verdict")
    assert "Choose a verdict: justified, unnecessary or too late." in shown.text
    shown = supervisor.get(f"{page_url}?error=agent_not_found")
    assert "There is no such agent." in shown.text
    for bad_token in ("", "wrong"):
        for action, field in (("resolve", "verdict"), ("assign", "agent")):
            value = "justified" if action == "resolve" else "kim"
            refused = supervisor.post(f"{page_url}/{action}", data={field: value, "csrf_token": bad_token})
            assert refused.status_code == 403
    page = supervisor.get(page_url)
    assert "Resolve" in page.text and "resolved" not in page.text.split("<h1", 1)[1].split("</h1>", 1)[0].lower()
    assert no_5xx(outcomes) == []


def test_malformed_form_bodies_are_refused_without_a_5xx(agent: TestClient, add_escalation: Any, engine: Engine):
    escalation_id = add_escalation("c-raw")
    headers = {"content-type": "application/x-www-form-urlencoded"}
    bodies = {
        "bad_utf8": b"\xff\xfe=\xfd",
        "over_64k": b"text=" + b"a" * (70 * 1024),
        "only_separators": b"%%%&&&===",
        "nul_and_bad_percent": b"text=%00%ff",
    }
    before = stored_messages(engine, escalation_id)
    for name, body in bodies.items():
        answer = agent.post(f"/console/escalations/{escalation_id}/note", content=body, headers=headers)
        assert answer.status_code == 403, name  # no readable CSRF token in it: refused
    assert stored_messages(engine, escalation_id) == before
