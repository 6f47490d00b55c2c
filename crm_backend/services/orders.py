"""Orders: ownership-checked look-ups, money arithmetic, cancellation, shipping address changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from crm_backend.db import Order, Refund
from crm_backend.errors import DomainError, not_found
from crm_backend.policies import Policies
from crm_backend.services import audit
from crm_backend.services.money import paid_pence
from crm_backend.services.references import new_refund_reference
from crm_backend.util import add_working_days, normalise_order_number, pence_to_pounds, utcnow

SHIPPED_STATUSES = ("shipped", "delivered", "returned")
DETAIL_RELATIONS = (Order.items, Order.shipment, Order.payment, Order.invoice, Order.refunds)


def get_order(customer_id: int, order_number: str, *, session: Session, for_update: bool = False) -> Order:
    """The customer's order; 404 if it does not exist *or* belongs to someone else.

    ``for_update``: writes lock the order row until they commit (PostgreSQL ``SELECT ... FOR UPDATE``), so two
    concurrent cancellations or refunds of one order run one after the other and the second sees the first's
    result; without it both read the same state and both write. SQLite ignores it (it has one writer at a time).
    """
    number = normalise_order_number(order_number)
    query = select(Order).where(Order.order_number == number, Order.customer_id == customer_id)
    if for_update:
        query = query.with_for_update()
    else:  # a read: the order with everything its detail view shows in one round trip, not six lazy loads
        query = query.options(*(joinedload(rel) for rel in DETAIL_RELATIONS))
    order = session.execute(query).unique().scalar_one_or_none()
    if order is None:
        raise not_found("order", order_number=number)
    return order


def list_orders(customer_id: int, *, session: Session, limit: int = 10) -> list[Order]:
    return list(
        session.execute(
            select(Order)
            .where(Order.customer_id == customer_id)
            .options(selectinload(Order.items))
            .order_by(Order.placed_at.desc(), Order.id.desc())
            .limit(limit)
        ).scalars()
    )


@dataclass(frozen=True)
class CancellationQuote:
    cancellable: bool
    code: str | None
    message: str
    fee_pence: int
    refund_pence: int
    payment_outcome: str


def quote_cancellation(order: Order, *, policies: Policies) -> CancellationQuote:
    rules = policies.cancellation
    if order.status == "cancelled":
        return CancellationQuote(False, "order_already_cancelled", "This order has already been cancelled.", 0, 0, "")
    if order.status in SHIPPED_STATUSES:
        return CancellationQuote(
            False,
            "order_already_shipped",
            "This order has already shipped, so it can't be cancelled. You can return it for a refund instead.",
            0,
            0,
            "",
        )
    if order.status not in rules.cancellable_statuses:
        return CancellationQuote(False, "order_not_cancellable", "This order can't be cancelled.", 0, 0, "")
    paid = paid_pence(order)
    fee = min(rules.fee_pence(order.status), paid) if paid else 0
    refund = max(paid - fee, 0)
    if paid:
        method = policies.method_name(order.payment.method)
        outcome = (
            f"We'll refund £{pence_to_pounds(refund):.2f} to your original payment method ({method}) "
            f"within {rules.refund_working_days} working days."
        )
        if fee:
            outcome = f"A £{pence_to_pounds(fee):.2f} cancellation fee applies. " + outcome
    else:
        outcome = "You haven't been charged for this order, so there is nothing to refund."
    fee_text = f" for a £{pence_to_pounds(fee):.2f} fee" if fee else " free of charge"
    return CancellationQuote(True, None, f"This order can be cancelled{fee_text}.", fee, refund, outcome)


def cancel_order(
    order: Order,
    *,
    session: Session,
    policies: Policies,
    reason: str,
    actor: str,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> CancellationQuote:
    """Cancel the order, refunding a paid one (total minus fee) as an approved refund."""
    quote = quote_cancellation(order, policies=policies)
    if not quote.cancellable:
        raise DomainError(
            409,
            quote.code or "order_not_cancellable",
            quote.message,
            {"order_number": order.order_number, "status": order.status},
        )
    now = now or utcnow()
    before = audit.order_snapshot(order)
    order.status = "cancelled"
    order.cancelled_at = now
    order.cancel_reason = reason[:200]
    if order.invoice is not None and order.invoice.status == "open":
        order.invoice.status = "void"
    if quote.refund_pence > 0:
        refund = Refund(
            reference=new_refund_reference(session=session),
            order=order,
            amount_pence=quote.refund_pence,
            reason=f"Order cancelled: {reason}"[:500],
            status="approved",
            created_at=now,
            expected_by=add_working_days(now, policies.refunds.processing_working_days),
        )
        session.add(refund)
        order.payment.status = "refunded" if quote.fee_pence == 0 else "partially_refunded"
        session.flush()
        audit.record(
            session=session,
            actor=actor,
            action="refund.create",
            entity="refund",
            entity_id=refund.reference,
            after={"order_number": order.order_number, "amount_pence": refund.amount_pence, "status": "approved"},
            idempotency_key=idempotency_key,
        )
    elif order.payment is not None and order.payment.status == "pending":
        order.payment.status = "voided"
    audit.record(
        session=session,
        actor=actor,
        action="order.cancel",
        entity="order",
        entity_id=order.order_number,
        before=before,
        after={
            **audit.order_snapshot(order),
            "fee_pence": quote.fee_pence,
            "refund_pence": quote.refund_pence,
            "reason": reason,
        },
        idempotency_key=idempotency_key,
    )
    session.flush()
    return quote


def change_shipping_address(
    order: Order,
    *,
    session: Session,
    policies: Policies,
    line1: str,
    line2: str | None,
    city: str,
    postcode: str,
    country: str,
    actor: str,
    idempotency_key: str | None = None,
) -> Order:
    if order.status in SHIPPED_STATUSES:
        raise DomainError(
            409,
            "order_already_shipped",
            "This order has already shipped, so I can't change its delivery address.",
            {"order_number": order.order_number, "status": order.status},
        )
    if order.status not in policies.shipping_address.editable_statuses:
        raise DomainError(
            409,
            "order_not_editable",
            "The delivery address of this order can't be changed any more.",
            {"order_number": order.order_number, "status": order.status},
        )
    before = audit.order_snapshot(order)
    order.ship_line1, order.ship_line2, order.ship_city = line1, line2, city
    order.ship_postcode, order.ship_country = postcode, country
    audit.record(
        session=session,
        actor=actor,
        action="order.change_address",
        entity="order",
        entity_id=order.order_number,
        before=before,
        after=audit.order_snapshot(order),
        idempotency_key=idempotency_key,
    )
    session.flush()
    return order
