"""Order tasks through the real CRM client against a real CRM app: look-ups, quotes, confirmed writes, refusals."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.identity import ValidateOrderForm
from actions.tasks import ActionConfirm, ActionDecline, ActionRunTask
from tests.conftest import act_as
from tests.responses import buttons_of, spoken

ALICE = {"customer_id": "1", "customer_name": "Alice"}


def slot_events(events):
    """Slot events other than the CRM call log (checked on its own in test_crm_calls_are_logged_for_the_agent)."""
    return {e["name"]: e["value"] for e in events if e["event"] == "slot" and e["name"] != "crm_calls"}


async def run(make_tracker, domain, **slots):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={**ALICE, **slots})
    events = await ActionRunTask().run(dispatcher, tracker, domain)
    return dispatcher, events


async def confirm(make_tracker, domain, **slots):
    dispatcher = CollectingDispatcher()
    events = await ActionConfirm().run(dispatcher, make_tracker(slots={**ALICE, **slots}), domain)
    return dispatcher, events


def text_of(dispatcher):
    """Message texts, and the names of the domain responses uttered."""
    return " ".join(m.get("text") or m.get("response") or "" for m in dispatcher.messages)


def read_by_customer(dispatcher):
    """What the customer reads: domain responses filled in."""
    return " ".join(spoken(dispatcher))


async def test_track_a_shipped_order_gives_carrier_tracking_and_eta(crm, make_tracker, domain):
    dispatcher, events = await run(make_tracker, domain, task="track_order", order_id="10001")
    said = read_by_customer(dispatcher)
    assert "Order 10001" in said and "on its way" in said and "DPD" in said and "tracking number" in said
    assert slot_events(events) == {}


async def test_crm_calls_are_logged_for_the_agent(crm, make_tracker, domain):
    earlier = [{"call": "POST /identity/verify", "status": 200}]
    _, events = await run(make_tracker, domain, task="cancel_order", order_id="10001", crm_calls=earlier)
    log = [e["value"] for e in events if e["event"] == "slot" and e["name"] == "crm_calls"]
    assert log == [earlier + [{"call": "GET /customers/1/orders/10001/cancellation", "status": 200}]]


async def test_shipped_order_cannot_be_cancelled_and_customer_hears_the_alternative(crm, make_tracker, domain):
    dispatcher, events = await run(make_tracker, domain, task="cancel_order", order_id="10001")
    said = read_by_customer(dispatcher)
    assert "can't be cancelled" in said and "refund" in said
    assert "pending_confirmation" not in slot_events(events)
    act_as(1)  # the test reads the CRM as Alice's conversation
    order = await crm.get_order("1", "10001")
    assert order["status"] == "shipped"


async def test_cancel_needs_an_explicit_yes_and_happens_once(crm, make_tracker, domain):
    dispatcher, events = await run(make_tracker, domain, task="cancel_order", order_id="10004")
    assert slot_events(events) == {"pending_confirmation": "cancel_order"}
    assert "£4.95" in read_by_customer(dispatcher) and buttons_of(dispatcher.messages[0])
    act_as(1)  # the test reads the CRM as Alice's conversation
    assert (await crm.get_order("1", "10004"))["status"] == "packed"  # nothing changed before the yes

    dispatcher, events = await confirm(
        make_tracker, domain, task="cancel_order", order_id="10004", pending_confirmation="cancel_order"
    )
    assert "is cancelled" in read_by_customer(dispatcher)
    assert slot_events(events)["pending_confirmation"] is None
    act_as(1)  # the test reads the CRM as Alice's conversation
    assert (await crm.get_order("1", "10004"))["status"] == "cancelled"

    dispatcher, _ = await confirm(make_tracker, domain, task="cancel_order", order_id="10004")
    assert text_of(dispatcher) == "utter_nothing_to_confirm"


async def test_no_keeps_the_order(crm, make_tracker, domain):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={**ALICE, "order_id": "10002", "pending_confirmation": "cancel_order"})
    events = await ActionDecline().run(dispatcher, tracker, domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_kept_as_is", "utter_anything_else"]
    assert slot_events(events) == {"pending_confirmation": None}
    act_as(1)  # the test reads the CRM as Alice's conversation
    assert (await crm.get_order("1", "10002"))["status"] == "paid"


async def test_no_to_an_address_change_changes_nothing_and_forgets_the_address(crm, make_tracker, domain):
    slots = {
        **ALICE,
        "task": "change_shipping_address",
        "order_id": "10002",
        "new_address": "12 High Street, London, SW1A 1AA",
        "pending_confirmation": "change_shipping_address",
    }
    dispatcher = CollectingDispatcher()
    events = await ActionDecline().run(dispatcher, make_tracker(slots=slots), domain)
    assert [m["response"] for m in dispatcher.messages] == ["utter_kept_as_is", "utter_anything_else"]
    assert slot_events(events) == {"pending_confirmation": None, "new_address": None}
    act_as(1)
    assert (await crm.get_order("1", "10002"))["shipping_address"]["line1"] != "12 High Street"


async def test_refund_submitted_twice_creates_one_refund(crm, make_tracker, domain):
    slots = {
        "task": "get_refund",
        "order_id": "10008",
        "refund_reason": "arrived late and damaged",
        "refund_amount": "20.00",
    }
    dispatcher, events = await run(make_tracker, domain, **slots)
    assert slot_events(events) == {"pending_confirmation": "get_refund"}
    assert "£20.00" in read_by_customer(dispatcher) and "approved straight away" in read_by_customer(dispatcher)

    references = []
    for _ in range(2):  # a repeated confirmation of the same request (e.g. a retried webhook)
        dispatcher, _ = await confirm(make_tracker, domain, **slots, pending_confirmation="get_refund")
        said = read_by_customer(dispatcher)
        assert "RF-" in said
        references.append(said.split("request ")[1].split(" ")[0])
    assert references[0] == references[1]
    act_as(1)  # the test reads the CRM as Alice's conversation
    refunds = [r for r in await crm.list_refunds("1") if r["order_number"] == "10008"]
    assert len(refunds) == 1 and refunds[0]["amount"] == 20.0 and refunds[0]["status"] == "approved"


async def test_large_refund_goes_to_review(crm, make_tracker, domain):
    slots = {"task": "get_refund", "order_id": "10003", "refund_reason": "never worked", "refund_amount": "149.00"}
    dispatcher, _ = await confirm(make_tracker, domain, **slots, pending_confirmation="get_refund")
    assert "review" in read_by_customer(dispatcher)
    act_as(1)  # the test reads the CRM as Alice's conversation
    refunds = [r for r in await crm.list_refunds("1") if r["order_number"] == "10003"]
    assert [r["status"] for r in refunds] == ["pending_review"]


async def test_refund_amount_above_what_was_paid_is_asked_again(crm, dispatcher, make_tracker, domain):
    tracker = make_tracker(slots={**ALICE, "task": "get_refund", "order_id": "10003"})
    form = ValidateOrderForm()
    assert await form.validate_refund_amount("£500", dispatcher, tracker, domain) == {"refund_amount": None}
    assert "£149.00" in spoken(dispatcher)[0]
    assert await form.validate_refund_amount("the full amount", dispatcher, tracker, domain) == {
        "refund_amount": "149.00"
    }


async def test_refund_outside_the_window_is_refused_with_a_reason(crm, dispatcher, make_tracker, domain):
    tracker = make_tracker(slots={**ALICE, "task": "get_refund"})
    slots = await ValidateOrderForm().validate_order_id("10006", dispatcher, tracker, domain)
    assert slots == {"order_id": "10006", "task_blocked": "refund_window_expired"}
    assert "can't refund order 10006" in spoken(dispatcher)[0]


async def test_address_change_before_shipping(crm, make_tracker, domain):
    slots = {"task": "change_shipping_address", "order_id": "10002", "new_address": "12 High Street, Leeds, ls1 4ap"}
    dispatcher, events = await run(make_tracker, domain, **slots)
    assert slot_events(events) == {"pending_confirmation": "change_shipping_address"}
    assert "12 High Street, Leeds, LS1 4AP" in read_by_customer(dispatcher)
    dispatcher, _ = await confirm(make_tracker, domain, **slots, pending_confirmation="change_shipping_address")
    assert "will go to 12 High Street, Leeds, LS1 4AP" in read_by_customer(dispatcher)
    act_as(1)  # the test reads the CRM as Alice's conversation
    address = (await crm.get_order("1", "10002"))["shipping_address"]
    assert (address["line1"], address["city"], address["postcode"]) == ("12 High Street", "Leeds", "LS1 4AP")


async def test_address_change_after_shipping_is_refused(crm, dispatcher, make_tracker, domain):
    tracker = make_tracker(slots={**ALICE, "task": "change_shipping_address"})
    slots = await ValidateOrderForm().validate_order_id("10001", dispatcher, tracker, domain)
    assert slots["task_blocked"] == "order_already_shipped"
    assert "already shipped" in spoken(dispatcher)[0]


async def test_invoice_lookup(crm, make_tracker, domain):
    dispatcher, _ = await run(make_tracker, domain, task="invoice", order_id="10003")
    said = read_by_customer(dispatcher)
    assert "INV-10003" in said and "£149.00" in said and "http" in said


async def test_track_refund_lists_the_orders_refunds(crm, make_tracker, domain):
    dispatcher, _ = await run(make_tracker, domain, task="track_refund", order_id="10007")
    assert "RF-" in read_by_customer(dispatcher)
    dispatcher, _ = await run(make_tracker, domain, task="track_refund", order_id="10002")
    assert "no refund on order 10002" in read_by_customer(dispatcher)


async def test_crm_outage_is_an_apology_with_a_way_to_a_person(crm_down, make_tracker, domain):
    dispatcher, events = await run(make_tracker, domain, task="track_order", order_id="10001")
    assert [m.get("response") for m in dispatcher.messages] == ["utter_crm_down"]
    assert slot_events(events) == {"pending_confirmation": None}
    dispatcher, _ = await confirm(
        make_tracker, domain, task="cancel_order", order_id="10002", pending_confirmation="cancel_order"
    )
    assert [m.get("response") for m in dispatcher.messages] == ["utter_crm_down"]
