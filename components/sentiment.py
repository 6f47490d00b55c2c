"""Sentiment of every user message, embedded in the NLU pipeline so it lands in the tracker's parse_data.

Trains the pure model in ``shopcare_core.ml.sentiment`` on the team's own CSV (``training_file``, relative to the cwd,
i.e. the repo root), not on the NLU training data: on every labelled message (``holdout_fraction`` 0; how the method
and the shipped model are measured: docs/architecture.md#nlu-models).
The fitted model is persisted with joblib into Rasa's model storage, so a packed model archive is self-contained.

Note: Rasa fingerprints a component's config and its graph inputs, not the CSV, so after editing the CSV retrain
with ``rasa train --force`` (or change ``training_file``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from shopcare_core.ml.sentiment import SentimentModel, train_from_csv

logger = logging.getLogger(__name__)
MODEL_FILE = "sentiment_model.joblib"
SENTIMENT = "sentiment"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class SentimentAnalyzer(GraphComponent):
    """Sets ``message["sentiment"] = {label, score, probabilities}`` on every message with text."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "training_file": "data/sentiment/customer_messages.csv",
            "holdout_fraction": 0.0,  # ship on every labelled message (docs/architecture.md#nlu-models)
            "seed": 13,
            "C": 4.0,
            "dense_weight": 0.5,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn", "joblib"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: SentimentModel | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentimentAnalyzer:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Ignores the NLU data: fits on ``training_file`` and writes the model into the model storage."""
        path = Path(self.config["training_file"])
        if not path.is_file():
            raise FileNotFoundError(f"SentimentAnalyzer: training_file {path.resolve()} not found (run from repo root)")
        self.model, held = train_from_csv(
            path,
            holdout_fraction=self.config["holdout_fraction"],
            seed=self.config["seed"],
            C=self.config["C"],
            dense_weight=self.config["dense_weight"],
        )
        logger.info("Sentiment model trained on %s (%d examples held out).", path, len(held))
        with self._model_storage.write_to(self._resource) as model_dir:
            self.model.save(model_dir / MODEL_FILE)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SentimentAnalyzer:
        try:
            with model_storage.read_from(resource) as model_dir:
                model: SentimentModel | None = SentimentModel.load(model_dir / MODEL_FILE)
        except (ValueError, FileNotFoundError):
            logger.warning("No trained sentiment model in the Rasa model; messages get no sentiment.")
            model = None
        return cls(config, model_storage, resource, model)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training examples need no sentiment (nothing downstream consumes it)."""
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        if self.model is None:
            return messages
        with_text = [m for m in messages if m.get(TEXT)]
        for message, result in zip(with_text, self.model.score_many([m.get(TEXT) for m in with_text]), strict=True):
            message.set(SENTIMENT, result, add_to_output=True)
        return messages
