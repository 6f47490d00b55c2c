"""A fitted `TfidfVectorizer`'s transform without scikit-learn's per-call overhead, with identical results.

For the NLU models that transform one customer message at a time (the intent classifier and the sentiment model).
Why: docs/architecture.md#rasa-server-hot-path.

`FastTfidf.transform` does the same arithmetic: the vectoriser's own counting (`_count_vocab`, so the same analyzer,
vocabulary and ``binary`` flag), ``1 + log(tf)`` when ``sublinear_tf``, each value times its term's idf (what
scikit-learn's product with the idf diagonal computes: one product per value, rows in the product's column order),
and scikit-learn's own in-place row normalisation: the same matrix to the last bit.
`FastTfidf.checked` compares it with scikit-learn on sample texts and returns None (use scikit-learn) if anything
differs, so a scikit-learn upgrade that changes the arithmetic cannot change a model's answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l1, inplace_csr_row_normalize_l2

SAMPLE = [
    "where is my order 10001?",
    "I want a REFUND, this is the third time!!! 😡",
    "",
    "hi",
    "not happy at all with the delivery, it arrived damaged and late",
    "ok thanks :)",
    "asdkjh qwe zzzz",
    "my e-mail is alice.martin@example.com and my postcode is LS1 4AP",
    "cancel cancel cancel order order 10002 please please",
]
NORMALISE = {"l2": inplace_csr_row_normalize_l2, "l1": inplace_csr_row_normalize_l1, None: None}


class FastTfidf:
    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        tfidf = vectorizer._tfidf
        self.vectorizer = vectorizer
        self.sublinear = bool(tfidf.sublinear_tf)
        self.idf = np.asarray(tfidf.idf_, dtype=np.float64) if tfidf.use_idf else None
        self.normalise = NORMALISE[tfidf.norm]

    def transform(self, docs: Sequence[str]) -> sp.csr_matrix:
        _, counts = self.vectorizer._count_vocab(docs, fixed_vocab=True)
        if self.vectorizer.binary:
            counts.data.fill(1)
        x = counts.astype(np.float64, copy=False)
        if self.sublinear:
            np.log(x.data, x.data)
            x.data += 1
        if self.idf is not None:
            x.data *= self.idf[x.indices]
            # scipy's product with the diagonal lists each row's terms in descending column order; the row norms are
            # summed in that order, so the same order gives the same last bit
            x = _descending_rows(x)
        if self.normalise is not None:
            self.normalise(x)
        return x

    @classmethod
    def checked(cls, vectorizer: TfidfVectorizer, sample: Sequence[str] = SAMPLE) -> FastTfidf | None:
        """A `FastTfidf` that gives exactly scikit-learn's matrix on ``sample``; None if it does not (or cannot)."""
        try:
            fast = cls(vectorizer)
            got, expected = fast.transform(list(sample)), vectorizer.transform(list(sample))
        except (AttributeError, KeyError, TypeError, ValueError):
            return None
        got.sort_indices()
        expected = sp.csr_matrix(expected)
        expected.sort_indices()
        same = (
            got.shape == expected.shape
            and got.dtype == expected.dtype
            and np.array_equal(got.indptr, expected.indptr)
            and np.array_equal(got.indices, expected.indices)
            and np.array_equal(got.data, expected.data)
        )
        return fast if same else None


def _descending_rows(x: sp.csr_matrix) -> sp.csr_matrix:
    counts = np.diff(x.indptr)
    rows = np.repeat(np.arange(len(counts)), counts)
    order = x.indptr[rows] + x.indptr[rows + 1] - 1 - np.arange(x.nnz)  # each row's ascending run, reversed
    return sp.csr_matrix((x.data[order], x.indices[order], x.indptr), shape=x.shape)


def transformer(vectorizer: TfidfVectorizer) -> Callable[[Sequence[str]], sp.csr_matrix]:
    """The fast transform where it matches scikit-learn on the sample texts, else the vectoriser's own."""
    fast = FastTfidf.checked(vectorizer)
    return fast.transform if fast is not None else vectorizer.transform
