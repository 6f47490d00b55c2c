"""Order status and cancellation."""

from __future__ import annotations

from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import describe_order, money
from actions.context import TaskContext
from actions.crm_client import get_client

NOT_CANCELLABLE_NEXT_STEP = {
    "order_already_shipped": (
        "Once it's delivered, just ask me for a refund; or refuse the parcel at the door and we'll refund you "
        "when it's back with us."
    ),
    "order_already_cancelled": "There's nothing more to do: it won't be sent and you won't be charged for it.",
}


def _not_cancellable(order_id: str, quote: dict) -> str:
    next_step = NOT_CANCELLABLE_NEXT_STEP.get(quote.get("code") or "", "")
    return f"I'm sorry, order {order_id} can't be cancelled: {quote['message']} {next_step}".strip()


async def precheck(dispatcher: CollectingDispatcher, customer_id: str, order_id: str) -> str | None:
    """Stop before asking for a one-time code when the order cannot be cancelled anyway."""
    quote = await get_client().cancellation_quote(customer_id, order_id)
    if quote["cancellable"]:
        return None
    dispatcher.utter_message(text=_not_cancellable(order_id, quote))
    dispatcher.utter_message(response="utter_anything_else")
    return str(quote.get("code") or "not_cancellable")


async def run_track(ctx: TaskContext) -> list[EventType]:
    order = await ctx.client.get_order(ctx.customer_id, ctx.order_id)
    ctx.say(describe_order(order))
    ctx.dispatcher.utter_message(response="utter_anything_else")
    return []


async def run_cancel(ctx: TaskContext) -> list[EventType]:
    quote = await ctx.client.cancellation_quote(ctx.customer_id, ctx.order_id)
    if not quote["cancellable"]:
        ctx.say(_not_cancellable(ctx.order_id, quote))
        ctx.dispatcher.utter_message(response="utter_anything_else")
        return []
    fee = float(quote.get("fee") or 0)
    fee_text = (
        f"There's a cancellation fee of {money(fee)} because it's already packed. " if fee else "It's free to cancel. "
    )
    ctx.ask_yes_no(
        f"Order {ctx.order_id} can still be cancelled. {fee_text}{quote['payment_outcome']} "
        f"Shall I cancel order {ctx.order_id}?"
    )
    return [SlotSet("pending_confirmation", "cancel_order")]


async def confirm_cancel(ctx: TaskContext) -> list[EventType]:
    reason = ctx.tracker.get_slot("refund_reason") or "customer request via assistant"
    result = await ctx.client.cancel_order(ctx.customer_id, ctx.order_id, reason, key=ctx.key("cancel"))
    ctx.say(f"Done: order {ctx.order_id} is cancelled. {result['payment_outcome']}")
    ctx.dispatcher.utter_message(response="utter_anything_else")
    return []
