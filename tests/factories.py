"""Plain factory functions for tests: rows with sensible defaults, flushed (ids assigned), not committed."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from crm_backend.db import Customer, Invoice, Order, OrderItem, Payment, Product, Refund, Shipment
from crm_backend.services.grants import GrantPolicy

_seq = itertools.count(1)


def make_product(session: Session, *, price_pence: int = 2500, name: str = "Test Product") -> Product:
    n = next(_seq)
    product = Product(sku=f"TST-{n:05d}", name=name, category="test", price_pence=price_pence)
    session.add(product)
    session.flush()
    return product


def make_customer(
    session: Session,
    *,
    first_name: str = "Test",
    last_name: str = "Customer",
    email: str | None = None,
    postcode: str = "SW1A 1AA",
    segment: str = "standard",
) -> Customer:
    n = next(_seq)
    customer = Customer(
        first_name=first_name,
        last_name=last_name,
        email=(email or f"test{n}@example.com").lower(),
        postcode=postcode,
        segment=segment,
        created_at=datetime.utcnow() - timedelta(days=365),
    )
    session.add(customer)
    session.flush()
    return customer


def make_order(
    session: Session,
    customer: Customer,
    *,
    status: str = "paid",
    total_pence: int = 5000,
    order_number: str | None = None,
    placed_days_ago: float = 10,
    delivered_days_ago: float | None = None,
    paid: bool | None = None,
    method: str = "card",
    with_invoice: bool = True,
) -> Order:
    """An order with one item, a payment (captured unless pending) and a shipment for shipped states."""
    n = next(_seq)
    now = datetime.utcnow()
    placed = now - timedelta(days=placed_days_ago)
    product = make_product(session, price_pence=total_pence)
    order = Order(
        order_number=order_number or str(900000 + n),
        customer_id=customer.id,
        status=status,
        placed_at=placed,
        total_pence=total_pence,
        shipping_pence=0,
        ship_line1="1 Test Street",
        ship_city="London",
        ship_postcode=customer.postcode,
        ship_country="GB",
    )
    session.add(order)
    session.flush()
    session.add(
        OrderItem(
            order_id=order.id,
            product_id=product.id,
            sku=product.sku,
            name=product.name,
            quantity=1,
            unit_price_pence=total_pence,
        )
    )
    charged = paid if paid is not None else status != "pending"
    session.add(
        Payment(
            order_id=order.id,
            method=method,
            status="captured" if charged else "pending",
            amount_pence=total_pence,
            paid_at=placed if charged else None,
        )
    )
    if charged and with_invoice:
        session.add(
            Invoice(
                invoice_number=f"INV-{order.order_number}",
                order_id=order.id,
                amount_pence=total_pence,
                status="paid",
                issued_at=placed,
            )
        )
    if status in ("shipped", "delivered", "returned"):
        if delivered_days_ago is None and status != "shipped":
            delivered_days_ago = 2
        delivered = None if status == "shipped" else now - timedelta(days=delivered_days_ago or 0)
        session.add(
            Shipment(
                order_id=order.id,
                carrier="DPD",
                tracking_number=f"DP{order.order_number}",
                status="in_transit" if delivered is None else "delivered",
                shipped_at=placed + timedelta(days=1),
                eta=(placed + timedelta(days=4)).date(),
                delivered_at=delivered,
                delay_days=0,
            )
        )
    session.flush()
    session.refresh(order)
    return order


def make_refund(
    session: Session, order: Order, *, amount_pence: int, status: str = "approved", reference: str | None = None
) -> Refund:
    n = next(_seq)
    refund = Refund(
        reference=reference or f"RF-{500000 + n}",
        order_id=order.id,
        amount_pence=amount_pence,
        reason="test",
        status=status,
        created_at=datetime.utcnow(),
    )
    session.add(refund)
    session.flush()
    session.refresh(order)
    return refund


def grant_headers(
    customer_id: int,
    *,
    secret: str = "dev-grant-secret-not-for-production",
    strength: str = "one_time_code",
    conversation_id: str = "test-conversation",
    channel: str = "rest",
) -> dict[str, str]:
    """The headers of a customer-scoped CRM call from a conversation holding the CRM's grant for ``customer_id``."""
    policy = GrantPolicy(secret, idle=timedelta(minutes=30), absolute=timedelta(hours=8))
    token, _ = policy.issue(
        customer_id=customer_id, conversation_id=conversation_id, channel=channel, strength=strength
    )
    return {"X-Identity-Grant": token, "X-Conversation-Id": conversation_id, "X-Channel": channel}
