"""What an order's customer paid and what has been refunded of it, in pence (read from the loaded order)."""

from __future__ import annotations

from crm_backend.db import Order

CAPTURED = ("captured", "refunded", "partially_refunded")


def paid_pence(order: Order) -> int:
    payment = order.payment
    return payment.amount_pence if payment is not None and payment.status in CAPTURED else 0


def refunded_pence(order: Order) -> int:
    return sum(r.amount_pence for r in order.refunds if r.status != "rejected")
