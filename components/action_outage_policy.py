"""A dialogue policy for the moment a custom action fails (action server down, killed, or an action that crashed).

Rasa logs the failure, keeps the `ActionExecuted` of the action with none of its events, and asks the policies what to
do next; on its own it would carry on as if the action had run (or say nothing). This policy sees that state (the
latest event is a custom action or form that produced nothing) and predicts `utter_actions_down`: an honest answer
with a way to a person that needs no action server. After it, it predicts `action_listen`, so the customer's next
message tries again: once the action server is back, the conversation goes on where it was (forms stay active).
It acts only in live conversations (the customer's message came through a channel): the test stories that `rasa
test` replays hold custom actions without their events. Known limit: a custom action that succeeds while returning no
event and saying nothing would be reported as an outage; none of ours does (each answers or sets a slot).

A request for a person is never lost to an outage: when the failed action is `action_escalate` and the one escalation
decision still says escalate, this policy records the request itself, from the Rasa server. Its prediction carries
the events `action_escalate` would have returned: the packet in the `escalation_request` slot (the outbox, built by the
same code from the same tracker: reasons, sentiment history, transcript, the identified customer's slots), the
escalation count and reasons, the form closed, and the pause. The event stream carries the request to the CRM's relay,
which creates the escalation (once: the request key is the one the action would have used). The customer is told the
truth (`utter_escalation_recorded`): a person will pick it up here, with the usual wait, the phone number as an extra.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, ConversationPaused, Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa_sdk import Tracker

from components.escalation_policy import ESCALATE_ACTION, DecidingPolicy, signal_events
from shopcare_core.escalation.decision import Thresholds, decide
from shopcare_core.escalation.packet import build_request
from shopcare_core.escalation.signals import signals_from

OUTAGE_RESPONSE = "utter_actions_down"
RECORDED_RESPONSE = "utter_escalation_recorded"


def failed_custom_action(tracker: DialogueStateTracker, domain: Domain) -> str | None:
    """The custom action or form that just ran without producing a single event, if any."""
    if not tracker.events or not getattr(tracker.latest_message, "input_channel", None):
        # only live conversations: `rasa test` replays stories whose custom actions carry no events by design
        return None
    latest = tracker.events[-1]
    if not isinstance(latest, ActionExecuted) or not latest.action_name:
        return None
    custom = set(domain.user_actions) | set(domain.form_names)
    return latest.action_name if latest.action_name in custom else None


def escalation_events(tracker: DialogueStateTracker, thresholds: Thresholds) -> list[Event]:
    """The events `action_escalate` would have returned, built on the Rasa server; [] if the decision says no."""
    decision = decide(signals_from(signal_events(tracker), tracker.current_slot_values()), thresholds)
    if not decision.escalate:
        return []
    state = Tracker.from_dict(tracker.current_state(EventVerbosity.AFTER_RESTART))
    count = int(tracker.get_slot("escalation_count") or 0) + 1
    request = {"key": f"{tracker.sender_id}:escalation:{count}", "body": build_request(state, decision)}
    reasons = sorted(set(tracker.get_slot("escalated_reasons") or []) | set(decision.reasons))
    events: list[Event] = [
        SlotSet("escalation_request", request),
        SlotSet("escalation_count", count),
        SlotSet("escalated_reasons", reasons),
        SlotSet("escalation_status", "requested"),
        SlotSet("pending_confirmation", None),
    ]
    if tracker.active_loop_name:
        events += [ActiveLoop(None), SlotSet("requested_slot", None)]
    return [*events, SlotSet("escalation_request", None), ConversationPaused()]  # the event is the outbox entry


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class ActionOutagePolicy(DecidingPolicy):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": 8, "thresholds_file": "shopcare_core/escalation/thresholds.yml"}

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        if OUTAGE_RESPONSE not in domain.action_names_or_texts:
            return self._prediction(probabilities)
        events: list[Event] = []
        failed = failed_custom_action(tracker, domain)
        if tracker.latest_action_name in (OUTAGE_RESPONSE, RECORDED_RESPONSE):
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
        elif failed == ESCALATE_ACTION and RECORDED_RESPONSE in domain.action_names_or_texts:
            events = escalation_events(tracker, self.thresholds)
            probabilities[domain.index_for_action(RECORDED_RESPONSE if events else OUTAGE_RESPONSE)] = 1.0
        elif failed:
            probabilities[domain.index_for_action(OUTAGE_RESPONSE)] = 1.0
        else:
            return self._prediction(probabilities)
        # "no user" predictions (an active form's next step) overrule the others: ours must be one too
        return self._prediction(probabilities, events=events, is_no_user_prediction=True)
