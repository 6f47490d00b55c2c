"""Fixed demo personas, created first by every seed (idempotently, keyed by e-mail).

Dates are relative to the reference date ``today`` (midnight UTC). Totals include delivery
(standard delivery costs £3.95 under £50).

Alice Martin   alice.martin@example.com   SW1A 1AA   (1 Parliament Street, London)
  10001 shipped    £54.99   placed 3 days ago, DPD, eta tomorrow
  10002 paid       £65.00   placed yesterday
  10003 delivered  £149.00  delivered 5 days ago, paid by card, no refunds (over the £100 auto-approve limit)
  10004 packed     £64.90   PayPal (cancelling costs the £4.95 packed fee)
  10005 pending    £23.94   Klarna, not charged yet
  10006 delivered  £52.00   delivered 60 days ago (outside the 30-day refund window)
  10007 cancelled  £28.95   cancelled 20 days ago, refunded in full
  10008 delivered  £43.94   delivered 12 days ago, 3 days late (Evri), no refunds (under the limit)
Ben Okafor     ben.okafor@example.com     M1 1AE     (22 Deansgate, Manchester)
  10011 shipped    £89.99   Evri, eta 2 days ago, running 2 days late
  10012 delivered  £89.50   delivered 3 days ago
  10013 paid       £120.00  placed yesterday
  10014 delivered  £43.94   delivered 45 days ago, arrived damaged, refunded in full (RF-…), complaint ticket
Chloe Nguyen   chloe.nguyen@example.com   EH1 1YZ    (5 Royal Mile, Edinburgh)
  10021 delivered  £210.00  delivered 2 days ago (DHL)
  10022 returned   £59.99   delivered 20 days ago, returned, refunded in full
Dan Reyes      dan.reyes@example.com      LS1 4AP    (8 Park Row, Leeds): valuable, at risk of churning
  10031 paid, placed today; 10032-10040 three years of orders, the recent ones late, damaged or refunded,
  three complaints in the last 100 days
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_backend.db import (
    Address,
    Customer,
    Invoice,
    Order,
    OrderItem,
    Payment,
    Product,
    Refund,
    Shipment,
    Ticket,
)
from crm_backend.seeding.catalogue import ensure_catalogue
from crm_backend.seeding.shipping import shipping_fee
from crm_backend.services.customers import find_by_email
from crm_backend.util import scrambled_number

# (number, status, placed_days_ago, [(sku, qty)], method, shipment, refund)
#   shipment: (carrier, shipped_days_ago, eta_days_from_today, delivered_days_ago | None, delay_days)
#   refund:   (index, reason, status, days_ago)  -- full amount
OrderSpec = tuple[str, str, float, list[tuple[str, int]], str, tuple | None, tuple | None]

PERSONAS: list[dict[str, Any]] = [
    {
        "first_name": "Alice",
        "last_name": "Martin",
        "email": "alice.martin@example.com",
        "postcode": "SW1A 1AA",
        "phone": "07700900001",
        "segment": "premium",
        "tenure_days": 900,
        "address": ("1 Parliament Street", None, "London"),
        "orders": [
            ("10001", "shipped", 3, [("ELE-001", 1)], "card", ("DPD", 2, 1, None, 0), None),
            ("10002", "paid", 0.25, [("HOM-001", 2)], "card", None, None),
            ("10003", "delivered", 8, [("KIT-001", 1)], "card", ("Royal Mail", 7, -5, 5, 0), None),
            ("10004", "packed", 1, [("CLO-001", 1)], "paypal", None, None),
            ("10005", "pending", 0.1, [("HOM-002", 1)], "klarna", None, None),
            ("10006", "delivered", 64, [("HOM-003", 1)], "card", ("DPD", 63, -60, 60, 0), None),
            (
                "10007",
                "cancelled",
                21,
                [("TOY-001", 1)],
                "card",
                None,
                (1, "Order cancelled: changed my mind", "paid", 20),
            ),
            ("10008", "delivered", 18, [("ELE-002", 1)], "paypal", ("Evri", 17, -15, 12, 3), None),
        ],
        "tickets": [],
    },
    {
        "first_name": "Ben",
        "last_name": "Okafor",
        "email": "ben.okafor@example.com",
        "postcode": "M1 1AE",
        "phone": "07700900002",
        "segment": "standard",
        "tenure_days": 400,
        "address": ("22 Deansgate", "Flat 4", "Manchester"),
        "orders": [
            ("10011", "shipped", 8, [("KIT-003", 1)], "card", ("Evri", 7, -2, None, 2), None),
            ("10012", "delivered", 6, [("CLO-002", 1)], "card", ("Royal Mail", 5, -3, 3, 0), None),
            ("10013", "paid", 0.5, [("ELE-003", 1)], "card", None, None),
            (
                "10014",
                "delivered",
                50,
                [("KIT-002", 1)],
                "gift_card",
                ("Evri", 49, -46, 45, 1),
                (2, "Arrived damaged: the lid is cracked", "paid", 43),
            ),
        ],
        "tickets": [
            (1, "complaint", "email", 44, "Kettle 10014 arrived with a cracked lid, a day late.", "resolved"),
            (2, "inquiry", "chat", 1, "Asked where order 10011 is; tracking has not moved.", "open"),
        ],
    },
    {
        "first_name": "Chloe",
        "last_name": "Nguyen",
        "email": "chloe.nguyen@example.com",
        "postcode": "EH1 1YZ",
        "phone": "07700900003",
        "segment": "standard",
        "tenure_days": 200,
        "address": ("5 Royal Mile", None, "Edinburgh"),
        "orders": [
            ("10021", "delivered", 5, [("KIT-004", 1)], "card", ("DHL", 4, -2, 2, 0), None),
            (
                "10022",
                "returned",
                25,
                [("CLO-003", 1)],
                "paypal",
                ("Royal Mail", 24, -21, 20, 0),
                (3, "Returned: wrong size", "paid", 15),
            ),
        ],
        "tickets": [(3, "inquiry", "web", 19, "How do I return a dress that doesn't fit?", "resolved")],
    },
    {
        # a long-standing, valuable customer whose recent experience went wrong: the churn model rates him at risk
        "first_name": "Dan",
        "last_name": "Reyes",
        "email": "dan.reyes@example.com",
        "postcode": "LS1 4AP",
        "phone": "07700900004",
        "segment": "premium",
        "tenure_days": 1100,
        "address": ("8 Park Row", None, "Leeds"),
        "orders": [
            ("10031", "paid", 0.3, [("ELE-001", 2)], "card", None, None),
            ("10032", "delivered", 40, [("ELE-003", 1)], "card", ("Evri", 39, -34, 30, 5), None),
            (
                "10033",
                "returned",
                75,
                [("KIT-001", 1)],
                "card",
                ("Evri", 74, -70, 66, 4),
                (4, "Returned: arrived damaged", "paid", 60),
            ),
            ("10034", "delivered", 110, [("HOM-003", 2)], "card", ("Evri", 109, -104, 100, 5), None),
            (
                "10035",
                "delivered",
                150,
                [("ELE-002", 2)],
                "card",
                ("DPD", 149, -145, 141, 4),
                (5, "Partial: one item missing", "paid", 135),
            ),
            ("10036", "cancelled", 170, [("CLO-001", 1)], "card", None, (6, "Cancelled: too slow", "paid", 169)),
            ("10037", "delivered", 260, [("KIT-003", 2)], "card", ("Royal Mail", 259, -256, 256, 0), None),
            ("10038", "delivered", 380, [("ELE-003", 2)], "card", ("DPD", 379, -376, 376, 0), None),
            ("10039", "delivered", 520, [("KIT-004", 2)], "card", ("DHL", 519, -517, 517, 0), None),
            ("10040", "delivered", 700, [("ELE-001", 3)], "card", ("DPD", 699, -697, 697, 0), None),
            (
                "10041",
                "delivered",
                25,
                [("HOM-001", 2)],
                "card",
                ("Evri", 24, -20, 14, 6),
                (7, "Arrived damaged again", "paid", 12),
            ),
            (
                "10042",
                "cancelled",
                55,
                [("KIT-002", 1)],
                "card",
                None,
                (8, "Cancelled: delivery date slipped", "paid", 54),
            ),
        ],
        "tickets": [
            (4, "complaint", "email", 28, "Order 10032 was five days late again.", "resolved"),
            (5, "complaint", "chat", 64, "Kettle 10033 arrived smashed. Third problem this year.", "resolved"),
            (6, "complaint", "phone", 100, "Delivery 10034 late, nobody told me.", "resolved"),
            (
                7,
                "complaint",
                "email",
                12,
                "Towels 10041 arrived torn and six days late. Considering shopping elsewhere.",
                "open",
            ),
            (8, "complaint", "chat", 50, "Had to cancel 10042, the delivery date kept slipping.", "resolved"),
            (9, "complaint", "email", 5, "Still waiting for a reply about the torn towels.", "open"),
            (10, "complaint", "chat", 38, "Order 10032 late again; this keeps happening.", "resolved"),
        ],
    },
]


def _add_order(
    session: Session, customer: Customer, spec: OrderSpec, ref: datetime, products: dict[str, Product]
) -> None:
    number, status, placed_ago, lines, method, ship, refund = spec
    placed = ref - timedelta(days=placed_ago)
    items_total = sum(products[sku].price_pence * qty for sku, qty in lines)
    shipping = shipping_fee(items_total)
    total = items_total + shipping
    order = Order(
        order_number=number,
        customer=customer,
        status=status,
        placed_at=placed,
        total_pence=total,
        shipping_pence=shipping,
        delivery_option="standard",
        ship_line1=customer.addresses[0].line1,
        ship_line2=customer.addresses[0].line2,
        ship_city=customer.addresses[0].city,
        ship_postcode=customer.postcode,
        ship_country="GB",
    )
    session.add(order)
    for sku, qty in lines:
        product = products[sku]
        session.add(
            OrderItem(
                order=order,
                product_id=product.id,
                sku=sku,
                name=product.name,
                quantity=qty,
                unit_price_pence=product.price_pence,
            )
        )
    charged = status != "pending"
    pay_status = "captured"
    if status == "cancelled":
        order.cancelled_at = placed + timedelta(hours=20)
        order.cancel_reason = "changed my mind"
        pay_status = "refunded"
    elif refund is not None:
        pay_status = "refunded"
    session.add(
        Payment(
            order=order,
            method=method,
            status=pay_status if charged else "pending",
            amount_pence=total,
            paid_at=placed + timedelta(minutes=2) if charged else None,
        )
    )
    if charged:
        session.add(
            Invoice(
                invoice_number=f"INV-{number}",
                order=order,
                amount_pence=total,
                status="void" if status == "cancelled" else "paid",
                issued_at=placed + timedelta(minutes=5),
            )
        )
    if ship is not None:
        carrier, shipped_ago, eta_in, delivered_ago, delay = ship
        session.add(
            Shipment(
                order=order,
                carrier=carrier,
                tracking_number=f"{carrier[:2].upper()}{number}GB",
                status={"shipped": "in_transit", "returned": "returned"}.get(status, "delivered"),
                shipped_at=ref - timedelta(days=shipped_ago) + timedelta(hours=9),
                eta=(ref + timedelta(days=eta_in)).date(),
                delivered_at=None
                if delivered_ago is None
                else ref - timedelta(days=delivered_ago) + timedelta(hours=14),
                delay_days=delay,
            )
        )
    if refund is not None:
        index, reason, refund_status, days_ago = refund
        created = ref - timedelta(days=days_ago) + timedelta(hours=10)
        session.add(
            Refund(
                reference=f"RF-{scrambled_number(index)}",
                order=order,
                amount_pence=total,
                reason=reason,
                status=refund_status,
                created_at=created,
                expected_by=(created + timedelta(days=7)).date(),
            )
        )


def ensure_personas(*, session: Session, today: datetime) -> int:
    """Create the personas that are missing; returns how many were created."""
    ensure_catalogue(session=session)
    products = {p.sku: p for p in session.execute(select(Product)).scalars()}
    ref = datetime(today.year, today.month, today.day)
    created = 0
    for persona in PERSONAS:
        if find_by_email(persona["email"], session=session) is not None:
            continue
        customer = Customer(
            first_name=persona["first_name"],
            last_name=persona["last_name"],
            email=persona["email"],
            phone=persona["phone"],
            postcode=persona["postcode"],
            segment=persona["segment"],
            created_at=ref - timedelta(days=persona["tenure_days"]),
        )
        line1, line2, city = persona["address"]
        customer.addresses.append(Address(line1=line1, line2=line2, city=city, postcode=persona["postcode"]))
        session.add(customer)
        for spec in persona["orders"]:
            _add_order(session, customer, spec, ref, products)
        session.flush()
        for index, topic, channel, days_ago, summary, status in persona["tickets"]:
            session.add(
                Ticket(
                    reference=f"TK-{scrambled_number(index, salt=1)}",
                    customer_id=customer.id,
                    conversation_id=f"seed-persona-{index}",
                    channel=channel,
                    topic=topic,
                    summary=summary,
                    status=status,
                    created_at=ref - timedelta(days=days_ago) + timedelta(hours=11),
                )
            )
        session.flush()
        created += 1
    return created


def persona_emails() -> list[str]:
    return [p["email"] for p in PERSONAS]
