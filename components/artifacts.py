"""A trained scikit-learn object kept in Rasa's model storage (joblib), so a packed model archive is self-contained."""

from __future__ import annotations

import logging
from typing import Any

import joblib
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage

logger = logging.getLogger(__name__)


def save(model_storage: ModelStorage, resource: Resource, filename: str, obj: Any) -> None:
    with model_storage.write_to(resource) as model_dir:
        joblib.dump(obj, model_dir / filename)


def load(model_storage: ModelStorage, resource: Resource, filename: str, missing: str) -> Any | None:
    """The object saved under ``filename``; None (and the warning ``missing``) when the model has none."""
    try:
        with model_storage.read_from(resource) as model_dir:
            return joblib.load(model_dir / filename)
    except (ValueError, FileNotFoundError):
        logger.warning(missing)
        return None
