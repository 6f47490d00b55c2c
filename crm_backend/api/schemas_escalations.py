"""Pydantic (v1) schemas of the escalation endpoints (contract: docs/crm_api.md, "Escalations")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class EscalationCreate(BaseModel):
    """What the assistant sends (fast path) and stores in the ``escalation_request`` slot (relay)."""

    conversation_id: str = Field(..., min_length=1, max_length=100)
    channel: str = Field(..., min_length=1, max_length=30)
    customer_id: int | None = Field(None, ge=1, le=2_147_483_647)
    priority: int = Field(..., ge=0, le=100)
    reason_codes: list[str] = Field(default_factory=list)
    summary: str = Field("", max_length=4000)
    suggested_action: str = Field("", max_length=4000)
    scores: dict[str, Any] = Field(default_factory=dict, description="sentiment_last, churn_probability, ...")
    packet: dict[str, Any] = Field(default_factory=dict, description="context for the agent, shown as-is")
    identity_grant: str | None = Field(
        None, max_length=2000, description="the conversation's identity grant: without it customer_id is not kept"
    )


class EscalationCreated(BaseModel):
    id: int
    status: str
    priority: int
    position: int = Field(..., description="1-based place in the open queue; 0 when no longer open")
    expected_wait_minutes: int


class EscalationMessagePublic(BaseModel):
    id: int
    sender: str  # customer / agent / note
    text: str
    sentiment: float | None
    agent: str | None  # username
    delivered: bool
    created_at: datetime


class EscalationItem(BaseModel):
    id: int
    conversation_id: str
    channel: str | None
    customer_id: int | None
    status: str
    priority: int
    reason_codes: list[str]
    summary: str | None
    created_at: datetime
    claimed_at: datetime | None
    agent: str | None  # username of the claiming agent
    waiting_seconds: int = Field(..., description="from creation until claimed (or until now while open)")
    last_customer_message_at: datetime | None


class EscalationDetail(EscalationItem):
    suggested_action: str | None
    scores: dict[str, Any]
    packet: dict[str, Any]
    verdict: str | None
    resolved_at: datetime | None
    handed_back_at: datetime | None
    csat: int | None
    position: int
    expected_wait_minutes: int
    messages: list[EscalationMessagePublic]


class AgentAction(BaseModel):
    agent: str = Field(..., min_length=1, max_length=60, description="username of the acting agent")


class AgentText(AgentAction):
    text: str = Field(..., min_length=1, max_length=4000)


class ResolveRequest(AgentAction):
    verdict: Literal["justified", "unnecessary", "too_late"]


class HandBackRequest(AgentAction):
    message: str | None = Field(None, max_length=1000)


class CsatAnswer(BaseModel):
    """The customer's rating after a hand-back (sent by the assistant's ``action_record_csat``)."""

    conversation_id: str = Field(..., min_length=1, max_length=100)
    score: int = Field(..., ge=1, le=5)


class CsatRecorded(BaseModel):
    escalation_id: int
    csat: int
