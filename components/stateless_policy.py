"""Base of the project's policies that learn nothing: their rules live in code and config files.

Training stores nothing and loading rebuilds the policy from its config, so each subclass only says what it predicts.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates


class StatelessPolicy(Policy):
    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> StatelessPolicy:
        return cls(config, model_storage, resource, execution_context)
