"""Invoices: ownership-checked look-ups."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_backend.db import Invoice, Order
from crm_backend.errors import not_found


def list_invoices(customer_id: int, *, session: Session) -> list[Invoice]:
    return list(
        session.execute(
            select(Invoice)
            .join(Order)
            .where(Order.customer_id == customer_id)
            .order_by(Invoice.issued_at.desc(), Invoice.id.desc())
        ).scalars()
    )


def get_invoice(customer_id: int, invoice_number: str, *, session: Session) -> Invoice:
    invoice = session.execute(
        select(Invoice)
        .join(Order)
        .where(Invoice.invoice_number == invoice_number.strip().upper(), Order.customer_id == customer_id)
    ).scalar_one_or_none()
    if invoice is None:
        raise not_found("invoice", invoice_number=invoice_number)
    return invoice
