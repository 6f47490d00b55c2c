"""The fast TF-IDF transform gives scikit-learn's matrices exactly, and steps aside where it cannot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from shopcare_core.ml.sentiment import SentimentModel
from shopcare_core.ml.tfidf import FastTfidf, transformer

ROOT = Path(__file__).resolve().parents[2]
TEXTS = pd.read_csv(ROOT / "data/sentiment/holdout_natural.csv")["text"].astype(str).tolist()


def same(a, b) -> bool:
    a, b = a.tocsr(), b.tocsr()
    a.sort_indices()
    b.sort_indices()
    return (
        a.shape == b.shape
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and np.array_equal(a.data, b.data)
    )


@pytest.mark.parametrize(
    "params",
    [
        {"sublinear_tf": True},
        {"analyzer": "char_wb", "ngram_range": (2, 5), "sublinear_tf": True},
        {"ngram_range": (1, 2), "norm": "l1", "use_idf": False},
        {"binary": True, "smooth_idf": False, "norm": None},
    ],
)
def test_same_matrix_as_scikit_learn(params):
    vectorizer = TfidfVectorizer(**params).fit(TEXTS[:100])
    fast = FastTfidf.checked(vectorizer)
    assert fast is not None
    for batch in (TEXTS[100:], TEXTS[100:101], ["", "zzz unknown words only"]):
        assert same(fast.transform(batch), vectorizer.transform(batch))


def test_the_shipped_sentiment_model_scores_the_same_either_way():
    model = SentimentModel.train(TEXTS, ["negative", "neutral", "positive"] * (len(TEXTS) // 3))
    fast = model.predict_proba(TEXTS)
    assert "_transforms" in model.__dict__ and all(t.__self__.__class__ is FastTfidf for t in model._transforms)
    model._transforms = (model.words.transform, model.chars.transform)
    np.testing.assert_array_equal(model.predict_proba(TEXTS), fast)
    assert "_transforms" not in model.__getstate__()


def test_an_unsupported_setting_keeps_scikit_learns_transform():
    vectorizer = TfidfVectorizer(norm="l2").fit(TEXTS[:50])
    vectorizer._tfidf.norm = "max"  # not an option FastTfidf knows
    assert FastTfidf.checked(vectorizer) is None
    assert transformer(vectorizer) == vectorizer.transform
