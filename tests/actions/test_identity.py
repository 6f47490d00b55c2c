"""The order form: identity before disclosure, verified identity bound to the conversation, lock after 3 failures."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import grant, risk
from actions.identity import ActionStartTask, ValidateOrderForm
from tests.responses import spoken

form = ValidateOrderForm()
RISK_SLOTS = {"churn_probability", "churn_drivers", "customer_value", "customer_segment"}


@pytest.fixture
def churn_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trained churn model (models/churn.joblib, built by `make models`), loaded afresh for the test."""
    assert risk.MODEL_PATH.is_file(), f"{risk.MODEL_PATH} is missing: run `make models`"
    monkeypatch.setattr(risk, "_loaded", False)
    monkeypatch.setattr(risk, "_model", None)


@pytest.fixture
def no_churn_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(risk, "_loaded", True)
    monkeypatch.setattr(risk, "_model", None)


async def test_correct_email_verifies_and_binds_the_customer(crm, dispatcher, make_tracker, domain, said, churn_model):
    tracker = make_tracker(slots={"order_id": "10001", "task": "track_order"}, active_loop="order_form")
    slots = await form.validate_identity_proof("Alice.Martin@Example.com", dispatcher, tracker, domain)
    identity = {k: v for k, v in slots.items() if k not in RISK_SLOTS | {"identity_grant"}}
    assert identity == {
        "identity_proof": "verified",
        "customer_id": "1",
        "customer_name": "Alice",
        "verify_failures": 0,
    }
    granted = grant.claims(slots["identity_grant"])  # the CRM's grant: this customer, conversation, e-mail proof
    assert granted and (granted["sub"], granted["cid"], granted["prf"]) == ("1", "test-conversation", "email")
    assert RISK_SLOTS <= set(slots)  # scored with the churn model once verified
    assert 0 <= slots["churn_probability"] <= 1 and slots["churn_drivers"] and slots["customer_value"] > 0
    assert slots["customer_segment"]
    assert said() == ["utter_identity_verified"]


async def test_without_a_churn_model_the_customer_is_verified_and_not_scored(
    crm, dispatcher, make_tracker, domain, said, no_churn_model
):
    tracker = make_tracker(slots={"order_id": "10001", "task": "track_order"}, active_loop="order_form")
    slots = await form.validate_identity_proof("alice.martin@example.com", dispatcher, tracker, domain)
    assert set(slots) == {"identity_proof", "customer_id", "customer_name", "verify_failures", "identity_grant"}
    assert slots["identity_proof"] == "verified" and slots["customer_id"] == "1"
    assert said() == ["utter_identity_verified"]


async def test_postcode_verifies_too(crm, dispatcher, make_tracker, domain):
    tracker = make_tracker(slots={"order_id": "10011", "task": "track_order"})
    slots = await form.validate_identity_proof("my postcode is m1 1ae", dispatcher, tracker, domain)
    assert slots["customer_id"] == "2"


async def test_wrong_email_counts_a_failure_and_discloses_nothing(crm, dispatcher, make_tracker, domain, said):
    tracker = make_tracker(slots={"order_id": "10001", "task": "track_order", "verify_failures": 1})
    slots = await form.validate_identity_proof("ben.okafor@example.com", dispatcher, tracker, domain)
    assert slots == {"identity_proof": None, "verify_failures": 2}
    assert said() == ["utter_identity_failed"]
    assert dispatcher.messages[0]["attempts_left"] == 1


async def test_third_failure_locks_the_flow(crm, dispatcher, make_tracker, domain):
    tracker = make_tracker(slots={"order_id": "10001", "task": "track_order", "verify_failures": 2})
    slots = await form.validate_identity_proof("SW1A 2AA", dispatcher, tracker, domain)
    assert slots == {"identity_proof": None, "verify_failures": 3, "identity_locked": True}
    locked = make_tracker(slots={"identity_locked": True, "task": "track_order"})
    assert await form.required_slots(["order_id"], dispatcher, locked, domain) == []


async def test_unknown_order_fails_like_a_wrong_email(crm, dispatcher, make_tracker, domain, said):
    tracker = make_tracker(slots={"order_id": "99999", "task": "track_order"})
    slots = await form.validate_identity_proof("alice.martin@example.com", dispatcher, tracker, domain)
    assert slots["identity_proof"] is None and slots["verify_failures"] == 1
    assert said() == ["utter_identity_failed"]


async def test_something_that_is_neither_email_nor_postcode_is_asked_again(crm, dispatcher, make_tracker, domain, said):
    tracker = make_tracker(slots={"order_id": "10001"})
    assert await form.validate_identity_proof("my cat's name", dispatcher, tracker, domain) == {"identity_proof": None}
    assert said() == ["utter_invalid_identity_proof", "utter_ask_order_form_identity_proof"]


@pytest.mark.parametrize("order", ["10011", "10021", "99999"])
async def test_verified_customer_cannot_see_another_customers_order(crm, dispatcher, make_tracker, domain, said, order):
    tracker = make_tracker(slots={"customer_id": "1", "task": "track_order"})
    slots = await form.validate_order_id(order, dispatcher, tracker, domain)
    assert slots == {"order_id": None, "task_blocked": "not_your_order"}
    assert said() == ["utter_not_your_order"]


async def test_verified_customer_own_order_is_accepted(crm, dispatcher, make_tracker, domain, said):
    tracker = make_tracker(slots={"customer_id": "1", "task": "track_order"})
    assert await form.validate_order_id("#10002", dispatcher, tracker, domain) == {"order_id": "10002"}
    assert said() == []


async def test_order_number_must_look_like_one(crm, dispatcher, make_tracker, domain, said):
    tracker = make_tracker(slots={"task": "track_order"})
    assert await form.validate_order_id("last tuesday", dispatcher, tracker, domain) == {"order_id": None}
    assert said() == ["utter_invalid_order_id"]


async def test_required_slots_follow_the_task(crm, make_tracker, domain):
    dispatcher = CollectingDispatcher()
    unverified = make_tracker(slots={"task": "get_refund"})
    verified = make_tracker(slots={"task": "change_shipping_address", "customer_id": "1"})
    assert await form.required_slots([], dispatcher, unverified, domain) == [
        "order_id",
        "identity_proof",
        "refund_reason",
        "refund_amount",
    ]
    assert await form.required_slots([], dispatcher, verified, domain) == ["order_id", "new_address"]


async def test_refund_precheck_stops_the_form_for_an_undelivered_order(crm, dispatcher, make_tracker, domain, said):
    tracker = make_tracker(slots={"order_id": "10002", "task": "get_refund"})
    slots = await form.validate_identity_proof("alice.martin@example.com", dispatcher, tracker, domain)
    assert slots["customer_id"] == "1"
    assert slots["task_blocked"] == "refund_not_eligible_status"
    assert said()[0] == "utter_identity_verified" and "can't refund order 10002" in spoken(dispatcher)[1]


async def test_crm_outage_during_verification_is_an_apology(crm_down, dispatcher, make_tracker, domain, said):
    tracker = make_tracker(slots={"order_id": "10001", "task": "track_order"})
    slots = await form.validate_identity_proof("alice.martin@example.com", dispatcher, tracker, domain)
    assert slots == {"identity_proof": None, "task_blocked": "crm_down"}
    assert said() == ["utter_crm_down"]


async def test_start_task_remembers_the_task_and_clears_the_last_one(dispatcher, make_tracker, domain):
    tracker = make_tracker(intent="get_refund", slots={"pending_confirmation": "cancel_order", "order_id": "10003"})
    events = await ActionStartTask().run(dispatcher, tracker, domain)
    assert {e["name"]: e["value"] for e in events} == {
        "task": "get_refund",
        "pending_confirmation": None,
        "task_blocked": None,
        "refund_reason": None,
        "new_address": None,
        "refund_amount": None,
    }


async def test_asking_for_identity_starts_loading_the_churn_model(dispatcher, make_tracker, domain, monkeypatch):
    """The model loads in the background while the customer types, once per process; scoring then finds it loaded."""
    from actions import risk

    loads = []
    monkeypatch.setattr(risk, "_model", None)
    monkeypatch.setattr(risk, "_loaded", False)
    monkeypatch.setattr(risk, "_loading", None)
    monkeypatch.setattr(risk, "MODEL_PATH", risk.MODEL_PATH.with_name("not-trained-here.joblib"))
    real_churn_model = risk.churn_model
    monkeypatch.setattr(risk, "churn_model", lambda: loads.append(1) or real_churn_model())
    identified = make_tracker(slots={"customer_id": "1", "order_id": "10001", "task": "track_order"})
    await form.required_slots(["order_id"], dispatcher, identified, domain)
    assert risk._loading is None  # nothing to verify, nothing to score: no load
    stranger = make_tracker(slots={"order_id": "10001", "task": "track_order"})
    assert "identity_proof" in await form.required_slots(["order_id"], dispatcher, stranger, domain)
    await form.required_slots(["order_id"], dispatcher, stranger, domain)  # asked again: still one load
    risk._loading.join(10)
    assert loads == [1] and risk._loaded and risk._model is None  # no model file here: loaded as "none"
    assert await risk.assess("1") == {}  # scoring without a model: no risk slots, no error


@pytest.mark.parametrize(
    ("answer", "kept", "response"),
    [
        ("Alice.Martin@Example.com", "alice.martin@example.com", "utter_email_kept"),
        ("my postcode is sw1a 1aa", "SW1A 1AA", "utter_postcode_kept"),
    ],
)
async def test_proof_given_when_the_order_number_was_asked_is_kept_unchecked(
    crm, dispatcher, make_tracker, domain, said, answer, kept, response
):
    tracker = make_tracker(slots={"task": "invoice", "requested_slot": "order_id"}, active_loop="order_form")
    assert await form.validate_identity_proof(answer, dispatcher, tracker, domain) == {"identity_proof": kept}
    assert said() == [response]  # no "doesn't look like an e-mail", no failed attempt: the CRM was not asked yet
    tracker = make_tracker(slots={"task": "invoice", "identity_proof": kept}, active_loop="order_form")
    assert await form.next_requested_slot(dispatcher, tracker, domain) == {  # asks only for what is missing
        "event": "slot",
        "timestamp": None,
        "name": "requested_slot",
        "value": "order_id",
    }


async def test_kept_proof_is_checked_when_the_order_number_comes(crm, dispatcher, make_tracker, domain, said):
    tracker = make_tracker(slots={"task": "invoice", "identity_proof": "alice.martin@example.com"})
    slots = await form.validate_order_id("#10001", dispatcher, tracker, domain)
    assert (slots["order_id"], slots["identity_proof"], slots["customer_id"]) == ("10001", "verified", "1")
    assert grant.claims(slots["identity_grant"])["sub"] == "1"
    assert said() == ["utter_identity_verified"]


async def test_kept_proof_that_does_not_match_counts_a_failure(crm, dispatcher, make_tracker, domain, said):
    tracker = make_tracker(slots={"task": "track_order", "identity_proof": "ben.okafor@example.com"})
    slots = await form.validate_order_id("10001", dispatcher, tracker, domain)
    assert slots == {"order_id": "10001", "identity_proof": None, "verify_failures": 1}
    assert said() == ["utter_identity_failed"]


async def test_order_number_and_email_in_one_answer_are_checked_once(crm, dispatcher, make_tracker, domain, said):
    user = {"event": "user", "text": "10001 alice.martin@example.com", "parse_data": {}}
    slots_set = [
        {"event": "slot", "name": "identity_proof", "value": "alice.martin@example.com"},
        {"event": "slot", "name": "order_id", "value": "10001"},
    ]
    tracker = make_tracker(
        slots={"task": "track_order", "identity_proof": "alice.martin@example.com", "order_id": "10001"},
        events=[user, *slots_set],
    )
    assert await form.validate_order_id("10001", dispatcher, tracker, domain) == {"order_id": "10001"}
    slots = await form.validate_identity_proof("alice.martin@example.com", dispatcher, tracker, domain)
    assert slots["customer_id"] == "1" and said() == ["utter_identity_verified"]
