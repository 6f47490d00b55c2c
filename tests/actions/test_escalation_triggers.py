"""action_escalate on a must-escalate trigger, against a real CRM app: the trigger's first reply is said once (by the
policy, or by the action when the policy did not), the packet names the trigger and the customer's words; the
second fallback asks again instead of offering a person, and a yes to the policy's offer hands over."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.escalation import ActionEscalate
from actions.support import ActionDefaultFallback
from actions.tasks import ActionConfirm

FIRE = "the heater you sold me caught fire last night"


def slots_of(events):
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def outbox(events):
    """The escalation request the event stream carries to the CRM: the slot event that set `escalation_request`."""
    return next(e["value"] for e in events if e["event"] == "slot" and e["name"] == "escalation_request" and e["value"])


async def test_after_the_policys_safety_reply_the_action_hands_over_without_repeating_it(crm, make_tracker, domain):
    tracker = make_tracker(intent="nlu_fallback", text=FIRE, sender_id="fire-1")
    tracker.latest_action_name = "utter_escalation_safety_issue"
    dispatcher = CollectingDispatcher()
    events = await ActionEscalate().run(dispatcher, tracker, domain)
    assert [m.get("response") for m in dispatcher.messages] == ["utter_escalation_opened"]
    body = outbox(events)["body"]
    assert body["reason_codes"] == ["safety_issue"] and body["priority"] >= 90
    assert body["packet"]["decision"]["triggers"] == [
        {"reason": "safety_issue", "kind": "fire", "phrase": "caught fire"}
    ]
    assert '("caught fire")' in body["summary"]
    assert slots_of(events)["escalation_status"] == "open" and events[-1]["event"] == "pause"
    assert slots_of(events)["escalation_request"] is None  # emptied once recorded: no later session carries it


async def test_a_trigger_escalated_another_way_still_gets_its_first_reply(crm, make_tracker, domain):
    text = "my mum passed away and I need to close her account"
    tracker = make_tracker(intent="delete_account", text=text, sender_id="bereaved-1")
    dispatcher = CollectingDispatcher()
    await ActionEscalate().run(dispatcher, tracker, domain)
    assert [m.get("response") for m in dispatcher.messages] == [
        "utter_escalation_vulnerable_customer_bereavement",
        "utter_escalation_opened",
    ]


async def test_the_second_fallback_asks_again_and_offers_no_person(make_tracker, domain):
    dispatcher = CollectingDispatcher()
    events = await ActionDefaultFallback().run(dispatcher, make_tracker(intent="nlu_fallback", text="blorp"), domain)
    assert [m.get("response") for m in dispatcher.messages] == ["utter_default"]
    assert events == [{"event": "rewind", "timestamp": None}]


async def test_yes_to_the_offer_after_misunderstood_messages_hands_over(crm, make_tracker, domain):
    events = [
        {"event": "user", "text": t, "parse_data": {"intent": {"name": "nlu_fallback"}, "sentiment": {"score": 0.0}}}
        for t in ("blorp", "flimflam", "zxcv")
    ] + [{"event": "user", "text": "yes", "parse_data": {"intent": {"name": "affirm"}, "sentiment": {"score": 0.3}}}]
    tracker = make_tracker(
        intent="affirm", text="yes", slots={"pending_confirmation": "human"}, events=events, sender_id="consent-1"
    )
    dispatcher = CollectingDispatcher()
    result = await ActionConfirm().run(dispatcher, tracker, domain)
    body = outbox(result)["body"]
    assert body["reason_codes"] == ["explicit_request"]
    assert [line["text"] for line in body["packet"]["transcript"]] == ["blorp", "flimflam", "zxcv", "yes"]
