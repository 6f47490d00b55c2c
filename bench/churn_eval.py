#!/usr/bin/env python
"""Churn benchmark on IBM Telco-format data with the CRM's own method (``shopcare_core.ml.churn``).

  python bench/churn_eval.py --train ../shared/datasets/telco_churn/telco_dev.csv              # stratified 5-fold CV
  python bench/churn_eval.py --train TRAIN.csv --test TEST.csv                                  # fit, then score test

Same candidates, same comparison and the same calibrated winner as the CRM churn model; only the feature
preparation is Telco-specific (numeric cleaning, Yes/No flags, one-hot categoricals). The last line is always
``roc_auc=<x.xxxx>`` (CV ROC-AUC of the calibrated chosen model, or its test ROC-AUC with --test).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shopcare_core.ml.churn import ChurnModel  # noqa: E402

ID, TARGET = "customerID", "Churn"
NUMERIC = ("SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges")
SERVICES = ("OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport", "StreamingTV", "StreamingMovies")


def prepare(frame: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """Telco rows -> numeric features; ``columns`` aligns a test set with the training columns."""
    df = frame.drop(columns=[c for c in (ID, TARGET) if c in frame.columns]).copy()
    for column in NUMERIC:
        df[column] = pd.to_numeric(df[column].astype(str).str.strip().replace("", np.nan), errors="coerce")
    # TotalCharges is blank for brand-new customers (tenure 0): they have paid nothing yet.
    df["TotalCharges"] = df["TotalCharges"].fillna(df["tenure"] * df["MonthlyCharges"]).fillna(0.0)
    df = df.fillna({c: 0.0 for c in NUMERIC})
    df["services"] = sum((df[c] == "Yes").astype(int) for c in SERVICES if c in df)
    df["charges_per_month"] = df["TotalCharges"] / df["tenure"].clip(lower=1)
    df["log_tenure"] = np.log1p(df["tenure"])
    categorical = [c for c in df.columns if df[c].dtype == object]
    binary = [c for c in categorical if set(df[c].unique()) <= {"Yes", "No"}]
    for column in binary:
        df[column] = (df[column] == "Yes").astype(float)
    df = pd.get_dummies(df, columns=[c for c in categorical if c not in binary], dtype=float)
    if columns is not None:
        df = df.reindex(columns=columns, fill_value=0.0)
    return df.astype("float64")


def labels(frame: pd.DataFrame) -> np.ndarray:
    return (frame[TARGET].astype(str).str.strip() == "Yes").astype(int).to_numpy()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True, help="Telco-format CSV")
    parser.add_argument("--test", default=None, help="Telco-format CSV scored by the model fitted on --train")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.monotonic()
    train = pd.read_csv(args.train, dtype=str, keep_default_na=False)
    x, y = prepare(train), labels(train)
    print(f"train: {Path(args.train).name}: {len(y)} customers, {x.shape[1]} features, churn rate {y.mean():.2%}")
    print("stratified 5-fold CV (out-of-fold ROC-AUC mean +- sd, Brier):")
    model, results = ChurnModel.train(x, y, None, seed=args.seed, metadata={"source": args.train})
    chosen = results[f"{model.metadata['model']} (calibrated)"]
    if args.test is None:
        print(
            f"chosen {chosen.name}: CV ROC-AUC {chosen.roc_auc_mean:.4f} +- {chosen.roc_auc_sd:.4f}, "
            f"Brier {chosen.brier:.4f} ({time.monotonic() - started:.1f}s)"
        )
        print(f"roc_auc={chosen.roc_auc_mean:.4f}")
        return 0
    test = pd.read_csv(args.test, dtype=str, keep_default_na=False)
    x_test, y_test = prepare(test, list(x.columns)), labels(test)
    proba = model.predict_proba(x_test)
    auc = float(roc_auc_score(y_test, proba))
    print(f"test: {Path(args.test).name}: {len(y_test)} customers, churn rate {y_test.mean():.2%}")
    print(
        f"{chosen.name} fitted on train: test ROC-AUC {auc:.4f}, Brier {brier_score_loss(y_test, proba):.4f} "
        f"({time.monotonic() - started:.1f}s)"
    )
    print(f"roc_auc={auc:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
