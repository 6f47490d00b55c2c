"""Churn risk and value of an identified customer.

The churn model (`CHURN_MODEL_PATH`, built by `make models`) is loaded once per action-server process, in a background
thread started as soon as the bot asks a customer to identify (`prefetch`, from the order form), so the customer's
answer and the process's other conversations never wait for the load; scoring waits for it off the event loop
(docs/architecture.md#churn-model-in-the-action-server).

Features come from the CRM's API (`/customers/{id}/features`, computed by the same code that built the training
data), so the action server never touches the CRM database.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from actions.crm_client import CRMError, get_client
from actions.settings import get_settings
from shopcare_core.ml.value import customer_value

logger = logging.getLogger(__name__)
MODEL_PATH: Path = get_settings().churn_model_path

_lock = threading.Lock()
_model: Any = None
_loaded = False
_loading: threading.Thread | None = None


def churn_model() -> Any:
    """The process's churn model, or None when none has been trained (then no risk is scored)."""
    global _model, _loaded
    with _lock:
        if not _loaded:
            _loaded = True
            try:
                from shopcare_core.ml.churn import ChurnModel

                _model = ChurnModel.load(MODEL_PATH)
                logger.info("Loaded churn model %s", MODEL_PATH)
            except (FileNotFoundError, OSError, ImportError) as exc:
                logger.warning("No churn model (%s): churn risk will not be scored", exc)
                _model = None
        return _model


def prefetch() -> None:
    """Start loading the model in a background thread, once per process (the first caller starts it)."""
    global _loading
    if _loading is None and not _loaded:
        _loading = threading.Thread(target=churn_model, name="churn-model-load", daemon=True)
        _loading.start()


async def assess(customer_id: str) -> dict[str, Any]:
    """Slots describing the customer's risk and value; {} when it cannot be scored (no model, CRM trouble)."""
    model = await asyncio.to_thread(churn_model)  # waits for a load in progress without blocking the event loop
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
