"""Identity before disclosure: the order form collects an order number and verifies the customer with the CRM.

The form `order_form` serves every order task (track, cancel, refund, address change, invoices, payment problems)
and the data requests (a copy of the customer's data, its erasure: an order number finds the customer).
`ValidateOrderForm.required_slots` asks only what the task in hand needs:
order number -> e-mail or postcode (until verified) -> task-specific slots (refund reason and amount, new address).
An answer to another question than the one asked is kept: an e-mail given when the order number was asked is checked
once the order number comes (actions/verification.py).
Once verified, the CRM's identity grant (slot `identity_grant`) is what lets the actions act for the customer; any
other order number is checked against it by the CRM. A change needs a strong proof: when the customer verified with an
e-mail or postcode only, the form also asks for a one-time code (actions/codes.py). A lapsed grant clears the identity
and the form asks again; a shop login (actions/shop_login.py) verifies with no questions.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import escalation, grant, privacy, risk, shop_login, tasks, verification
from actions.codes import parse_code, wants_new_code
from actions.common import first, money, normalise_order_id, parse_address, parse_amount, parse_identity_proof
from actions.crm_client import CRMRefused, CRMUnavailable, context_for, get_client, start_call_log

logger = logging.getLogger(__name__)

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
    "request_data_export": "data_export",
    "request_data_erasure": "data_erasure",
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
        context = start_call_log(tracker)
        before: list[EventType] = []
        if tracker.get_slot("customer_id") and not grant.is_current(tracker):
            dispatcher.utter_message(response="utter_verify_again")
            before = grant.cleared()
            context.use_grant(None)
        signed_in = await shop_login.login(tracker, context) if not tracker.get_slot("customer_id") or before else {}
        before += [SlotSet(name, value) for name, value in signed_in.items()]
        tracker.add_slots(before)  # what the form decides next starts from these
        events = await super().run(dispatcher, tracker, domain)
        return tasks.with_call_log(tracker, before + events, context)

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("identity_locked") or tracker.get_slot("task_blocked"):
            return []
        task = tracker.get_slot("task") or ""
        # a data request is about the customer: an order number only finds a customer not yet verified
        needed = [] if task in privacy.ACCOUNT_TASKS and tracker.get_slot("customer_id") else ["order_id"]
        task_slots = TASK_SLOTS.get(task, [])
        if not tracker.get_slot("customer_id"):
            # identity checks paused by the CRM: the way in is a code sent to the address on the order
            needed.append("one_time_code" if tracker.get_slot("otp_fallback") else "identity_proof")
            risk.prefetch()  # scoring follows a successful check: load the churn model while the customer types
            return needed + task_slots
        return needed + task_slots + (["one_time_code"] if _needs_code(tracker) else [])

    async def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        context_for(tracker)
        if tracker.get_slot("requested_slot") == "one_time_code" and parse_code(tracker.latest_message.get("text")):
            return {"order_id": _previous_value(tracker, "order_id")}  # the code's digits are not an order number
        order_id = normalise_order_id(value)
        if order_id is None:
            dispatcher.utter_message(response="utter_invalid_order_id")
            return {"order_id": None}
        customer_id = tracker.get_slot("customer_id")
        if not customer_id:
            kept = verification.kept_proof(tracker)  # an e-mail or postcode given before the order number
            return {
                "order_id": order_id,
                **(await verification.check_proof(dispatcher, tracker, order_id, kept) if kept else {}),
            }
        try:
            await get_client().get_order(customer_id, order_id)
        except CRMUnavailable:
            dispatcher.utter_message(response="utter_crm_down")
            return {"order_id": order_id, "task_blocked": "crm_down"}
        except CRMRefused as refusal:
            if refusal.code in grant.REFUSED_CODES:
                return {"order_id": order_id, **_identity_lapsed(dispatcher)}
            if refusal.code != "order_not_found":
                raise
            dispatcher.utter_message(response="utter_not_your_order", order_id=order_id)
            return {"order_id": None, "task_blocked": "not_your_order"}
        return {"order_id": order_id, **await verification.precheck(dispatcher, tracker, customer_id, order_id)}

    async def validate_identity_proof(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        context_for(tracker)
        proof = parse_identity_proof(value)
        if not proof:
            dispatcher.utter_message(response="utter_invalid_identity_proof")
            dispatcher.utter_message(response="utter_ask_order_form_identity_proof")
            return {"identity_proof": None}
        order_id = normalise_order_id(tracker.get_slot("order_id"))
        if order_id is None:  # given before the order number: kept, and checked once the order number comes
            dispatcher.utter_message(response=f"utter_{next(iter(proof))}_kept")
            return {"identity_proof": next(iter(proof.values()))}
        return await verification.check_proof(dispatcher, tracker, order_id, proof)

    async def validate_one_time_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        context_for(tracker)
        if tracker.get_slot("otp_fallback") == "offered" and not tracker.get_slot("customer_id"):
            accepted = tracker.get_intent_of_latest_message() == "affirm"  # "yes" to a code sent to the order's address
            return {"one_time_code": None, "otp_fallback": "accepted" if accepted else "offered"}
        if wants_new_code(value):
            return {"one_time_code": None, "otp_sent_at": None}  # the form's ask sends a new one
        code = parse_code(value)
        if code is None:
            dispatcher.utter_message(response="utter_invalid_code")
            return {"one_time_code": None}
        try:
            verified = await get_client().verify_one_time_code(code)
        except CRMUnavailable:
            dispatcher.utter_message(response="utter_crm_down")
            return {"one_time_code": None, "task_blocked": "crm_down"}
        except CRMRefused as refusal:
            if refusal.code == "code_mismatch":
                left = int(refusal.details.get("attempts_left") or 0)
                dispatcher.utter_message(response="utter_code_mismatch", attempts_left=left)
                return {"one_time_code": None}
            if refusal.code == "code_expired":
                dispatcher.utter_message(response="utter_code_expired")
                return {"one_time_code": None}
            raise
        slots: dict[str, Any] = {"one_time_code": "verified", "otp_fallback": None, "otp_sent_at": None}
        if tracker.get_slot("customer_id"):
            verification.use_grant(verified["grant"])
            dispatcher.utter_message(response="utter_code_accepted")
            return {**slots, "identity_grant": verified["grant"]}
        return {**slots, **await verification.verified_slots(dispatcher, tracker, verified)}

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
        context_for(tracker)
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
            dispatcher.utter_message(response="utter_refund_amount_too_high", maximum=money(maximum))
            return {"refund_amount": None}
        return {"refund_amount": f"{amount:.2f}"}

    async def validate_new_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if parse_address(value) is None:
            dispatcher.utter_message(response="utter_invalid_address")
            return {"new_address": None}
        return {"new_address": str(first(value)).strip()}


def _needs_code(tracker: Tracker) -> bool:
    """A change needs a code, unless the change will go to a person anyway (a valuable customer at risk)."""
    task = tracker.get_slot("task")
    return grant.needs_code(tracker) and not (
        task in tasks.RISKY_TASKS and escalation.decision_for(tracker, intent=task).escalate
    )


def _identity_lapsed(dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """The CRM no longer accepts the conversation's grant: verify again."""
    dispatcher.utter_message(response="utter_verify_again")
    verification.use_grant(None)
    return {name: None for name in grant.IDENTITY_SLOTS}


def _previous_value(tracker: Tracker, slot: str) -> Any:
    """The slot's value before the latest customer message."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_user = True
        elif seen_user and event.get("event") == "slot" and event.get("name") == slot:
            return event.get("value")
    return None
