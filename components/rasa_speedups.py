"""A targeted fix for a cost inside Rasa 3.6: validating every action-server response.

`RemoteAction._validate_action_result` calls `jsonschema.validate(result, schema)`, which re-checks the (constant)
schema against its meta-schema on every call. Profiled with py-spy on the running stack, that was half of the Rasa
server's CPU time per customer turn (docs/benchmarks.md). Here the schema is checked once and a compiled validator is
reused: the same schema, the same errors, the same message. Installed when Rasa imports this project's components.
"""

from __future__ import annotations

from typing import Any

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

_validator: Any | None = None


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    global _validator
    if _validator is None:
        schema = RemoteAction.action_response_format_spec()
        cls = validator_for(schema)
        cls.check_schema(schema)
        _validator = cls(schema)
    try:
        _validator.validate(result)
        return True
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, make sure your response from the Action endpoint "
            f"is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise e


def install() -> None:
    RemoteAction._validate_action_result = _validate_action_result
