"""Supervisors' pages: the review of reads of customers' personal data (``/console/access-log``) and the dashboard
(``/console/dashboard``). Agents get the 403 page."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from crm_backend.api.deps import ID_MAX, get_session
from crm_backend.console import charts, dashboard, present
from crm_backend.console.auth import (
    Auth,
    settings_of,
    supervisor_auth,
)
from crm_backend.console.metrics import days
from crm_backend.console.routes import render
from crm_backend.services import access
from crm_backend.services.agents import list_agents

router = APIRouter(prefix="/console", include_in_schema=False)


# --- supervisor review of the read audit
ACCESS_LOG_PAGE = 100


def _id_param(request: Request, name: str) -> int | None:
    """A positive 32-bit id from the query string; None when absent or not one."""
    raw = request.query_params.get(name, "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) <= ID_MAX else None


@router.get("/access-log")
def access_log_page(
    request: Request, auth: Auth = Depends(supervisor_auth), session: Session = Depends(get_session)
) -> Response:
    """Reads of customers' personal data, newest first, filtered by customer, agent and escalation."""
    agents = list_agents(session=session)
    username = request.query_params.get("agent", "").strip()
    agent = next((a for a in agents if a.username == username), None)
    filters = {"customer": _id_param(request, "customer"), "escalation": _id_param(request, "escalation")}
    reads = access.list_reads(
        session=session,
        customer_id=filters["customer"],
        agent_id=(agent.id if agent else -1) if username else None,
        escalation_id=filters["escalation"],
        before_id=_id_param(request, "before"),
        limit=ACCESS_LOG_PAGE,
    )
    older = {k: v for k, v in {**filters, "agent": username if agent else None}.items() if v}
    context = {
        "auth": auth,
        "reads": reads,
        "agents": agents,
        "filters": {**filters, "agent": username},
        "older": {**older, "before": reads[-1].id} if len(reads) == ACCESS_LOG_PAGE else None,
    }
    return render(request, "access_log.html", context)


# --- supervisor dashboard
@router.get("/dashboard")
def dashboard_page(
    request: Request, auth: Auth = Depends(supervisor_auth), session: Session = Depends(get_session)
) -> Response:
    try:
        window_days = max(7, min(90, int(request.query_params.get("days", "14"))))
    except ValueError:
        window_days = 14
    today = date.today()
    summary = dashboard.summary(
        session, events_url=settings_of(request).rasa_events_url, today=today, window_days=window_days
    )
    window = days(today, window_days)
    context = {
        "auth": auth,
        "s": summary,
        "window_days": window_days,
        "by_reason_chart": charts.stacked_bars(summary.by_day_reason),
        "sentiment_chart": charts.day_line(summary.sentiment_by_day, window),
        "csat_chart": charts.hbars(summary.csat_distribution),
        "present": present,
    }
    return render(request, "dashboard.html", context)
