"""Order status and cancellation."""

from __future__ import annotations

from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import describe_order, money
from actions.context import TaskContext
from actions.crm_client import get_client

# the refusal with what to do instead, by the CRM's code (domain.yml); other codes get the CRM's reason alone
NOT_CANCELLABLE_RESPONSE = {
    "order_already_shipped": "utter_cannot_cancel_shipped",
    "order_already_cancelled": "utter_cannot_cancel_already_cancelled",
}


def _not_cancellable(dispatcher: CollectingDispatcher, order_id: str, quote: dict) -> None:
    response = NOT_CANCELLABLE_RESPONSE.get(quote.get("code") or "", "utter_cannot_cancel")
    dispatcher.utter_message(response=response, order_id=order_id, reason=quote["message"])


async def precheck(dispatcher: CollectingDispatcher, customer_id: str, order_id: str) -> str | None:
    """Stop before asking for a one-time code when the order cannot be cancelled anyway."""
    quote = await get_client().cancellation_quote(customer_id, order_id)
    if quote["cancellable"]:
        return None
    _not_cancellable(dispatcher, order_id, quote)
    dispatcher.utter_message(response="utter_anything_else")
    return str(quote.get("code") or "not_cancellable")


async def run_track(ctx: TaskContext) -> list[EventType]:
    order = await ctx.client.get_order(ctx.customer_id, ctx.order_id)
    response, variables = describe_order(order)
    ctx.utter(response, **variables)
    ctx.dispatcher.utter_message(response="utter_anything_else")
    return []


async def run_cancel(ctx: TaskContext) -> list[EventType]:
    quote = await ctx.client.cancellation_quote(ctx.customer_id, ctx.order_id)
    if not quote["cancellable"]:
        _not_cancellable(ctx.dispatcher, ctx.order_id, quote)
        ctx.dispatcher.utter_message(response="utter_anything_else")
        return []
    fee = float(quote.get("fee") or 0)
    outcome = quote["payment_outcome"]
    if fee:
        ctx.utter("utter_confirm_cancel_with_fee", order_id=ctx.order_id, fee=money(fee), payment_outcome=outcome)
    else:
        ctx.utter("utter_confirm_cancel_free", order_id=ctx.order_id, payment_outcome=outcome)
    return [SlotSet("pending_confirmation", "cancel_order")]


async def confirm_cancel(ctx: TaskContext) -> list[EventType]:
    reason = ctx.tracker.get_slot("refund_reason") or "customer request via assistant"
    result = await ctx.client.cancel_order(ctx.customer_id, ctx.order_id, reason, key=ctx.key("cancel"))
    ctx.utter("utter_order_cancelled", order_id=ctx.order_id, payment_outcome=result["payment_outcome"])
    ctx.dispatcher.utter_message(response="utter_anything_else")
    return []
