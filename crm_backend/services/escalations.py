"""Escalations to a person: the queue, claiming, the message thread, resolution and hand-back to the assistant.

Life cycle: ``open -> claimed -> resolved | handed_back`` (a resolved escalation may still be handed back and
stays ``resolved``; a handed-back one may still get its verdict and becomes ``resolved``). Calls to Rasa happen
before anything is written, so a delivery failure leaves the database unchanged.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_backend.db import Agent, Escalation, EscalationMessage
from crm_backend.errors import DomainError
from crm_backend.rasa_client import RasaEvents
from crm_backend.services import audit
from crm_backend.services.customers import get_customer
from crm_backend.util import utcnow

ACTIVE = ("open", "claimed")
STATUSES = ("open", "claimed", "resolved", "handed_back")
VERDICTS = ("justified", "unnecessary", "too_late")
MESSAGE_ACTIONS = {"agent": "escalation.reply", "note": "escalation.note", "customer": "escalation.customer_message"}
HAND_BACK_TEXT = "You're back with the ShopCare assistant. Is there anything else I can help with?"
CSAT_QUESTION = "How would you rate the help you got from our team? (1 = poor, 5 = excellent)"


def csat_question_event() -> dict[str, Any]:
    """The bot message asking for a rating; its buttons send ``/rate_service{"csat_score":"N"}`` (the assistant's
    ``action_record_csat`` stores the answer through ``POST /api/v1/escalations/csat``)."""
    buttons = [
        {"title": str(n), "payload": "/rate_service" + json.dumps({"csat_score": str(n)}, separators=(",", ":"))}
        for n in range(1, 6)
    ]
    return {"event": "bot", "text": CSAT_QUESTION, "data": {"buttons": buttons}}


def get_escalation(escalation_id: int, *, session: Session) -> Escalation:
    escalation = session.get(Escalation, escalation_id)
    if escalation is None:
        raise DomainError(404, "escalation_not_found", "I couldn't find that escalation.", {"id": escalation_id})
    return escalation


def get_agent(username: str, *, session: Session) -> Agent:
    agent = session.execute(select(Agent).where(Agent.username == username)).scalar_one_or_none()
    if agent is None:
        raise DomainError(404, "agent_not_found", "There is no agent with that username.", {"agent": username})
    return agent


def find_by_key(request_key: str, *, session: Session) -> Escalation | None:
    return session.execute(select(Escalation).where(Escalation.request_key == request_key)).scalar_one_or_none()


def find_active(conversation_id: str, *, session: Session) -> Escalation | None:
    """The open or claimed escalation of a conversation (the newest, should there be several)."""
    return (
        session.execute(
            select(Escalation)
            .where(Escalation.conversation_id == conversation_id, Escalation.status.in_(ACTIVE))
            .order_by(Escalation.created_at.desc(), Escalation.id.desc())
        )
        .scalars()
        .first()
    )


def create_escalation(
    *,
    session: Session,
    request_key: str,
    conversation_id: str,
    channel: str,
    customer_id: int | None,
    priority: int,
    reason_codes: list[str],
    summary: str,
    suggested_action: str,
    scores: dict[str, Any],
    packet: dict[str, Any],
    actor: str,
    created_at: datetime | None = None,
) -> tuple[Escalation, bool]:
    """(escalation, created). An escalation with the same request key, or an open/claimed one of the same
    conversation, is returned instead of a second one. ``created_at`` defaults to now (microsecond precision: the
    relay compares it with event timestamps)."""
    existing = find_by_key(request_key, session=session) or find_active(conversation_id, session=session)
    if existing is not None:
        return existing, False
    if customer_id is not None:
        get_customer(customer_id, session=session)
    escalation = Escalation(
        request_key=request_key,
        conversation_id=conversation_id,
        channel=channel,
        customer_id=customer_id,
        status="open",
        priority=priority,
        reason_codes=list(reason_codes),
        summary=summary,
        suggested_action=suggested_action,
        scores=dict(scores),
        packet=dict(packet),
        created_at=created_at or datetime.utcnow(),
    )
    session.add(escalation)
    try:
        session.flush()
    except IntegrityError:  # the other path (API fast path / relay) created it a moment ago
        session.rollback()
        raced = find_by_key(request_key, session=session)
        if raced is None:
            raise
        return raced, False
    audit.record(
        session=session,
        actor=actor,
        action="escalation.create",
        entity="escalation",
        entity_id=escalation.id,
        after={"conversation_id": conversation_id, "priority": priority, "reason_codes": list(reason_codes)},
        idempotency_key=request_key,
    )
    return escalation, True


def queue_position(escalation: Escalation, *, session: Session) -> int:
    """1-based place in the open queue (priority desc, then oldest first); 0 when not open."""
    if escalation.status != "open":
        return 0
    order_key = tuple_(-Escalation.priority, Escalation.created_at, Escalation.id)
    mine = tuple_(-escalation.priority, escalation.created_at, escalation.id)
    ahead = session.execute(
        select(func.count(Escalation.id)).where(Escalation.status == "open", order_key < mine)
    ).scalar_one()
    return int(ahead) + 1


def list_escalations(
    *,
    session: Session,
    statuses: tuple[str, ...] = ACTIVE,
    limit: int = 50,
    channel: str | None = None,
    reason: str | None = None,
    agent_id: int | None = None,
    unassigned: bool = False,
) -> list[tuple[Escalation, datetime | None]]:
    """(escalation, time of the last customer message) by priority desc, then oldest first; optional filters."""
    last_customer = (
        select(func.max(EscalationMessage.created_at))
        .where(EscalationMessage.escalation_id == Escalation.id, EscalationMessage.sender == "customer")
        .correlate(Escalation)
        .scalar_subquery()
    )
    query = select(Escalation, last_customer).where(Escalation.status.in_(statuses))
    if channel:
        query = query.where(Escalation.channel == channel)
    if reason:  # reason codes are a JSON list of plain words: match the quoted word in its text
        query = query.where(cast(Escalation.reason_codes, String).like(f'%"{reason}"%'))
    if unassigned:
        query = query.where(Escalation.agent_id.is_(None))
    elif agent_id is not None:
        query = query.where(Escalation.agent_id == agent_id)
    rows = session.execute(
        query.order_by(Escalation.priority.desc(), Escalation.created_at.asc(), Escalation.id.asc()).limit(limit)
    )
    return [(escalation, last) for escalation, last in rows]


def last_customer_message_at(escalation: Escalation) -> datetime | None:
    times = [m.created_at for m in escalation.messages if m.sender == "customer"]
    return max(times) if times else None


def _snapshot(escalation: Escalation) -> dict[str, Any]:
    return {"status": escalation.status, "agent_id": escalation.agent_id, "verdict": escalation.verdict}


def _audit(
    session: Session, actor: str, action: str, escalation: Escalation, key: str | None, before: dict | None = None
) -> None:
    row = {"entity": "escalation", "entity_id": escalation.id, "before": before, "after": _snapshot(escalation)}
    audit.record(session=session, actor=actor, action=action, idempotency_key=key, **row)


def _refuse_closed(escalation: Escalation) -> None:
    if escalation.status not in ACTIVE:
        details = {"status": escalation.status}
        raise DomainError(409, "escalation_closed", f"This escalation is already {escalation.status}.", details)


def _check_owner(escalation: Escalation, agent: Agent, code: str = "not_claimed_by_agent") -> None:
    """Only the agent holding the escalation may act on it; an unclaimed one is claimed by acting on it."""
    if escalation.agent_id is not None and escalation.agent_id != agent.id:
        details = {"claimed_by": escalation.agent.username if escalation.agent else None}
        raise DomainError(409, code, "Another agent is handling this escalation.", details)


def _take(session: Session, escalation: Escalation, agent: Agent, key: str | None) -> None:
    if escalation.agent_id == agent.id:
        return
    before = _snapshot(escalation)
    escalation.agent_id, escalation.agent, escalation.claimed_at = agent.id, agent, utcnow()
    if escalation.status == "open":
        escalation.status = "claimed"
    _audit(session, agent.username, "escalation.claim", escalation, key, before)


def claim(escalation: Escalation, agent: Agent, *, session: Session, idempotency_key: str | None = None) -> Escalation:
    """Claiming one's own escalation again is a no-op."""
    _refuse_closed(escalation)
    _check_owner(escalation, agent, code="already_claimed")
    _take(session, escalation, agent, idempotency_key)
    session.flush()
    return escalation


def assign(
    escalation: Escalation, assignee: Agent, by: Agent, *, session: Session, idempotency_key: str | None = None
) -> Escalation:
    """A supervisor gives an open or claimed escalation to an agent (taking it from whoever held it)."""
    if by.role != "supervisor":
        raise DomainError(403, "supervisor_only", "Only a supervisor can assign escalations to another agent.")
    _refuse_closed(escalation)
    if escalation.agent_id != assignee.id:
        before = _snapshot(escalation)
        escalation.agent_id, escalation.agent, escalation.claimed_at = assignee.id, assignee, utcnow()
        escalation.status = "claimed"
        _audit(session, by.username, "escalation.assign", escalation, idempotency_key, before)
    session.flush()
    return escalation


def _latest_handed_back(conversation_id: str, session: Session) -> Escalation | None:
    return (
        session.execute(
            select(Escalation)
            .where(Escalation.conversation_id == conversation_id, Escalation.handed_back_at.is_not(None))
            .order_by(Escalation.handed_back_at.desc(), Escalation.id.desc())
        )
        .scalars()
        .first()
    )


def record_csat(conversation_id: str, score: int, *, session: Session) -> Escalation:
    """The customer's answer to the CSAT question asked at hand-back: stored on the conversation's latest
    handed-back escalation (a different second answer replaces the first; the same answer again changes nothing, so
    a redelivered one from the relay writes no second audit row)."""
    if not 1 <= score <= 5:
        raise DomainError(422, "invalid_score", "The rating must be a whole number from 1 to 5.", {"score": score})
    escalation = _latest_handed_back(conversation_id, session)
    if escalation is None:
        details = {"conversation_id": conversation_id}
        raise DomainError(404, "escalation_not_found", "There is no handed-back escalation to rate.", details)
    if escalation.csat == score:
        return escalation
    before = {"csat": escalation.csat}
    escalation.csat = score
    row = {"entity": "escalation", "entity_id": escalation.id, "before": before, "after": {"csat": score}}
    audit.record(session=session, actor=f"bot:{conversation_id}"[:100], action="escalation.csat", **row)
    session.flush()
    return escalation


def _add_message(
    session: Session, escalation: Escalation, actor: str, key: str | None, **fields: Any
) -> EscalationMessage:
    fields = {"created_at": utcnow(), "delivered": True, **fields}
    message = EscalationMessage(escalation_id=escalation.id, **fields)
    session.add(message)
    session.flush()
    _audit(session, actor, MESSAGE_ACTIONS[fields["sender"]], escalation, key)
    return message


def reply(
    escalation: Escalation,
    agent: Agent,
    text: str,
    *,
    session: Session,
    rasa: RasaEvents,
    idempotency_key: str | None = None,
) -> EscalationMessage:
    """Deliver an agent's message to the customer (raises ``RasaError`` before writing anything), then store it."""
    _refuse_closed(escalation)
    _check_owner(escalation, agent)
    metadata = {"agent": agent.display_name, "from_agent": True}
    rasa.post_events(escalation.conversation_id, [{"event": "bot", "text": text, "metadata": metadata}])
    _take(session, escalation, agent, idempotency_key)
    fields = {"sender": "agent", "text": text, "agent_id": agent.id}
    return _add_message(session, escalation, agent.username, idempotency_key, **fields)


def add_note(
    escalation: Escalation, agent: Agent, text: str, *, session: Session, idempotency_key: str | None = None
) -> EscalationMessage:
    """A private note for the agents (any status, any agent); never delivered to the customer."""
    fields = {"sender": "note", "text": text, "agent_id": agent.id, "delivered": False}
    return _add_message(session, escalation, agent.username, idempotency_key, **fields)


def resolve(
    escalation: Escalation, agent: Agent, verdict: str, *, session: Session, idempotency_key: str | None = None
) -> Escalation:
    """Record the verdict (open, claimed or handed back -> resolved)."""
    if verdict not in VERDICTS:
        raise DomainError(422, "invalid_verdict", f"The verdict must be one of {', '.join(VERDICTS)}.")
    if escalation.status == "resolved":
        raise DomainError(409, "escalation_closed", "This escalation is already resolved.", {"status": "resolved"})
    _check_owner(escalation, agent)
    _take(session, escalation, agent, idempotency_key)
    before = _snapshot(escalation)
    escalation.status, escalation.verdict, escalation.resolved_at = "resolved", verdict, utcnow()
    _audit(session, agent.username, "escalation.resolve", escalation, idempotency_key, before)
    session.flush()
    return escalation


def hand_back(
    escalation: Escalation,
    agent: Agent,
    message: str | None,
    *,
    session: Session,
    rasa: RasaEvents,
    idempotency_key: str | None = None,
) -> Escalation:
    """Give the conversation back to the assistant (raises ``RasaError`` before writing anything)."""
    if escalation.handed_back_at is not None:
        details = {"status": escalation.status}
        raise DomainError(409, "escalation_closed", "This conversation was already handed back.", details)
    _check_owner(escalation, agent)
    events: list[dict[str, Any]] = [
        {"event": "slot", "name": "escalation_status", "value": "handed_back"},
        {"event": "resume"},
        {"event": "bot", "text": message or HAND_BACK_TEXT},
        csat_question_event(),
        # the bot listens again: without this the next message is judged as following action_escalate
        {"event": "action", "name": "action_listen"},
    ]
    rasa.post_events(escalation.conversation_id, events)
    _take(session, escalation, agent, idempotency_key)
    before = _snapshot(escalation)
    escalation.status = "resolved" if escalation.status == "resolved" else "handed_back"
    escalation.handed_back_at = utcnow()
    _audit(session, agent.username, "escalation.hand_back", escalation, idempotency_key, before)
    session.flush()
    return escalation


def add_customer_message(
    *, session: Session, conversation_id: str, text: str, sentiment: float | None, at: datetime, event_key: str
) -> EscalationMessage | None:
    """A customer message of a paused conversation (from the relay); None when there is no open/claimed escalation
    that started at or before ``at``, or the event was relayed already."""
    if session.execute(select(EscalationMessage.id).where(EscalationMessage.event_key == event_key)).first():
        return None
    escalation = find_active(conversation_id, session=session)
    if escalation is None or at < escalation.created_at:
        return None
    fields = {"sender": "customer", "text": text, "sentiment": sentiment, "event_key": event_key, "created_at": at}
    return _add_message(session, escalation, "relay", None, **fields)
