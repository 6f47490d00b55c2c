"""The escalation policy on trackers built from the real domain: a must-escalate trigger is answered with its own
first reply and handed over at once (in a form, after an out-of-scope reading, after a fallback); misunderstood
messages in a row hand over when the customer is upset and ask first when they are calm; a yes to that question
then goes through `action_confirm`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from components.escalation_policy import OFFER_RESPONSE, EscalationPolicy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.from_path(ROOT / "domain.yml")


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> EscalationPolicy:
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    context = ExecutionContext(GraphSchema({}), "test")
    config = {
        **EscalationPolicy.get_default_config(),
        "thresholds_file": str(ROOT / "shopcare_core/escalation/thresholds.yml"),
    }
    return EscalationPolicy(config, storage, Resource("escalation"), context)


def said(text: str, intent: str, score: float) -> list[Event]:
    parse = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "sentiment": {"score": score}}
    return [ActionExecuted(ACTION_LISTEN_NAME), UserUttered(text, parse["intent"], parse_data=parse)]


def tracker(domain: Domain, *events: Event) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("c1", [ActionExecuted(ACTION_LISTEN_NAME), *events], domain.slots)


def predicted(policy: EscalationPolicy, domain: Domain, t: DialogueStateTracker) -> tuple[str | None, list[Any]]:
    prediction = policy.predict_action_probabilities(t, domain)
    if max(prediction.probabilities) == 0:
        return None, prediction.events
    return domain.action_names_or_texts[prediction.probabilities.index(1.0)], prediction.events


IN_FORM = [
    *said("where's my order", "track_order", 0.0),
    ActionExecuted("action_start_task"),
    ActionExecuted("order_form"),
    ActiveLoop("order_form"),
    SlotSet("requested_slot", "order_id"),
]


@pytest.mark.parametrize(
    "events,text,intent,reply",
    [
        (
            IN_FORM,
            "I'm going to report you to trading standards if I don't get my money back today",
            "get_refund",
            "utter_escalation_legal_threat",
        ),
        ([], "I'll dispute it with my bank", "out_of_scope", "utter_escalation_chargeback_threat"),
        ([], "the hair dryer I bought from you caught fire", "nlu_fallback", "utter_escalation_safety_issue"),
        (
            IN_FORM,
            "my husband died last week and I don't know what to do with his orders",
            "inform",
            "utter_escalation_vulnerable_customer_bereavement",
        ),
        ([], "I'm going to post about this all over twitter", "complaint", "utter_escalation_media_threat"),
    ],
)
def test_a_trigger_gets_its_first_reply_then_the_hand_over(policy, domain, events, text, intent, reply):
    t = tracker(domain, *events, *said(text, intent, 0.1))
    assert predicted(policy, domain, t) == (reply, [])
    t.update(ActionExecuted(reply))
    assert predicted(policy, domain, t) == ("action_escalate", [])


def test_a_near_miss_is_left_to_the_other_policies(policy, domain):
    t = tracker(domain, *IN_FORM, *said("is there a legal warranty?", "check_refund_policy", 0.0))
    assert predicted(policy, domain, t) == (None, [])


def fallbacks(*scores: float) -> list[Event]:
    events: list[Event] = []
    for i, score in enumerate(scores):
        events += [*said(f"blorp {i}", "nlu_fallback", score), ActionExecuted("action_two_stage_fallback")]
    return events[:-1]


def test_calm_customer_misunderstood_three_times_is_asked_and_a_yes_is_pending(policy, domain):
    t = tracker(domain, *fallbacks(-0.1, 0.0, -0.2))
    action, events = predicted(policy, domain, t)
    assert action == OFFER_RESPONSE and events == [SlotSet("pending_confirmation", "human")]
    t.update(ActionExecuted(OFFER_RESPONSE))
    assert predicted(policy, domain, t) == (ACTION_LISTEN_NAME, [])


def test_upset_customer_misunderstood_three_times_is_handed_over(policy, domain):
    t = tracker(domain, *fallbacks(-0.1, -0.7, -0.2))
    assert predicted(policy, domain, t) == ("action_escalate", [])


def test_out_of_scope_readings_are_not_misunderstandings(policy, domain):
    events = [*said("a", "nlu_fallback", 0.0), *said("b", "out_of_scope", 0.0), *said("c", "out_of_scope", 0.0)]
    assert predicted(policy, domain, tracker(domain, *events)) == (None, [])


def test_nothing_while_an_agent_has_the_conversation(policy, domain):
    t = tracker(domain, SlotSet("escalation_status", "open"), *said("the heater caught fire", "nlu_fallback", 0.0))
    assert predicted(policy, domain, t) == (None, [])
