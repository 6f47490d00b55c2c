"""Support tickets (the customer's support history)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_backend.db import Ticket
from crm_backend.services import audit
from crm_backend.services.customers import get_customer
from crm_backend.services.references import new_ticket_reference
from crm_backend.util import utcnow


def create_ticket(
    *,
    session: Session,
    customer_id: int | None,
    conversation_id: str,
    channel: str,
    topic: str,
    summary: str,
    actor: str,
    idempotency_key: str | None = None,
) -> Ticket:
    if customer_id is not None:
        get_customer(customer_id, session=session)
    ticket = Ticket(
        reference=new_ticket_reference(session=session),
        customer_id=customer_id,
        conversation_id=conversation_id,
        channel=channel,
        topic=topic,
        summary=summary,
        status="open",
        created_at=utcnow(),
    )
    session.add(ticket)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="ticket.create",
        entity="ticket",
        entity_id=ticket.reference,
        after={"customer_id": customer_id, "topic": topic, "channel": channel, "status": "open"},
        idempotency_key=idempotency_key,
    )
    return ticket


def list_tickets(customer_id: int, *, session: Session) -> list[Ticket]:
    return list(
        session.execute(
            select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.created_at.desc())
        ).scalars()
    )


def complaints_since(customer_id: int, since: datetime, *, session: Session) -> int:
    """The customer's complaint tickets created at or after ``since`` (the repeat-complaint rule counts these)."""
    query = select(func.count(Ticket.id)).where(
        Ticket.customer_id == customer_id, Ticket.topic == "complaint", Ticket.created_at >= since
    )
    return int(session.execute(query).scalar_one())
