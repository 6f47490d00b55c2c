"""Identity verification is rate-limited per conversation (3 failures, in the assistant) and per order across
conversations (the CRM: 5 failures for one order within 15 minutes lock that order's verification; the other
limits are in test_trust_attacks.py and tests/crm/)."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.conftest import TEST_API_KEY
from tests.security.conftest import Conversation


def verify(client: TestClient, order: str, email: str, conversation: str | None = None) -> tuple[int, str]:
    body = {
        "order_number": order,
        "email": email,
        "conversation_id": conversation or uuid.uuid4().hex,
        "channel": "rest",
    }
    response = client.post("/api/v1/identity/verify", json=body, headers={"X-API-Key": TEST_API_KEY})
    return response.status_code, response.json().get("code", "")


def test_failures_across_conversations_lock_the_order_even_for_the_right_details(crm_app):
    client = TestClient(crm_app)
    assert verify(client, "10011", "ben.okafor@example.com")[0] == 200
    for attempt in range(5):
        assert verify(client, "10011", f"guess{attempt}@example.com") == (401, "verification_failed")
    assert verify(client, "10011", "ben.okafor@example.com") == (429, "too_many_attempts")
    assert verify(client, "#10011 ", "ben.okafor@example.com") == (429, "too_many_attempts")  # same order, spelled
    # other orders, including the same customer's, are unaffected
    assert verify(client, "10012", "ben.okafor@example.com")[0] == 200
    assert verify(client, "10001", "alice.martin@example.com")[0] == 200


def test_four_failures_do_not_lock_and_the_refusal_says_where_to_go(crm_app):
    client = TestClient(crm_app)
    for attempt in range(4):
        verify(client, "10021", f"nope{attempt}@example.com")
    assert verify(client, "10021", "chloe.nguyen@example.com")[0] == 200
    verify(client, "10021", "last-guess@example.com")
    response = client.post(
        "/api/v1/identity/verify",
        json={"order_number": "10021", "postcode": "SW1A 1AA", "conversation_id": "c"},
        headers={"X-API-Key": TEST_API_KEY},
    )
    assert response.status_code == 429 and "team can help" in response.json()["message"]


def test_the_assistant_locks_a_conversation_when_the_crm_locked_the_order(stack, population):
    victim = population(20)
    order = victim.orders[0]["order_number"]
    for _ in range(5):  # five different conversations, one wrong guess each: no conversation hits its own limit
        chat = Conversation(stack.rasa_url, prefix="guesser")
        chat.say(f"where is my order {order}?")
        assert "attempt(s) left" in chat.say(f"x{uuid.uuid4().hex[:6]}@example.com")
    owner = Conversation(stack.rasa_url, prefix="owner")
    owner.say(f"where is my order {order}?")
    answer = owner.say(victim.email)
    assert "you're verified" not in answer
    # told, and offered a code to the address on the order or a person: no dead end
    assert "paused" in answer and "one-time code" in answer and "talk to a person" in answer
    assert victim.postcode not in " ".join(owner.answers)
