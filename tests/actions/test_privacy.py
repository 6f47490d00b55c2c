"""A copy of the customer's data or its erasure: the actions against a real CRM app record a request for a
supervisor with the grant's proof and say its reference; a read proof leads to a one-time code first; an erasure needs
a yes; a CRM outage gets an apology and the way to a person."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.codes import ActionAskOneTimeCode
from actions.identity import ActionStartTask, ValidateOrderForm
from actions.tasks import ActionConfirm, ActionDecline, ActionRunTask
from crm_backend.db import DataRequest, new_session
from tests.conftest import grant_token
from tests.responses import spoken

ALICE = {"customer_id": "1", "customer_name": "Alice", "order_id": "10001"}


def rows(crm_app: FastAPI) -> list[tuple[str, str, str, str | None, str | None, str]]:
    """The CRM's data requests: (reference, kind, status, proof, conversation, source)."""
    with new_session(crm_app.state.engine) as session:
        query = select(DataRequest).order_by(DataRequest.id)
        return [
            (r.reference, r.kind, r.status, r.proof, r.conversation_id, r.source)
            for r in session.execute(query).scalars()
        ]


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    return [m.get("response") or m.get("text") or "" for m in dispatcher.messages]


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Slot events other than the CRM call log."""
    return {e["name"]: e["value"] for e in events if e["event"] == "slot" and e["name"] != "crm_calls"}


async def run_task(make_tracker, domain, **slots: Any) -> tuple[CollectingDispatcher, list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await ActionRunTask().run(dispatcher, make_tracker(slots={**ALICE, **slots}), domain)
    return dispatcher, events


async def confirm(make_tracker, domain, **slots: Any) -> tuple[CollectingDispatcher, list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={**ALICE, "pending_confirmation": "data_erasure", **slots})
    events = await ActionConfirm().run(dispatcher, tracker, domain)
    return dispatcher, events


@pytest.mark.parametrize(
    ("intent", "task"), [("request_data_export", "data_export"), ("request_data_erasure", "data_erasure")]
)
async def test_the_intent_starts_its_task(make_tracker, domain, intent, task):
    events = await ActionStartTask().run(CollectingDispatcher(), make_tracker(intent=intent), domain)
    assert events[0] == {"event": "slot", "timestamp": None, "name": "task", "value": task}


async def test_an_export_request_is_recorded_with_the_grants_proof_and_its_reference_said(
    crm, crm_app, make_tracker, domain
):
    dispatcher, events = await run_task(make_tracker, domain, task="data_export")

    [(reference, kind, status, proof, conversation, source)] = rows(crm_app)
    assert (kind, status, proof, conversation, source) == (
        "export",
        "pending",
        "one_time_code",
        "test-conversation",
        "assistant",
    )
    assert responses(dispatcher) == ["utter_data_export_requested", "utter_anything_else"]
    said = spoken(dispatcher)[0]
    assert reference in said and "within one month" in said and "supervisor" in said
    assert slot_events(events) == {}


async def test_a_shop_login_is_the_proof_recorded_and_a_second_ask_gets_the_pending_request(
    crm, crm_app, make_tracker, domain
):
    shop_login = grant_token(1, strength="shop_login")
    await run_task(make_tracker, domain, task="data_export", identity_grant=shop_login)
    [(reference, _, _, proof, _, _)] = rows(crm_app)
    assert proof == "shop_login"

    other = "another-conversation"  # another conversation, another idempotency key: the CRM's pending one answers
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        slots={**ALICE, "task": "data_export", "identity_grant": grant_token(1, conversation_id=other)},
        sender_id=other,
    )
    await ActionRunTask().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_data_export_already_requested", "utter_anything_else"]
    assert reference in spoken(dispatcher)[0]
    assert len(rows(crm_app)) == 1


async def test_an_erasure_is_explained_and_recorded_only_after_a_yes(crm, crm_app, make_tracker, domain):
    dispatcher, events = await run_task(make_tracker, domain, task="data_erasure")
    assert responses(dispatcher) == ["utter_confirm_data_erasure"]
    explained = spoken(dispatcher)[0]
    assert "one month" in explained and "invoices for 6 years" in explained and "Nothing is deleted" in explained
    assert slot_events(events) == {"pending_confirmation": "data_erasure"}
    assert rows(crm_app) == []  # nothing asked of the CRM before the yes

    dispatcher, events = await confirm(make_tracker, domain, task="data_erasure")
    [(reference, kind, status, proof, _, _)] = rows(crm_app)
    assert (kind, status, proof) == ("erase", "pending", "one_time_code")
    assert responses(dispatcher) == ["utter_data_erasure_requested", "utter_anything_else"]
    assert reference in spoken(dispatcher)[0] and "6 years" in spoken(dispatcher)[0]
    assert slot_events(events)["pending_confirmation"] is None

    # the same yes again (a retried webhook): the CRM replays its answer, no second request
    dispatcher, _ = await confirm(make_tracker, domain, task="data_erasure")
    assert responses(dispatcher)[0] == "utter_data_erasure_requested" and reference in spoken(dispatcher)[0]
    assert len(rows(crm_app)) == 1


async def test_no_to_an_erasure_records_nothing(crm, crm_app, make_tracker, domain):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={**ALICE, "task": "data_erasure", "pending_confirmation": "data_erasure"})
    events = await ActionDecline().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_kept_as_is", "utter_anything_else"]
    assert slot_events(events) == {"pending_confirmation": None}
    assert rows(crm_app) == []


@pytest.mark.parametrize(
    ("task", "purpose"),
    [
        ("data_export", "request a copy of your personal data"),
        ("data_erasure", "request the erasure of your personal data"),
    ],
)
async def test_a_read_proof_gets_a_one_time_code_asked_first(crm, crm_app, make_tracker, domain, task, purpose):
    weak = {**ALICE, "task": task, "identity_grant": grant_token(1, strength="postcode")}
    form = ValidateOrderForm()
    assert await form.required_slots([], CollectingDispatcher(), make_tracker(slots=weak), domain) == ["one_time_code"]
    strong = make_tracker(slots={**ALICE, "task": task})
    assert await form.required_slots([], CollectingDispatcher(), strong, domain) == []

    sent: list[str] = []
    crm_app.state.mailer = type("Mailer", (), {"send": lambda self, to, subject, text: sent.append(to)})()
    dispatcher = CollectingDispatcher()
    await ActionAskOneTimeCode().run(dispatcher, make_tracker(slots=weak), domain)
    assert responses(dispatcher) == ["utter_code_sent"] and dispatcher.messages[0]["purpose"] == purpose
    assert sent == ["alice.martin@example.com"]


async def test_the_crm_refuses_a_request_on_a_read_proof(crm, crm_app, make_tracker, domain):
    """Even if the dialogue were steered past the code, the CRM records nothing."""
    dispatcher, _ = await run_task(
        make_tracker, domain, task="data_export", identity_grant=grant_token(1, strength="email")
    )
    assert responses(dispatcher)[0] == "utter_task_refused"
    assert "one-time code" in spoken(dispatcher)[0]
    assert rows(crm_app) == []


@pytest.mark.parametrize("task", ["data_export", "data_erasure"])
async def test_crm_down_gets_an_apology_and_the_way_to_a_person(crm_down, make_tracker, domain, task):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={**ALICE, "task": task, "pending_confirmation": "data_erasure"})
    if task == "data_export":
        events = await ActionRunTask().run(dispatcher, tracker, domain)
    else:
        events = await ActionConfirm().run(dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_crm_down"]
    said = spoken(dispatcher)[0]
    assert "Sorry" in said and "talk to a person" in said and "0800 123 4567" in said
    assert slot_events(events)["pending_confirmation"] is None


@pytest.mark.parametrize(("strength", "asked"), [("shop_login", []), ("email", ["one_time_code"])])
async def test_a_verified_customer_is_not_asked_for_an_order_number(
    crm, crm_app, make_tracker, domain, strength, asked
):
    verified = {"customer_id": "1", "task": "data_export", "identity_grant": grant_token(1, strength=strength)}
    form = ValidateOrderForm()
    assert await form.required_slots([], CollectingDispatcher(), make_tracker(slots=verified), domain) == asked
    unverified = make_tracker(slots={"task": "data_export"})
    assert (await form.required_slots([], CollectingDispatcher(), unverified, domain))[0] == "order_id"

    if strength == "shop_login":  # with no order number in the conversation, the request is made all the same
        dispatcher = CollectingDispatcher()
        await ActionRunTask().run(dispatcher, make_tracker(slots=verified), domain)
        assert responses(dispatcher) == ["utter_data_export_requested", "utter_anything_else"]
        [(reference, kind, _, proof, _, _)] = rows(crm_app)
        assert (kind, proof) == ("export", "shop_login") and reference in spoken(dispatcher)[0]
