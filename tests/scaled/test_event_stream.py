"""Rasa's pika event broker reaches the CRM: escalations raised on one replica and the customer's later messages on
the other arrive in the CRM through RabbitMQ, also when the CRM was down while they were raised."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx


def say(base: str, sender: str, text: str) -> str:
    response = httpx.post(f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60)
    response.raise_for_status()
    return " ".join(str(m.get("text") or "") for m in response.json())


def wait_until(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


def escalation_of(crm_api: httpx.Client, conversation_id: str) -> dict[str, Any] | None:
    for item in crm_api.get("/escalations", params={"status": "open,claimed,resolved,handed_back"}).json():
        if item["conversation_id"] == conversation_id:
            return crm_api.get(f"/escalations/{item['id']}").json()
    return None


def customer_thread(crm_api: httpx.Client, conversation_id: str) -> list[str]:
    escalation = escalation_of(crm_api, conversation_id) or {"messages": []}
    return [m["text"] for m in escalation["messages"] if m["sender"] == "customer"]


def test_escalation_on_one_replica_and_the_next_message_on_the_other_reach_the_crm(scaled, crm_api):
    first, second = scaled.replica_urls
    sender = f"stream-{uuid.uuid4().hex[:10]}"
    conversation = f"rest:{sender}"  # the REST channel's conversation id, the CRM's too
    assert "e-mail" in say(first, sender, "where is my order 10002?")
    assert "verified" in say(second, sender, "alice.martin@example.com")
    reply = say(first, sender, "let me talk to a human")
    assert "member of our team" in reply and "queue" in reply
    escalation = wait_until(lambda: escalation_of(crm_api, conversation))
    assert "explicit_request" in escalation["reason_codes"] and escalation["status"] == "open"
    # the bot is paused: these messages reach the agent's thread only through the RabbitMQ stream, masked
    assert say(second, sender, "hello? is anyone there") == ""
    assert say(first, sender, "mail me at alice.martin@example.com or call 07700 900123") == ""
    thread = wait_until(lambda: (lambda t: t if len(t) == 2 else None)(customer_thread(crm_api, conversation)))
    assert thread == ["hello? is anyone there", "mail me at [email] or call [phone]"]


def test_escalation_raised_while_the_crm_is_down_arrives_from_the_queue_once(scaled, crm_api):
    first, second = scaled.replica_urls
    sender = f"stream-down-{uuid.uuid4().hex[:10]}"
    conversation = f"rest:{sender}"
    scaled.stop("crm")
    try:
        reply = say(second, sender, "I want to speak to a real person please")
        assert "member of our team" in reply and "request is saved" in reply  # honest about the delay
        assert say(first, sender, "my order 10012 arrived with the wrong item") == ""  # paused: relayed later
    finally:
        scaled.start_crm()
    escalation = wait_until(lambda: escalation_of(crm_api, conversation), timeout=60)  # acked only after the commit
    assert "explicit_request" in escalation["reason_codes"] and escalation["status"] == "open"
    assert wait_until(lambda: customer_thread(crm_api, conversation)) == ["my order 10012 arrived with the wrong item"]
    time.sleep(1.0)  # a redelivery would show up now: still exactly one escalation and one message
    matches = [
        e
        for e in crm_api.get("/escalations", params={"status": "open,claimed,resolved,handed_back"}).json()
        if e["conversation_id"] == conversation
    ]
    assert len(matches) == 1 and customer_thread(crm_api, conversation) == [
        "my order 10012 arrived with the wrong item"
    ]
