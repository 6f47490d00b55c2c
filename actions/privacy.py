"""A customer's request for a copy of their personal data, or for its erasure: recorded in the CRM for a supervisor.

The tasks `data_export` and `data_erasure` go through the order form with a strong proof (actions/grant.py
`WRITE_TASKS`: a one-time code when the customer proved who they are with an e-mail or postcode only); an order
number only finds an unverified customer, so a customer already verified (a shop login) is not asked for one.
The assistant never exports or erases anything: it creates the request (`CRMClient.create_data_request`, one pending
request per customer and kind) and tells the customer its reference. An erasure request is created only after an
explicit yes.
"""

from __future__ import annotations

from rasa_sdk.events import EventType, SlotSet

from actions.context import TaskContext

KIND_BY_TASK = {"data_export": "export", "data_erasure": "erase"}
ACCOUNT_TASKS = frozenset(KIND_BY_TASK)  # about the customer, not an order: no order number once they are verified
# the customer's answer, by task and by whether the CRM created the request or already had a pending one
REQUESTED = {
    ("data_export", True): "utter_data_export_requested",
    ("data_export", False): "utter_data_export_already_requested",
    ("data_erasure", True): "utter_data_erasure_requested",
    ("data_erasure", False): "utter_data_erasure_already_requested",
}


async def _request(ctx: TaskContext, task: str) -> list[EventType]:
    kind = KIND_BY_TASK[task]
    request = await ctx.client.create_data_request(ctx.customer_id, kind, key=ctx.key("data_request", kind))
    ctx.utter(REQUESTED[(task, bool(request["created"]))], reference=request["reference"])
    ctx.utter("utter_anything_else")
    return []


async def run_export(ctx: TaskContext) -> list[EventType]:
    return await _request(ctx, "data_export")


async def run_erase(ctx: TaskContext) -> list[EventType]:
    """Say what an erasure means (invoices are kept) and ask for an explicit yes before anything is requested."""
    ctx.utter("utter_confirm_data_erasure")
    return [SlotSet("pending_confirmation", "data_erasure")]


async def confirm_erase(ctx: TaskContext) -> list[EventType]:
    return await _request(ctx, "data_erasure")
