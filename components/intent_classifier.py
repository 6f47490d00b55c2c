"""Intent classifier: TF-IDF word and character n-grams + a calibrated linear SVM.

It featurizes the raw text itself, so it needs no Rasa featurizer before it. Why this rather than Rasa's DIET:
docs/architecture.md#nlu-models.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import numpy as np
import scipy.sparse as sp
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from components import artifacts
from shopcare_core.ml.tfidf import transformer

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


class FastPredictor:
    """The fitted pipeline's `predict_proba`, computed with matrix operations.

    The numbers are scikit-learn's own: each fold's decision function, its sigmoid `1 / (1 + exp(a*d + b))` per class,
    normalised per row, averaged over folds. `check` compares both on sample texts when the model is loaded, and the
    component falls back to scikit-learn if they ever differ. Why: docs/architecture.md#rasa-server-hot-path.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self.vectorisers = [v for _, v in pipeline.named_steps["features"].transformer_list]
        self.transforms = [transformer(v) for v in self.vectorisers]  # exact, without per-call checks (ml/tfidf.py)
        clf = pipeline.named_steps["clf"]
        self.classes = clf.classes_
        self.folds = []
        for fold in clf.calibrated_classifiers_:
            estimator = fold.base_estimator
            columns = np.searchsorted(self.classes, estimator.classes_)
            a = np.array([c.a_ for c in fold.calibrators])
            b = np.array([c.b_ for c in fold.calibrators])
            self.folds.append((estimator.coef_.T, estimator.intercept_, columns, a, b))

    @classmethod
    def for_pipeline(cls, pipeline: Pipeline) -> FastPredictor | None:
        clf = pipeline.named_steps.get("clf")
        if not isinstance(clf, CalibratedClassifierCV) or clf.method != "sigmoid" or len(clf.classes_) < 3:
            return None  # a binary or isotonic model: scikit-learn's own path
        return cls(pipeline)

    def features(self, texts: list[str]) -> tuple[sp.csr_matrix, np.ndarray]:
        """The feature matrix and, per text, how many known words it has."""
        blocks = [transform(texts) for transform in self.transforms]
        return sp.hstack(blocks).tocsr(), blocks[0].getnnz(axis=1)

    def predict_proba(self, features: sp.csr_matrix) -> np.ndarray:
        n_classes = len(self.classes)
        total = np.zeros((features.shape[0], n_classes))
        for coef, intercept, columns, a, b in self.folds:
            decision = np.asarray(features @ coef) + intercept
            proba = np.zeros_like(total)
            proba[:, columns] = expit(-(a * decision + b))
            denominator = proba.sum(axis=1, keepdims=True)
            proba = np.divide(proba, denominator, out=np.full_like(proba, 1 / n_classes), where=denominator != 0)
            proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
            total += proba
        return total / len(self.folds)

    def check(self, pipeline: Pipeline, texts: list[str]) -> bool:
        expected = pipeline.predict_proba(texts)
        return bool(np.allclose(self.predict_proba(self.features(texts)[0]), expected, rtol=0, atol=1e-9))


PROBE_TEXTS = ["where is my order 10002?", "I want my money back", "asdfgh", "let me talk to a person", "thanks"]


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
        self.fast = FastPredictor.for_pipeline(pipeline) if pipeline is not None else None
        if self.fast is not None and pipeline is not None and not self.fast.check(pipeline, PROBE_TEXTS):
            logger.warning("Intent classifier: the fast path disagrees with scikit-learn; using scikit-learn's.")
            self.fast = None

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
        artifacts.save(self._model_storage, self._resource, MODEL_FILE, self.pipeline)
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
        missing = "No trained intent classifier in the model; it will predict nothing."
        return cls(config, model_storage, resource, artifacts.load(model_storage, resource, MODEL_FILE, missing))

    def process(self, messages: list[Message]) -> list[Message]:
        if self.pipeline is None:
            return messages
        texts = [m.get(TEXT) or "" for m in messages]
        if self.fast is not None:
            features, known = self.fast.features(texts)
            probabilities = self.fast.predict_proba(features)
        else:
            probabilities = self.pipeline.predict_proba(texts)
            known = self.pipeline.named_steps["features"].transformer_list[0][1].transform(texts).getnnz(axis=1)
        classes = self.pipeline.classes_
        for message, probs, n_known in zip(messages, probabilities, known):
            if n_known == 0:
                probs = probs * self.config["unknown_words_penalty"]
            order = np.argsort(-probs)[: self.config["ranking_length"]]
            ranking = [{"name": str(classes[i]), "confidence": float(probs[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages
