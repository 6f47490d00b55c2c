"""Complaints through the real CRM client against a real CRM app: the repeat-complaint rule reaches a person."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.support import ActionComplaint

CHLOE = {"customer_id": "3", "customer_name": "Chloe"}


async def complain(make_tracker, domain, n: int):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots=CHLOE, intent="complaint", text="this is the worst service", sender_id=f"c-{n}")
    events = await ActionComplaint().run(dispatcher, tracker, domain)
    return dispatcher, {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def test_third_complaint_this_month_hands_over_to_a_person(crm, make_tracker, domain):
    outcomes = []
    for n in range(4):
        dispatcher, slots = await complain(make_tracker, domain, n)
        outcomes.append(slots)
        if "escalation_request" in slots:
            break
    escalated = outcomes[-1]
    assert "escalation_request" in escalated, "no escalation after repeated complaints"
    assert "repeat_complaint" in escalated["escalated_reasons"]
    assert all("escalation_request" not in o and o.get("pending_confirmation") == "human" for o in outcomes[:-1])
    assert (
        len(outcomes) == 3
    )  # Chloe has no earlier complaint in the seed: her third one here is the one that hands over
