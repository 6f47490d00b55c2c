"""Refund requests and refund tracking."""

from __future__ import annotations

from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import money
from actions.context import TaskContext
from actions.crm_client import get_client
from actions.escalation import raise_escalation

NOT_ELIGIBLE_NEXT_STEP = {
    "refund_not_eligible_status": "If it hasn't shipped yet, I can cancel it instead, which refunds you automatically.",
    "refund_window_expired": "If the item is faulty, our team can still look at it under warranty: just ask for a person.",
    "nothing_left_to_refund": "Everything you paid for this order has already been refunded.",
}


async def precheck(dispatcher: CollectingDispatcher, customer_id: str, order_id: str) -> str | None:
    quote = await get_client().refund_eligibility(customer_id, order_id)
    if quote["eligible"]:
        return None
    code = quote.get("code") or "refund_not_eligible"
    dispatcher.utter_message(
        text=f"I'm sorry, I can't refund order {order_id}: {quote['message']} {NOT_ELIGIBLE_NEXT_STEP.get(code, '')}".strip()
    )
    dispatcher.utter_message(response="utter_anything_else")
    return code


async def run_refund(ctx: TaskContext) -> list[EventType]:
    amount = float(ctx.slot("refund_amount"))
    quote = await ctx.client.refund_eligibility(ctx.customer_id, ctx.order_id)
    limit = float(quote.get("auto_approve_limit") or 0)  # what can still be approved at once, given earlier refunds
    if amount <= limit:
        review = "It's within our automatic limit, so it will be approved straight away."
    elif limit > 0:
        review = (
            f"Right now I can approve up to {money(limit)} straight away, so our team will check this one first, "
            "usually within 2 working days."
        )
    else:
        review = "Our team will check this one first, usually within 2 working days."
    ctx.ask_yes_no(
        f'To confirm: a refund of {money(amount)} for order {ctx.order_id}, reason: "{ctx.slot("refund_reason")}". '
        f"{review} Shall I submit it?"
    )
    return [SlotSet("pending_confirmation", "get_refund")]


async def confirm_refund(ctx: TaskContext) -> list[EventType]:
    amount = float(ctx.slot("refund_amount"))
    reason = ctx.slot("refund_reason") or ""
    refund = await ctx.client.create_refund(
        ctx.customer_id, ctx.order_id, amount, reason, key=ctx.key("refund", f"{amount:.2f}", reason)
    )
    if refund["status"] == "approved":
        outcome = f"It's approved; the money will be back on your original payment method by {str(refund['expected_by'])[:10]}."
    else:
        outcome = "Our team will review it within 2 working days and e-mail you the outcome."
    ctx.say(f"Your refund request {refund['reference']} for {money(refund['amount'])} is in. {outcome}")
    events: list[EventType] = [SlotSet("refund_amount", None), SlotSet("refund_reason", None)]
    if refund["status"] == "pending_review":  # business rule hit: above the automatic limit
        escalated = await raise_escalation(ctx.dispatcher, ctx.tracker, rule_hits=("refund_review",))
        if escalated:
            return events + escalated
    ctx.dispatcher.utter_message(response="utter_anything_else")
    return events


async def run_track_refund(ctx: TaskContext) -> list[EventType]:
    refunds = [r for r in await ctx.client.list_refunds(ctx.customer_id) if r["order_number"] == ctx.order_id]
    if not refunds:
        ctx.say(f"There's no refund on order {ctx.order_id} yet. If you'd like one, just say \"I want a refund\".")
        return []
    lines = [
        f"{r['reference']}: {money(r['amount'])}, {r['status'].replace('_', ' ')}"
        + (f", expected by {str(r['expected_by'])[:10]}" if r.get("expected_by") and r["status"] == "approved" else "")
        for r in refunds
    ]
    ctx.say(f"Refunds on order {ctx.order_id}: " + "; ".join(lines) + ".")
    ctx.dispatcher.utter_message(response="utter_anything_else")
    return []
