"""Out-of-scope detection: is this message a request from another domain (travel, cooking, cars, the weather...)?

A binary model beside the intent classifier: TF-IDF word 1-2 and character 2-5 n-grams fitted on both sides, and a
logistic regression that separates the assistant's own training examples (every intent but ``out_of_scope``) from
other-domain requests (``training_file``, derived from CLINC150's training split by scripts/import_datasets.py, plus
the ``out_of_scope`` examples of the NLU data). When its probability reaches ``threshold`` the message's intent
becomes ``out_of_scope`` (the classifier's own choice stays in the ranking and in ``message["out_of_scope"]``), so
the assistant gives its honest out-of-scope reply instead of starting a business flow.

A message that carries an entity only a customer of this shop writes (an order or invoice number, an e-mail address,
a postcode, an amount) is never rejected. How the thresholds were chosen and are measured:
docs/architecture.md#nlu-models.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from components import artifacts
from components.intent_classifier import normalise
from shopcare_core.ml.tfidf import transformer

logger = logging.getLogger(__name__)
MODEL_FILE = "out_of_scope.joblib"
OUT_OF_SCOPE = "out_of_scope"


def read_other_domains(path: Path | str) -> list[str]:
    """The other-domain requests of ``training_file``: one per line, ``#`` lines are comments."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


class OutOfScopeModel:
    """P(other domain | text). Pure scikit-learn; also trained by bench/oos_eval.py outside Rasa."""

    def __init__(self, C: float = 16.0) -> None:
        self.vectorisers = [
            TfidfVectorizer(preprocessor=normalise, ngram_range=(1, 2), sublinear_tf=True, min_df=1),
            TfidfVectorizer(
                preprocessor=normalise, analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
            ),
        ]
        self.classifier = LogisticRegression(C=C, max_iter=3000, class_weight="balanced")
        self._transforms: list[Callable[[Sequence[str]], sp.csr_matrix]] = []

    def fit(self, in_domain: list[str], other_domain: list[str]) -> OutOfScopeModel:
        texts = in_domain + other_domain
        labels = np.array([0] * len(in_domain) + [1] * len(other_domain))
        features = sp.hstack([v.fit_transform(texts) for v in self.vectorisers]).tocsr()
        self.classifier.fit(features, labels)
        self._prepare()
        return self

    def _prepare(self) -> None:
        """The fitted vectorisers' transforms without scikit-learn's per-call overhead (the same numbers)."""
        self._transforms = [transformer(v) for v in self.vectorisers]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_transforms": []}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._prepare()  # at load, not on the first customer's message

    def score(self, texts: list[str]) -> np.ndarray:
        features = sp.hstack([transform(texts) for transform in self._transforms]).tocsr()
        decision = np.asarray(features @ self.classifier.coef_.ravel()) + self.classifier.intercept_[0]
        return 1.0 / (1.0 + np.exp(-decision))


def in_domain_examples(training_data: TrainingData) -> tuple[list[str], list[str]]:
    """(the assistant's own examples, its out_of_scope examples) from the NLU training data."""
    own: list[str] = []
    other: list[str] = []
    for example in training_data.intent_examples:
        text = example.get(TEXT)
        if text:
            (other if example.get(INTENT) == OUT_OF_SCOPE else own).append(text)
    return own, other


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class OutOfScopeDetector(IntentClassifier, GraphComponent):
    """Sets intent ``out_of_scope`` on other-domain messages; runs after the intent classifier."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "training_file": "data/out_of_scope/other_domains.txt",
            "threshold": 0.85,
            # an unsure intent (below the fallback's confidence) with a leaning to another domain is out of scope too:
            # the honest reply instead of a request to rephrase what the assistant cannot do anyway
            "unsure_threshold": 0.5,
            "unsure_confidence": 0.3,
            "C": 16.0,
            # entities no other-domain request carries: a message with one is about this shop
            "keep_with_entities": ["order_id", "invoice_id", "email", "postcode", "refund_amount"],
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: OutOfScopeModel | None = None,
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
    ) -> OutOfScopeDetector:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        own, other = in_domain_examples(training_data)
        path = Path(self.config["training_file"])
        other_domains = read_other_domains(path) if path.exists() else []
        if not own or not (other or other_domains):
            logger.warning("Out-of-scope detector: no %s examples; not trained.", "in-domain" if not own else "other")
            return self._resource
        self.model = OutOfScopeModel(C=self.config["C"]).fit(own, other_domains + other)
        artifacts.save(self._model_storage, self._resource, MODEL_FILE, self.model)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> OutOfScopeDetector:
        missing = "No trained out-of-scope detector in the model; it rejects nothing."
        return cls(config, model_storage, resource, artifacts.load(model_storage, resource, MODEL_FILE, missing))

    def process(self, messages: list[Message]) -> list[Message]:
        if self.model is None:
            return messages
        texts = [m.get(TEXT) or "" for m in messages]
        keep = set(self.config["keep_with_entities"])
        for message, score in zip(messages, self.model.score(texts)):
            intent = message.get(INTENT) or {}
            if not message.get(TEXT) or intent.get("name") == OUT_OF_SCOPE:
                continue
            unsure = intent.get("confidence", 0.0) < self.config["unsure_confidence"]
            leaning = score >= (self.config["unsure_threshold"] if unsure else self.config["threshold"])
            rejected = leaning and not any(e.get("entity") in keep for e in message.get(ENTITIES) or [])
            verdict = {"score": round(float(score), 4), "rejected": bool(rejected), "intent": intent.get("name")}
            message.set(OUT_OF_SCOPE, verdict, add_to_output=True)
            if rejected:
                top = {"name": OUT_OF_SCOPE, "confidence": float(score)}
                ranking = [r for r in message.get("intent_ranking") or [] if r.get("name") != OUT_OF_SCOPE]
                message.set(INTENT, top, add_to_output=True)
                message.set("intent_ranking", [top, *ranking], add_to_output=True)
        return messages
