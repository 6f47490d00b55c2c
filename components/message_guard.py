"""First step of the NLU pipeline: bound what the rest of the pipeline has to read.

The guard keeps the first ``max_chars`` of the text and drops NUL and other control characters that no tokenizer
needs. The tracker keeps what the customer sent; only what NLU reads is bounded (why: docs/architecture.md, "Hostile
input").
"""

from __future__ import annotations

import unicodedata
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

KEEP_CONTROLS = {"\n", "\t"}


def bounded(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` with control characters (but newline and tab) and lone surrogates removed."""
    cut = text[: max_chars * 2]  # removals below can only shorten it
    cleaned = "".join(ch for ch in cut if ch in KEEP_CONTROLS or unicodedata.category(ch) not in ("Cc", "Cs"))
    return cleaned[:max_chars]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class MessageGuard(GraphComponent):
    """Bounds the text every later component reads (length, control characters)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"max_chars": 2000}

    def __init__(self, config: dict[str, Any]) -> None:
        self.max_chars = int({**self.get_default_config(), **config}["max_chars"])

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MessageGuard:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str):
                message.set(TEXT, bounded(text, self.max_chars))
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data  # the team's training data is neither long nor carries control characters
