"""action_record_csat: the customer's rating after a hand-back reaches the escalation in the real CRM."""

from __future__ import annotations

from datetime import datetime

from rasa_sdk.executor import CollectingDispatcher

from actions.csat import ActionRecordCsat
from crm_backend.db import Escalation, new_session

BODY = {"conversation_id": "csat-conv", "channel": "socketio", "priority": 60, "reason_codes": ["explicit_request"]}


async def _handed_back(crm, crm_app) -> int:
    created = await crm.create_escalation(BODY, key="csat-1")
    with new_session(crm_app.state.engine) as session:
        session.get(Escalation, created["id"]).handed_back_at = datetime.utcnow()
        session.commit()
    return int(created["id"])


def _csat(crm_app, escalation_id: int) -> int | None:
    with new_session(crm_app.state.engine) as session:
        return session.get(Escalation, escalation_id).csat


async def run(make_tracker, domain, entities):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(intent="rate_service", entities=entities, sender_id="csat-conv")
    events = await ActionRecordCsat().run(dispatcher, tracker, domain)
    return dispatcher.messages, events


async def test_a_button_rating_is_stored_on_the_handed_back_escalation(crm, crm_app, make_tracker, domain):
    escalation_id = await _handed_back(crm, crm_app)
    messages, events = await run(make_tracker, domain, [{"entity": "csat_score", "value": "4"}])
    assert events == []
    assert [(m["response"], m.get("score")) for m in messages] == [("utter_csat_thanks", 4)]
    assert _csat(crm_app, escalation_id) == 4
    messages, _ = await run(make_tracker, domain, [{"entity": "csat_score", "value": "2"}])  # changes their mind
    assert messages[0]["response"] == "utter_csat_sorry" and _csat(crm_app, escalation_id) == 2


async def test_a_rating_that_is_not_1_to_5_asks_again_and_stores_nothing(crm, crm_app, make_tracker, domain):
    escalation_id = await _handed_back(crm, crm_app)
    for entities in ([], [{"entity": "csat_score", "value": "9"}], [{"entity": "csat_score", "value": "great"}]):
        messages, _ = await run(make_tracker, domain, entities)
        assert [m["response"] for m in messages] == ["utter_csat_invalid"]
    assert _csat(crm_app, escalation_id) is None


async def test_rating_without_a_handed_back_escalation_is_thanked_and_nothing_breaks(crm, make_tracker, domain):
    messages, events = await run(make_tracker, domain, [{"entity": "csat_score", "value": "5"}])
    assert events == [] and messages[0]["response"] == "utter_csat_thanks"


async def test_crm_down_still_thanks_the_customer_and_leaves_the_answer_for_the_relay(crm_down, make_tracker, domain):
    messages, events = await run(make_tracker, domain, [{"entity": "csat_score", "value": "3"}])
    assert messages[0]["response"] == "utter_csat_thanks"
    (slot,) = events  # the outbox: the event stream carries it to the CRM's relay (tests/crm/test_relay.py)
    assert slot["event"] == "slot" and slot["name"] == "csat_request"
    assert slot["value"]["score"] == 3 and slot["value"]["key"].startswith("csat-conv:csat:")


def test_domain_declares_the_csat_intent_entity_action_and_responses(domain):
    assert "rate_service" in domain["intents"] and "csat_score" in domain["entities"]
    assert "action_record_csat" in domain["actions"] and "csat_request" in domain["slots"]
    assert {"utter_csat_thanks", "utter_csat_sorry", "utter_csat_invalid"} <= set(domain["responses"])
