"""Realistic console data: escalation requests shaped exactly like the assistant's (``actions/escalation.py``), and
demo agents. Used by the screenshots script, the console tests and ``make run``'s demo logins.

``escalation_request(...)`` returns the body of ``POST /api/v1/escalations``; ``create(...)`` stores one through the
same service the API uses, optionally backdated (for SLA timers and the dashboard's days).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from crm_backend.db import Customer, Escalation
from crm_backend.services import escalations
from crm_backend.services.agents import create_agent, find_agent
from crm_backend.services.customers import find_by_email

Lines = list[tuple[str, str, float | None]]
ANGRY: Lines = [
    ("customer", "where is my order 10002? it was meant to come on monday", -0.35),
    ("bot", "I can look that up. What's the e-mail address or postcode on your account?", None),
    ("customer", "alice.martin@example.com", 0.0),
    ("bot", "Thanks Alice, you're verified. Order 10002 is delayed at the depot; the new estimate is Friday.", None),
    ("customer", "FRIDAY?? this is the THIRD time. absolutely useless, I want my money back!!!", -0.95),
]
AT_RISK: Lines = [
    ("customer", "hello, I'd like to cancel order 10031 please", -0.1),
    ("bot", "I can help with that. What's the e-mail address or postcode on your account?", None),
    ("customer", "dan.reyes@example.com", 0.0),
    ("customer", "honestly thinking of closing my account, the last few orders were all late", -0.55),
]
CALM: Lines = [
    ("customer", "can I talk to a real person please", 0.05),
]
SUMMARIES = {
    "at_risk_customer": "Valuable customer at risk wants to cancel order 10031 after repeated late deliveries.",
    "explicit_request": "Asked for a person straight away.",
    "repeated_fallback": "The assistant misunderstood three messages in a row.",
}


def transcript(lines: list[tuple[str, str, float | None]], start: datetime) -> list[dict[str, Any]]:
    out = []
    for i, (sender, text, sentiment) in enumerate(lines):
        at = (start + timedelta(seconds=40 * i)).timestamp()
        item: dict[str, Any] = {"sender": sender, "text": text, "at": at}
        if sender == "customer":
            item["sentiment"] = sentiment
        out.append(item)
    return out


def escalation_request(
    *,
    conversation_id: str,
    customer: Customer | None = None,
    lines: list[tuple[str, str, float | None]] = ANGRY,
    reasons: tuple[str, ...] = ("strong_negative", "negative_trend"),
    priority: int = 85,
    channel: str = "socketio",
    orders: tuple[str, ...] = ("10002",),
    churn: float | None = 0.22,
    drivers: tuple[str, ...] = (
        "3 late deliveries in the last 6 months",
        "2 complaints in the last 90 days",
        "orders less often than before",
    ),
    value: float | None = 640.0,
    task: str | None = "track_order",
    summary: str = "Very upset about a third late delivery; asks for a refund.",
    suggested_action: str = "Apologise, offer a refund of the delivery charge or a voucher, and confirm the new date.",
    started: datetime | None = None,
) -> dict[str, Any]:
    """The body the assistant would send for this conversation (``shopcare_core/escalation/packet.py::build_request``)."""
    started = started or datetime.utcnow() - timedelta(minutes=3)
    segment = customer.segment if customer is not None else None
    lines_out = transcript(lines, started)
    scores = [line["sentiment"] for line in lines_out if line.get("sentiment") is not None]
    packet = {
        "customer": {
            "customer_id": customer.id if customer is not None else None,
            "name": customer.first_name if customer is not None else None,
            "verified": customer is not None,
            "verified_by": "email" if customer is not None else None,
            "verified_at": started.isoformat() if customer is not None else None,
            "failed_verifications": 0,
            "identity_locked": False,
            "segment": segment,
        },
        "orders_in_question": list(orders),
        "task": task,
        "crm_calls": [
            {"call": "POST /api/v1/identity/verify", "status": 200},
            *({"call": f"GET /api/v1/customers/{customer.id}/orders/{n}", "status": 200} for n in orders if customer),
            *([{"call": f"GET /api/v1/customers/{customer.id}/features", "status": 200}] if customer else []),
        ],
        "transcript": lines_out,
        "churn": {"probability": churn, "drivers": list(drivers)},
        "value": {"clv": value, "segment": segment},
        "decision": {
            "reasons": list(reasons),
            "priority": priority,
            "summary": summary,
            "suggested_action": suggested_action,
        },
        "escalated_at": started.isoformat(),
    }
    return {
        "conversation_id": conversation_id,
        "channel": channel,
        "customer_id": customer.id if customer is not None else None,
        "priority": priority,
        "reason_codes": list(reasons),
        "summary": summary,
        "suggested_action": suggested_action,
        "scores": {
            "sentiment_last": scores[-1] if scores else None,
            "sentiment_mean": round(sum(scores) / len(scores), 3) if scores else None,
            "churn_probability": churn,
            "customer_value": value,
        },
        "packet": packet,
    }


def customer_by_email(email: str, *, session: Session) -> Customer | None:
    return find_by_email(email, session=session)


def create(session: Session, body: dict[str, Any], *, created_at: datetime | None = None) -> Escalation:
    escalation, _created = escalations.create_escalation(
        session=session, request_key=f"demo:{body['conversation_id']}", actor="demo", created_at=created_at, **body
    )
    return escalation


def ensure_agent(session: Session, username: str, password: str, role: str, display_name: str) -> bool:
    """Create the agent unless it exists; True when created."""
    if find_agent(username, session=session) is not None:
        return False
    create_agent(
        session=session, username=username, password=password, role=role, display_name=display_name, actor="demo"
    )
    return True
