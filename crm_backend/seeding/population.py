"""The simulated customer population: one customer at a time, rows appended to per-table lists.

Each customer has a hidden satisfaction: a personal baseline, a slow random drift (mood) and the shocks of bad
experiences (late deliveries, damaged items), which wear off over the following weeks. Satisfaction is never
written down; it shows only through behaviour. A less satisfied customer orders less often, cancels and returns
more, contacts support more (complaints rather than questions) and, in the conversations escalated to an agent,
writes more negatively. It also drives a churn hazard: when the hazard fires the customer starts drifting away
(over 6 to 21 weeks their order rate falls gradually to nothing while they grow more negative) and churns at the
end of that fade (``churned_at``). The label is thus a latent event: no single column records it in advance.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

from crm_backend.seeding import seed_data as W
from crm_backend.seeding.seed_support import support_ticket
from crm_backend.seeding.shipping import shipping_fee
from crm_backend.util import clip, scrambled_number

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
    "escalations",
    "escalation_messages",
)
FIRST_ORDER_NUMBER = 100001
PERSONA_REFS = 100  # scrambled reference indexes below this are reserved for the personas

# Latent satisfaction and churn (days as the time unit).
SAT_MEAN, SAT_SD = 0.72, 0.15  # personal baseline
MOOD_SD, MOOD_DAYS = 0.05, 200.0  # slow drift around the baseline (Ornstein-Uhlenbeck: spread, time scale)
RECOVERY_DAYS = 60.0  # the shock of a bad experience decays with this time constant
CHURN_BASE, CHURN_SLOPE, CHURN_PIVOT = 0.004, 18.0, 0.6  # hazard per day = BASE * exp(SLOPE * (PIVOT - sat))
FADE_DAYS = (45.0, 150.0)  # from deciding to leave to churning; the order rate falls linearly to zero
FADE_DROP, FADE_SHAPE = 0.3, 3.0  # satisfaction sinks by FADE_DROP over the first 1/FADE_SHAPE of the fade
PACE_SLOPE = 2.5  # order rate ~ exp(PACE_SLOPE * (sat - SAT_MEAN))
# Traces of (dis)satisfaction: rates at the mean satisfaction, multiplied by exp(TRACE_SLOPE * (SAT_MEAN - sat)).
TRACE_SLOPE = 9.0
COMPLAINT_PER_DAY, COMPLAINT_SLOPE = 0.001, 13.0  # complaints not about one order (service, prices, ...)
INQUIRY_PER_DAY = 0.0008  # questions not about one order
CANCEL_P = 0.02  # an order is cancelled
RETURN_P = 0.02  # a delivered order is sent back (not as described, not wanted)
SENTIMENT_SLOPE = 1.8  # customer sentiment in an escalation ~ N(slope * (sat - mean), seed_support.SENTIMENT_NOISE)


def _unhappy(sat: float, slope: float | None = None) -> float:
    """How much more often than the average customer someone this (dis)satisfied shows it."""
    return math.exp((TRACE_SLOPE if slope is None else slope) * (SAT_MEAN - sat))


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
        row: dict[str, Any] = {
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
        self.rows["customers"].append(row)
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
        base = clip(rng.gauss(SAT_MEAN, SAT_SD), 0.05, 0.98)
        mood = shock = 0.0
        address = (line1, city, postcode)
        t = signup + timedelta(days=rng.expovariate(rate * 3))  # first order comes soon after signup
        previous = t
        leaving: datetime | None = None  # when the customer decided to leave
        fade = 1.0
        churn = ref
        while t < ref:
            days = (t - previous).total_seconds() / 86400
            previous = t
            if days > 0:
                keep = math.exp(-days / MOOD_DAYS)
                mood = mood * keep + MOOD_SD * math.sqrt(1 - keep * keep) * rng.gauss(0, 1)
                shock *= math.exp(-days / RECOVERY_DAYS)
            progress = 0.0 if leaving is None else (t - leaving).total_seconds() / 86400 / fade
            sat = clip(base + mood + shock - FADE_DROP * min(FADE_SHAPE * progress, 1.0), 0.02, 0.98)
            shock += self.order(cid, t, address, sat)
            pace = max(rate * math.exp(PACE_SLOPE * (sat - SAT_MEAN)), 1e-4)
            gap = rng.expovariate(pace)
            if leaving is None:
                hazard = CHURN_BASE * math.exp(CHURN_SLOPE * (CHURN_PIVOT - sat))
                if rng.random() < 1 - math.exp(-hazard * gap):
                    fade = rng.uniform(*FADE_DAYS)
                    leaving = t + timedelta(days=rng.uniform(0, gap))
                    churn = leaving + timedelta(days=fade)
            nxt = t + timedelta(days=gap)
            if leaving is not None:  # thinning: the order rate falls linearly to zero over the fade
                while nxt < churn and rng.random() > 1 - max((nxt - leaving).total_seconds() / 86400, 0) / fade:
                    nxt += timedelta(days=rng.expovariate(pace))
            self.contacts(cid, t, min(nxt, churn, ref), sat)
            if nxt >= churn:
                break
            t = nxt
        if churn < ref:
            row["churned_at"] = churn
            if rng.random() < 0.25:
                self.ticket(cid, None, churn - timedelta(days=rng.uniform(0.5, 3)), "account", rng.choice(W.ACCOUNT))

    def contacts(self, cid: int, start: datetime, end: datetime, sat: float) -> None:
        """Support contacts not about one order, between two orders: complaints grow fast with unhappiness."""
        rng = self.rng
        for topic, per_day, texts in (
            ("complaint", min(COMPLAINT_PER_DAY * _unhappy(sat, COMPLAINT_SLOPE), 0.05), W.COMPLAINT_SERVICE),
            ("inquiry", INQUIRY_PER_DAY * _unhappy(sat, 1.5), W.INQUIRIES_GENERAL),
        ):
            when = start + timedelta(days=rng.expovariate(per_day))
            while when < end:
                self.ticket(cid, None, when, topic, rng.choice(texts), sat)
                when += timedelta(days=rng.expovariate(per_day))

    def order(self, cid: int, placed: datetime, address: tuple, sat: float) -> float:
        """Adds one order with its rows; returns the change of satisfaction (the shock) it caused."""
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
        shipping = shipping_fee(items_total, express=express)
        total = items_total + shipping
        age = (ref - placed).total_seconds() / 86400
        method = rng.choices(W.METHODS, W.METHOD_WEIGHTS)[0]
        carrier = rng.choices(W.CARRIERS, W.CARRIER_WEIGHTS)[0]
        status, cancelled_at, cancel_reason, shipment = "delivered", None, None, None
        delta = 0.0
        if rng.random() < min(CANCEL_P * _unhappy(sat), 0.4):
            status, cancelled_at = "cancelled", placed + timedelta(hours=rng.uniform(1, 30))
            cancel_reason = rng.choices(W.CANCEL_REASONS, W.CANCEL_REASON_WEIGHTS)[0]
            if cancelled_at > ref:
                cancelled_at = ref - timedelta(minutes=5)
        elif age < 1.0:
            status = "pending" if rng.random() < 0.5 else "paid"
        elif age < 2.5:
            status = "packed" if rng.random() < 0.6 else "paid"
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
                delta = self.after_delivery(cid, oid, number, total, shipping, delivered_at, delay, sat, shipment)
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
                "cancel_reason": cancel_reason,
            }
        )
        return delta

    def after_delivery(
        self,
        cid: int,
        oid: int,
        number: str,
        total: int,
        shipping: int,
        delivered_at: datetime,
        delay: int,
        sat: float,
        shipment: dict[str, Any],
    ) -> float:
        """Lateness, damage, returns and questions after a delivery; returns the satisfaction shock."""
        rng, ref = self.rng, self.ref
        delta = 0.0
        if delay:
            delta -= 0.04 + 0.015 * delay
            if rng.random() < (0.1 + 0.04 * delay) * _unhappy(sat, 3.0):
                delta -= 0.03
                text = rng.choice(W.COMPLAINT_LATE).format(n=number, d=delay)
                when = delivered_at + timedelta(hours=rng.uniform(1, 48))
                self.ticket(cid, oid, when, "complaint", text, sat - 0.1)
        else:
            delta += 0.015
        if rng.random() < 0.045:  # damaged / wrong item
            delta -= 0.1
            when = delivered_at + timedelta(days=rng.uniform(0.2, 6))
            if rng.random() < 0.5 * _unhappy(sat, 3.0):
                self.ticket(cid, oid, when, "complaint", rng.choice(W.COMPLAINT_DAMAGED).format(n=number), sat - 0.15)
                delta -= 0.03
            if rng.random() < 0.5:
                shipment["status"] = "returned"
                self.refund(oid, total, "Returned: damaged or wrong item", when + timedelta(days=3))
            else:
                self.refund(oid, max(100, int(total * rng.uniform(0.2, 0.6))), "Partial refund: damaged item", when)
            delta += 0.03  # a refund repairs some of the damage
        elif rng.random() < min(RETURN_P * _unhappy(sat), 0.4):  # sent back: unhappy with the product
            when = delivered_at + timedelta(days=rng.uniform(2, 14))
            if when + timedelta(days=3) < ref:
                shipment["status"] = "returned"
                reason = rng.choice(W.RETURN_REASONS)
                amount = total - shipping if reason.endswith("no longer wanted") else total
                self.refund(oid, amount, reason, when + timedelta(days=3))
        elif rng.random() < 0.03 + 0.08 * max(0.0, 0.75 - sat):
            self.ticket(
                cid,
                oid,
                delivered_at - timedelta(days=rng.uniform(0.5, 2)),
                "inquiry",
                rng.choice(W.INQUIRIES).format(n=number),
                sat,
            )
        return delta

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

    def ticket(
        self, cid: int, oid: int | None, created: datetime, topic: str, summary: str, sat: float | None = None
    ) -> None:
        """A support ticket; a complaint (rarely an inquiry) may have gone to an agent when ``sat`` is low."""
        tone = -0.15 if topic == "complaint" else 0.15  # the customer's sentiment there follows their satisfaction
        support_ticket(
            self.rng, self.ref, self.rows, self._id, self.ticket_seq,
            customer_id=cid, order_id=oid, created=created, topic=topic, summary=summary, sat=sat,
            expected_sentiment=None if sat is None else SENTIMENT_SLOPE * (sat - SAT_MEAN) + tone,
        )  # fmt: skip
        self.ticket_seq += 1
