"""Reads what the supervisor dashboard counts: escalations from the CRM database and conversations from the Rasa
event stream (the SQL event-broker table the relay reads). The figures themselves are computed in ``metrics``.

Containment = conversations in the event stream without an escalation / all conversations in the event stream. The
CRM alone cannot know about conversations that never needed it, so without the event stream containment is shown as
unavailable rather than guessed.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, distinct, func, inspect, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from crm_backend.console import metrics
from crm_backend.console.present import transcript
from crm_backend.db import Customer, Escalation, EscalationMessage, Order
from crm_backend.rasa_stores import BROKER_EVENTS

logger = logging.getLogger(__name__)


def _lost_after(session: Session, customer_id: int | None, since: datetime) -> bool:
    """The customer churned, or cancelled an order, after the escalation was raised."""
    if customer_id is None:
        return False
    churned = session.execute(select(Customer.churned_at).where(Customer.id == customer_id)).scalar_one_or_none()
    if churned is not None and churned >= since:
        return True
    cancelled = session.execute(
        select(func.count(Order.id)).where(Order.customer_id == customer_id, Order.cancelled_at >= since)
    ).scalar_one()
    return bool(cancelled)


def records(session: Session, *, since: datetime) -> list[metrics.EscalationRecord]:
    rows = session.execute(
        select(Escalation)
        .where(Escalation.created_at >= since)
        .options(selectinload(Escalation.messages).selectinload(EscalationMessage.agent))
        .order_by(Escalation.created_at)
    ).scalars()
    result = []
    for e in rows:
        replies = [m.created_at for m in e.messages if m.sender == "agent"]
        sentiments = tuple(
            (line.at or e.created_at, line.sentiment)
            for line in transcript(e)
            if line.sender == "customer" and line.sentiment is not None
        )
        result.append(
            metrics.EscalationRecord(
                id=e.id,
                created_at=e.created_at,
                reason_codes=tuple(e.reason_codes or ()),
                status=e.status,
                verdict=e.verdict,
                first_agent_reply_at=min(replies) if replies else None,
                csat=e.csat,
                sentiments=sentiments,
                customer_id=e.customer_id,
                customer_lost_after=_lost_after(session, e.customer_id, e.created_at),
            )
        )
    return result


def stream_conversations(events_url: str) -> set[str] | None:
    """Sender ids with at least one customer message in the event stream; None when there is no stream."""
    if not events_url:
        return None
    try:
        url = make_url(events_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            if not Path(url.database).exists():
                return None
        engine = create_engine(events_url, future=True)
        try:
            if not inspect(engine).has_table("events"):
                return None
            with engine.connect() as conn:
                query = select(distinct(BROKER_EVENTS.c.sender_id)).where(
                    or_(BROKER_EVENTS.c.data.like('%"event": "user"%'), BROKER_EVENTS.c.data.like('%"event":"user"%'))
                )
                return {str(sender) for (sender,) in conn.execute(query) if sender}
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        logger.warning("dashboard: event stream unreadable: %s", exc)
        return None


def summary(session: Session, *, events_url: str, today: date, window_days: int = 14) -> metrics.Summary:
    since = datetime.combine(today - timedelta(days=window_days - 1), datetime.min.time())
    recs = records(session, since=since)
    conversations = stream_conversations(events_url)
    escalated = 0
    if conversations is not None:
        escalated_ids = set(session.execute(select(distinct(Escalation.conversation_id))).scalars())
        escalated = len(conversations & escalated_ids)
    return metrics.summarise(
        recs,
        today=today,
        window_days=window_days,
        conversations=len(conversations) if conversations is not None else None,
        escalated_conversations=escalated,
    )
