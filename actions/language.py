"""A message in a language the assistant cannot serve (`foreign_language`, set by components/language.py).

The `language` slot is already filled from the message (domain.yml), so `utter_only_english` is said in that language
where the domain has it (English otherwise): only English for now, and the offer of a person. A yes (in English, in
the customer's language, or the button) goes through `action_confirm` to the hand-over, whose packet carries the
language (actions/escalation.py).
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict


class ActionOnlyEnglish(Action):
    def name(self) -> str:
        return "action_only_english"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(response="utter_only_english")
        return [SlotSet("pending_confirmation", "human")]
