"""The request for a person that the action-outage policy records itself (components/action_outage_policy.py)."""

from __future__ import annotations

import functools
from pathlib import Path

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ConversationPaused, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from components.action_outage_policy import escalation_events
from shopcare_core.escalation.decision import Thresholds

ROOT = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=1)
def domain() -> Domain:
    return Domain.from_path(ROOT / "domain.yml")


def test_the_request_is_streamed_once_and_not_kept_in_the_slot() -> None:
    asked = UserUttered(
        "I want to talk to a real person",
        {"name": "contact_human_agent", "confidence": 0.99},
        parse_data={"intent": {"name": "contact_human_agent", "confidence": 0.99}, "sentiment": {"score": -0.2}},
    )
    tracker = DialogueStateTracker.from_events(
        "outage-1", [ActionExecuted("action_listen"), asked, ActionExecuted("action_escalate")], domain().slots
    )
    events = escalation_events(tracker, Thresholds.load())
    requests = [e for e in events if isinstance(e, SlotSet) and e.key == "escalation_request"]
    assert [bool(e.value) for e in requests] == [True, False]  # the outbox event, then the slot emptied
    assert requests[0].value["key"] == "outage-1:escalation:1"
    assert requests[0].value["body"]["packet"]["transcript"][0]["text"] == "I want to talk to a real person"
    assert isinstance(events[-1], ConversationPaused)
    for event in events:
        tracker.update(event)
    assert tracker.get_slot("escalation_request") is None and tracker.get_slot("escalation_status") == "requested"
