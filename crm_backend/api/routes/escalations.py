"""Escalations: created by the assistant (fast path; the event relay is the safety net), worked by agents."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from crm_backend.api import schemas_escalations as s
from crm_backend.api.deps import EscalationId, SessionDep, WriterDep, get_actor, route_of
from crm_backend.db import Escalation, EscalationMessage
from crm_backend.errors import DomainError
from crm_backend.rasa_client import RasaError, RasaEvents
from crm_backend.services import access, escalations
from crm_backend.services.grants import vouch

router = APIRouter(prefix="/escalations", tags=["escalations"])


def get_rasa(request: Request) -> RasaEvents:
    return request.app.state.rasa_client


RasaDep = Annotated[RasaEvents, Depends(get_rasa)]


class _Existing(DomainError):
    """Carries the 200 answer "this conversation already has an escalation" through ``Writer.run``, which stores
    and replays it like any other answer (``Writer.run`` fixes the success status up front)."""

    def __init__(self, body: s.EscalationCreated) -> None:
        super().__init__(200, "escalation_exists", "This conversation already has an escalation.")
        self.body = body

    def to_body(self) -> dict[str, Any]:
        return self.body.dict()


def _minutes_per_case(request: Request) -> int:
    return int(request.app.state.settings.escalation_minutes_per_case)


def _message(message: EscalationMessage) -> s.EscalationMessagePublic:
    return s.EscalationMessagePublic(
        id=message.id,
        sender=message.sender,
        text=message.text,
        sentiment=message.sentiment,
        agent=message.agent.username if message.agent else None,
        delivered=bool(message.delivered),
        created_at=message.created_at,
    )


def _item(escalation: Escalation, last_customer: datetime | None, now: datetime) -> s.EscalationItem:
    waited = (escalation.claimed_at or now) - escalation.created_at
    return s.EscalationItem(
        id=escalation.id,
        conversation_id=escalation.conversation_id,
        channel=escalation.channel,
        customer_id=escalation.customer_id,
        status=escalation.status,
        priority=escalation.priority,
        reason_codes=list(escalation.reason_codes or []),
        summary=escalation.summary,
        created_at=escalation.created_at,
        claimed_at=escalation.claimed_at,
        agent=escalation.agent.username if escalation.agent else None,
        waiting_seconds=max(0, int(waited.total_seconds())),
        last_customer_message_at=last_customer,
    )


def _detail(escalation: Escalation, session: Session, minutes_per_case: int) -> s.EscalationDetail:
    position = escalations.queue_position(escalation, session=session)
    return s.EscalationDetail(
        **_item(escalation, escalations.last_customer_message_at(escalation), datetime.utcnow()).dict(),
        suggested_action=escalation.suggested_action,
        scores=dict(escalation.scores or {}),
        packet=dict(escalation.packet or {}),
        verdict=escalation.verdict,
        resolved_at=escalation.resolved_at,
        handed_back_at=escalation.handed_back_at,
        csat=escalation.csat,
        position=position,
        expected_wait_minutes=position * minutes_per_case,
        messages=[_message(m) for m in escalation.messages],
    )


def _delivering(run: Callable[[], JSONResponse]) -> JSONResponse:
    """Rasa unreachable: 503 and nothing stored (not even the idempotency key, so a retry delivers)."""
    try:
        return run()
    except RasaError as exc:
        raise DomainError(
            503,
            "delivery_failed",
            "The message could not be delivered to the customer's conversation; please try again.",
            {"reason": str(exc)},
        ) from exc


@router.post("", response_model=s.EscalationCreated, status_code=201, responses={200: {"model": s.EscalationCreated}})
def create_escalation(body: s.EscalationCreate, writer: WriterDep) -> JSONResponse:
    def action() -> s.EscalationCreated:
        fields = body.dict()
        fields["customer_id"], fields["packet"] = vouch(
            writer.request.app.state.grants,
            fields.pop("identity_grant"),
            customer_id=body.customer_id,
            conversation_id=body.conversation_id,
            packet=body.packet,
        )
        escalation, created = escalations.create_escalation(
            session=writer.session, request_key=writer.key, actor=writer.actor, **fields
        )
        position = escalations.queue_position(escalation, session=writer.session)
        result = s.EscalationCreated(
            id=escalation.id,
            status=escalation.status,
            priority=escalation.priority,
            position=position,
            expected_wait_minutes=position * _minutes_per_case(writer.request),
        )
        if not created:
            raise _Existing(result)
        return result

    return writer.run(body.dict(), 201, action)


@router.post("/csat", response_model=s.CsatRecorded)
def record_csat(body: s.CsatAnswer, writer: WriterDep) -> JSONResponse:
    """Store the customer's rating on the conversation's latest handed-back escalation."""

    def action() -> s.CsatRecorded:
        escalation = escalations.record_csat(body.conversation_id, body.score, session=writer.session)
        return s.CsatRecorded(escalation_id=escalation.id, csat=escalation.csat)

    return writer.run(body.dict(), 200, action)


@router.get("", response_model=list[s.EscalationItem])
def list_escalations(
    session: SessionDep,
    status: str = Query("open,claimed", description="comma-separated: open, claimed, resolved, handed_back"),
    limit: int = Query(50, ge=1, le=500),
) -> list[s.EscalationItem]:
    statuses = tuple(dict.fromkeys(part.strip() for part in status.split(",") if part.strip()))
    unknown = [x for x in statuses if x not in escalations.STATUSES]
    if unknown or not statuses:
        raise DomainError(
            422,
            "invalid_request",
            "Unknown escalation status.",
            {"field": "status", "unknown": unknown, "allowed": list(escalations.STATUSES)},
        )
    now = datetime.utcnow()
    rows = escalations.list_escalations(session=session, statuses=statuses, limit=limit)
    return [_item(escalation, last, now) for escalation, last in rows]


@router.get("/{escalation_id}", response_model=s.EscalationDetail)
def get_escalation(
    escalation_id: EscalationId,
    request: Request,
    session: SessionDep,
    actor: Annotated[str, Depends(get_actor)],
) -> s.EscalationDetail:
    """The escalation with its packet and messages (the customer's personal data): the read is in the access log,
    as "api" or "api:<X-Actor>"."""
    escalation = escalations.get_escalation(escalation_id, session=session)
    detail = _detail(escalation, session, _minutes_per_case(request))
    access.record_read(
        session=session,
        actor="api" if actor == "api" else f"api:{actor}",
        customer_id=escalation.customer_id,
        escalation_id=escalation.id,
        purpose=access.escalation_purpose(escalation.id),
        resource=route_of(request),
    )
    access.commit_read(session=session)
    return detail


@router.post("/{escalation_id}/claim", response_model=s.EscalationDetail)
def claim(escalation_id: EscalationId, body: s.AgentAction, writer: WriterDep) -> JSONResponse:
    def action() -> s.EscalationDetail:
        escalation = escalations.get_escalation(escalation_id, session=writer.session)
        agent = escalations.get_agent(body.agent, session=writer.session)
        escalations.claim(escalation, agent, session=writer.session, idempotency_key=writer.key)
        return _detail(escalation, writer.session, _minutes_per_case(writer.request))

    return writer.run(body.dict(), 200, action)


@router.post("/{escalation_id}/reply", response_model=s.EscalationMessagePublic, status_code=201)
def reply(
    escalation_id: EscalationId,
    body: s.AgentText,
    writer: WriterDep,
    rasa: RasaDep,
) -> JSONResponse:
    def action() -> s.EscalationMessagePublic:
        escalation = escalations.get_escalation(escalation_id, session=writer.session)
        agent = escalations.get_agent(body.agent, session=writer.session)
        message = escalations.reply(
            escalation, agent, body.text, session=writer.session, rasa=rasa, idempotency_key=writer.key
        )
        return _message(message)

    return _delivering(lambda: writer.run(body.dict(), 201, action))


@router.post("/{escalation_id}/notes", response_model=s.EscalationMessagePublic, status_code=201)
def add_note(escalation_id: EscalationId, body: s.AgentText, writer: WriterDep) -> JSONResponse:
    def action() -> s.EscalationMessagePublic:
        escalation = escalations.get_escalation(escalation_id, session=writer.session)
        agent = escalations.get_agent(body.agent, session=writer.session)
        return _message(
            escalations.add_note(escalation, agent, body.text, session=writer.session, idempotency_key=writer.key)
        )

    return writer.run(body.dict(), 201, action)


@router.post("/{escalation_id}/resolve", response_model=s.EscalationDetail)
def resolve(escalation_id: EscalationId, body: s.ResolveRequest, writer: WriterDep) -> JSONResponse:
    def action() -> s.EscalationDetail:
        escalation = escalations.get_escalation(escalation_id, session=writer.session)
        agent = escalations.get_agent(body.agent, session=writer.session)
        escalations.resolve(escalation, agent, body.verdict, session=writer.session, idempotency_key=writer.key)
        return _detail(escalation, writer.session, _minutes_per_case(writer.request))

    return writer.run(body.dict(), 200, action)


@router.post("/{escalation_id}/hand-back", response_model=s.EscalationDetail)
def hand_back(
    escalation_id: EscalationId,
    body: s.HandBackRequest,
    writer: WriterDep,
    rasa: RasaDep,
) -> JSONResponse:
    def action() -> s.EscalationDetail:
        escalation = escalations.get_escalation(escalation_id, session=writer.session)
        agent = escalations.get_agent(body.agent, session=writer.session)
        escalations.hand_back(
            escalation, agent, body.message, session=writer.session, rasa=rasa, idempotency_key=writer.key
        )
        return _detail(escalation, writer.session, _minutes_per_case(writer.request))

    return _delivering(lambda: writer.run(body.dict(), 200, action))
