#!/usr/bin/env python
"""Why the shipped sentiment method stops near 0.69 macro-F1 on the airline tweets: four measurements.

  python bench/sentiment_limits.py --test ../shared/datasets/airline_sentiment/tweets_dev.csv
  python bench/sentiment_limits.py --test ... --vectors glove.6B.50d.txt   # also: pre-trained word vectors

1. Learning curve on the team's own data: the method (shopcare_core/ml/sentiment.py, shipped settings) trained on
   1/8 ... all of data/sentiment/customer_messages.csv, scored on --test; a straight line through macro-F1 against
   log2(training size) at the three largest sizes says how many messages of the same kind the goal (--goal, 0.75)
   would take if the curve did not flatten further (it flattens: the estimate is a lower bound).
2. The other learners on the same features (linear SVM, naive Bayes, NB-weighted logistic regression).
3. With --vectors (a word-vector text file in GloVe's format, "word v1 v2 ..."): the shipped features plus the mean
   pre-trained vector of the message's words (negated words averaged apart).
4. Diagnosis only, nothing here is shipped or tuned: the same method trained on k messages of one half of --test and
   scored on the other half, i.e. how much data exactly like the test set the method needs for the goal.

Every figure is printed with the data it ran on; the last line is ``in_domain_macro_f1=<x>`` for the largest k.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.naive_bayes import ComplementNB, MultinomialNB
from sklearn.svm import LinearSVC

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from shopcare_core.ml.sentiment import LABELS, SentimentModel, read_labelled_csv, tokens  # noqa: E402

OWN = REPO / "data/sentiment/customer_messages.csv"


def macro(gold: pd.Series, pred: np.ndarray | list[str]) -> float:
    return float(f1_score(gold, pred, labels=list(LABELS), average="macro", zero_division=0))


def fit(df: pd.DataFrame) -> SentimentModel:
    return SentimentModel.train(df["text"].tolist(), df["label"].tolist())


def features(model: SentimentModel, texts: list[str]) -> sp.csr_matrix:
    docs, dense = model._docs(texts)
    return model._matrix(docs, dense)


def learning_curve(own: pd.DataFrame, test: pd.DataFrame, goal: float, seeds: int) -> None:
    print(f"\n== 1. learning curve: trained on part of {OWN.name} (n={len(own)}), scored on the test set")
    sizes, scores = [], []
    for frac in (0.125, 0.25, 0.5, 1.0):
        runs = [
            macro(test["label"], fit(own.sample(frac=frac, random_state=s)).predict(test["text"].tolist()))
            for s in range(seeds if frac < 1 else 1)
        ]
        sizes.append(int(round(len(own) * frac)))
        scores.append(float(np.mean(runs)))
        print(f"  n={sizes[-1]:5d}  macro-F1 {scores[-1]:.4f}  ({len(runs)} random subset(s))", flush=True)
    slope, intercept = np.polyfit(np.log2(sizes[1:]), scores[1:], 1)
    print(f"  straight line through the three largest sizes: {slope:+.4f} macro-F1 per doubling of the data")
    if slope > 0:
        need = 2 ** ((goal - intercept) / slope)
        print(f"  the line reaches {goal} at about {need:,.0f} messages ({need / len(own):.0f} x today's)")


def other_learners(own: pd.DataFrame, test: pd.DataFrame) -> None:
    print("\n== 2. other learners on the shipped features (trained on all of the team's data)")
    model = fit(own)
    x_own, x_test, y = features(model, own["text"].tolist()), features(model, test["text"].tolist()), own["label"]
    print(
        f"  logistic regression (shipped)   macro-F1 {macro(test['label'], model.predict(test['text'].tolist())):.4f}"
    )
    learners = {
        "linear SVM (C=0.5)": LinearSVC(C=0.5, class_weight="balanced"),
        "multinomial naive Bayes": MultinomialNB(alpha=0.3),
        "complement naive Bayes": ComplementNB(alpha=0.3),
    }
    for name, learner in learners.items():
        print(f"  {name:31s} macro-F1 {macro(test['label'], learner.fit(x_own, y).predict(x_test)):.4f}")
    # NB-SVM (Wang & Manning 2012): one-vs-rest logistic regression on presence features scaled by log-count ratios
    b_own, b_test = (x_own > 0).astype(float), (x_test > 0).astype(float)
    margins = []
    for label in LABELS:
        mask = (y == label).to_numpy()
        p = np.asarray(b_own[mask].sum(0)).ravel() + 1
        q = np.asarray(b_own[~mask].sum(0)).ravel() + 1
        r = np.log((p / p.sum()) / (q / q.sum()))
        clf = LogisticRegression(C=4.0, class_weight="balanced", max_iter=3000)
        clf.fit(b_own.multiply(r).tocsr(), mask.astype(int))
        margins.append(clf.decision_function(b_test.multiply(r).tocsr()))
    pred = np.asarray(LABELS)[np.argmax(np.vstack(margins), axis=0)]
    print(f"  {'NB-weighted logistic regression':31s} macro-F1 {macro(test['label'], pred):.4f}")


def in_domain_curve(test: pd.DataFrame, goal: float) -> float:
    half = len(test) // 2
    order = np.random.RandomState(13).permutation(len(test))
    train, held = test.iloc[order[:half]], test.iloc[order[half:]]
    print(
        f"\n== 4. diagnosis only: the method trained on k messages of one half of the test set (n={half}), "
        f"scored on the other half (n={len(held)})"
    )
    score = 0.0
    for k in (500, 1000, 2000, 4000, half):
        score = macro(held["label"], fit(train.iloc[:k]).predict(held["text"].tolist()))
        print(f"  k={k:5d}  macro-F1 {score:.4f}{'  (goal reached)' if score >= goal else ''}", flush=True)
    return score


def read_vectors(path: Path) -> dict[str, np.ndarray]:
    vectors: dict[str, np.ndarray] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            word, _, rest = line.rstrip("\n").partition(" ")
            vec = np.array(rest.split(), dtype=np.float32)
            vectors[word] = vec / max(float(np.linalg.norm(vec)), 1e-6)
    return vectors


def with_vectors(own: pd.DataFrame, test: pd.DataFrame, path: Path, weight: float = 2.0) -> None:
    t0 = time.perf_counter()
    vectors = read_vectors(path)
    dim = len(next(iter(vectors.values())))
    print(
        f"\n== 3. shipped features + mean word vector ({path.name}: {len(vectors):,} words, {dim} dims, "
        f"read in {time.perf_counter() - t0:.0f} s), weight {weight}"
    )

    def embed(texts: list[str]) -> sp.csr_matrix:
        rows = []
        for text in texts:
            plain: list[np.ndarray] = []
            negated: list[np.ndarray] = []
            for tok in tokens(text):
                word = tok[4:] if tok.startswith("not_") else tok
                if word in vectors:
                    (negated if tok.startswith("not_") else plain).append(vectors[word])
            rows.append(np.concatenate([np.mean(v, axis=0) if v else np.zeros(dim) for v in (plain, negated)]))
        return sp.csr_matrix(np.vstack(rows) * weight)

    model = fit(own)
    x_own = sp.hstack([features(model, own["text"].tolist()), embed(own["text"].tolist())], format="csr")
    x_test = sp.hstack([features(model, test["text"].tolist()), embed(test["text"].tolist())], format="csr")
    clf = LogisticRegression(C=4.0, class_weight="balanced", max_iter=3000).fit(x_own, own["label"])
    print(f"  macro-F1 {macro(test['label'], clf.predict(x_test)):.4f} (shipped features alone: see section 2)")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--test", required=True, help="CSV: text,label or the airline format")
    ap.add_argument("--goal", type=float, default=0.75)
    ap.add_argument("--seeds", type=int, default=3, help="random subsets per size in the learning curve")
    ap.add_argument("--vectors", type=Path, help="word vectors, GloVe text format (optional)")
    args = ap.parse_args(argv)
    own, test = read_labelled_csv(OWN), read_labelled_csv(args.test)
    counts = test["label"].value_counts().reindex(LABELS, fill_value=0)
    print(f"test set {Path(args.test).name}: n={len(test)} ({', '.join(f'{k}={v}' for k, v in counts.items())})")
    learning_curve(own, test, args.goal, args.seeds)
    other_learners(own, test)
    if args.vectors:
        with_vectors(own, test, args.vectors)
    score = in_domain_curve(test, args.goal)
    print(f"in_domain_macro_f1={score:.4f}")


if __name__ == "__main__":
    main()
