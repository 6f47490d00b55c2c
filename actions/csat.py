"""The customer's rating of the help they got from a person (CSAT), asked when the agent hands back.

The hand-back (crm_backend/services/escalations.py) ends with a bot message whose buttons send
``/rate_service{"csat_score":"N"}``; this action stores the answer with the escalation through the CRM.
"""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm_client import CRMError, CRMRefused, get_client

logger = logging.getLogger(__name__)


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
        try:
            await get_client().record_csat(tracker.sender_id, score, key=key)
        except CRMRefused as refusal:  # nothing was handed back in this conversation: nothing to rate
            logger.info("CSAT %s of %s not stored: %s", score, tracker.sender_id, refusal.code)
        except CRMError as exc:
            logger.warning("CSAT %s of %s not stored (CRM unavailable): %s", score, tracker.sender_id, exc)
        dispatcher.utter_message(response="utter_csat_thanks" if score >= 3 else "utter_csat_sorry", score=score)
        return []
