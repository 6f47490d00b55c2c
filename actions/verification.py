"""Checking a customer's proof of identity with the CRM, for the order form (actions/identity.py).

`check_proof` asks the CRM whether an e-mail or postcode matches an order and returns the slots of a verified
customer (the CRM's grant in use for the calls that follow) or of a failed attempt: three failures lock the flow.
An e-mail or postcode given before the order number is kept in `identity_proof` unchecked (`kept_proof`) until the
order number comes.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import risk, tasks
from actions.common import normalise_order_id, parse_identity_proof
from actions.crm_client import CRMRefused, CRMUnavailable, current_context, get_client

MAX_VERIFY_ATTEMPTS = 3


def kept_proof(tracker: Tracker) -> dict[str, str]:
    """An e-mail or postcode the customer gave before the order number, not yet checked ({} if none)."""
    value = tracker.get_slot("identity_proof")
    if not value or value == "verified" or "identity_proof" in tracker.slots_to_validate():
        return {}  # none, already checked, or given in this message (validate_identity_proof checks it)
    return parse_identity_proof(value)


async def check_proof(
    dispatcher: CollectingDispatcher, tracker: Tracker, order_id: str, proof: dict[str, str]
) -> dict[str, Any]:
    """Ask the CRM whether the e-mail or postcode matches the order: the slots of a verified customer, or a failure."""
    try:
        verified = await get_client().verify_identity(order_id, client_address=client_address(tracker), **proof)
    except CRMUnavailable:
        dispatcher.utter_message(response="utter_crm_down")
        return {"identity_proof": None, "task_blocked": "crm_down"}
    except CRMRefused as refusal:
        if refusal.code == "invalid_request":  # e.g. an over-long e-mail: not a usable answer
            dispatcher.utter_message(response="utter_invalid_identity_proof")
            dispatcher.utter_message(response="utter_ask_order_form_identity_proof")
            return {"identity_proof": None}
        if refusal.code == "too_many_attempts" and refusal.details.get("one_time_code"):
            return {"identity_proof": None, "otp_fallback": "offered"}  # action_ask_one_time_code offers a code
        if refusal.code not in ("verification_failed", "too_many_attempts"):
            raise
        return failed_attempt(dispatcher, tracker, locked_by_crm=refusal.code == "too_many_attempts")
    return await verified_slots(dispatcher, tracker, verified, order_id)


async def verified_slots(
    dispatcher: CollectingDispatcher, tracker: Tracker, verified: dict[str, Any], order_id: str | None = None
) -> dict[str, Any]:
    """The slots of a customer the CRM has just verified (its grant in use for the calls that follow)."""
    customer_id = str(verified["customer_id"])
    use_grant(verified["grant"])
    dispatcher.utter_message(response="utter_identity_verified", customer_name=verified["first_name"])
    slots = {
        "identity_proof": "verified",
        "identity_grant": verified["grant"],
        "customer_id": customer_id,
        "customer_name": verified["first_name"],
        "verify_failures": 0,
        **await risk.assess(customer_id),
    }
    order_id = order_id or normalise_order_id(tracker.get_slot("order_id")) or tracker.get_slot("order_id")
    return {**slots, **await precheck(dispatcher, tracker, customer_id, order_id)}


def use_grant(token: str | None) -> None:
    context = current_context()
    if context is not None:
        context.use_grant(token)


def client_address(tracker: Tracker) -> str | None:
    """The customer's network address, as the channel recorded it (never what the client claims)."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    client = metadata.get("shopcare_client") if isinstance(metadata, dict) else None
    address = client.get("address") if isinstance(client, dict) else None
    return str(address)[:64] if isinstance(address, str) and address else None


def failed_attempt(dispatcher: CollectingDispatcher, tracker: Tracker, locked_by_crm: bool) -> dict[str, Any]:
    failures = int(tracker.get_slot("verify_failures") or 0) + 1
    if failures >= MAX_VERIFY_ATTEMPTS or locked_by_crm:
        return {"identity_proof": None, "verify_failures": failures, "identity_locked": True}
    dispatcher.utter_message(response="utter_identity_failed", attempts_left=MAX_VERIFY_ATTEMPTS - failures)
    return {"identity_proof": None, "verify_failures": failures}


async def precheck(
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
