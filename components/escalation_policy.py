"""A dialogue policy that asks, on every customer message, whether the conversation should go to a person.

It reads the conversation's signals (per-message sentiment from the NLU pipeline, churn risk and value slots set
when the customer was identified, fallbacks, identity state) and calls the one escalation decision
(shopcare_core/escalation/decision.py, thresholds in shopcare_core/escalation/thresholds.yml). When the decision says
escalate, it predicts `action_escalate` with a priority above the rule policy's, so a customer who turns furious in
the middle of a form is handed over then, not at the end of the flow, whatever intent the message was given
(`nlu_fallback` and `out_of_scope` included). A must-escalate trigger (a safety incident, a vulnerable customer, a
legal, chargeback or press threat) is first answered with its own response (`shopcare_core.escalation.packet.first_reply`), then
`action_escalate` runs. When the decision says to ask first (a calm customer misunderstood several times in a row),
it predicts `utter_offer_human_after_fallback` and records `pending_confirmation: human`, so a yes hands over
(`action_confirm`).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ConversationResumed, Restarted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from components.stateless_policy import StatelessPolicy
from shopcare_core.escalation.decision import Thresholds, decide
from shopcare_core.escalation.packet import FIRST_REPLY, FIRST_REPLY_BY_KIND, first_reply
from shopcare_core.escalation.signals import signals_from

logger = logging.getLogger(__name__)
ESCALATE_ACTION = "action_escalate"
ACTIVE_STATES = {"requested", "open", "claimed"}
OFFER_RESPONSE = "utter_offer_human_after_fallback"
FIRST_REPLIES = {*FIRST_REPLY.values(), *FIRST_REPLY_BY_KIND.values()}


# after one of these, the signals start afresh (shopcare_core/escalation/signals.py BOUNDARIES)
BOUNDARY_EVENTS = (ConversationResumed, Restarted, SessionStarted)


def signal_events(tracker: DialogueStateTracker) -> list[dict[str, Any]]:
    """The events the escalation signals are read from (customer messages and the boundaries), as JSON dicts."""
    return [e.as_dict() for e in tracker.events if isinstance(e, (UserUttered, *BOUNDARY_EVENTS))]


class DecidingPolicy(StatelessPolicy):
    """A policy that consults the escalation decision, with the thresholds named by its `thresholds_file`."""

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer: Any | None = None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        self.thresholds = Thresholds.load(self.config["thresholds_file"])


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class EscalationPolicy(DecidingPolicy):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": 7, "thresholds_file": "shopcare_core/escalation/thresholds.yml"}

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        if (
            tracker.get_slot("escalation_status") in ACTIVE_STATES
            or ESCALATE_ACTION not in domain.action_names_or_texts
        ):
            return self._prediction(probabilities)
        latest = tracker.latest_action_name
        events: list[SlotSet] = []
        if latest in FIRST_REPLIES:  # the trigger's own first reply has been said: now the hand-over
            action = ESCALATE_ACTION
        elif latest in (OFFER_RESPONSE, ESCALATE_ACTION):  # (a hand-over pauses the bot; one it declined listens)
            action = ACTION_LISTEN_NAME
        elif latest != ACTION_LISTEN_NAME or not isinstance(tracker.latest_message, UserUttered):
            return self._prediction(probabilities)
        else:
            decision = decide(signals_from(signal_events(tracker), tracker.current_slot_values()), self.thresholds)
            if decision.escalate:
                logger.info("Escalating %s: %s (priority %d)", tracker.sender_id, decision.reasons, decision.priority)
                reply = first_reply(decision)
                action = reply if reply and reply in domain.action_names_or_texts else ESCALATE_ACTION
            elif decision.ask_consent and OFFER_RESPONSE in domain.action_names_or_texts:
                action, events = OFFER_RESPONSE, [SlotSet("pending_confirmation", "human")]
            else:
                return self._prediction(probabilities)
        probabilities[domain.index_for_action(action)] = 1.0
        # "no user" predictions (like an active form's next step) overrule the others: ours must be one too,
        # and then wins the tie on priority
        return self._prediction(probabilities, events=events, is_no_user_prediction=True)
