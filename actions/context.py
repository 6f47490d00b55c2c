"""What a task handler gets: the dispatcher, the tracker and the conversation's verified facts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import idempotency_key
from actions.crm_client import CRMClient, get_client


@dataclass
class TaskContext:
    dispatcher: CollectingDispatcher
    tracker: Tracker
    client: CRMClient
    task: str | None
    customer_id: str  # "" until the conversation is verified (runners only run once it is)
    order_id: str  # "" until an order number is known

    @classmethod
    def of(cls, dispatcher: CollectingDispatcher, tracker: Tracker) -> TaskContext:
        return cls(
            dispatcher=dispatcher,
            tracker=tracker,
            client=get_client(),
            task=tracker.get_slot("task"),
            customer_id=str(tracker.get_slot("customer_id") or ""),
            order_id=str(tracker.get_slot("order_id") or ""),
        )

    def slot(self, name: str) -> Any:
        return self.tracker.get_slot(name)

    def utter(self, response: str, **variables: Any) -> None:
        """A domain response (domain.yml), filled with ``variables`` (and the conversation's slots)."""
        self.dispatcher.utter_message(response=response, **variables)

    def key(self, action: str, *parts: Any) -> str:
        return idempotency_key(self.tracker, action, self.customer_id, self.order_id, *parts)
