"""Policy questions (answered from the CRM's policy texts, the one source of truth) and account help."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm_client import CRMError, get_client

TOPIC_BY_INTENT = {
    "check_refund_policy": "refund_policy",
    "check_cancellation_fee": "cancellation_fee",
    "check_payment_methods": "payment_methods",
    "delivery_options": "delivery_options",
    "delivery_period": "delivery_period",
}
# account requests the assistant can't carry out itself: offer a case for the team
TICKET_INTENTS = {"delete_account", "registration_problems", "switch_account"}


class ActionAnswerPolicy(Action):
    def name(self) -> str:
        return "action_answer_policy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        topic = TOPIC_BY_INTENT.get(tracker.get_intent_of_latest_message() or "", "delivery_options")
        try:
            policy = await get_client().get_policy(topic)
        except CRMError:
            dispatcher.utter_message(response="utter_crm_down")
            return []
        dispatcher.utter_message(text=policy["text"])
        return []


class ActionAccountHelp(Action):
    def name(self) -> str:
        return "action_account_help"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        intent = tracker.get_intent_of_latest_message() or "edit_account"
        dispatcher.utter_message(response=f"utter_{intent}")
        if intent in TICKET_INTENTS:
            dispatcher.utter_message(response="utter_offer_account_case")
            return [SlotSet("pending_confirmation", f"ticket:{intent}")]
        return []
