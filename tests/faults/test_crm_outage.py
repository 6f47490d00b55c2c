"""The CRM stopped, then killed hard, while a customer asks for a person: the escalation raised meanwhile reaches
the CRM through the outbox (Rasa's event stream and the CRM's relay) exactly once, with the customer's messages
exactly once, and nothing confirmed before is lost. (tests/e2e/test_handoff.py covers the socket.io side.)"""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.faults.conftest import kill_hard, wait_until
from tests.security.conftest import Conversation
from tests.support import api_client


def escalations_of(crm: httpx.Client, conversation_id: str) -> list[dict[str, Any]]:
    items = crm.get("/escalations", params={"status": "open,claimed,resolved,handed_back"}).json()
    return [crm.get(f"/escalations/{e['id']}").json() for e in items if e["conversation_id"] == conversation_id]


def test_escalation_during_outage_arrives_exactly_once_after_restarts(stack, supervisor, confirmed_refund):
    crm = api_client(stack.crm_url, stack.api_key)
    chat = Conversation(stack.rasa_url, prefix="fault-crm")
    done = confirmed_refund(chat)

    stack.stop("crm")  # a clean stop: not restarted by the supervisor
    try:
        answer = chat.say("I want to speak to a real person please")
        assert "member of our team" in answer and "request is saved" in answer
        assert chat.say("the parcel for the other order never came") == ""  # paused: kept for the agent
    finally:
        stack.start_crm()
    first = wait_until(lambda: escalations_of(crm, chat.conversation_id), timeout=60)
    assert len(first) == 1 and "explicit_request" in first[0]["reason_codes"]

    kill_hard(stack, "crm")  # and now a crash: the supervisor restarts it; the relay re-reads from its cursor
    wait_until(lambda: "crm" in supervisor, timeout=60)
    wait_until(lambda: httpx.get(f"{stack.crm_url}/health", timeout=5).status_code == 200, timeout=60)
    crm = api_client(stack.crm_url, stack.api_key)
    time.sleep(3)  # several relay ticks
    found = escalations_of(crm, chat.conversation_id)
    assert len(found) == 1 and found[0]["id"] == first[0]["id"]
    customer_lines = [m["text"] for m in found[0]["messages"] if m["sender"] == "customer"]
    assert customer_lines == ["the parcel for the other order never came"]
    refunds = crm.get(f"/customers/{done.customer['id']}/refunds").json()
    assert [r["reference"] for r in refunds].count(done.reference) == 1  # confirmed before: still there, once
