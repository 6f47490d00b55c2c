"""Policies and tickets."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from crm_backend.api import schemas as s
from crm_backend.api import views
from crm_backend.api.deps import PoliciesDep, WriterDep
from crm_backend.errors import not_found
from crm_backend.services import tickets
from crm_backend.services.grants import vouch

router = APIRouter()


@router.get("/policies", response_model=dict[str, s.PolicyTopic], tags=["policies"])
def all_policies(policies: PoliciesDep) -> dict[str, dict[str, str]]:
    return policies.rendered_topics()


@router.get("/policies/{topic}", response_model=s.PolicyPublic, tags=["policies"])
def one_policy(topic: str, policies: PoliciesDep) -> s.PolicyPublic:
    topics = policies.rendered_topics()
    if topic not in topics:
        raise not_found("policy", topic=topic, topics=sorted(topics))
    return s.PolicyPublic(topic=topic, **topics[topic])


@router.post("/tickets", response_model=s.TicketPublic, status_code=201, tags=["tickets"])
def create_ticket(body: s.TicketCreate, writer: WriterDep) -> JSONResponse:
    # a ticket names a customer only on the CRM's grant for this conversation (a complaint counts towards theirs)
    customer_id, _ = vouch(
        writer.request.app.state.grants,
        body.identity_grant,
        customer_id=body.customer_id,
        conversation_id=body.conversation_id,
        packet={},
    )

    def action() -> s.TicketPublic:
        ticket = tickets.create_ticket(
            session=writer.session,
            customer_id=customer_id,
            conversation_id=body.conversation_id,
            channel=body.channel,
            topic=body.topic,
            summary=body.summary,
            actor=writer.actor,
            idempotency_key=writer.key,
        )
        public = views.ticket_public(ticket)
        if ticket.topic == "complaint" and ticket.customer_id is not None:
            rules = writer.policies.complaints
            since = ticket.created_at - timedelta(days=rules.window_days)
            public.complaints_in_window = tickets.complaints_since(ticket.customer_id, since, session=writer.session)
            public.repeat_complaint = public.complaints_in_window >= rules.repeat_threshold
        return public

    return writer.run(body.dict(), 201, action)
