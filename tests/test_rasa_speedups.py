"""The compiled validator of action-server responses accepts and rejects exactly what Rasa's own check does."""

from __future__ import annotations

import jsonschema
import pytest
from jsonschema.validators import validator_for
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


def _events(*events: object) -> dict:
    return {"events": list(events)}


# answers Rasa's schema accepts, of every kind an action server sends, and answers it refuses for each kind of reason
ACCEPTED = [
    VALID,
    {},
    {"events": [], "responses": []},
    _events({"event": "bot", "text": "hi", "data": {}, "metadata": {}, "timestamp": None}),
    _events({"event": "slot", "name": "order_number", "value": {"nested": [1, 2]}, "timestamp": 1.5}),
    _events({"event": "active_loop", "name": None}, {"event": "followup", "name": "action_x"}),
    _events(
        {
            "event": "user",
            "text": "hi",
            "parse_data": {
                "intent": {"name": "greet", "confidence": 0.9},
                "entities": [{"entity": "e", "value": "v", "start": 0, "end": 1}],
            },
        }
    ),
    _events({"event": "action", "name": "action_listen", "policy": None, "confidence": None}),
    _events({"event": "reset_slots"}, {"event": "restart"}, {"event": "session_started"}, {"event": "pause"}),
    _events({"event": "entities", "entities": [{"entity": "e", "value": 1}]}),
]
REFUSED = [
    INVALID,
    [],
    {"events": "not a list"},
    {"responses": [1]},
    _events({"event": "no_such_event"}),
    _events({"event": 3}),
    _events({"text": "no event key"}),
    _events("not an object"),
    _events({"event": "slot", "name": "x"}),
    _events({"event": "slot", "name": 1, "value": 1}),
    _events({"event": "bot", "timestamp": "yesterday"}),
    _events({"event": "bot", "metadata": []}),
    _events({"event": "user", "parse_data": "not an object"}),
    _events({"event": "user", "parse_data": {"entities": [{"entity": "e"}]}}),
    _events({"event": "entities"}),
    _events({"event": "action", "hide_rule_turn": "yes"}),
    _events({"event": "bot"}, {"event": "slot"}),  # a valid event does not hide an invalid one after it
]


@pytest.mark.parametrize("result", ACCEPTED + REFUSED)
def test_fast_check_accepts_exactly_what_the_schema_accepts(result):
    schema = RemoteAction.action_response_format_spec()
    fast = rasa_speedups.FastActionResultCheck(schema)
    valid = validator_for(schema)(schema).is_valid(result)  # what jsonschema.validate, used by Rasa, picks
    assert fast.accepts(result) == valid
    assert valid == (result in ACCEPTED)  # the cases are what they claim to be


def test_event_types_resolve_to_the_classes_rasas_walk_finds():
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    assert Event.resolve_by_type is rasa_speedups.resolve_event_type
    names = {cls.type_name for cls in all_subclasses(Event)}
    assert {"user", "bot", "action", "slot", "active_loop", "session_started"} <= names
    for name in sorted(names):
        expected = rasa_speedups._rasa_resolve_by_type(name)
        assert Event.resolve_by_type(name) is expected
        assert Event.resolve_by_type(name) is expected  # the second answer comes from the cache
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no_such_event")
    from rasa.shared.core.events import UserUttered

    assert Event.resolve_by_type("no_such_event", UserUttered) is UserUttered
    assert Event.resolve_by_type("topic", UserUttered) is None  # Rasa's legacy answer is kept
    assert Event.from_parameters({"event": "slot", "name": "x", "value": 1}).value == 1


def test_domain_is_empty_answers_as_rasa_does():
    from rasa.shared.core.domain import Domain

    assert Domain.is_empty is rasa_speedups._domain_is_empty
    assert Domain.empty().is_empty()
    assert not Domain.from_dict({"intents": ["greet"]}).is_empty()
