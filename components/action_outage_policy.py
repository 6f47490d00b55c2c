"""A dialogue policy for the moment a custom action fails (action server down, killed, or an action that crashed).

Rasa logs the failure, keeps the `ActionExecuted` of the action with none of its events, and asks the policies what to
do next; on its own it would carry on as if the action had run (or say nothing). This policy sees that state (the
latest event is a custom action or form that produced nothing) and predicts `utter_actions_down`: an honest answer
with a way to a person that needs no action server. After it, it predicts `action_listen`, so the customer's next
message tries again: once the action server is back, the conversation goes on where it was (forms stay active).
It acts only in live conversations (the customer's message came through a channel): the test stories that `rasa
test` replays hold custom actions without their events. Known limit: a custom action that succeeds while returning no
event and saying nothing would be reported as an outage; none of ours does (each answers or sets a slot).
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.trackers import DialogueStateTracker

from components.stateless_policy import StatelessPolicy

OUTAGE_RESPONSE = "utter_actions_down"


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


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class ActionOutagePolicy(StatelessPolicy):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": 8}

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
        if tracker.latest_action_name == OUTAGE_RESPONSE:
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
        elif failed_custom_action(tracker, domain):
            probabilities[domain.index_for_action(OUTAGE_RESPONSE)] = 1.0
        else:
            return self._prediction(probabilities)
        # "no user" predictions (an active form's next step) overrule the others: ours must be one too
        return self._prediction(probabilities, is_no_user_prediction=True)
