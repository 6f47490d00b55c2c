"""What the console pages show, in words: durations, reason labels, the escalation packet and the transcript.

The packet is what the assistant sent (``shopcare_core/escalation/packet.py::build_request``); it is read defensively because an
older or partial packet (one created by the relay from the outbox, say) may lack any part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_backend.db import Escalation, Order

REASONS = {
    "explicit_request": "Asked for a person",
    "strong_negative": "Very upset message",
    "negative_trend": "Growing frustration",
    "at_risk_customer": "Valuable customer at risk of leaving",
    "repeated_fallback": "The assistant kept misunderstanding",
    "identity_locked": "Identity check locked",
    "refund_review": "Refund above the automatic limit",
    "repeat_complaint": "Repeated complaint",
    "safety_issue": "Product safety incident",
    "vulnerable_customer": "Vulnerable customer",
    "legal_threat": "Legal or regulatory threat",
    "chargeback_threat": "Chargeback threat",
    "media_threat": "Press or social media threat",
}
VERDICTS = {"justified": "Justified", "unnecessary": "Unnecessary", "too_late": "Too late"}
CHANNELS = ("rest", "socketio", "slack", "telegram")
# the languages components/language.py recognises (ISO 639-1)
LANGUAGES = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "pl": "Polish",
    "tr": "Turkish",
    "ru": "Russian",
    "zh": "Chinese",
    "ja": "Japanese",
    "ar": "Arabic",
}


def reason_label(code: str) -> str:
    return REASONS.get(code, code.replace("_", " ").capitalize())


def language_label(code: str | None) -> str:
    """'Spanish (es)'; English for a packet that names no language."""
    code = code if isinstance(code, str) and code else "en"
    return f"{LANGUAGES[code]} ({code})" if code in LANGUAGES else code


def language_of(escalation: Escalation) -> str:
    """The customer's language code from the packet ('en' when it names none)."""
    raw = escalation.packet if isinstance(escalation.packet, dict) else {}
    code = _part(raw, "customer").get("language")
    return code if isinstance(code, str) and code else "en"


def duration(seconds: float | None) -> str:
    """'45 s', '12 min', '3 h 05 min', '2 d 4 h'."""
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def sentiment_word(score: float | None) -> str:
    if score is None:
        return "not scored"
    return "negative" if score <= -0.2 else "positive" if score >= 0.2 else "neutral"


@dataclass
class QueueRow:
    escalation: Escalation
    waiting_seconds: int
    since_customer_seconds: int | None
    sla_breached: bool
    reasons: list[str]


def queue_row(escalation: Escalation, last_customer: datetime | None, now: datetime, sla_minutes: int) -> QueueRow:
    waited = ((escalation.claimed_at or now) - escalation.created_at).total_seconds()
    since = (now - last_customer).total_seconds() if last_customer else None
    breached = escalation.status == "open" and waited > sla_minutes * 60
    return QueueRow(
        escalation,
        int(waited),
        int(since) if since is not None else None,
        breached,
        list(escalation.reason_codes or []),
    )


@dataclass
class Line:
    """One transcript line: from the packet (before the handoff) or the CRM thread (after it)."""

    sender: str  # customer / bot / agent / note
    text: str
    sentiment: float | None = None
    at: datetime | None = None
    agent: str | None = None


@dataclass
class Packet:
    customer: dict[str, Any] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    crm_calls: list[dict[str, Any]] = field(default_factory=list)
    churn_probability: float | None = None
    churn_drivers: list[str] = field(default_factory=list)
    value: float | None = None
    segment: str | None = None
    task: str | None = None
    language: str = "en"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _when(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.utcfromtimestamp(value)
    return None


def _part(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name)
    return value if isinstance(value, dict) else {}


def packet_of(escalation: Escalation, *, session: Session) -> Packet:
    raw: dict[str, Any] = escalation.packet if isinstance(escalation.packet, dict) else {}
    scores: dict[str, Any] = escalation.scores if isinstance(escalation.scores, dict) else {}
    customer, churn, value = _part(raw, "customer"), _part(raw, "churn"), _part(raw, "value")
    numbers = [str(n) for n in (raw.get("orders_in_question") or raw.get("orders") or []) if n][:10]
    orders = []
    for number in numbers:  # the order's status now, from the CRM (it may have changed since the escalation)
        order = session.execute(select(Order).where(Order.order_number == number)).scalar_one_or_none()
        orders.append({"number": number, "status": order.status if order else "not found", "order": order})
    calls = [c for c in (raw.get("crm_calls") or []) if isinstance(c, dict)]
    probability = _number(churn.get("probability"))
    return Packet(
        customer=customer,
        orders=orders,
        crm_calls=calls,
        churn_probability=probability if probability is not None else _number(scores.get("churn_probability")),
        churn_drivers=[str(d) for d in (churn.get("drivers") or [])][:5],
        value=_number(value.get("clv")) if value.get("clv") is not None else _number(scores.get("customer_value")),
        segment=value.get("segment") or customer.get("segment"),
        task=raw.get("task") if isinstance(raw.get("task"), str) else None,
        language=language_of(escalation),
    )


def transcript(escalation: Escalation) -> list[Line]:
    """The conversation before the handoff (packet) followed by the thread in the CRM (relayed, replies, notes)."""
    raw = escalation.packet if isinstance(escalation.packet, dict) else {}
    lines = [
        Line(
            sender=str(item.get("sender") or "customer"),
            text=str(item.get("text") or ""),
            sentiment=_number(item.get("sentiment")),
            at=_when(item.get("at")),
        )
        for item in (raw.get("transcript") or [])
        if isinstance(item, dict) and item.get("text")
    ]
    for message in escalation.messages:
        agent = message.agent.display_name if message.agent else None
        lines.append(Line(message.sender, message.text, message.sentiment, message.created_at, agent))
    return lines


def sentiment_points(lines: list[Line]) -> list[tuple[str, float]]:
    return [(line.text, line.sentiment) for line in lines if line.sender == "customer" and line.sentiment is not None]


PROOFS = {
    "postcode": "order number + postcode",
    "email": "order number + e-mail",
    "one_time_code": "one-time code e-mailed to the address on file",
    "shop_login": "the shop's login",
}


def proof_label(proof: str | None) -> str:
    """How the customer proved who they are, for the escalation page."""
    return PROOFS.get(proof or "", "an unknown proof")
