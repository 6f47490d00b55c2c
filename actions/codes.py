"""One-time codes: the stronger proof a change needs, and the way back in when identity checks are paused.

The order form asks for `one_time_code` when a change (cancel, refund, address) or a data request is in hand and the
customer proved who they are with an e-mail or postcode only, or when the CRM paused identity checks for the details
given: then the customer is offered a code sent to the address on the order (if the order is ours), and it is sent on
their "yes", so a sweep does not mail the owners of the orders it tries. `action_ask_one_time_code` sends a code
once per conversation and ask (a re-ask only reminds); "new code" sends another.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm_client import CRMRefused, CRMUnavailable, get_client, start_call_log

logger = logging.getLogger(__name__)

RESEND_RE = re.compile(r"\b(new|another|resend|re-send|send again|didn'?t (get|arrive|come))\b", re.IGNORECASE)
CODE_RE = re.compile(r"^\D{0,20}(\d[\d\s-]{4,10}\d)\D{0,20}$")
REMIND_WITHIN_SECONDS = 9 * 60  # a code lives 10 minutes: within that, a re-ask reminds instead of sending again
PURPOSE = {
    "cancel_order": "cancel an order",
    "get_refund": "arrange a refund",
    "change_shipping_address": "change a delivery address",
    "data_export": "request a copy of your personal data",
    "data_erasure": "request the erasure of your personal data",
}


def parse_code(value: Any) -> str | None:
    """'123456', '123 456', 'the code is 123-456' -> '123456'; None if it is not a 6-digit code."""
    match = CODE_RE.match(str(value or "").strip())
    if not match:
        return None
    digits = "".join(ch for ch in match.group(1) if ch.isdigit())
    return digits if len(digits) == 6 else None


def wants_new_code(value: Any) -> bool:
    return bool(RESEND_RE.search(str(value or "")[:200]))


class ActionAskOneTimeCode(Action):
    """Asks for the code: sends it first when none was sent in this ask (the form re-asks after a wrong code)."""

    def name(self) -> str:
        return "action_ask_one_time_code"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        sent_at = float(tracker.get_slot("otp_sent_at") or 0)
        if sent_at and time.time() - sent_at < REMIND_WITHIN_SECONDS:
            dispatcher.utter_message(response="utter_ask_code_again")
            return []
        verified = bool(tracker.get_slot("customer_id"))
        if not verified and tracker.get_slot("otp_fallback") == "offered":  # sent only when the customer says yes
            dispatcher.utter_message(response="utter_offer_code_by_order", order_id=tracker.get_slot("order_id"))
            return []
        start_call_log(tracker)
        try:
            sent = await get_client().send_one_time_code(None if verified else tracker.get_slot("order_id"))
        except CRMUnavailable:
            dispatcher.utter_message(response="utter_code_unavailable", message="I couldn't send a code just now.")
            return []
        except CRMRefused as refusal:
            logger.info("one-time code not sent: %s", refusal.code)
            dispatcher.utter_message(response="utter_code_unavailable", message=refusal.message)
            return []
        minutes = max(1, int(sent.get("expires_in_seconds", 600)) // 60)
        if verified:
            dispatcher.utter_message(
                response="utter_code_sent",
                purpose=PURPOSE.get(tracker.get_slot("task") or "", "make this change"),
                email_hint=sent.get("sent_to") or "the e-mail address on your account",
                minutes=minutes,
            )
        else:
            dispatcher.utter_message(response="utter_code_sent_by_order", order_id=tracker.get_slot("order_id"))
        return [SlotSet("otp_sent_at", time.time())]
