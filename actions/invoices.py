"""Invoices and payment problems."""

from __future__ import annotations

from rasa_sdk.events import EventType, SlotSet

from actions.common import first, money
from actions.context import TaskContext
from actions.crm_client import CRMRefused


async def run_invoice(ctx: TaskContext) -> list[EventType]:
    wanted = first(ctx.slot("invoice_id"))
    if wanted:
        number = str(wanted).upper().lstrip("#")
        number = number if number.startswith("INV") else f"INV-{number}"
    else:
        order = await ctx.client.get_order(ctx.customer_id, ctx.order_id)
        number = str(order.get("invoice_number") or "")
        if not number:
            ctx.utter("utter_no_invoice_yet", order_id=ctx.order_id)
            ctx.dispatcher.utter_message(response="utter_anything_else")
            return []
    try:
        invoice = await ctx.client.get_invoice(ctx.customer_id, number)
    except CRMRefused as refusal:
        if refusal.code != "invoice_not_found":
            raise
        ctx.utter("utter_invoice_not_found", invoice_number=number, order_id=ctx.order_id)
        return [SlotSet("invoice_id", None)]
    ctx.utter(
        "utter_invoice",
        invoice_number=invoice["invoice_number"],
        order_number=invoice["order_number"],
        amount=money(invoice["amount"]),
        issued_on=str(invoice["issued_at"])[:10],
        invoice_status=invoice["status"],
        url=invoice["url"],
    )
    ctx.dispatcher.utter_message(response="utter_anything_else")
    return [SlotSet("invoice_id", None)]


async def run_payment_issue(ctx: TaskContext) -> list[EventType]:
    order = await ctx.client.get_order(ctx.customer_id, ctx.order_id)
    payment = order.get("payment")
    if payment:
        ctx.utter(
            "utter_payment_check",
            order_id=ctx.order_id,
            method=payment["method"],
            amount=money(payment["amount"]),
            payment_status=payment["status"],
            order_status=order["status"],
        )
    else:
        ctx.utter("utter_payment_check_no_payment", order_id=ctx.order_id, order_status=order["status"])
    return [SlotSet("pending_confirmation", "ticket:payment_issue")]
