"""The action server killed (SIGKILL) in the middle of a conversation: the customer gets an honest answer and a way to
a person while it is down, nothing already confirmed is lost, and the supervisor brings it back without a hand."""

from __future__ import annotations

import httpx

from tests.faults.conftest import kill_hard, wait_until
from tests.security.conftest import Conversation
from tests.support import api_client


def test_killed_action_server_honest_answer_then_recovery_without_a_hand(stack, supervisor, confirmed_refund):
    chat = Conversation(stack.rasa_url, prefix="fault-actions")
    done = confirmed_refund(chat)  # confirmed before the fault
    crm = api_client(stack.crm_url, stack.api_key)
    customer_id = done.customer["id"]

    old_pid = kill_hard(stack, "actions")
    answer = chat.say(f"where is my order {done.order_number}?")  # needs the action server (the order form)
    assert "isn't responding" in answer and "0800 123 4567" in answer and "a person" in answer
    hello = chat.say("hello?")  # the order form is still active: still down, the outage answer; back, its question
    assert ("isn't responding" in hello and "0800 123 4567" in hello) or "e-mail address" in hello, hello

    wait_until(lambda: "actions" in supervisor, timeout=60)
    assert stack.procs["actions"].pid != old_pid
    wait_until(lambda: httpx.get(f"{stack.action_url}/health", timeout=5).status_code == 200, timeout=120)

    fresh = Conversation(stack.rasa_url, prefix="fault-actions-after")
    fresh.say("has my refund gone through?")
    fresh.say(done.order_number)
    answer = fresh.say(done.customer["email"])
    assert "verified" in " ".join(fresh.answers)
    refunds = [r for r in crm.get(f"/customers/{customer_id}/refunds").json() if r["reference"] == done.reference]
    assert len(refunds) == 1  # the confirmed refund survived, once
