"""The compiled validator of action-server responses accepts and rejects exactly what Rasa's own check does."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

import components  # noqa: F401  (installs the speed-up, as loading a model does)
from components import rasa_speedups

VALID = {"events": [{"event": "slot", "name": "x", "value": 1}], "responses": [{"text": "hi"}]}
INVALID = {"events": [{"event": "slot", "name": "x"}, {"no_event_key": True}], "responses": "not a list"}


def test_installed_on_remote_action():
    assert RemoteAction._validate_action_result is rasa_speedups._validate_action_result


@pytest.mark.parametrize("result", [VALID, INVALID, {}, {"events": []}])
def test_same_verdict_as_jsonschema(result):
    action = RemoteAction("action_x", None)
    try:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
        expected = True
    except jsonschema.ValidationError:
        expected = False
    if expected:
        assert action._validate_action_result(result) is True
    else:
        with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response"):
            action._validate_action_result(result)
