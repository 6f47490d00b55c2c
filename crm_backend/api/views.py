"""Build API schemas from ORM rows (money: pence -> pounds)."""

from __future__ import annotations

from datetime import datetime

from crm_backend.api import schemas as s
from crm_backend.db import Customer, Invoice, Order, Refund, Ticket
from crm_backend.policies import Policies
from crm_backend.services.money import refunded_pence
from crm_backend.services.orders import CancellationQuote, quote_cancellation
from crm_backend.services.refunds import RefundQuote, refund_quote
from crm_backend.util import pence_to_pounds as money


def customer_public(customer: Customer) -> s.CustomerPublic:
    return s.CustomerPublic(
        id=customer.id,
        first_name=customer.first_name,
        last_name=customer.last_name,
        email=customer.email,
        postcode=customer.postcode,
        segment=customer.segment,
        created_at=customer.created_at,
    )


def refund_public(refund: Refund) -> s.RefundPublic:
    return s.RefundPublic(
        reference=refund.reference,
        order_number=refund.order.order_number,
        amount=money(refund.amount_pence),
        reason=refund.reason,
        status=refund.status,
        created_at=refund.created_at,
        expected_by=refund.expected_by,
    )


def order_summary(order: Order) -> s.OrderSummary:
    return s.OrderSummary(
        order_number=order.order_number,
        status=order.status,
        placed_at=order.placed_at,
        total=money(order.total_pence),
        item_count=sum(i.quantity for i in order.items),
    )


def order_detail(order: Order, policies: Policies, now: datetime | None = None) -> s.OrderDetail:
    cancel = quote_cancellation(order, policies=policies)
    refund = refund_quote(order, policies=policies, now=now)
    shipment, payment = order.shipment, order.payment
    return s.OrderDetail(
        **order_summary(order).dict(),
        items=[
            s.OrderItemPublic(sku=i.sku, name=i.name, quantity=i.quantity, unit_price=money(i.unit_price_pence))
            for i in order.items
        ],
        shipping_address=s.AddressPublic(
            line1=order.ship_line1,
            line2=order.ship_line2,
            city=order.ship_city,
            postcode=order.ship_postcode,
            country=order.ship_country,
        ),
        shipment=None
        if shipment is None
        else s.ShipmentPublic(
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
            status=shipment.status,
            shipped_at=shipment.shipped_at,
            eta=shipment.eta,
            delivered_at=shipment.delivered_at,
            delay_days=shipment.delay_days,
        ),
        payment=None
        if payment is None
        else s.PaymentPublic(
            method=payment.method,
            status=payment.status,
            amount=money(payment.amount_pence),
            paid_at=payment.paid_at,
        ),
        refunds=[refund_public(r) for r in order.refunds],
        refunded_total=money(refunded_pence(order)),
        refundable_amount=money(refund.max_pence),
        invoice_number=order.invoice.invoice_number if order.invoice else None,
        cancellable=cancel.cancellable,
        cancellation_fee=money(cancel.fee_pence),
        delivery_option=order.delivery_option,
        shipping_cost=money(order.shipping_pence),
    )


def cancellation_public(quote: CancellationQuote) -> s.CancellationQuotePublic:
    return s.CancellationQuotePublic(
        cancellable=quote.cancellable,
        code=quote.code,
        message=quote.message,
        fee=money(quote.fee_pence),
        refund_amount=money(quote.refund_pence),
        payment_outcome=quote.payment_outcome,
    )


def refund_quote_public(quote: RefundQuote) -> s.RefundQuotePublic:
    return s.RefundQuotePublic(
        eligible=quote.eligible,
        code=quote.code,
        message=quote.message,
        max_amount=money(quote.max_pence),
        window_ends=quote.window_ends,
        auto_approve_limit=money(quote.auto_approve_limit_pence),
    )


def invoice_public(invoice: Invoice, policies: Policies) -> s.InvoicePublic:
    return s.InvoicePublic(
        invoice_number=invoice.invoice_number,
        order_number=invoice.order.order_number,
        issued_at=invoice.issued_at,
        amount=money(invoice.amount_pence),
        status=invoice.status,
        url=policies.invoice_url.format(invoice_number=invoice.invoice_number),
    )


def ticket_public(ticket: Ticket) -> s.TicketPublic:
    return s.TicketPublic(reference=ticket.reference, status=ticket.status, topic=ticket.topic)
