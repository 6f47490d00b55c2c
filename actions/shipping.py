"""Changing the delivery address of an order that hasn't shipped."""

from __future__ import annotations

from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import parse_address
from actions.context import TaskContext
from actions.crm_client import get_client

EDITABLE = ("pending", "paid", "packed")


async def precheck(dispatcher: CollectingDispatcher, customer_id: str, order_id: str) -> str | None:
    order = await get_client().get_order(customer_id, order_id)
    if order["status"] in EDITABLE:
        return None
    if order["status"] == "shipped":
        shipment = order.get("shipment") or {}
        dispatcher.utter_message(
            response="utter_address_change_shipped",
            order_id=order_id,
            carrier=shipment.get("carrier", "the courier"),
            tracking_number=shipment.get("tracking_number", ""),
        )
    else:
        dispatcher.utter_message(
            response="utter_address_change_not_possible", order_id=order_id, status=order["status"]
        )
    dispatcher.utter_message(response="utter_anything_else")
    return "order_already_shipped"


async def run_change(ctx: TaskContext) -> list[EventType]:
    address = parse_address(ctx.slot("new_address"))
    if address is None:  # the form validated it; this guards a slot set by other means
        ctx.dispatcher.utter_message(response="utter_invalid_address")
        return [SlotSet("new_address", None)]
    lines = ", ".join(address[k] for k in ("line1", "line2", "city", "postcode") if address.get(k))
    ctx.utter("utter_confirm_address_change", order_id=ctx.order_id, address=lines)
    return [SlotSet("pending_confirmation", "change_shipping_address")]


async def confirm_change(ctx: TaskContext) -> list[EventType]:
    address = parse_address(ctx.slot("new_address")) or {}
    order = await ctx.client.change_address(
        ctx.customer_id, ctx.order_id, address, key=ctx.key("address", sorted(address.items()))
    )
    new = order["shipping_address"]
    ctx.utter(
        "utter_address_changed", order_id=ctx.order_id, line1=new["line1"], city=new["city"], postcode=new["postcode"]
    )
    ctx.dispatcher.utter_message(response="utter_anything_else")
    return [SlotSet("new_address", None)]
