"""The action server killed (SIGKILL) in the middle of a conversation: the customer gets an honest answer and a way to
a person while it is down, nothing already confirmed is lost, and the supervisor brings it back without a hand."""

from __future__ import annotations

import httpx

from tests.faults.conftest import kill_hard, wait_until
from tests.security.conftest import Conversation


def test_killed_action_server_honest_answer_then_recovery_without_a_hand(stack, supervisor, find_order):
    customer, paid = find_order("paid")
    chat = Conversation(stack.rasa_url, prefix="fault-actions")
    # something confirmed before the fault: a cancellation
    chat.say(f"please cancel order {paid}")
    chat.say(customer["email"])
    assert "cancel" in " ".join(chat.answers).lower()
    chat.say("yes")
    crm = httpx.Client(base_url=f"{stack.crm_url}/api/v1", headers={"X-API-Key": stack.api_key}, timeout=10)
    assert crm.get(f"/customers/{customer['id']}/orders/{paid}").json()["status"] == "cancelled"

    old_pid = kill_hard(stack, "actions")
    answer = chat.say(f"where is my order {paid}?")  # needs the action server (the order form)
    assert "isn't responding" in answer and "0800 123 4567" in answer and "a person" in answer
    answer = chat.say("hello?")  # still down or coming back: an answer either way, never silence
    assert answer.strip()

    wait_until(lambda: "actions" in supervisor, timeout=60)
    assert stack.procs["actions"].pid != old_pid
    wait_until(lambda: httpx.get(f"{stack.action_url}/health", timeout=5).status_code == 200, timeout=120)

    fresh = Conversation(stack.rasa_url, prefix="fault-actions-after")
    fresh.say(f"where is my order {paid}?")
    answer = fresh.say(customer["email"])
    assert "verified" in answer and "cancelled" in answer.lower()  # the confirmed cancellation survived
    assert crm.get(f"/customers/{customer['id']}/orders/{paid}").json()["status"] == "cancelled"
