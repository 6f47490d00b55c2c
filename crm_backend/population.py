"""The simulated customer population: one customer at a time, rows appended to per-table lists.

Each customer has a hidden satisfaction that drops with bad experiences (late deliveries, damaged items,
complaints, cancellations) and recovers slowly with good ones. It drives both the order rate and a churn
hazard; when the hazard fires the customer churns (``churned_at``) and stops ordering.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

from crm_backend import seed_data as W
from crm_backend.util import scrambled_number

TABLES = (
    "customers",
    "addresses",
    "orders",
    "order_items",
    "shipments",
    "payments",
    "invoices",
    "refunds",
    "tickets",
)
FIRST_ORDER_NUMBER = 100001
PERSONA_REFS = 100  # scrambled reference indexes below this are reserved for the personas


class Population:
    """Generates rows for customers, appending them to per-table lists."""

    def __init__(self, rng: random.Random, ref: datetime, products: list[Any], ids: dict[str, int]) -> None:
        self.rng, self.ref, self.products, self.ids = rng, ref, products, ids
        self.rows: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
        self.order_seq = 0
        self.refund_seq = PERSONA_REFS
        self.ticket_seq = PERSONA_REFS

    def _id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def _postcode(self) -> tuple:
        rng = self.rng
        prefixes, city = rng.choice(W.AREAS)
        outward = f"{rng.choice(prefixes)}{rng.randint(1, 20)}"
        inward = f"{rng.randint(0, 9)}{rng.choice(W.POSTCODE_LETTERS)}{rng.choice(W.POSTCODE_LETTERS)}"
        return f"{outward} {inward}", city

    def customer(self) -> None:
        rng, ref = self.rng, self.ref
        cid = self._id("customers")
        first, last = rng.choice(W.FIRST_NAMES), rng.choice(W.LAST_NAMES)
        postcode, city = self._postcode()
        segment = rng.choices(("standard", "premium", "business"), (0.75, 0.2, 0.05))[0]
        signup = ref - timedelta(days=rng.uniform(1, 3 * 365), seconds=rng.randint(0, 86399))
        line1 = f"{rng.randint(1, 250)} {rng.choice(W.STREETS)}"
        self.rows["customers"].append(
            {
                "id": cid,
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}.{cid}@example.com".lower(),
                "phone": f"07{rng.randint(100000000, 999999999)}",
                "postcode": postcode,
                "segment": segment,
                "created_at": signup,
                "churned_at": None,
            }
        )
        self.rows["addresses"].append(
            {
                "id": self._id("addresses"),
                "customer_id": cid,
                "line1": line1,
                "line2": None,
                "city": city,
                "postcode": postcode,
                "country": "GB",
                "is_default": 1,
            }
        )
        rate = rng.lognormvariate(math.log(0.32), 0.6) / 30 * (1.6 if segment != "standard" else 1.0)
        sat = min(max(rng.gauss(0.72, 0.12), 0.05), 0.98)
        address = (line1, city, postcode)
        t = signup + timedelta(days=rng.expovariate(rate * 3))  # first order comes soon after signup
        while t < ref:
            hazard = 0.00035 * math.exp(7.0 * (0.65 - sat))
            sat = self.order(cid, t, address, sat)
            gap = rng.expovariate(max(rate * (0.3 + sat), 1e-4))
            if rng.random() < 1 - math.exp(-hazard * gap):
                churn = t + timedelta(days=rng.uniform(0.2, 1.0) * gap)
                if churn < ref:
                    self.rows["customers"][-1]["churned_at"] = churn
                    if rng.random() < 0.25:
                        self.ticket(cid, None, churn - timedelta(days=1), "account", rng.choice(W.ACCOUNT))
                break
            t += timedelta(days=gap)

    def order(self, cid: int, placed: datetime, address: tuple, sat: float) -> float:
        """Adds one order with its rows; returns the updated satisfaction."""
        rng, ref = self.rng, self.ref
        oid = self._id("orders")
        number = str(FIRST_ORDER_NUMBER + self.order_seq)
        self.order_seq += 1
        items_total = 0
        for _ in range(rng.choices((1, 2, 3, 4), (0.55, 0.28, 0.12, 0.05))[0]):
            pid, sku, name, price = rng.choice(self.products)
            qty = 1 if rng.random() < 0.85 else 2
            items_total += price * qty
            self.rows["order_items"].append(
                {
                    "id": self._id("order_items"),
                    "order_id": oid,
                    "product_id": pid,
                    "sku": sku,
                    "name": name,
                    "quantity": qty,
                    "unit_price_pence": price,
                }
            )
        express = rng.random() < 0.15
        shipping = 795 if express else (0 if items_total >= 5000 else 395)
        total = items_total + shipping
        age = (ref - placed).total_seconds() / 86400
        method = rng.choices(W.METHODS, W.METHOD_WEIGHTS)[0]
        carrier = rng.choices(W.CARRIERS, W.CARRIER_WEIGHTS)[0]
        status, cancelled_at, shipment = "delivered", None, None
        if rng.random() < 0.02 + 0.06 * (1 - sat):
            status, cancelled_at = "cancelled", placed + timedelta(hours=rng.uniform(1, 30))
            if cancelled_at > ref:
                cancelled_at = ref - timedelta(minutes=5)
            sat -= 0.02
        elif age < 0.5:
            status = "pending" if rng.random() < 0.4 else "paid"
        elif age < 2.0:
            status = rng.choice(("paid", "packed"))
        else:
            shipped_at = placed + timedelta(hours=rng.uniform(20, min(44.0, age * 24 - 1)))
            transit = 1 if express else rng.randint(3, 5)
            eta = (shipped_at + timedelta(days=transit)).date()
            late = rng.random() < W.CARRIER_LATE[carrier]
            delay = min(int(rng.expovariate(0.45)) + 1, 12) if late else 0
            arrival = datetime.combine(eta, datetime.min.time()) + timedelta(days=delay, hours=rng.uniform(8, 19))
            delivered_at: datetime | None = arrival
            if arrival >= ref:
                status, delivered_at = "shipped", None
                delay = max(0, (ref.date() - eta).days) if late else 0
            shipment = {
                "id": self._id("shipments"),
                "order_id": oid,
                "carrier": carrier,
                "tracking_number": f"{carrier[:2].upper()}{number}GB",
                "status": "in_transit",
                "shipped_at": shipped_at,
                "eta": eta,
                "delivered_at": delivered_at,
                "delay_days": delay,
            }
            if delivered_at is not None:
                shipment["status"] = "delivered"
                sat = self.after_delivery(cid, oid, number, total, delivered_at, delay, sat, shipment)
        charged = status != "pending"
        refunded_on_cancel = status == "cancelled" and rng.random() < 0.7
        pay_status = "captured" if charged else "pending"
        if status == "cancelled":
            pay_status = "refunded" if refunded_on_cancel else "voided"
            charged = refunded_on_cancel
        self.rows["payments"].append(
            {
                "id": self._id("payments"),
                "order_id": oid,
                "method": method,
                "status": pay_status,
                "amount_pence": total,
                "paid_at": placed + timedelta(minutes=2) if charged else None,
            }
        )
        if charged:
            self.rows["invoices"].append(
                {
                    "id": self._id("invoices"),
                    "invoice_number": f"INV-{number}",
                    "order_id": oid,
                    "amount_pence": total,
                    "status": "void" if status == "cancelled" else "paid",
                    "issued_at": placed + timedelta(minutes=5),
                }
            )
        if refunded_on_cancel and cancelled_at is not None:
            self.refund(oid, total, "Order cancelled", cancelled_at)
        if shipment is not None:
            if shipment["status"] == "returned":
                status = "returned"
            self.rows["shipments"].append(shipment)
        self.rows["orders"].append(
            {
                "id": oid,
                "order_number": number,
                "customer_id": cid,
                "status": status,
                "placed_at": placed,
                "total_pence": total,
                "shipping_pence": shipping,
                "delivery_option": "express" if express else "standard",
                "ship_line1": address[0],
                "ship_line2": None,
                "ship_city": address[1],
                "ship_postcode": address[2],
                "ship_country": "GB",
                "cancelled_at": cancelled_at,
                "cancel_reason": "Changed my mind" if cancelled_at else None,
            }
        )
        return min(max(sat, 0.0), 0.98)

    def after_delivery(
        self,
        cid: int,
        oid: int,
        number: str,
        total: int,
        delivered_at: datetime,
        delay: int,
        sat: float,
        shipment: dict[str, Any],
    ) -> float:
        rng = self.rng
        if delay:
            sat -= 0.04 + 0.015 * delay
            if rng.random() < 0.25 + 0.05 * delay:
                sat -= 0.05
                text = rng.choice(W.COMPLAINT_LATE).format(n=number, d=delay)
                self.ticket(cid, oid, delivered_at + timedelta(hours=rng.uniform(1, 48)), "complaint", text)
        else:
            sat += 0.015
        if rng.random() < 0.045:  # damaged / wrong item
            sat -= 0.1
            when = delivered_at + timedelta(days=rng.uniform(0.2, 6))
            if rng.random() < 0.65:
                self.ticket(cid, oid, when, "complaint", rng.choice(W.COMPLAINT_DAMAGED).format(n=number))
                sat -= 0.04
            if rng.random() < 0.5:
                shipment["status"] = "returned"
                self.refund(oid, total, "Returned: damaged or wrong item", when + timedelta(days=3))
            else:
                self.refund(oid, max(100, int(total * rng.uniform(0.2, 0.6))), "Partial refund: damaged item", when)
            sat += 0.03  # a refund repairs some of the damage
        elif rng.random() < 0.03:
            self.ticket(
                cid,
                oid,
                delivered_at - timedelta(days=rng.uniform(0.5, 2)),
                "inquiry",
                rng.choice(W.INQUIRIES).format(n=number),
            )
        return sat

    def refund(self, oid: int, amount: int, reason: str, created: datetime) -> None:
        if created >= self.ref:
            created = self.ref - timedelta(minutes=30)
        age = (self.ref - created).days
        if age < 3:
            status = "approved" if amount <= 10000 else "pending_review"
        else:
            status = "rejected" if self.rng.random() < 0.04 else "paid"
        self.rows["refunds"].append(
            {
                "id": self._id("refunds"),
                "reference": f"RF-{scrambled_number(self.refund_seq)}",
                "order_id": oid,
                "amount_pence": amount,
                "reason": reason,
                "status": status,
                "created_at": created,
                "expected_by": (created + timedelta(days=7)).date(),
            }
        )
        self.refund_seq += 1

    def ticket(self, cid: int, oid: int | None, created: datetime, topic: str, summary: str) -> None:
        if created >= self.ref:
            created = self.ref - timedelta(minutes=10)
        status = "resolved" if (self.ref - created).days > 5 else "open"
        reference = f"TK-{scrambled_number(self.ticket_seq, 1)}"
        self.rows["tickets"].append(
            {
                "id": self._id("tickets"),
                "reference": reference,
                "customer_id": cid,
                "order_id": oid,
                "conversation_id": None,
                "channel": self.rng.choice(W.CHANNELS),
                "topic": topic,
                "summary": summary,
                "status": status,
                "created_at": created,
            }
        )
        self.ticket_seq += 1
