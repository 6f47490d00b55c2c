"""Audit log writes: one row per state change, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crm_backend.db import AuditLog, Order
from crm_backend.util import utcnow


def record(
    *,
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> AuditLog:
    row = AuditLog(
        at=utcnow(),
        actor=actor,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=before,
        after=after,
        idempotency_key=idempotency_key,
    )
    session.add(row)
    return row


def order_snapshot(order: Order) -> dict[str, Any]:
    """The audited state of an order."""
    return {
        "order_number": order.order_number,
        "status": order.status,
        "shipping_address": {
            "line1": order.ship_line1,
            "line2": order.ship_line2,
            "city": order.ship_city,
            "postcode": order.ship_postcode,
            "country": order.ship_country,
        },
        "payment_status": order.payment.status if order.payment else None,
    }
