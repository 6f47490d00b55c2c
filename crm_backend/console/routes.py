"""Console pages: login/logout, the queue (and its polling endpoint), the escalation view and its actions, the
supervisor dashboard. Every action goes through ``crm_backend.services.escalations``, like the JSON API."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import distinct, select
from sqlalchemy.orm import Session

from crm_backend.api.deps import get_session, route_of
from crm_backend.console import charts, present, submissions
from crm_backend.console.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Auth,
    RateLimited,
    authenticate,
    checked_form,
    client_address,
    close_session,
    current_auth,
    form_data,
    open_session,
    safe_next,
    settings_of,
    supervisor_auth,
    tokens_match,
)
from crm_backend.db import Escalation
from crm_backend.errors import DomainError
from crm_backend.rasa_client import RasaError
from crm_backend.services import access, escalations, verification
from crm_backend.services.agents import find_agent, list_agents

router = APIRouter(prefix="/console", include_in_schema=False)
NOTICES = {
    "claimed": "You have claimed this escalation.",
    "assigned": "The escalation was assigned.",
    "replied": "Your reply was sent to the customer.",
    "noted": "Your note was added (agents only).",
    "resolved": "The escalation is resolved.",
    "handed_back": "The conversation is back with the assistant; the customer was asked to rate the help.",
    "duplicate": "That form had already been sent; it was not sent a second time.",
}
ERRORS = {
    "delivery_failed": "The message could not be delivered to the customer's conversation; nothing was changed. Try again.",
    "already_claimed": "Another agent has already claimed this escalation.",
    "not_claimed_by_agent": "Another agent is handling this escalation.",
    "escalation_closed": "This escalation is already closed for that action.",
    "invalid_verdict": "Choose a verdict: justified, unnecessary or too late.",
    "empty_text": "Write something first.",
    "agent_not_found": "There is no such agent.",
    "supervisor_only": "Only a supervisor can assign escalations to another agent.",
}


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A console page from its template (every console page renders through this)."""
    templates = request.app.state.console_templates
    return templates.TemplateResponse(request, name, context, status_code=status)


def _cookie_options(request: Request) -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "lax",
        "secure": settings_of(request).console_secure_cookie,
        "path": "/console",
    }


# --- login / logout
@router.get("")
def console_home() -> RedirectResponse:
    return RedirectResponse("/console/queue", status_code=303)


def _login_page(request: Request, *, error: str = "", username: str = "", status: int = 200) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    context = {
        "auth": None,
        "error": error,
        "username": username,
        "csrf": token,
        "next": safe_next(request.query_params.get("next")),
    }
    response = render(request, "login.html", context, status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, **_cookie_options(request))
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
def login(
    request: Request, form: dict[str, str] = Depends(form_data), session: Session = Depends(get_session)
) -> Response:
    username = form.get("username", "")
    if not tokens_match(form.get("csrf_token"), request.cookies.get(LOGIN_CSRF_COOKIE)):
        return _login_page(
            request, error="The login form had expired; please try again.", username=username, status=403
        )
    settings = settings_of(request)
    try:
        agent = authenticate(username, form.get("password", ""), client_address(request), settings, session=session)
    except RateLimited as limited:
        text = f"Too many failed logins. Try again in {limited.minutes} minutes."
        return _login_page(request, error=text, username=username, status=429)
    if agent is None:
        return _login_page(request, error="Wrong username or password.", username=username, status=401)
    token = open_session(agent, settings, session=session)
    session.commit()
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    max_age = int(settings.console_session_hours * 3600)
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, **_cookie_options(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return response


@router.post("/logout")
def logout(
    request: Request, _form: dict[str, str] = Depends(checked_form), session: Session = Depends(get_session)
) -> Response:
    close_session(request.cookies.get(SESSION_COOKIE), session=session)
    session.commit()
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


# --- queue
def _filters(request: Request, auth: Auth, session: Session) -> tuple[dict[str, str], dict[str, Any]]:
    """(the filters as given, the keyword arguments of ``services.escalations.list_escalations``)."""
    q = request.query_params
    given = {k: q.get(k, "").strip() for k in ("status", "channel", "reason", "assignee")}
    statuses = tuple(s for s in given["status"].split(",") if s in escalations.STATUSES) or escalations.ACTIVE
    kwargs: dict[str, Any] = {"statuses": statuses, "limit": 200}
    if given["channel"]:
        kwargs["channel"] = given["channel"][:30]
    if given["reason"] in present.REASONS:
        kwargs["reason"] = given["reason"]
    if given["assignee"] == "none":
        kwargs["unassigned"] = True
    elif given["assignee"] == "me":
        kwargs["agent_id"] = auth.agent.id
    elif given["assignee"]:
        agent = find_agent(given["assignee"], session=session)
        kwargs["agent_id"] = agent.id if agent else -1
    return given, kwargs


def _late_after(request: Request) -> int:
    """Minutes an open escalation may wait before the queue shows it as late (policies.yml ``escalations``)."""
    return int(request.app.state.policies.escalations.late_after_minutes)


def _queue_rows(request: Request, auth: Auth, session: Session) -> tuple[dict[str, str], list[present.QueueRow]]:
    given, kwargs = _filters(request, auth, session)
    now = datetime.utcnow()
    rows = escalations.list_escalations(session=session, **kwargs)
    customers = present.customers_of([e for e, _last in rows], session=session)
    late = _late_after(request)
    return given, [present.queue_row(e, last, now, late, customers.get(e.customer_id or 0)) for e, last in rows]


def _urgent(request: Request, session: Session) -> list[dict[str, Any]]:
    threshold = settings_of(request).notify_priority
    rows = session.execute(
        select(Escalation)
        .where(Escalation.status == "open", Escalation.priority >= threshold)
        .order_by(Escalation.priority.desc(), Escalation.created_at)
        .limit(20)
    ).scalars()
    return [
        {"id": e.id, "priority": e.priority, "reasons": [present.reason_label(r) for r in e.reason_codes or []]}
        for e in rows
    ]


SECURITY_ALERT_WINDOW = timedelta(hours=1)  # how long the queue shows an alert about failed identity checks


@router.get("/queue")
def queue(request: Request, auth: Auth = Depends(current_auth), session: Session = Depends(get_session)) -> Response:
    given, rows = _queue_rows(request, auth, session)
    channels = sorted(c for c in session.execute(select(distinct(Escalation.channel))).scalars() if c)
    context = {
        "auth": auth,
        "rows": rows,
        "filters": given,
        "channels": sorted(set(channels) | set(present.CHANNELS)),
        "reasons": present.REASONS,
        "agents": list_agents(session=session),
        "statuses": escalations.STATUSES,
        "present": present,
        "sla_minutes": _late_after(request),
        "security_alerts": verification.recent_alerts(session=session, window=SECURITY_ALERT_WINDOW),
    }
    return render(request, "queue.html", context)


@router.get("/queue.json")
def queue_json(
    request: Request, auth: Auth = Depends(current_auth), session: Session = Depends(get_session)
) -> JSONResponse:
    """For the page's auto-refresh: the rows (rendered by the same escaped template) and the urgent escalations."""
    _given, rows = _queue_rows(request, auth, session)
    template = request.app.state.console_templates.get_template("_queue_rows.html")
    html = template.render(rows=rows, present=present)
    return JSONResponse({"rows_html": html, "count": len(rows), "urgent": _urgent(request, session)})


# --- one escalation
@router.get("/escalations/{escalation_id}")
def escalation_page(
    escalation_id: int, request: Request, auth: Auth = Depends(current_auth), session: Session = Depends(get_session)
) -> Response:
    try:
        escalation = escalations.get_escalation(escalation_id, session=session)
    except DomainError:
        return render(
            request, "error.html", {"auth": auth, "title": "Not found", "text": "There is no such escalation."}, 404
        )
    hidden = not access.may_see_personal_data(auth.agent, escalation)
    customer = present.customer_of(escalation, session=session)
    redactor = present.redactor_for(escalation, customer) if hidden else None
    lines = present.transcript(escalation, redactor)
    last = escalations.last_customer_message_at(escalation)
    access.record_read(
        session=session,
        actor=f"agent:{auth.agent.username}",
        agent_id=auth.agent.id,
        customer_id=escalation.customer_id,
        escalation_id=escalation.id,
        purpose=access.escalation_purpose(escalation.id),
        resource=route_of(request),
        masked=hidden,
    )
    context = {
        "auth": auth,
        "e": escalation,
        "row": present.queue_row(escalation, last, datetime.utcnow(), _late_after(request), customer),
        "packet": present.packet_of(escalation, session=session, customer=customer, hidden=hidden),
        "hidden_notice": present.hidden_notice(escalation) if hidden else None,
        "conversation_id": redactor.text(escalation.conversation_id) if redactor else escalation.conversation_id,
        "summary": redactor.text(escalation.summary or "") if redactor else escalation.summary or "",
        "lines": lines,
        "chart": charts.sentiment_timeline(present.sentiment_points(lines)),
        "agents": list_agents(session=session) if auth.is_supervisor else [],
        "present": present,
        "verdicts": present.VERDICTS,
        "submission": secrets.token_urlsafe(16),  # one-time token of this page's reply and note forms
        "notice": NOTICES.get(request.query_params.get("ok", "")),
        "error": ERRORS.get(
            request.query_params.get("error", ""), "That did not work." if request.query_params.get("error") else None
        ),
    }
    response = render(request, "escalation.html", context)
    access.commit_read(session=session)  # the read is in the access log before the page leaves
    return response


def _act(
    escalation_id: int, session: Session, done: str, action: Any, submission: tuple[int, str] | None = None
) -> RedirectResponse:
    """Run one service call; come back to the escalation page with a notice or the reason it failed.

    ``submission`` (agent id, the form's one-time token): the action runs once per token, so a double click or a
    resent form does not send the customer the same reply twice.
    """
    target = f"/console/escalations/{escalation_id}"
    claim = submissions.claim(session, submission, f"console {done} {escalation_id}") if submission else None
    if claim is False:
        return RedirectResponse(f"{target}?ok=duplicate", status_code=303)
    try:
        escalation = escalations.get_escalation(escalation_id, session=session)
        action(escalation)
        session.commit()
    except DomainError as error:
        session.rollback()
        submissions.release(session, claim)
        return RedirectResponse(f"{target}?error={error.code}", status_code=303)
    except RasaError:
        session.rollback()
        submissions.release(session, claim)
        return RedirectResponse(f"{target}?error=delivery_failed", status_code=303)
    return RedirectResponse(f"{target}?ok={done}", status_code=303)


def _text(form: dict[str, str], limit: int) -> str:
    text = form.get("text", "").strip()
    if not text:
        raise DomainError(422, "empty_text", "Write something first.")
    return text[:limit]


@router.post("/escalations/{escalation_id}/claim")
def claim(
    escalation_id: int,
    auth: Auth = Depends(current_auth),
    _form: dict[str, str] = Depends(checked_form),
    session: Session = Depends(get_session),
) -> Response:
    return _act(escalation_id, session, "claimed", lambda e: escalations.claim(e, auth.agent, session=session))


@router.post("/escalations/{escalation_id}/assign")
def assign(
    escalation_id: int,
    auth: Auth = Depends(supervisor_auth),
    form: dict[str, str] = Depends(checked_form),
    session: Session = Depends(get_session),
) -> Response:
    def run(e: Escalation) -> None:
        assignee = escalations.get_agent(form.get("agent", ""), session=session)
        escalations.assign(e, assignee, auth.agent, session=session)

    return _act(escalation_id, session, "assigned", run)


@router.post("/escalations/{escalation_id}/reply")
def reply(
    escalation_id: int,
    request: Request,
    auth: Auth = Depends(current_auth),
    form: dict[str, str] = Depends(checked_form),
    session: Session = Depends(get_session),
) -> Response:
    rasa = request.app.state.rasa_client
    return _act(
        escalation_id,
        session,
        "replied",
        lambda e: escalations.reply(e, auth.agent, _text(form, 4000), session=session, rasa=rasa),
        submissions.of(form, auth.agent.id),
    )


@router.post("/escalations/{escalation_id}/note")
def note(
    escalation_id: int,
    auth: Auth = Depends(current_auth),
    form: dict[str, str] = Depends(checked_form),
    session: Session = Depends(get_session),
) -> Response:
    return _act(
        escalation_id,
        session,
        "noted",
        lambda e: escalations.add_note(e, auth.agent, _text(form, 4000), session=session),
        submissions.of(form, auth.agent.id),
    )


@router.post("/escalations/{escalation_id}/resolve")
def resolve(
    escalation_id: int,
    auth: Auth = Depends(current_auth),
    form: dict[str, str] = Depends(checked_form),
    session: Session = Depends(get_session),
) -> Response:
    verdict = form.get("verdict", "")
    return _act(
        escalation_id, session, "resolved", lambda e: escalations.resolve(e, auth.agent, verdict, session=session)
    )


@router.post("/escalations/{escalation_id}/hand-back")
def hand_back(
    escalation_id: int,
    request: Request,
    auth: Auth = Depends(current_auth),
    form: dict[str, str] = Depends(checked_form),
    session: Session = Depends(get_session),
) -> Response:
    rasa = request.app.state.rasa_client
    message = form.get("text", "").strip()[:1000] or None
    return _act(
        escalation_id,
        session,
        "handed_back",
        lambda e: escalations.hand_back(e, auth.agent, message, session=session, rasa=rasa),
    )
