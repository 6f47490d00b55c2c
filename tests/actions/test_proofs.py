"""Proof that fits what is at stake: codes before changes, lapsed grants, forged slots, shop logins (real CRM app)."""

from __future__ import annotations

import re
import time
from typing import Any

import jwt
import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import grant
from actions.codes import ActionAskOneTimeCode, parse_code
from actions.identity import ValidateOrderForm
from actions.shop_login import ActionGreet
from actions.tasks import ActionConfirm, ActionRunTask
from tests.conftest import act_as, grant_token
from tests.responses import spoken

form = ValidateOrderForm()


class RecordingMailer:
    """Stands in for the SMTP server (tested on its own in tests/crm/test_mailer.py): keeps what the CRM sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def send(self, to: str, subject: str, text: str) -> None:
        self.sent.append({"to": to, "subject": subject, "text": text})

    def last_code(self, to: str) -> str:
        mails = [m for m in self.sent if m["to"] == to]
        assert mails, f"no mail to {to}"
        found = re.search(r"\b(\d{6})\b", mails[-1]["text"])
        assert found
        return found.group(1)


@pytest.fixture
def mailer(crm_app) -> RecordingMailer:
    recording = RecordingMailer()
    crm_app.state.mailer = recording
    return recording


def slots_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def said(dispatcher: CollectingDispatcher) -> list[str]:
    return [m.get("response") or m.get("text") or "" for m in dispatcher.messages]


@pytest.mark.parametrize("task", ["cancel_order", "get_refund", "change_shipping_address"])
async def test_a_change_on_email_or_postcode_proof_asks_for_a_code_last(crm, make_tracker, domain, task):
    weak = make_tracker(slots={"task": task, "customer_id": "1", "identity_grant": grant_token(1, strength="postcode")})
    needed = await form.required_slots([], CollectingDispatcher(), weak, domain)
    assert needed[0] == "order_id" and needed[-1] == "one_time_code"
    strong = make_tracker(slots={"task": task, "customer_id": "1"})
    assert "one_time_code" not in await form.required_slots([], CollectingDispatcher(), strong, domain)


async def test_a_lookup_never_asks_for_a_code(crm, make_tracker, domain):
    weak = make_tracker(
        slots={"task": "track_order", "customer_id": "1", "identity_grant": grant_token(1, strength="email")}
    )
    assert await form.required_slots([], CollectingDispatcher(), weak, domain) == ["order_id"]


async def test_code_flow_upgrades_the_grant_and_the_change_goes_through(crm, crm_app, mailer, make_tracker, domain):
    weak = grant_token(1, strength="email")
    slots = {"task": "cancel_order", "customer_id": "1", "order_id": "10004", "identity_grant": weak}
    dispatcher = CollectingDispatcher()
    events = await ActionAskOneTimeCode().run(dispatcher, make_tracker(slots=slots), domain)
    assert said(dispatcher) == ["utter_code_sent"]
    assert (
        dispatcher.messages[0]["email_hint"] == "a•••@example.com"
        and dispatcher.messages[0]["purpose"] == "cancel an order"
    )
    assert [m["to"] for m in mailer.sent] == ["alice.martin@example.com"]
    sent_at = slots_of(events)["otp_sent_at"]

    # asked again (after a wrong answer) within the code's life: a reminder, no second mail
    dispatcher = CollectingDispatcher()
    await ActionAskOneTimeCode().run(dispatcher, make_tracker(slots={**slots, "otp_sent_at": sent_at}), domain)
    assert said(dispatcher) == ["utter_ask_code_again"] and len(mailer.sent) == 1

    dispatcher = CollectingDispatcher()
    wrong = "000000" if mailer.last_code("alice.martin@example.com") != "000000" else "111111"
    assert await form.validate_one_time_code(wrong, dispatcher, make_tracker(slots=slots), domain) == {
        "one_time_code": None
    }
    assert said(dispatcher) == ["utter_code_mismatch"] and dispatcher.messages[0]["attempts_left"] == 2

    dispatcher = CollectingDispatcher()
    code = mailer.last_code("alice.martin@example.com")
    result = await form.validate_one_time_code(
        f"the code is {code[:3]} {code[3:]}", dispatcher, make_tracker(slots=slots), domain
    )
    assert result["one_time_code"] == "verified" and said(dispatcher) == ["utter_code_accepted"]
    assert grant.claims(result["identity_grant"])["prf"] == "one_time_code"

    # the write that the weak grant could not make
    act_as(1)
    dispatcher = CollectingDispatcher()
    confirmed = {**slots, "identity_grant": result["identity_grant"], "pending_confirmation": "cancel_order"}
    await ActionConfirm().run(dispatcher, make_tracker(slots=confirmed), domain)
    assert any("is cancelled" in text for text in spoken(dispatcher))


async def test_a_write_with_a_weak_grant_is_refused_by_the_crm(crm, make_tracker, domain):
    """Even if the dialogue were steered past the code, the CRM refuses the change."""
    dispatcher = CollectingDispatcher()
    slots = {
        "task": "cancel_order",
        "customer_id": "1",
        "order_id": "10004",
        "pending_confirmation": "cancel_order",
        "identity_grant": grant_token(1, strength="postcode"),
    }
    await ActionConfirm().run(dispatcher, make_tracker(slots=slots), domain)
    assert not any("is cancelled" in text for text in spoken(dispatcher))
    act_as(1)
    assert (await crm.get_order("1", "10004"))["status"] == "packed"


@pytest.mark.parametrize(
    "forged",
    [
        None,  # slots say verified, no grant at all (a forged tracker)
        "not-a-token",
        jwt.encode(
            {"sub": "1", "cid": "test-conversation", "chn": "unknown", "prf": "shop_login", "exp": 9999999999},
            "guess",
            algorithm="HS256",
        ),
    ],
)
async def test_forged_identity_slots_disclose_nothing(crm, make_tracker, domain, forged):
    dispatcher = CollectingDispatcher()
    slots = {"task": "track_order", "customer_id": "1", "order_id": "10001", "identity_grant": forged}
    events = await ActionRunTask().run(dispatcher, make_tracker(slots=slots), domain)
    text = " ".join(spoken(dispatcher))
    assert "10001" not in text and "DPD" not in text and "tracking" not in text.lower()
    assert said(dispatcher) == ["utter_verify_again_then_ask"]
    assert slots_of(events)["customer_id"] is None and slots_of(events)["identity_grant"] is None


async def test_another_conversations_grant_is_refused(crm, make_tracker, domain):
    dispatcher = CollectingDispatcher()
    stolen = grant_token(1, conversation_id="someone-else")
    slots = {"task": "track_order", "customer_id": "1", "order_id": "10001", "identity_grant": stolen}
    await ActionRunTask().run(dispatcher, make_tracker(slots=slots), domain)
    assert said(dispatcher) == ["utter_verify_again_then_ask"]


async def test_a_lapsed_grant_makes_the_form_verify_again(crm, make_tracker, domain):
    expired = grant.claims(grant_token(1))
    assert expired is not None
    lapsed = jwt.encode(
        {**expired, "exp": int(time.time()) - 5}, "dev-grant-secret-not-for-production", algorithm="HS256"
    )
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        slots={"task": "track_order", "customer_id": "1", "identity_grant": lapsed, "identity_proof": "verified"},
        active_loop="order_form",
    )
    events = await form.run(dispatcher, tracker, domain)
    assert said(dispatcher)[0] == "utter_verify_again"
    assert slots_of(events)["customer_id"] is None
    assert slots_of(events)["requested_slot"] == "order_id"  # the form starts again from the order number


async def test_paused_checks_offer_a_code_to_the_address_on_the_order(crm, crm_app, mailer, make_tracker, domain):
    crm_app.state.settings.verify_max_failures_per_order = 1
    first = make_tracker(slots={"order_id": "10001", "task": "track_order"}, sender_id="guesser")
    await form.validate_identity_proof("SW9 9ZZ", CollectingDispatcher(), first, domain)
    owner = make_tracker(slots={"order_id": "10001", "task": "track_order"}, sender_id="owner")
    result = await form.validate_identity_proof("alice.martin@example.com", CollectingDispatcher(), owner, domain)
    assert result == {"identity_proof": None, "otp_fallback": "offered"}
    offered = {"order_id": "10001", "task": "track_order", "otp_fallback": "offered"}
    offer = make_tracker(slots=offered, sender_id="owner")
    assert await form.required_slots([], CollectingDispatcher(), offer, domain) == ["order_id", "one_time_code"]

    dispatcher = CollectingDispatcher()
    await ActionAskOneTimeCode().run(dispatcher, offer, domain)
    assert said(dispatcher) == ["utter_offer_code_by_order"] and mailer.sent == []  # offered, not sent
    no = make_tracker(slots=offered, sender_id="owner", intent="inform", text="alice.martin@example.com")
    assert (await form.validate_one_time_code(no.latest_message["text"], CollectingDispatcher(), no, domain))[
        "otp_fallback"
    ] == "offered"
    yes = make_tracker(slots=offered, sender_id="owner", intent="affirm", text="yes")
    assert await form.validate_one_time_code("yes", CollectingDispatcher(), yes, domain) == {
        "one_time_code": None,
        "otp_fallback": "accepted",
    }
    fallback = make_tracker(slots={**offered, "otp_fallback": "accepted"}, sender_id="owner")
    dispatcher = CollectingDispatcher()
    await ActionAskOneTimeCode().run(dispatcher, fallback, domain)
    assert said(dispatcher) == ["utter_code_sent_by_order"]
    assert [m["to"] for m in mailer.sent] == ["alice.martin@example.com"]
    dispatcher = CollectingDispatcher()
    code = mailer.last_code("alice.martin@example.com")
    result = await form.validate_one_time_code(code, dispatcher, fallback, domain)
    assert result["customer_id"] == "1" and result["identity_proof"] == "verified"
    assert said(dispatcher)[0] == "utter_identity_verified"


async def test_code_digits_typed_for_the_code_do_not_replace_the_order_number(crm, make_tracker, domain):
    tracker = make_tracker(
        slots={"task": "cancel_order", "customer_id": "1", "order_id": "482913", "requested_slot": "one_time_code"},
        text="482913",
        events=[
            {"event": "slot", "name": "order_id", "value": "10004"},
            {"event": "user", "text": "482913"},
            {"event": "slot", "name": "order_id", "value": "482913"},
        ],
    )
    assert await form.validate_order_id("482913", CollectingDispatcher(), tracker, domain) == {"order_id": "10004"}


def shop_token(email: str, secret: str = "dev-shop-login-secret-not-for-production", minutes: int = 30) -> str:
    return jwt.encode({"email": email, "exp": int(time.time()) + minutes * 60}, secret, algorithm="HS256")


async def test_a_shop_login_greets_by_name_and_needs_no_questions(crm, make_tracker, domain):
    tracker = make_tracker(intent="greet", text="hi")
    tracker.latest_message["metadata"] = {"identityToken": shop_token("alice.martin@example.com")}
    dispatcher = CollectingDispatcher()
    events = await ActionGreet().run(dispatcher, tracker, domain)
    assert said(dispatcher) == ["utter_greet_signed_in"] and dispatcher.messages[0]["customer_name"] == "Alice"
    signed_in = slots_of(events)
    assert signed_in["customer_id"] == "1" and grant.claims(signed_in["identity_grant"])["prf"] == "shop_login"
    cancel = make_tracker(slots={"task": "cancel_order", **signed_in})
    assert await form.required_slots([], CollectingDispatcher(), cancel, domain) == ["order_id"]


@pytest.mark.parametrize(
    "token",
    [
        shop_token("alice.martin@example.com", secret="not-the-shops-secret"),
        shop_token("alice.martin@example.com", minutes=-1),
        shop_token("nobody@example.com"),
        "garbage",
    ],
    ids=["wrong-secret", "expired", "unknown-customer", "garbage"],
)
async def test_a_bad_shop_token_is_ignored_and_the_guest_is_greeted(crm, make_tracker, domain, token):
    tracker = make_tracker(intent="greet", text="hi")
    tracker.latest_message["metadata"] = {"identityToken": token}
    dispatcher = CollectingDispatcher()
    assert await ActionGreet().run(dispatcher, tracker, domain) == []
    assert said(dispatcher) == ["utter_greet"]


def test_codes_are_read_the_way_people_type_them():
    assert parse_code("123456") == "123456"
    assert parse_code("my code is 123 456") == "123456"
    assert parse_code("123-456.") == "123456"
    assert parse_code("12345") is None and parse_code("1234567") is None and parse_code("hello") is None
