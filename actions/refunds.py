"""Refund requests and refund tracking."""

from __future__ import annotations

from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import money
from actions.context import TaskContext
from actions.crm_client import get_client
from actions.escalation import raise_escalation

# the refusal with what to do instead, by the CRM's code (domain.yml); other codes get the CRM's reason alone
NOT_ELIGIBLE_RESPONSE = {
    "refund_not_eligible_status": "utter_cannot_refund_status",
    "refund_window_expired": "utter_cannot_refund_window_expired",
    "nothing_left_to_refund": "utter_cannot_refund_nothing_left",
}


async def precheck(dispatcher: CollectingDispatcher, customer_id: str, order_id: str) -> str | None:
    quote = await get_client().refund_eligibility(customer_id, order_id)
    if quote["eligible"]:
        return None
    code = quote.get("code") or "refund_not_eligible"
    response = NOT_ELIGIBLE_RESPONSE.get(code, "utter_cannot_refund")
    dispatcher.utter_message(response=response, order_id=order_id, reason=quote["message"])
    dispatcher.utter_message(response="utter_anything_else")
    return code


async def run_refund(ctx: TaskContext) -> list[EventType]:
    amount = float(ctx.slot("refund_amount"))
    quote = await ctx.client.refund_eligibility(ctx.customer_id, ctx.order_id)
    limit = float(quote.get("auto_approve_limit") or 0)  # what can still be approved at once, given earlier refunds
    request = {"amount": money(amount), "order_id": ctx.order_id, "reason": str(ctx.slot("refund_reason"))}
    if amount <= limit:
        ctx.utter("utter_confirm_refund_automatic", **request)
    elif limit > 0:
        ctx.utter("utter_confirm_refund_above_limit", **request, limit=money(limit))
    else:
        ctx.utter("utter_confirm_refund_review", **request)
    return [SlotSet("pending_confirmation", "get_refund")]


async def confirm_refund(ctx: TaskContext) -> list[EventType]:
    amount = float(ctx.slot("refund_amount"))
    reason = ctx.slot("refund_reason") or ""
    refund = await ctx.client.create_refund(
        ctx.customer_id, ctx.order_id, amount, reason, key=ctx.key("refund", f"{amount:.2f}", reason)
    )
    done = {"reference": refund["reference"], "amount": money(refund["amount"])}
    if refund["status"] == "approved":
        ctx.utter("utter_refund_approved", **done, expected_by=str(refund["expected_by"])[:10])
    else:
        ctx.utter("utter_refund_in_review", **done)
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
        ctx.utter("utter_no_refund_yet", order_id=ctx.order_id)
        return []
    lines = [
        f"{r['reference']}: {money(r['amount'])}, {r['status'].replace('_', ' ')}"
        + (f", expected by {str(r['expected_by'])[:10]}" if r.get("expected_by") and r["status"] == "approved" else "")
        for r in refunds
    ]
    ctx.utter("utter_refunds_on_order", order_id=ctx.order_id, refunds="; ".join(lines))
    ctx.dispatcher.utter_message(response="utter_anything_else")
    return []
