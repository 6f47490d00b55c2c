"""The handoff end to end: escalation, pause, relay of customer messages, agent replies pushed to the customer's
socket.io connection, hand-back with the slots kept. Real Rasa server, action server, CRM and event relay."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio

from tests.support import crm_write, escalation_of, wait_until


class Customer:
    """A customer on the web widget's channel (Rasa's socket.io with session persistence)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session_id = uuid.uuid4().hex  # the shape of id the server hands out; others are refused
        self.received: list[dict[str, Any]] = []
        self.sio = socketio.AsyncClient()
        self.sio.on("bot_uttered", self._on_bot)

    async def _on_bot(self, data: dict[str, Any]) -> None:
        self.received.append(data)

    async def connect(self) -> None:
        await self.sio.connect(self.url, socketio_path="/socket.io", transports=["websocket"])
        await self.sio.emit("session_request", {"session_id": self.session_id})
        await asyncio.sleep(0.3)

    async def say(self, text: str, wait_for: int = 1, timeout: float = 20.0) -> str:
        """Send a message; wait until `wait_for` bot messages arrived (0: just give the bot a moment)."""
        start = len(self.received)
        await self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})
        return await self.expect(start, wait_for, timeout)

    async def expect(self, start: int, count: int, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        if count == 0:
            await asyncio.sleep(2.0)
        while len(self.received) - start < count and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # let the rest of this turn's messages arrive
        return " ".join(m.get("text", "") for m in self.received[start:])


@pytest.fixture
async def customer(stack) -> AsyncIterator[Customer]:
    person = Customer(stack.rasa_url)
    await person.connect()
    yield person
    await person.sio.disconnect()


@pytest.fixture(scope="session")
def agent(stack) -> str:
    stack.crm("create-agent", "--username", "sam", "--password", "correct-horse-battery", "--role", "agent")
    return "sam"


async def test_explicit_request_escalates_at_once_and_agent_conversation_round_trip(customer, crm_api, agent):
    await customer.say("where is my order 10002?")
    reply = await customer.say("alice.martin@example.com", wait_for=2)
    assert "you're verified" in reply

    reply = await customer.say("let me talk to a human", wait_for=2)
    assert "member of our team" in reply and "queue" in reply
    escalation = wait_until(lambda: escalation_of(crm_api, customer.session_id))
    assert escalation["status"] == "open" and "explicit_request" in escalation["reason_codes"]
    packet = escalation["packet"]
    assert packet["customer"]["verified"] and packet["orders_in_question"] == ["10002"]
    assert any(line["text"] == "let me talk to a human" for line in packet["transcript"])
    assert any("identity/verify" in call["call"] for call in packet["crm_calls"])

    # paused: the bot says nothing, the message reaches the escalation's thread
    assert await customer.say("hello? is anyone there", wait_for=0) == ""
    thread = wait_until(
        lambda: [m for m in escalation_of(crm_api, customer.session_id)["messages"] if m["sender"] == "customer"]
    )
    assert thread[-1]["text"] == "hello? is anyone there"

    # the agent's reply reaches the customer's socket
    start = len(customer.received)
    assert crm_write(crm_api, f"/escalations/{escalation['id']}/claim", {"agent": agent}).status_code == 200
    assert (
        crm_write(
            crm_api,
            f"/escalations/{escalation['id']}/reply",
            {"agent": agent, "text": "Hi Alice, Sam here. Let me look at order 10002."},
        ).status_code
        == 201
    )
    assert "Sam here" in await customer.expect(start, 1)

    # hand back: the bot resumes with its slots (still verified: no new identity check)
    start = len(customer.received)
    assert (
        crm_write(
            crm_api, f"/escalations/{escalation['id']}/resolve", {"agent": agent, "verdict": "justified"}
        ).status_code
        == 200
    )
    assert crm_write(crm_api, f"/escalations/{escalation['id']}/hand-back", {"agent": agent}).status_code == 200
    assert "back with the ShopCare assistant" in await customer.expect(start, 1)
    reply = await customer.say("where is my order 10001?", wait_for=2)
    assert "on its way" in reply and "e-mail address or postcode" not in reply

    # the CSAT question came with the hand-back; the customer taps "4" and the rating is stored with the escalation
    thanks = await customer.say('/rate_service{"csat_score":"4"}', wait_for=2)
    assert "rating us 4 out of 5" in thanks
    assert wait_until(lambda: escalation_of(crm_api, customer.session_id)["csat"] == 4)


async def test_angry_customer_is_escalated_in_the_middle_of_the_refund_form(customer, crm_api):
    await customer.say("I want a refund for order 10012")
    reply = await customer.say("ben.okafor@example.com", wait_for=2)
    assert "reason" in reply
    reply = await customer.say(
        "THIS IS THE THIRD TIME IT ARRIVED BROKEN!!! absolutely disgusting service, you are useless", wait_for=2
    )
    assert "member of our team" in reply
    escalation = wait_until(lambda: escalation_of(crm_api, customer.session_id))
    assert set(escalation["reason_codes"]) & {"strong_negative", "negative_trend"}
    assert escalation["scores"]["sentiment_last"] < -0.5
    assert escalation["packet"]["task"] == "get_refund"


async def test_calm_low_risk_customer_is_not_escalated(customer, crm_api):
    await customer.say("hi")
    await customer.say("could you tell me where order 10001 is")
    reply = await customer.say("alice.martin@example.com", wait_for=2)
    assert "on its way" in reply
    await customer.say("great, thank you!")
    assert escalation_of(crm_api, customer.session_id) is None


async def test_calm_valuable_customer_at_risk_asking_to_cancel_gets_retention_and_a_person(customer, crm_api):
    await customer.say("hello, I'd like to cancel order 10031 please")
    reply = await customer.say("dan.reyes@example.com", wait_for=3)
    assert "you're verified" in reply
    assert "valued customer" in reply and "member of our team" in reply  # the retention path and a person
    assert "Shall I cancel" not in reply
    escalation = wait_until(lambda: escalation_of(crm_api, customer.session_id))
    assert escalation["reason_codes"] == ["at_risk_customer"]
    packet = escalation["packet"]
    assert packet["churn"]["probability"] >= 0.15 and packet["churn"]["drivers"]
    assert packet["value"]["clv"] >= 400 and "Offer the retention path" in escalation["suggested_action"]
    assert crm_api.get("/customers/4/orders/10031").json()["status"] == "paid"  # nothing cancelled behind his back


async def test_escalation_raised_while_the_crm_is_down_reaches_it_when_it_is_back(stack, customer, crm_api):
    stack.stop("crm")
    try:
        reply = await customer.say("I want to speak to a real person please", wait_for=2)
        assert "member of our team" in reply and "request is saved" in reply  # honest about the delay
        await customer.say("my order 10012 arrived with the wrong item", wait_for=0)  # paused: relayed later
    finally:
        stack.start_crm()
    escalation = wait_until(lambda: escalation_of(crm_api, customer.session_id), timeout=30)  # via the outbox
    assert "explicit_request" in escalation["reason_codes"] and escalation["status"] == "open"
    thread = wait_until(
        lambda: [
            m["text"] for m in escalation_of(crm_api, customer.session_id)["messages"] if m["sender"] == "customer"
        ]
    )
    assert thread == ["my order 10012 arrived with the wrong item"]
