"""Churn model: honest comparison of three candidates, the best one calibrated, and readable drivers (pure).

``compare_models`` cross-validates logistic regression (standardised), gradient boosting and a random
forest with stratified 5-fold CV (grouped by customer when a customer has several snapshots) and reports ROC-AUC
mean +- sd and the Brier score of the out-of-fold probabilities. ``ChurnModel.train`` picks the best mean ROC-AUC,
evaluates it calibrated both ways (sigmoid, isotonic) in the same folds, and ships it wrapped in
``CalibratedClassifierCV`` with the calibration of the lower Brier score.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from shopcare_core.ml.features import TOPICS, describe

MODEL_FORMAT = 1
LINEAR = "logistic_regression"
Fit = Callable[[pd.DataFrame, np.ndarray, "np.ndarray | None"], Any]


def candidates(seed: int = 0) -> dict[str, Any]:
    """The three model families compared (unfitted)."""
    return {
        LINEAR: make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000)),
        "gradient_boosting": GradientBoostingClassifier(
            n_estimators=150, max_depth=2, learning_rate=0.05, subsample=0.8, random_state=seed
        ),
        "random_forest": RandomForestClassifier(
            n_estimators=300, min_samples_leaf=10, max_features="sqrt", n_jobs=-1, random_state=seed
        ),
    }


@dataclass
class CVResult:
    name: str
    aucs: list[float] = field(default_factory=list)
    briers: list[float] = field(default_factory=list)
    oof: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def roc_auc_mean(self) -> float:
        return float(np.mean(self.aucs))

    @property
    def roc_auc_sd(self) -> float:
        return float(np.std(self.aucs))

    @property
    def brier(self) -> float:
        return float(np.mean(self.briers))

    def summary(self) -> dict[str, float]:
        return {"roc_auc_mean": self.roc_auc_mean, "roc_auc_sd": self.roc_auc_sd, "brier": self.brier}


def folds(
    y: np.ndarray, groups: np.ndarray | None, n_splits: int = 5, seed: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds; grouped (a customer's snapshots stay in one fold) when ``groups`` is given."""
    if groups is None:
        yield from StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
    else:
        splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)
        yield from splitter.split(np.zeros(len(y)), y, groups)


def cross_validate(
    name: str, fit: Fit, x: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None, n_splits: int = 5, seed: int = 0
) -> CVResult:
    result = CVResult(name, oof=np.zeros(len(y)))
    for train, test in folds(y, groups, n_splits, seed):
        model = fit(x.iloc[train], y[train], None if groups is None else groups[train])
        proba = model.predict_proba(x.iloc[test])[:, 1]
        result.oof[test] = proba
        result.aucs.append(float(roc_auc_score(y[test], proba)))
        result.briers.append(float(brier_score_loss(y[test], proba)))
    return result


def fit_clone(estimator: Any) -> Fit:
    """A fit function that trains a fresh copy of ``estimator`` (groups are not needed by plain estimators)."""

    def fit(x: pd.DataFrame, y: np.ndarray, _groups: np.ndarray | None) -> Any:
        return clone(estimator).fit(x, y)

    return fit


def compare_models(
    x: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray | None = None,
    *,
    n_splits: int = 5,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, CVResult]:
    """CV ROC-AUC and Brier of every candidate, same folds for all."""
    results = {}
    for name, estimator in candidates(seed).items():
        results[name] = cross_validate(name, fit_clone(estimator), x, y, groups, n_splits, seed)
        r = results[name]
        log(f"  {name:<20} ROC-AUC {r.roc_auc_mean:.4f} +- {r.roc_auc_sd:.4f}   Brier {r.brier:.4f}")
    return results


def choose(results: dict[str, CVResult]) -> str:
    """Best mean CV ROC-AUC; within 0.002 of it, the lower Brier score wins."""
    best = max(r.roc_auc_mean for r in results.values())
    close = [r for r in results.values() if r.roc_auc_mean >= best - 0.002]
    return min(close, key=lambda r: r.brier).name


CALIBRATIONS = ("sigmoid", "isotonic")  # in order of preference on an exact tie: sigmoid keeps the model's ranking


def fit_calibrated(name: str, x: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None, seed: int, method: str) -> Any:
    """The candidate ``name`` wrapped in CalibratedClassifierCV with ``method`` (one of ``CALIBRATIONS``; 3 internal
    folds, grouped like the outer ones).

    ensemble=False: the calibrator learns from out-of-fold predictions and the model is refitted once on all rows, so
    serving scores one model (the action server scores a customer during verification), not one per fold.
    """
    cv = list(folds(y, groups, 3, seed + 1))
    model = CalibratedClassifierCV(candidates(seed)[name], method=method, cv=cv, ensemble=False)
    return model.fit(x, y)


class ChurnModel:
    """A calibrated churn classifier over named features, with risk bands and per-customer drivers."""

    def __init__(self, estimator: Any, features: list[str], reference: dict[str, float], metadata: dict[str, Any]):
        self.estimator, self.features, self.reference, self.metadata = estimator, features, reference, metadata
        self.fast: ForestProbability | None = None  # set by ``load`` where it gives scikit-learn's numbers exactly

    @classmethod
    def train(
        cls,
        x: pd.DataFrame,
        y: np.ndarray,
        groups: np.ndarray | None = None,
        *,
        seed: int = 0,
        metadata: dict[str, Any] | None = None,
        log: Callable[[str], None] = print,
    ) -> tuple[ChurnModel, dict[str, CVResult]]:
        """Compares the candidates; calibrates the chosen one both ways (sigmoid, isotonic) in the same folds and keeps
        the lower out-of-fold Brier score; fits that on everything. ``results[f"{model} (calibrated)"]`` is the
        shipped calibration's CV result, the other one is kept as ``f"{model} ({method}, not chosen)"``."""
        y = np.asarray(y).astype(int)
        groups = None if groups is None else np.asarray(groups)
        results = compare_models(x, y, groups, seed=seed, log=log)
        chosen = choose(results)

        def calibrated_fit(method: str) -> Fit:
            return lambda a, b, g: fit_calibrated(chosen, a, b, g, seed, method)

        trials = {
            method: cross_validate(f"{chosen} ({method})", calibrated_fit(method), x, y, groups, 5, seed)
            for method in CALIBRATIONS
        }
        calibration = min(CALIBRATIONS, key=lambda m: trials[m].brier)
        for method, trial in trials.items():
            log(
                f"  {trial.name:<20} ROC-AUC {trial.roc_auc_mean:.4f} +- {trial.roc_auc_sd:.4f}   Brier {trial.brier:.4f}"
            )
            trial.name = f"{chosen} (calibrated)" if method == calibration else f"{chosen} ({method}, not chosen)"
            results[trial.name] = trial
        calibrated = trials[calibration]
        log(
            f"  chosen: {chosen} with {calibration} calibration (lower Brier): ROC-AUC {calibrated.roc_auc_mean:.4f}"
            f" +- {calibrated.roc_auc_sd:.4f}   Brier {calibrated.brier:.4f}"
        )
        estimator = fit_calibrated(chosen, x, y, groups, seed, calibration)
        bands = {"medium": float(np.quantile(calibrated.oof, 0.7)), "high": float(np.quantile(calibrated.oof, 0.9))}
        trained_at = datetime.now(timezone.utc).replace(microsecond=0)
        info = {
            "format": MODEL_FORMAT,
            "version": trained_at.strftime("%Y%m%d.%H%M%S"),
            "trained_at": trained_at.isoformat(),
            "model": chosen,
            "calibration": calibration,
            "features": list(x.columns),
            "metrics": {name: r.summary() for name, r in results.items()},
            "bands": bands,
            "rows": int(len(y)),
            "positive_rate": float(np.mean(y)),
            **(metadata or {}),
        }
        reference = {c: float(v) for c, v in x.median().items()}
        return cls(estimator, list(x.columns), reference, info), results

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        missing = [f for f in self.features if f not in features.columns]
        if missing:
            raise ValueError(f"features missing: {', '.join(missing)}")
        x = features[self.features].astype("float64")
        if self.fast is not None:
            return self.fast(x.to_numpy())
        return self.estimator.predict_proba(x)[:, 1]

    def band(self, probability: float) -> str:
        bands = self.metadata["bands"]
        return "high" if probability >= bands["high"] else "medium" if probability >= bands["medium"] else "low"

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Per customer and feature, how much the feature pushes risk up (>0) relative to the training median.

        Logistic regression: coefficient x (transformed value - transformed median), averaged over the calibration
        folds (log-odds). Trees: probability minus the probability with that one feature set to the median.
        """
        return self._probabilities_and_contributions(features)[1]

    def _probabilities_and_contributions(self, features: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        x = features[self.features].astype("float64")
        if self.metadata.get("model") == LINEAR:
            ref = pd.DataFrame([self.reference])[self.features]
            parts = []
            for calibrated in self.estimator.calibrated_classifiers_:
                pipe: Pipeline = getattr(calibrated, "estimator", None) or calibrated.base_estimator
                coef = pipe[-1].coef_[0]
                parts.append(coef * (pipe[:-1].transform(x) - pipe[:-1].transform(ref)))
            contributions = pd.DataFrame(np.mean(parts, axis=0), index=x.index, columns=self.features)
            return self.predict_proba(x), contributions
        n, k = x.shape
        stacked = np.repeat(x.to_numpy()[None, :, :], k + 1, axis=0)  # (feature + base, customer, column)
        for j in range(k):
            stacked[j + 1, :, j] = self.reference[self.features[j]]
        flat = pd.DataFrame(stacked.reshape((k + 1) * n, k), columns=self.features)
        # one pass over the trees scores the customers themselves (the base rows) and every perturbation
        scored = self.predict_proba(flat).reshape(k + 1, n)
        return scored[0], pd.DataFrame((scored[0][None, :] - scored[1:]).T, index=x.index, columns=self.features)

    def drivers(self, row: pd.Series, contribution: pd.Series, top: int = 3) -> list[str]:
        """Up to ``top`` sentences: the strongest risk-raising reasons, then protective ones, one per topic."""
        ordered = [f for f in contribution.sort_values(ascending=False).index if contribution[f] > 1e-9]
        ordered += [f for f in contribution.sort_values().index if contribution[f] < -1e-9]
        sentences, topics = [], set()
        for name in ordered:
            topic = TOPICS.get(name, name)
            if topic not in topics:
                topics.add(topic)
                sentences.append(describe(name, row))
            if len(sentences) == top:
                break
        return sentences

    def score(self, features: pd.DataFrame) -> list[dict[str, Any]]:
        """One dict per row: ``probability``, ``risk_band`` (low / medium / high) and ``drivers`` (sentences)."""
        if features.empty:
            return []
        probabilities, contributions = self._probabilities_and_contributions(features)
        return [
            {
                "probability": round(float(p), 4),
                "risk_band": self.band(float(p)),
                "drivers": self.drivers(features.iloc[i], contributions.iloc[i]),
            }
            for i, p in enumerate(probabilities)
        ]

    def save(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        state = {"estimator": self.estimator, "features": self.features, "reference": self.reference}
        joblib.dump({**state, "metadata": self.metadata}, path)

    @classmethod
    def load(cls, path: str | Path) -> ChurnModel:
        state = joblib.load(path)
        if state.get("metadata", {}).get("format") != MODEL_FORMAT:
            raise ValueError(f"{path}: not a churn model of format {MODEL_FORMAT}")
        single_threaded(state["estimator"])
        model = cls(state["estimator"], state["features"], state["reference"], state["metadata"])
        model.fast = ForestProbability.checked(model)
        return model


def single_threaded(estimator: Any) -> None:
    """One thread for every step, to score one customer at a time (n_jobs=-1 is for training).

    Why: docs/architecture.md#churn-model-in-the-action-server.
    """
    for calibrated in getattr(estimator, "calibrated_classifiers_", []):
        inner = getattr(calibrated, "estimator", None) or getattr(calibrated, "base_estimator", None)
        for step in getattr(inner, "steps", [(None, inner)]):
            if hasattr(step[1], "n_jobs"):
                step[1].n_jobs = 1


class ForestProbability:
    """P(churn) of the shipped calibrated random forest, each tree walked by its own Cython ``apply``.

    Each tree's leaf shares of the positive class are precomputed as scikit-learn normalises them, added in tree order
    into zeros and divided by the number of trees as the forest does, then passed through the same calibrator: the same
    additions in the same order, so the same numbers. ``checked`` compares it with scikit-learn on perturbed rows and
    returns None (scikit-learn's path stays) unless every probability is identical. Why:
    docs/architecture.md#churn-model-in-the-action-server.
    """

    def __init__(self, estimator: Any) -> None:
        (calibrated,) = estimator.calibrated_classifiers_
        forest = getattr(calibrated, "estimator", None) or calibrated.base_estimator
        if not isinstance(forest, RandomForestClassifier) or forest.n_outputs_ != 1 or len(forest.classes_) != 2:
            raise TypeError("not a binary random forest")
        self.trees = []
        for tree in forest.estimators_:
            value = tree.tree_.value[:, 0, :]
            normaliser = value.sum(axis=1)
            normaliser[normaliser == 0.0] = 1.0
            self.trees.append((tree.tree_, value[:, 1] / normaliser))
        (self.calibrator,) = calibrated.calibrators

    def __call__(self, x: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(x, dtype=np.float32)  # trees compare float32 inputs, as scikit-learn's do
        total = np.zeros(len(rows))
        for tree, shares in self.trees:
            total += shares[tree.apply(rows)]
        total /= len(self.trees)
        probability = np.asarray(self.calibrator.predict(total), dtype="float64")
        probability[(1.0 < probability) & (probability <= 1.0 + 1e-5)] = 1.0  # as CalibratedClassifierCV does
        return probability

    @classmethod
    def checked(cls, model: ChurnModel, samples: int = 200, seed: int = 0) -> ForestProbability | None:
        try:
            fast = cls(model.estimator)
        except (TypeError, ValueError, AttributeError):
            return None
        reference = np.array([model.reference[f] for f in model.features], dtype="float64")
        rng = np.random.default_rng(seed)
        rows = reference * rng.uniform(0.0, 3.0, size=(samples, len(reference))) + rng.integers(0, 3, (samples, 1))
        frame = pd.DataFrame(rows, columns=model.features)
        expected = model.estimator.predict_proba(frame)[:, 1]
        return fast if np.array_equal(fast(rows), expected) else None
