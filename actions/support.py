"""Complaints, tickets and the way to a person; the fallback when the assistant doesn't understand.

"A person" is a live agent (actions/escalation.py); a ticket is what the team answers later by e-mail or phone.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import idempotency_key
from actions.context import TaskContext
from actions.crm_client import CRMUnavailable, get_client
from actions.escalation import raise_escalation


def _recent_customer_text(tracker: Tracker, limit: int = 5) -> str:
    texts = [e.get("text") or "" for e in tracker.events if e.get("event") == "user" and e.get("text")]
    return " | ".join(texts[-limit:])[:2000] or "(no message text)"


async def open_ticket(tracker: Tracker, topic: str) -> dict[str, Any]:
    body = {
        "customer_id": tracker.get_slot("customer_id"),
        "conversation_id": tracker.sender_id,
        "channel": tracker.get_latest_input_channel() or "unknown",
        "topic": topic,
        "summary": _recent_customer_text(tracker),
        "identity_grant": tracker.get_slot("identity_grant"),  # the CRM keeps customer_id only with its grant
    }
    return await get_client().create_ticket(
        {k: v for k, v in body.items() if v is not None}, key=idempotency_key(tracker, "ticket", topic)
    )


async def identity_locked(ctx: TaskContext) -> list[EventType]:
    """Three failed verifications: a person takes over (or, if the decision does not escalate, a ticket)."""
    escalated = await raise_escalation(ctx.dispatcher, ctx.tracker)
    if escalated:
        return escalated
    try:
        ticket = await open_ticket(ctx.tracker, "identity_verification_failed")
    except CRMUnavailable:
        ctx.dispatcher.utter_message(response="utter_identity_locked_no_ticket")
        return [SlotSet("pending_confirmation", None)]
    ctx.dispatcher.utter_message(response="utter_identity_locked", reference=ticket["reference"])
    return [SlotSet("pending_confirmation", None)]


async def confirm_human(ctx: TaskContext) -> list[EventType]:
    """The customer accepted the offer of a person."""
    return await raise_escalation(ctx.dispatcher, ctx.tracker, explicit=True)


async def confirm_ticket(ctx: TaskContext) -> list[EventType]:
    topic = (ctx.slot("pending_confirmation") or "ticket:other").split(":", 1)[1]
    ticket = await open_ticket(ctx.tracker, topic)
    ctx.utter("utter_ticket_opened", reference=ticket["reference"])
    ctx.dispatcher.utter_message(response="utter_anything_else")
    return []


class ActionComplaint(Action):
    def name(self) -> str:
        return "action_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        try:
            ticket = await open_ticket(tracker, "complaint")
        except CRMUnavailable:
            dispatcher.utter_message(response="utter_crm_down")
            return []
        if ticket.get("repeat_complaint"):
            # A third complaint this month (policies.yml): the decision sees the rule hit and a person takes over.
            escalated = await raise_escalation(dispatcher, tracker, rule_hits=("repeat_complaint",))
            if escalated:
                return escalated
        dispatcher.utter_message(response="utter_complaint_recorded", reference=ticket["reference"])
        return [SlotSet("pending_confirmation", "human")]


class ActionDefaultAskAffirmation(Action):
    """First stage of the two-stage fallback: ask the customer to rephrase."""

    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(response="utter_ask_rephrase")
        return []


class ActionDefaultFallback(Action):
    """Second stage (or no rule applies): ask once more, saying what the assistant can do. One more misunderstood
    message and the escalation policy hands over or asks the customer's consent (`max_consecutive_fallbacks`)."""

    def name(self) -> str:
        return "action_default_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(response="utter_default")
        return [UserUtteranceReverted()]
