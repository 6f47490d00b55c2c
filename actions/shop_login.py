"""Shop logins: a customer signed in on the shop is verified by the token the shop signed, with no questions.

The web widget sends the shop's identity token (`window.ShopCareChat.identityToken`) in every message's metadata
(`identityToken`). The CRM checks it (`POST /identity/shop-login`) and issues a strong grant; an invalid or expired
token is ignored, and the customer is served as a guest.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import grant, risk
from actions.crm_client import CallContext, CRMError, get_client, start_call_log

logger = logging.getLogger(__name__)
METADATA_KEY = "identityToken"


def token_of(tracker: Tracker) -> str | None:
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    token = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    return token if isinstance(token, str) and 0 < len(token) <= 2000 else None


async def login(tracker: Tracker, context: CallContext) -> dict[str, Any]:
    """Identity slots from the message's shop token; {} when there is none, it is refused, or already verified."""
    token = token_of(tracker)
    if token is None or (tracker.get_slot("customer_id") and grant.is_current(tracker)):
        return {}
    try:
        verified = await get_client().shop_login(token)
    except CRMError as exc:
        logger.info("shop login not accepted: %s", exc)
        return {}
    context.use_grant(verified["grant"])
    customer_id = str(verified["customer_id"])
    return {
        "customer_id": customer_id,
        "customer_name": verified["first_name"],
        "identity_proof": "verified",
        "identity_grant": verified["grant"],
        "verify_failures": 0,
        **await risk.assess(customer_id),
    }


class ActionGreet(Action):
    """Greets a signed-in customer by name; everyone else with the usual greeting."""

    def name(self) -> str:
        return "action_greet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        context = start_call_log(tracker)
        slots = await login(tracker, context)
        if not slots:
            dispatcher.utter_message(response="utter_greet")
            return []
        dispatcher.utter_message(response="utter_greet_signed_in", customer_name=slots["customer_name"])
        return [SlotSet(k, v) for k, v in slots.items()] + [SlotSet("identity_grant", context.grant)]
