"""Faster equivalents of three Rasa 3.6 internals that run on every customer turn, each giving Rasa's own result.

- Action-server responses: `_validate_action_result` replaces `RemoteAction._validate_action_result` with the same
  schema checked once and a compiled validator reused: the same errors, the same message. `FastActionResultCheck`
  checks each event against its own alternative of the events schema's `oneOf` only: every alternative pins `event`
  to its own constant and `event` is a required string, so at most the alternative named by the event's `event` can
  match, and the `oneOf` holds exactly when that one does. Whatever it does not accept (an unknown event type, a
  failing alternative, anything unusual) goes to the full validator, which decides and gives Rasa's error.
  tests/test_rasa_speedups.py compares the verdicts on valid and invalid answers.
- `resolve_event_type` (for `Event.resolve_by_type`) remembers the class found for a name; a name it has not seen yet
  (or that Rasa does not know) is resolved by Rasa's own walk, so classes imported later are still found.
- `Domain.is_empty`: the empty domain's dictionary is a constant and is built once.

Installed by components/rasa_patches.py. Why, and what the profiles showed: docs/architecture.md#rasa-server-hot-path.
"""

from __future__ import annotations

from typing import Any

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event

_validator: Any | None = None
_fast: FastActionResultCheck | None = None


class FastActionResultCheck:
    """True only for answers Rasa's schema accepts (see the module docstring); False means "ask the full validator"."""

    def __init__(self, schema: dict[str, Any]) -> None:
        events = schema["properties"]["events"]
        event_schema = dict(events["items"])
        alternatives = event_schema.pop("oneOf")
        if any("const" not in alt.get("properties", {}).get("event", {}) for alt in alternatives):
            raise ValueError("an alternative without a constant event name: the dispatch would not be exact")
        if "event" not in event_schema.get("required", []) or event_schema["properties"]["event"] != {"type": "string"}:
            raise ValueError("the event name is not a required string: the dispatch would not be exact")
        outer = {
            **schema,
            "properties": {**schema["properties"], "events": {k: v for k, v in events.items() if k != "items"}},
        }
        self._outer = _compiled(outer)
        self._per_event = {
            alt["properties"]["event"]["const"]: _compiled({"allOf": [event_schema, alt]}) for alt in alternatives
        }

    def accepts(self, result: Any) -> bool:
        if not self._outer.is_valid(result):
            return False
        for event in result.get("events") or []:
            name = event.get("event") if isinstance(event, dict) else None
            validator = self._per_event.get(name) if isinstance(name, str) else None
            if validator is None or not validator.is_valid(event):
                return False
        return True


def _compiled(schema: dict[str, Any]) -> Any:
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    global _validator, _fast
    if _validator is None:
        schema = RemoteAction.action_response_format_spec()
        _validator = _compiled(schema)
        _fast = FastActionResultCheck(schema)
    if _fast is not None and _fast.accepts(result):
        return True
    try:
        _validator.validate(result)
        return True
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, make sure your response from the Action endpoint "
            f"is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise e


_rasa_resolve_by_type = Event.resolve_by_type
_event_types: dict[str, type[Event]] = {}


def resolve_event_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """What Rasa's `Event.resolve_by_type` answers, remembered per name once Rasa's walk has found a class for it."""
    found = _event_types.get(type_name)
    if found is None:
        found = _rasa_resolve_by_type(type_name, default)
        if found is not None and found is not default:
            _event_types[type_name] = found
    return found


_empty_domain: dict[str, Any] | None = None


def _domain_is_empty(self: Domain) -> bool:
    global _empty_domain
    if _empty_domain is None:
        _empty_domain = Domain.empty().as_dict()
    return self.as_dict() == _empty_domain
