"""Trains the churn model from a CRM database: ``python -m crm_backend.ml.train_churn [--database-url URL]``.

Writes ``<out>/churn.joblib``, ``churn_model_card.md``, ``churn_roc.png`` and ``churn_calibration.png``.
300 customers (the demo DB) gives only a few dozen churners, so its figures are noisy; ``make models`` trains on a
dedicated DB seeded with 3000 customers (``var/churn_train.db``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from crm_backend.ml.data import load_tables
from shopcare_core.ml.churn import ChurnModel, CVResult
from shopcare_core.ml.features import build_training_set, default_cutoffs

SMALL_DB = 1000


def _plots(results: dict[str, CVResult], y: np.ndarray, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_curve

    fig, ax = plt.subplots(figsize=(6, 5))
    for name, r in results.items():
        fpr, tpr, _ = roc_curve(y, r.oof)
        ax.plot(fpr, tpr, label=f"{name} (AUC {r.roc_auc_mean:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="Churn: out-of-fold ROC (5-fold CV)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "churn_roc.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 5))
    top = max(float(np.quantile(np.concatenate([r.oof for r in results.values()]), 0.99)), float(np.mean(y)) * 2)
    for name, r in results.items():
        prob_true, prob_pred = calibration_curve(y, r.oof, n_bins=8, strategy="quantile")
        ax.plot(prob_pred, prob_true, "o-", ms=3, label=f"{name} (Brier {r.brier:.4f})")
    ax.plot([0, top], [0, top], "k:", lw=1)
    ax.set(
        xlabel="predicted churn probability",
        ylabel="observed churn rate",
        title="Churn: calibration (out-of-fold, quantile bins)",
    )
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(out / "churn_calibration.png", dpi=110)
    plt.close(fig)


def model_card(meta: dict[str, Any], results: dict[str, CVResult]) -> str:
    rows = "\n".join(
        f"| {name} | {r.roc_auc_mean:.4f} ± {r.roc_auc_sd:.4f} | {r.brier:.4f} |" for name, r in results.items()
    )
    small = (
        f"\n- Only {meta['customers']} customers: the figures above are noisy; train on a DB of 3000+ customers."
        if meta["customers"] < SMALL_DB
        else ""
    )
    return f"""# Churn model card

- Version: {meta["version"]} (trained {meta["trained_at"]})
- Chosen model: **{meta["model"]}**, wrapped in `CalibratedClassifierCV` ({meta["calibration"]}: of sigmoid and
  isotonic, the lower out-of-fold Brier score)

## Data
- Source: `{meta["source"]}`
- Customers: {meta["customers"]}; training rows: {meta["rows"]} (snapshots as of {", ".join(meta["cutoffs"])})
- Date range of the orders: {meta["date_range"][0]} to {meta["date_range"][1]}
- Label: the customer churns (`customers.churned_at`, the seed's latent churn) within {meta["horizon_days"]} days
  after the snapshot date T; features use only events known before T; customers already churned at T are left out.
- Positive rate: {meta["positive_rate"]:.2%}
- Features ({len(meta["features"])}): {", ".join(meta["features"])}

## Metrics (stratified 5-fold CV grouped by customer, out-of-fold)
| model | ROC-AUC mean ± sd | Brier |
|---|---|---|
{rows}

Base-rate Brier (always predicting the positive rate): {meta["positive_rate"] * (1 - meta["positive_rate"]):.4f}.
Risk bands from the calibrated out-of-fold probabilities: medium ≥ {meta["bands"]["medium"]:.3f} (top 30%),
high ≥ {meta["bands"]["high"]:.3f} (top 10%).

## Limitations
- Trained on simulated data: the label is the seed's latent churn, not observed customer behaviour.
- The seed's churn risk comes from a hidden per-customer satisfaction that behaviour (complaints, cancellations,
  returns, late deliveries, slowing orders, escalations and their sentiment) reveals only partly; treat the score as
  a ranking aid for agents, not a verdict.
- Inquiry counts, returns and order trends are traces the seed writes that no feature uses yet.
- Drivers explain the model relative to the median customer; they are associations, not causes.{small}
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="train_churn", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="CRM database (default: settings, CRM_DATABASE_URL)")
    parser.add_argument("--out", default="models", help="output folder (default models/)")
    parser.add_argument("--horizon-days", type=int, default=90)
    parser.add_argument("--snapshots", type=int, default=4, help="training cutoffs, one horizon apart")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from crm_backend.db import make_engine
    from crm_backend.settings import Settings, get_settings

    settings = Settings(database_url=args.database_url) if args.database_url else get_settings()
    if settings.sqlite_path is not None and not settings.sqlite_path.exists():
        parser.error(f"no database at {settings.sqlite_path} (seed one: python -m crm_backend seed)")
    started = time.monotonic()
    engine = make_engine(settings)
    print(f"[churn] loading tables from {settings.database_url} ...")
    tables = load_tables(engine)
    engine.dispose()
    customers = len(tables["customers"])
    if tables["orders"].empty:
        parser.error("the database has no orders to learn from")
    if customers < SMALL_DB:
        print(f"[churn] note: only {customers} customers; metrics will be noisy (use a 3000-customer training DB)")
    cutoffs = default_cutoffs(tables, args.horizon_days, args.snapshots)
    x, y, groups = build_training_set(tables, cutoffs, args.horizon_days)
    print(
        f"[churn] {customers} customers, {len(x)} rows, {int(y.sum())} churners ({y.mean():.2%}) "
        f"({time.monotonic() - started:.1f}s)"
    )
    placed = tables["orders"]["placed_at"]
    info = {
        "source": settings.database_url,
        "customers": customers,
        "horizon_days": args.horizon_days,
        "cutoffs": [c.date().isoformat() for c in cutoffs],
        "date_range": [placed.min().date().isoformat(), placed.max().date().isoformat()],
        "label": f"churned_at within {args.horizon_days} days after the snapshot date",
    }
    print("[churn] comparing models (stratified 5-fold CV, grouped by customer) ...")
    model, results = ChurnModel.train(x, y.to_numpy(), groups.to_numpy(), seed=args.seed, metadata=info)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "churn.joblib")
    (out / "churn_model_card.md").write_text(model_card(model.metadata, results), encoding="utf-8")
    _plots(results, y.to_numpy(), out)
    chosen = results[f"{model.metadata['model']} (calibrated)"]
    print(f"[churn] wrote {out / 'churn.joblib'}, churn_model_card.md, churn_roc.png, churn_calibration.png")
    print(
        f"[churn] {model.metadata['model']} (calibrated): CV ROC-AUC {chosen.roc_auc_mean:.4f} "
        f"+- {chosen.roc_auc_sd:.4f}, Brier {chosen.brier:.4f} ({time.monotonic() - started:.1f}s, "
        f"{datetime.now():%Y-%m-%d %H:%M})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
