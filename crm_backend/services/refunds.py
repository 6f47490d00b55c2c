"""Refunds: eligibility, creation (auto-approve vs review), look-ups."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_backend.db import Order, Refund, Ticket
from crm_backend.errors import DomainError, not_found
from crm_backend.policies import Policies
from crm_backend.services import audit
from crm_backend.util import add_working_days, pence_to_pounds, pounds_to_pence, utcnow


def _new_reference(prefix: str, model: type[Refund] | type[Ticket], *, session: Session) -> str:
    for _ in range(50):
        reference = f"{prefix}-{secrets.randbelow(900000) + 100000}"
        exists = session.execute(select(model.id).where(model.reference == reference)).first()
        if exists is None:
            return reference
    raise RuntimeError(f"could not find a free {prefix} reference")


def new_refund_reference(*, session: Session) -> str:
    return _new_reference("RF", Refund, session=session)


def new_ticket_reference(*, session: Session) -> str:
    return _new_reference("TK", Ticket, session=session)


@dataclass(frozen=True)
class RefundQuote:
    eligible: bool
    code: str | None
    message: str
    max_pence: int
    window_ends: date | None
    auto_approve_limit_pence: int


def refund_quote(order: Order, *, policies: Policies, now: datetime | None = None) -> RefundQuote:
    from crm_backend.services.orders import paid_pence, refunded_pence

    rules = policies.refunds
    today = (now or utcnow()).date()
    limit = rules.auto_approve_limit_pence
    if order.status not in rules.eligible_statuses:
        return RefundQuote(
            False,
            "refund_not_eligible_status",
            "Refunds are only possible once an order has been delivered or returned.",
            0,
            None,
            limit,
        )
    delivered_at = order.shipment.delivered_at if order.shipment is not None else None
    window_ends = (delivered_at.date() if delivered_at else order.placed_at.date()) + timedelta(days=rules.window_days)
    if today > window_ends:
        return RefundQuote(
            False,
            "refund_window_expired",
            f"Sorry, the {rules.window_days}-day refund window for this order ended on "
            f"{window_ends.strftime('%d %B %Y')}.",
            0,
            window_ends,
            limit,
        )
    left = max(paid_pence(order) - refunded_pence(order), 0)
    if left <= 0:
        return RefundQuote(
            False,
            "nothing_left_to_refund",
            "This order has already been refunded in full.",
            0,
            window_ends,
            limit,
        )
    return RefundQuote(
        True,
        None,
        f"You can get a refund of up to £{pence_to_pounds(left):.2f} for this order.",
        left,
        window_ends,
        limit,
    )


def create_refund(
    order: Order,
    *,
    session: Session,
    policies: Policies,
    amount: float,
    reason: str,
    actor: str,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Refund:
    now = now or utcnow()
    quote = refund_quote(order, policies=policies, now=now)
    if not quote.eligible:
        raise DomainError(
            409,
            quote.code or "refund_not_eligible_status",
            quote.message,
            {"order_number": order.order_number, "status": order.status},
        )
    pence = pounds_to_pence(amount)
    if pence is None or pence <= 0:
        raise DomainError(
            422,
            "invalid_amount",
            "The refund amount must be a positive amount in pounds and pence.",
            {"amount": amount},
        )
    if pence > quote.max_pence:
        raise DomainError(
            422,
            "refund_amount_too_high",
            f"The most I can refund for this order is £{pence_to_pounds(quote.max_pence):.2f}.",
            {"max_amount": pence_to_pounds(quote.max_pence)},
        )
    rules = policies.refunds
    approved = pence <= rules.auto_approve_limit_pence
    days = rules.processing_working_days + (0 if approved else rules.review_working_days)
    refund = Refund(
        reference=new_refund_reference(session=session),
        order=order,
        amount_pence=pence,
        reason=reason[:500],
        status="approved" if approved else "pending_review",
        created_at=now,
        expected_by=add_working_days(now, days),
    )
    session.add(refund)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="refund.create",
        entity="refund",
        entity_id=refund.reference,
        after={
            "order_number": order.order_number,
            "amount_pence": pence,
            "status": refund.status,
            "reason": refund.reason,
        },
        idempotency_key=idempotency_key,
    )
    return refund


def list_refunds(customer_id: int, *, session: Session) -> list[Refund]:
    return list(
        session.execute(
            select(Refund)
            .join(Order)
            .where(Order.customer_id == customer_id)
            .order_by(Refund.created_at.desc(), Refund.id.desc())
        ).scalars()
    )


def get_refund(customer_id: int, reference: str, *, session: Session) -> Refund:
    refund = session.execute(
        select(Refund)
        .join(Order)
        .where(Refund.reference == reference.strip().upper(), Order.customer_id == customer_id)
    ).scalar_one_or_none()
    if refund is None:
        raise not_found("refund", reference=reference)
    return refund
