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
            ctx.say(f"Order {ctx.order_id} has no invoice yet: we issue it once the payment has gone through.")
            ctx.dispatcher.utter_message(response="utter_anything_else")
            return []
    try:
        invoice = await ctx.client.get_invoice(ctx.customer_id, number)
    except CRMRefused as refusal:
        if refusal.code != "invoice_not_found":
            raise
        ctx.say(f"I can't find invoice {number} on your account. Invoices are numbered like INV-{ctx.order_id}.")
        return [SlotSet("invoice_id", None)]
    ctx.say(
        f"Invoice {invoice['invoice_number']} for order {invoice['order_number']}: {money(invoice['amount'])}, "
        f"issued {str(invoice['issued_at'])[:10]}, {invoice['status']}. You can download it here: {invoice['url']}"
    )
    ctx.dispatcher.utter_message(response="utter_anything_else")
    return [SlotSet("invoice_id", None)]


async def run_payment_issue(ctx: TaskContext) -> list[EventType]:
    order = await ctx.client.get_order(ctx.customer_id, ctx.order_id)
    payment = order.get("payment")
    if payment:
        state = f"we have a {payment['method']} payment of {money(payment['amount'])} with status {payment['status']}"
    else:
        state = "we have no payment recorded yet"
    ctx.ask_yes_no(
        f"For order {ctx.order_id} {state}, and the order is {order['status']}. If that doesn't match what you see "
        "on your statement (a double charge, money taken for an unpaid order, a declined card), our payments team "
        "can check it. Shall I open a case for them?"
    )
    return [SlotSet("pending_confirmation", "ticket:payment_issue")]
