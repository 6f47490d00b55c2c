"""Handing a conversation to a person: the escalation packet, the CRM request (with an outbox), the pause.

`raise_escalation` is called by `action_escalate` (predicted by the escalation policy on a customer turn, or by a
rule for an explicit request) and by actions that hit a business rule (a refund above the automatic limit, a locked
identity, an at-risk customer asking to cancel). It asks the one decision function whether to escalate, and if so:
1. records the request in the slot `escalation_request` (the outbox: Rasa's event broker carries that slot event to
   the CRM, which creates the escalation even if it was down when this ran) and empties the slot again in the same
   turn: the event is the outbox entry, and a slot still holding the packet (the transcript, the customer's name)
   would be carried into every later session, sent with every action call and streamed again at each session start,
2. tries to create it in the CRM at once (same idempotency key, so never twice) to tell the customer the wait,
3. tells the customer honestly what happens next, and pauses the bot for this conversation.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm_client import CRMError, get_client
from shopcare_core.escalation.decision import Decision, Thresholds, decide
from shopcare_core.escalation.packet import build_request, first_reply
from shopcare_core.escalation.signals import signals_from

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def thresholds() -> Thresholds:
    return Thresholds.load()


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
        dispatcher.utter_message(response=f"utter_escalation_{decision.main_reason}")
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
    return events + [SlotSet("escalation_request", None), ConversationPaused()]


class ActionEscalate(Action):
    def name(self) -> str:
        return "action_escalate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        explicit = tracker.get_intent_of_latest_message() == "contact_human_agent"
        events = await raise_escalation(dispatcher, tracker, explicit=explicit)
        if not events:  # the decision changed its mind (e.g. the slots were reset); carry on with the bot
            dispatcher.utter_message(response="utter_anything_else")
        return events
