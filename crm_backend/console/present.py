"""What the console pages show, in words: durations, reason labels, the escalation packet and the transcript.

The packet is what the assistant sent (``shopcare_core/escalation/packet.py::build_request``); it is read defensively because an
older or partial packet (one created by the relay from the outbox, say) may lack any part.

An agent who may not see the customer's personal data (``crm_backend/services/access.py``) gets the same page with
the customer's name, e-mail, phone, postcode and addresses replaced by ``hidden``, and every text of the escalation
(transcript, summary) passed through a ``Redactor``: that customer's known values wherever they appear, then e-mails,
phones, card numbers, postcodes and street addresses by pattern. The queue never shows personal data: its summaries
are always redacted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_backend.db import Customer, Escalation, Order
from shopcare_core.pii import Masker

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


HIDDEN = "hidden"
_PATTERNS = Masker()  # e-mails, phones, card numbers, postcodes, street addresses (no secrets of this process)


class Redactor:
    """Masks one customer's known values (``{value: label}``, e.g. ``{"Alice": "[name]"}``) wherever they appear
    as whole words, case-insensitively, longest first; then personal data by pattern (``shopcare_core.pii``)."""

    def __init__(self, values: dict[str, str]) -> None:
        known = {v.strip().lower(): label for v, label in values.items() if v and len(v.strip()) >= 2}
        self._labels = known
        alternatives = "|".join(re.escape(v) for v in sorted(known, key=len, reverse=True))
        self._known = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE) if known else None

    def text(self, value: str) -> str:
        if not value:
            return value
        if self._known is not None:
            value = self._known.sub(lambda m: self._labels[m.group(0).lower()], value)
        return _PATTERNS.text(value)


def _packet_name(escalation: Escalation) -> str | None:
    raw = escalation.packet if isinstance(escalation.packet, dict) else {}
    name = _part(raw, "customer").get("name")
    return name if isinstance(name, str) else None


def redactor_for(escalation: Escalation, customer: Customer | None, *, addresses: bool = True) -> Redactor:
    """A redactor of everything known to identify this escalation's customer: the name in the packet, and the
    CRM's name, e-mail, phone, postcode and (with ``addresses``) addresses, saved and shipping, of the customer it
    names."""
    values: dict[str, str] = {}
    if customer is not None:
        first, last = customer.first_name or "", customer.last_name or ""
        values.update({f"{first} {last}": "[name]", first: "[name]", last: "[name]"})
        values.update({customer.email or "": "[email]", customer.phone or "": "[phone]"})
        values[customer.postcode or ""] = "[postcode]"
    if customer is not None and addresses:
        for address in customer.addresses:
            values.update({address.line1 or "": "[address]", address.line2 or "": "[address]"})
            values.update({address.city or "": "[address]", address.postcode or "": "[postcode]"})
        for order in customer.orders:
            values.update({order.ship_line1 or "": "[address]", order.ship_line2 or "": "[address]"})
            values.update({order.ship_city or "": "[address]", order.ship_postcode or "": "[postcode]"})
    name = _packet_name(escalation)
    if name:
        values[name] = "[name]"
    return Redactor(values)


@dataclass
class QueueRow:
    escalation: Escalation
    waiting_seconds: int
    since_customer_seconds: int | None
    sla_breached: bool
    reasons: list[str]
    summary: str = ""  # redacted: the queue shows no personal data


def queue_row(
    escalation: Escalation,
    last_customer: datetime | None,
    now: datetime,
    sla_minutes: int,
    customer: Customer | None = None,
) -> QueueRow:
    """One row of the queue; ``customer`` (the escalation's) lets the summary's redaction know their details."""
    waited = ((escalation.claimed_at or now) - escalation.created_at).total_seconds()
    since = (now - last_customer).total_seconds() if last_customer else None
    breached = escalation.status == "open" and waited > sla_minutes * 60
    return QueueRow(
        escalation,
        int(waited),
        int(since) if since is not None else None,
        breached,
        list(escalation.reason_codes or []),
        redactor_for(escalation, customer, addresses=False).text(escalation.summary or ""),
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
    name: str | None = None  # the CRM's full name of a vouched-for customer, else the packet's; HIDDEN when masked
    contact: list[tuple[str, str]] = field(default_factory=list)  # (label, value): e-mail, phone, address
    hidden: bool = False  # personal details are masked for this agent


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _when(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.utcfromtimestamp(value)
    return None


def _part(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name)
    return value if isinstance(value, dict) else {}


def customer_of(escalation: Escalation, *, session: Session) -> Customer | None:
    """The customer the escalation names (only a vouched-for one: ``customer_id`` is kept with the CRM's grant)."""
    return session.get(Customer, escalation.customer_id) if escalation.customer_id is not None else None


def customers_of(escalations: list[Escalation], *, session: Session) -> dict[int, Customer]:
    """The customers these escalations name, by id, in one query."""
    ids = {e.customer_id for e in escalations if e.customer_id is not None}
    if not ids:
        return {}
    return {c.id: c for c in session.execute(select(Customer).where(Customer.id.in_(ids))).scalars()}


def _address(*parts: str | None) -> str:
    return ", ".join(p for p in parts if p)


def _contact(customer: Customer | None, hidden: bool) -> list[tuple[str, str]]:
    if customer is None:
        return []
    address = next((a for a in customer.addresses if a.is_default), None) or next(iter(customer.addresses), None)
    rows = [
        ("E-mail", customer.email or ""),
        ("Phone", customer.phone or ""),
        ("Postcode", customer.postcode or ""),
        ("Address", _address(address.line1, address.line2, address.city, address.postcode) if address else ""),
    ]
    return [(label, HIDDEN if hidden else value) for label, value in rows if value]


def packet_of(
    escalation: Escalation, *, session: Session, customer: Customer | None = None, hidden: bool = False
) -> Packet:
    """The packet in words. ``customer``: the escalation's customer (``customer_of``) for the contact details;
    ``hidden``: personal details are replaced by ``HIDDEN``."""
    raw: dict[str, Any] = escalation.packet if isinstance(escalation.packet, dict) else {}
    scores: dict[str, Any] = escalation.scores if isinstance(escalation.scores, dict) else {}
    customer_part, churn, value = _part(raw, "customer"), _part(raw, "churn"), _part(raw, "value")
    numbers = [str(n) for n in (raw.get("orders_in_question") or raw.get("orders") or []) if n][:10]
    orders = []
    for number in numbers:  # the order's status now, from the CRM (it may have changed since the escalation)
        order = session.execute(select(Order).where(Order.order_number == number)).scalar_one_or_none()
        # the shipping address only of the vouched-for customer's own order
        own = order is not None and customer is not None and order.customer_id == customer.id
        ship_to = _address(order.ship_line1, order.ship_line2, order.ship_city, order.ship_postcode) if own else ""
        orders.append(
            {
                "number": number,
                "status": order.status if order else "not found",
                "order": order,
                "ship_to": HIDDEN if hidden and ship_to else ship_to,
            }
        )
    name = f"{customer.first_name} {customer.last_name}" if customer is not None else _packet_name(escalation)
    calls = [c for c in (raw.get("crm_calls") or []) if isinstance(c, dict)]
    probability = _number(churn.get("probability"))
    return Packet(
        customer=customer_part,
        orders=orders,
        crm_calls=calls,
        churn_probability=probability if probability is not None else _number(scores.get("churn_probability")),
        churn_drivers=[str(d) for d in (churn.get("drivers") or [])][:5],
        value=_number(value.get("clv")) if value.get("clv") is not None else _number(scores.get("customer_value")),
        segment=value.get("segment") or customer_part.get("segment"),
        task=raw.get("task") if isinstance(raw.get("task"), str) else None,
        language=language_of(escalation),
        name=HIDDEN if hidden and name else name,
        contact=_contact(customer, hidden),
        hidden=hidden,
    )


def transcript(escalation: Escalation, redactor: Redactor | None = None) -> list[Line]:
    """The conversation before the handoff (packet) followed by the thread in the CRM (relayed, replies, notes);
    with a ``redactor``, every line's text redacted (the customer's words, and bot or agent texts that echo them)."""
    lines = _lines(escalation)
    if redactor is not None:
        for line in lines:
            line.text = redactor.text(line.text)
    return lines


def _lines(escalation: Escalation) -> list[Line]:
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


def hidden_notice(escalation: Escalation) -> str:
    """Why an agent sees an escalation with the customer's personal details masked."""
    if escalation.status in ("resolved", "handed_back"):
        why = "this escalation is closed"
    else:
        why = f"this escalation is handled by {escalation.agent.display_name if escalation.agent else 'another agent'}"
    return f"Personal details are hidden: {why}."
