"""The customer's rating of the help they got from a person (CSAT), asked when the agent hands back.

The hand-back (crm_backend/services/escalations.py) ends with a bot message whose buttons send
``/rate_service{"csat_score":"N"}``; this action stores the answer with the escalation through the CRM. If the CRM
is unreachable, the answer goes into the ``csat_request`` slot: the event stream carries it to the CRM's relay, which
stores it when the CRM is back (the same outbox as an escalation raised during an outage).
"""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm_client import CRMError, CRMRefused, get_client

logger = logging.getLogger(__name__)
CSAT_SLOT = "csat_request"  # read from the event stream by the CRM's relay (crm_backend/relay/sql.py)


def csat_score(tracker: Tracker) -> int | None:
    """The rating 1-5 of the latest message (button payload or typed "4 out of 5"), else None."""
    for value in reversed(list(tracker.get_latest_entity_values("csat_score"))):
        digits = "".join(ch for ch in str(value) if ch.isdigit())
        if digits and 1 <= int(digits) <= 5:
            return int(digits)
    return None


class ActionRecordCsat(Action):
    def name(self) -> str:
        return "action_record_csat"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        score = csat_score(tracker)
        if score is None:
            dispatcher.utter_message(response="utter_csat_invalid")
            return []
        key = f"{tracker.sender_id}:csat:{len(tracker.events)}:{score}"
        events: list[EventType] = []
        try:
            await get_client().record_csat(tracker.sender_id, score, key=key)
        except CRMRefused as refusal:  # nothing was handed back in this conversation: nothing to rate
            logger.info("CSAT %s of %s not stored: %s", score, tracker.sender_id, refusal.code)
        except CRMError as exc:
            # the outbox: the slot event reaches the CRM's relay through the event stream once the CRM is back
            logger.warning("CSAT %s of %s left for the relay (CRM unavailable): %s", score, tracker.sender_id, exc)
            events.append(SlotSet(CSAT_SLOT, {"key": key, "score": score}))
        dispatcher.utter_message(response="utter_csat_thanks" if score >= 3 else "utter_csat_sorry", score=score)
        return events
