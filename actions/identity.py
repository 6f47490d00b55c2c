"""Identity before disclosure: the order form collects an order number and verifies the customer with the CRM.

The form `order_form` serves every order task (track, cancel, refund, address change, invoices, payment problems).
`ValidateOrderForm.required_slots` asks only what the task in hand needs:
order number -> e-mail or postcode (until verified) -> task-specific slots (refund reason and amount, new address).
Once verified, the customer id is bound to the conversation; any other order number is checked against it.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import risk, tasks
from actions.common import first, normalise_order_id, parse_address, parse_amount, parse_identity_proof
from actions.crm_client import CRMRefused, CRMUnavailable, get_client, start_call_log

logger = logging.getLogger(__name__)

MAX_VERIFY_ATTEMPTS = 3
TASK_BY_INTENT = {
    "track_order": "track_order",
    "cancel_order": "cancel_order",
    "get_refund": "get_refund",
    "track_refund": "track_refund",
    "change_shipping_address": "change_shipping_address",
    "set_up_shipping_address": "change_shipping_address",
    "check_invoice": "invoice",
    "get_invoice": "invoice",
    "payment_issue": "payment_issue",
}
TASK_SLOTS = {"get_refund": ["refund_reason", "refund_amount"], "change_shipping_address": ["new_address"]}


class ActionStartTask(Action):
    """Remember which order task the customer asked for and clear what belonged to the previous one."""

    def name(self) -> str:
        return "action_start_task"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        intent = tracker.get_intent_of_latest_message() or ""
        task = TASK_BY_INTENT.get(intent) or tracker.get_slot("task") or "track_order"
        events: list[EventType] = [SlotSet("task", task)]
        events += [SlotSet(s, None) for s in ("pending_confirmation", "task_blocked", "refund_reason", "new_address")]
        if not list(tracker.get_latest_entity_values("refund_amount")):
            events.append(SlotSet("refund_amount", None))
        return events


class ValidateOrderForm(FormValidationAction):
    def name(self) -> str:
        return "validate_order_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        calls = start_call_log()
        events = await super().run(dispatcher, tracker, domain)
        return tasks.with_call_log(tracker, events, calls)

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("identity_locked") or tracker.get_slot("task_blocked"):
            return []
        needed = ["order_id"]
        if not tracker.get_slot("customer_id"):
            needed.append("identity_proof")
            risk.prefetch()  # scoring follows a successful check: load the churn model while the customer types
        return needed + TASK_SLOTS.get(tracker.get_slot("task") or "", [])

    async def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        order_id = normalise_order_id(value)
        if order_id is None:
            dispatcher.utter_message(response="utter_invalid_order_id")
            return {"order_id": None}
        customer_id = tracker.get_slot("customer_id")
        if not customer_id:
            return {"order_id": order_id}
        try:
            await get_client().get_order(customer_id, order_id)
        except CRMUnavailable:
            dispatcher.utter_message(response="utter_crm_down")
            return {"order_id": order_id, "task_blocked": "crm_down"}
        except CRMRefused as refusal:
            if refusal.code != "order_not_found":
                raise
            dispatcher.utter_message(response="utter_not_your_order", order_id=order_id)
            return {"order_id": None, "task_blocked": "not_your_order"}
        return {"order_id": order_id, **await _precheck(dispatcher, tracker, customer_id, order_id)}

    async def validate_identity_proof(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        proof = parse_identity_proof(value)
        if not proof:
            dispatcher.utter_message(response="utter_invalid_identity_proof")
            dispatcher.utter_message(response="utter_ask_order_form_identity_proof")
            return {"identity_proof": None}
        order_id = tracker.get_slot("order_id")
        try:
            verified = await get_client().verify_identity(order_id, tracker.sender_id, **proof)
        except CRMUnavailable:
            dispatcher.utter_message(response="utter_crm_down")
            return {"identity_proof": None, "task_blocked": "crm_down"}
        except CRMRefused as refusal:
            if refusal.code == "invalid_request":  # e.g. an over-long e-mail: not a usable answer
                dispatcher.utter_message(response="utter_invalid_identity_proof")
                dispatcher.utter_message(response="utter_ask_order_form_identity_proof")
                return {"identity_proof": None}
            if refusal.code not in ("verification_failed", "too_many_attempts"):
                raise
            return _failed_attempt(dispatcher, tracker, locked_by_crm=refusal.code == "too_many_attempts")
        customer_id = str(verified["customer_id"])
        dispatcher.utter_message(response="utter_identity_verified", customer_name=verified["first_name"])
        slots = {
            "identity_proof": "verified",
            "customer_id": customer_id,
            "customer_name": verified["first_name"],
            "verify_failures": 0,
            **await risk.assess(customer_id),
        }
        return {**slots, **await _precheck(dispatcher, tracker, customer_id, order_id)}

    async def validate_refund_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(first(value) or "").strip()
        if sum(ch.isalpha() for ch in text) < 3:
            dispatcher.utter_message(response="utter_ask_order_form_refund_reason")
            return {"refund_reason": None}
        return {"refund_reason": text[:500]}

    async def validate_refund_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            quote = await get_client().refund_eligibility(tracker.get_slot("customer_id"), tracker.get_slot("order_id"))
        except CRMUnavailable:
            dispatcher.utter_message(response="utter_crm_down")
            return {"refund_amount": None, "task_blocked": "crm_down"}
        maximum = float(quote.get("max_amount") or 0)
        amount = parse_amount(value, maximum)
        if amount is None:
            dispatcher.utter_message(response="utter_invalid_refund_amount")
            return {"refund_amount": None}
        if amount > maximum:
            dispatcher.utter_message(
                text=f"The most I can refund for this order is £{maximum:,.2f}. How much would you like back?"
            )
            return {"refund_amount": None}
        return {"refund_amount": f"{amount:.2f}"}

    async def validate_new_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if parse_address(value) is None:
            dispatcher.utter_message(response="utter_invalid_address")
            return {"new_address": None}
        return {"new_address": str(first(value)).strip()}


def _failed_attempt(dispatcher: CollectingDispatcher, tracker: Tracker, locked_by_crm: bool) -> dict[str, Any]:
    failures = int(tracker.get_slot("verify_failures") or 0) + 1
    if failures >= MAX_VERIFY_ATTEMPTS or locked_by_crm:
        return {"identity_proof": None, "verify_failures": failures, "identity_locked": True}
    dispatcher.utter_message(response="utter_identity_failed", attempts_left=MAX_VERIFY_ATTEMPTS - failures)
    return {"identity_proof": None, "verify_failures": failures}


async def _precheck(
    dispatcher: CollectingDispatcher, tracker: Tracker, customer_id: str, order_id: str
) -> dict[str, Any]:
    """Stop the form early when the task cannot be done for this order (e.g. refund of an undelivered order)."""
    check: tasks.Precheck | None = tasks.PRECHECKS.get(tracker.get_slot("task") or "")
    if check is None:
        return {}
    try:
        blocked = await check(dispatcher, customer_id, order_id)
    except CRMUnavailable:
        dispatcher.utter_message(response="utter_crm_down")
        blocked = "crm_down"
    return {"task_blocked": blocked} if blocked else {}
