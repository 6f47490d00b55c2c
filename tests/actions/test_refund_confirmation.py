"""What the bot says before a refund follows the CRM's automatic-approval totals: after earlier refunds on the order it
no longer promises an approval at once that the CRM would send to review."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.tasks import ActionConfirm, ActionRunTask
from tests.responses import spoken

ALICE = {"customer_id": "1", "customer_name": "Alice"}


def said(dispatcher: CollectingDispatcher) -> str:
    return " ".join(spoken(dispatcher))


async def ask(make_tracker, domain, amount: str, reason: str, *, confirm: bool) -> str:
    """The bot's confirmation question for a refund on Alice's £149 order 10003, and with ``confirm`` what it says once
    the customer says yes (a different ``reason`` each time: the same request twice is one refund)."""
    slots = {**ALICE, "task": "get_refund", "order_id": "10003", "refund_reason": reason, "refund_amount": amount}
    dispatcher = CollectingDispatcher()
    await ActionRunTask().run(dispatcher, make_tracker(slots=slots), domain)
    text = said(dispatcher)
    if confirm:
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(slots={**slots, "pending_confirmation": "get_refund"})
        await ActionConfirm().run(dispatcher, tracker, domain)
        text += " | " + said(dispatcher)
    return text


async def test_split_refunds_are_announced_as_the_crm_will_decide_them(crm, make_tracker, domain):
    first = await ask(make_tracker, domain, "48.85", "scratched lid", confirm=True)
    assert "approved straight away" in first and "It's approved" in first
    second = await ask(make_tracker, domain, "48.85", "missing part", confirm=True)
    assert "approved straight away" in second and "It's approved" in second
    third = await ask(make_tracker, domain, "48.85", "late delivery", confirm=True)
    before, after = third.split(" | ")
    assert "approved straight away" not in before
    assert "Right now I can approve up to £2.30 straight away, so our team will check this one first" in before
    assert "review" in after


async def test_with_no_room_left_the_bot_says_the_team_checks_it(crm, make_tracker, domain):
    await ask(make_tracker, domain, "100.00", "broken", confirm=True)
    text = await ask(make_tracker, domain, "10.00", "late delivery", confirm=False)
    assert "Our team will check this one first" in text and "approve up to" not in text
