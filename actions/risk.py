"""Churn risk and value of an identified customer.

The churn model (models/churn.joblib, built by `make models`) is loaded once per action-server process, on first
use. Features come from the CRM's API (`/customers/{id}/features`, computed by the same code that built the training
data), so the action server never touches the CRM database.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from actions.crm_client import CRMError, get_client
from crm_backend.ml.value import customer_value

logger = logging.getLogger(__name__)
MODEL_PATH = Path(
    os.environ.get("CHURN_MODEL_PATH", Path(__file__).resolve().parent.parent / "models" / "churn.joblib")
)

_lock = threading.Lock()
_model: Any = None
_loaded = False


def churn_model() -> Any:
    """The process's churn model, or None when none has been trained (then no risk is scored)."""
    global _model, _loaded
    with _lock:
        if not _loaded:
            _loaded = True
            try:
                from crm_backend.ml.churn import ChurnModel

                _model = ChurnModel.load(MODEL_PATH)
                logger.info("Loaded churn model %s", MODEL_PATH)
            except (FileNotFoundError, OSError, ImportError) as exc:
                logger.warning("No churn model (%s): churn risk will not be scored", exc)
                _model = None
        return _model


async def assess(customer_id: str) -> dict[str, Any]:
    """Slots describing the customer's risk and value; {} when it cannot be scored (no model, CRM trouble)."""
    model = churn_model()
    if model is None:
        return {}
    try:
        row = await get_client().customer_features(customer_id)
        frame = pd.DataFrame([row["features"]], index=[int(customer_id)])
        score = model.score(frame)[0]
        value = customer_value(row["features"], float(score["probability"]))  # the same pure function as the CRM's
    except (CRMError, KeyError, ValueError) as exc:
        logger.warning("Could not score customer %s: %s", customer_id, exc)
        return {}
    return {
        "churn_probability": round(float(score["probability"]), 4),
        "churn_drivers": list(score.get("drivers") or [])[:3],
        "customer_value": _num(value.get("clv")),
        "customer_segment": value.get("segment"),
    }


def _num(value: Any) -> float | None:
    try:
        return None if value is None else round(float(value), 2)
    except (TypeError, ValueError):
        return None
