"""Intent classifier: TF-IDF word and character n-grams + a calibrated linear SVM.

Trains in seconds on the full training set (Rasa's DIET with transformer layers takes tens of minutes on two
cores) and measures at least as well on this project's data; see docs/benchmarks.md. It featurizes the raw text
itself, so it needs no Rasa featurizer before it.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import joblib
import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

logger = logging.getLogger(__name__)
MODEL_FILE = "intent_classifier.joblib"


def normalise(text: str) -> str:
    """Lower-case and mask digits so order numbers of any length look alike."""
    out = []
    for ch in text.lower():
        out.append("0" if ch.isdigit() else ch)
    return "".join(out)


def build_pipeline(config: dict[str, Any]) -> Pipeline:
    """The scikit-learn pipeline, also used by bench/ to cross-check the method outside Rasa."""
    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(preprocessor=normalise, ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            (
                "chars",
                TfidfVectorizer(
                    preprocessor=normalise, analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
                ),
            ),
        ]
    )
    svm = LinearSVC(C=config["C"], class_weight="balanced", random_state=config["random_state"])
    return Pipeline([("features", features), ("clf", CalibratedClassifierCV(svm, cv=config["calibration_folds"]))])


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TfidfSvmIntentClassifier(IntentClassifier, GraphComponent):
    """Calibrated TF-IDF + LinearSVC intent classifier."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # `unknown_words_penalty`: a message none of whose words occurs in the training data (keyboard mashing,
        # another language) gets its confidences scaled by this factor, so the fallback asks to rephrase.
        return {
            "C": 0.5,
            "calibration_folds": 3,
            "random_state": 42,
            "ranking_length": 10,
            "unknown_words_penalty": 0.25,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        pipeline: Pipeline | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.pipeline = pipeline

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TfidfSvmIntentClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if len({e.get(INTENT) for e in examples}) < 2:
            logger.warning("Intent classifier needs at least two intents; not trained.")
            return self._resource
        counts = Counter(e.get(INTENT) for e in examples)
        rare = sorted(i for i, n in counts.items() if n < 2)
        if rare:
            logger.warning("Intents with fewer than 2 examples are not learned: %s", rare)
            examples = [e for e in examples if e.get(INTENT) not in rare]
        texts = [e.get(TEXT) for e in examples]
        labels = np.asarray([e.get(INTENT) for e in examples])
        folds = min(self.config["calibration_folds"], min(n for n in counts.values() if n >= 2))
        self.pipeline = build_pipeline({**self.config, "calibration_folds": folds})
        self.pipeline.fit(texts, labels)
        with self._model_storage.write_to(self._resource) as model_dir:
            joblib.dump(self.pipeline, model_dir / MODEL_FILE)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TfidfSvmIntentClassifier:
        try:
            with model_storage.read_from(resource) as model_dir:
                pipeline = joblib.load(model_dir / MODEL_FILE)
        except (ValueError, FileNotFoundError):
            logger.warning("No trained intent classifier in the model; it will predict nothing.")
            pipeline = None
        return cls(config, model_storage, resource, pipeline)

    def process(self, messages: list[Message]) -> list[Message]:
        if self.pipeline is None:
            return messages
        texts = [m.get(TEXT) or "" for m in messages]
        probabilities = self.pipeline.predict_proba(texts)
        classes = self.pipeline.classes_
        words = self.pipeline.named_steps["features"].transformer_list[0][1]
        known = words.transform(texts).getnnz(axis=1)
        for message, probs, n_known in zip(messages, probabilities, known):
            if n_known == 0:
                probs = probs * self.config["unknown_words_penalty"]
            order = np.argsort(-probs)[: self.config["ranking_length"]]
            ranking = [{"name": str(classes[i]), "confidence": float(probs[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages
