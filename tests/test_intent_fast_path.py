"""The intent classifier's matrix-operation path gives scikit-learn's probabilities, to the ninth decimal."""

from __future__ import annotations

import numpy as np
import pytest

from components.intent_classifier import FastPredictor, build_pipeline

EXAMPLES = {
    "order_status": [
        "where is my order",
        "has order 10002 shipped",
        "track my parcel",
        "when will it arrive",
        "status of order 12345",
        "is my package on its way",
    ],
    "refund": [
        "I want a refund",
        "give me my money back",
        "refund order 10003",
        "can I get a refund",
        "money back please",
        "I was charged twice, refund me",
    ],
    "human": [
        "let me talk to a human",
        "real person please",
        "agent",
        "connect me to someone",
        "I want to speak to a person",
        "human please",
    ],
    "greet": ["hi", "hello there", "good morning", "hey", "hiya", "hello"],
}
TEXTS = ["where is order 99999?", "refund!!", "PERSON NOW", "hi hi", "asdkjh qwe", "", "my parcel and my money"]


@pytest.fixture(scope="module")
def pipeline():
    texts = [t for examples in EXAMPLES.values() for t in examples]
    labels = [intent for intent, examples in EXAMPLES.items() for _ in examples]
    model = build_pipeline({"C": 0.5, "random_state": 42, "calibration_folds": 3})
    return model.fit(texts, np.asarray(labels))


def test_fast_path_equals_scikit_learn(pipeline):
    fast = FastPredictor.for_pipeline(pipeline)
    assert fast is not None
    features, known = fast.features(TEXTS)
    got, expected = fast.predict_proba(features), pipeline.predict_proba(TEXTS)
    assert got.shape == expected.shape == (len(TEXTS), len(EXAMPLES))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    assert list(np.argmax(got, axis=1)[:4]) == [
        list(pipeline.classes_).index(i) for i in ("order_status", "refund", "human", "greet")
    ]
    assert known[4] == 0 and known[0] > 0  # keyboard mashing has no known word
    assert fast.check(pipeline, TEXTS)


def test_a_disagreeing_fast_path_is_noticed(pipeline):
    fast = FastPredictor.for_pipeline(pipeline)
    coef, intercept, columns, a, b = fast.folds[0]
    fast.folds[0] = (coef, intercept, columns, a * 1.01, b)
    assert not fast.check(pipeline, TEXTS)
