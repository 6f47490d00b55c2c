"""Refunds: eligibility, creation (approved at once or sent to review), look-ups.

A refund is approved at once only while the order's refunds and the customer's refunds of the last 30 days, this one
included, stay within the limits of ``policies.yml`` (``refunds.auto_approve_limit``, ``auto_approve_customer_30d``);
otherwise it is created ``pending_review``. Both totals count every refund asked for, rejected ones included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from crm_backend.db import Customer, Order, Refund
from crm_backend.errors import DomainError, not_found
from crm_backend.policies import Policies
from crm_backend.services import audit
from crm_backend.services.money import paid_pence, refunded_pence
from crm_backend.services.references import new_refund_reference
from crm_backend.util import add_working_days, pence_to_pounds, pounds_to_pence, utcnow


@dataclass(frozen=True)
class RefundQuote:
    eligible: bool
    code: str | None
    message: str
    max_pence: int
    window_ends: date | None
    auto_approve_limit_pence: int  # the most a refund asked for now may be and still be approved at once


def auto_approve_headroom_pence(order: Order, *, session: Session, policies: Policies, now: datetime) -> int:
    """How much more may be refunded on ``order`` at once: the room left under the order's limit and under the
    customer's 30-day limit, whichever is smaller (never below 0)."""
    rules = policies.refunds
    on_order = sum(r.amount_pence for r in order.refunds)
    recent = session.execute(
        select(func.coalesce(func.sum(Refund.amount_pence), 0))
        .join(Order)
        .where(
            Order.customer_id == order.customer_id,
            Order.status.in_(rules.eligible_statuses),
            Refund.created_at > now - rules.customer_window,
        )
    ).scalar_one()
    room = min(rules.auto_approve_limit_pence - on_order, rules.auto_approve_customer_30d_pence - int(recent))
    return max(room, 0)


def refund_quote(order: Order, *, policies: Policies, now: datetime | None = None) -> RefundQuote:
    """What may be refunded on ``order`` (read in the order's own session) and how much of it at once."""

    rules = policies.refunds
    now = now or utcnow()
    today = now.date()
    # nothing may be refunded from an ineligible order, so nothing at once either: the 30-day total (a query on the
    # order look-up's path) is read only for an order that can be refunded
    limit = 0
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
    session = object_session(order)
    if session is None:
        raise RuntimeError(f"order {order.order_number} is not attached to a session")
    return RefundQuote(
        True,
        None,
        f"You can get a refund of up to £{pence_to_pounds(left):.2f} for this order.",
        left,
        window_ends,
        auto_approve_headroom_pence(order, session=session, policies=policies, now=now),
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
    # The caller holds the order's row lock; the customer's row lock makes concurrent refunds on their other orders
    # wait too, so the 30-day total is read after theirs (PostgreSQL; SQLite has one writer at a time).
    session.execute(select(Customer.id).where(Customer.id == order.customer_id).with_for_update())
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
    approved = pence <= quote.auto_approve_limit_pence
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
