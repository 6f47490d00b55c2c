"""Handing a conversation to a person: the escalation packet, the CRM request (with an outbox), the pause.

`raise_escalation` is called by `action_escalate` (predicted by the escalation policy on a customer turn, or by a
rule for an explicit request) and by actions that hit a business rule (a refund above the automatic limit, a locked
identity, an at-risk customer asking to cancel). It asks the one decision function whether to escalate, and if so:
1. records the request in the slot `escalation_request` (the outbox: Rasa's event broker carries it to the CRM,
   which creates the escalation even if it was down when this ran),
2. tries to create it in the CRM at once (same idempotency key, so never twice) to tell the customer the wait,
3. tells the customer honestly what happens next, and pauses the bot for this conversation.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm_client import CRMError, get_client
from crm_backend.escalation.decision import TRIGGER_REASONS, Decision, Thresholds, decide
from crm_backend.escalation.signals import customer_messages, intent_of, sentiment_of, signals_from

logger = logging.getLogger(__name__)
TRANSCRIPT_LIMIT = 60

OPENING = {
    "explicit_request": "Of course. I'm bringing in a member of our team.",
    "strong_negative": "I'm really sorry about this. I'm bringing in a member of our team to sort it out with you personally.",
    "negative_trend": "I'm sorry this has been so frustrating. I'm bringing in a member of our team to help.",
    "at_risk_customer": (
        "Before you decide: you've been a valued customer, and our team can look at what went wrong and what we can "
        "offer to put it right. I'm bringing in a member of our team now."
    ),
    "repeated_fallback": "I'm clearly not understanding, sorry. I'm bringing in a member of our team.",
    "identity_locked": (
        "I couldn't verify your identity, so I'm bringing in a member of our team who can check it another way."
    ),
    "refund_review": "A refund of this size is checked by a person, so I'm bringing in a member of our team.",
    "repeat_complaint": "I'm sorry you've had to contact us about problems again. I'm bringing in a member of our team.",
}
# a must-escalate trigger is answered first by its own response in domain.yml (safety advice, a compassionate word),
# uttered by the escalation policy itself just before action_escalate, so it needs no action server
FIRST_REPLY = {reason: f"utter_escalation_{reason}" for reason in TRIGGER_REASONS}
FIRST_REPLY_BY_KIND = {
    ("vulnerable_customer", kind): f"utter_escalation_vulnerable_customer_{kind}"
    for kind in ("bereavement", "medical", "crisis")
}


def first_reply(decision: Decision) -> str | None:
    """The response that opens an escalation whose main reason is a must-escalate trigger (None for the others)."""
    if decision.main_reason not in FIRST_REPLY:
        return None
    kinds = [t["kind"] for t in decision.details.get("triggers", ()) if t["reason"] == decision.main_reason]
    return FIRST_REPLY_BY_KIND.get((decision.main_reason, kinds[0] if kinds else ""), FIRST_REPLY[decision.main_reason])


@functools.lru_cache(maxsize=1)
def thresholds() -> Thresholds:
    return Thresholds.load()


def transcript(tracker: Tracker) -> list[dict[str, Any]]:
    lines = []
    for event in tracker.events:
        kind = event.get("event")
        if kind == "user":
            lines.append(
                {
                    "sender": "customer",
                    "text": event.get("text"),
                    "intent": intent_of(event),
                    "sentiment": sentiment_of(event),
                    "at": event.get("timestamp"),
                }
            )
        elif kind == "bot" and event.get("text"):
            lines.append({"sender": "bot", "text": event.get("text"), "at": event.get("timestamp")})
    return lines[-TRANSCRIPT_LIMIT:]


def build_request(tracker: Tracker, decision: Decision) -> dict[str, Any]:
    """The body of POST /escalations: everything an agent needs without asking the customer again."""
    slots = tracker.slots
    scores = [s for s in (sentiment_of(m) for m in customer_messages(tracker.events)) if s is not None]
    customer_id = slots.get("customer_id")
    packet = {
        "customer": {
            "customer_id": customer_id,
            "name": slots.get("customer_name"),
            "verified": bool(customer_id),
            "failed_verifications": int(slots.get("verify_failures") or 0),
            "identity_locked": bool(slots.get("identity_locked")),
            "segment": slots.get("customer_segment"),
            # the language the customer wrote in when it was not English (components/language.py), else English
            "language": slots.get("language") or "en",
        },
        "orders_in_question": sorted({str(v) for v in [slots.get("order_id")] if v}),
        "task": slots.get("task"),
        "crm_calls": list(slots.get("crm_calls") or []),
        "transcript": transcript(tracker),
        "churn": {"probability": slots.get("churn_probability"), "drivers": list(slots.get("churn_drivers") or [])},
        "value": {"clv": slots.get("customer_value"), "segment": slots.get("customer_segment")},
        "decision": {
            "reasons": list(decision.reasons),
            "priority": decision.priority,
            "summary": decision.summary,
            "suggested_action": decision.suggested_action,
            "offer_retention": decision.offer_retention,
            "triggers": decision.details.get("triggers", []),  # must-escalate triggers: reason, kind, the words
        },
        "escalated_at": datetime.now(timezone.utc).isoformat(),
    }
    return {
        "conversation_id": tracker.sender_id,
        "channel": tracker.get_latest_input_channel() or "unknown",
        "customer_id": int(customer_id) if customer_id else None,
        "priority": decision.priority,
        "reason_codes": list(decision.reasons),
        "summary": decision.summary,
        "suggested_action": decision.suggested_action,
        "scores": {
            "sentiment_last": scores[-1] if scores else None,
            "sentiment_mean": round(sum(scores) / len(scores), 3) if scores else None,
            "churn_probability": slots.get("churn_probability"),
            "customer_value": slots.get("customer_value"),
        },
        "packet": packet,
        "identity_grant": slots.get("identity_grant"),  # the CRM keeps customer_id only with its own grant
    }


def decision_for(
    tracker: Tracker, rule_hits: Iterable[str] = (), explicit: bool = False, intent: str | None = None
) -> Decision:
    """The one decision function on this conversation's signals (plus what the caller knows)."""
    signals = signals_from(tracker.events, tracker.slots, rule_hits)
    if explicit or intent:
        signals = signals.__class__(
            **{
                **signals.__dict__,
                "explicit_request": explicit or signals.explicit_request,
                "intent": intent or signals.intent,
            }
        )
    return decide(signals, thresholds())


async def raise_escalation(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    rule_hits: Iterable[str] = (),
    explicit: bool = False,
    intent: str | None = None,
) -> list[EventType]:
    """Escalate if the decision says so; returns the events (empty when it does not)."""
    decision = decision_for(tracker, rule_hits, explicit, intent)
    if not decision.escalate:
        return []
    count = int(tracker.get_slot("escalation_count") or 0) + 1
    key = f"{tracker.sender_id}:escalation:{count}"
    body = build_request(tracker, decision)
    events: list[EventType] = [
        SlotSet("escalation_request", {"key": key, "body": body}),
        SlotSet("escalation_count", count),
        SlotSet("escalated_reasons", sorted(set(tracker.get_slot("escalated_reasons") or []) | set(decision.reasons))),
        SlotSet("pending_confirmation", None),
    ]
    reply = first_reply(decision)
    if reply is None:
        dispatcher.utter_message(text=OPENING[decision.main_reason])
    elif tracker.latest_action_name != reply:  # the escalation policy has not said it already
        dispatcher.utter_message(response=reply)
    try:
        created = await get_client().create_escalation(body, key=key)
    except CRMError as exc:
        logger.warning("Escalation of %s goes through the outbox: %s", tracker.sender_id, exc)
        dispatcher.utter_message(response="utter_escalation_queued")
        events.append(SlotSet("escalation_status", "requested"))
    else:
        dispatcher.utter_message(
            response="utter_escalation_opened",
            position=created.get("position", 1),
            minutes=created.get("expected_wait_minutes", 5),
        )
        events += [SlotSet("escalation_status", "open"), SlotSet("escalation_id", str(created["id"]))]
    if tracker.active_loop.get("name"):
        events += [ActiveLoop(None), SlotSet("requested_slot", None)]
    return events + [ConversationPaused()]


class ActionEscalate(Action):
    def name(self) -> str:
        return "action_escalate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        explicit = tracker.get_intent_of_latest_message() == "contact_human_agent"
        events = await raise_escalation(dispatcher, tracker, explicit=explicit)
        if not events:  # the decision changed its mind (e.g. the slots were reset); carry on with the bot
            dispatcher.utter_message(response="utter_anything_else")
        return events
