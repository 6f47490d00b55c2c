"""A sender id a client chooses on one channel never reaches another channel's conversation.

Rasa keys trackers by sender id alone, whatever the channel. Here a customer talks to the bot on Telegram (through the
real Telegram channel, against the loopback fake of the Bot API), and an attacker who knows the chat id tries to
continue that conversation from the REST channel and from socket.io. One stack for the module, with Telegram enabled.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import socketio

from channels.identity import CLIENT_KEY
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.live_stack import Stack, local_stack

TELEGRAM_TOKEN = "987654321:AAEidentityTestToken-loopback"
TELEGRAM_SECRET = "identity-secret-7Qx"
ALICE = "alice.martin@example.com"
ALICE_DETAILS = ("Martin", "Parliament", "SW1A", ALICE)  # the demo persona who owns order 10001


@pytest.fixture(scope="module")
def telegram_api() -> Iterator[FakeTelegramAPI]:
    fake = FakeTelegramAPI(TELEGRAM_TOKEN)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def identity_stack(tmp_path_factory: pytest.TempPathFactory, telegram_api: FakeTelegramAPI) -> Iterator[Stack]:
    running = local_stack(
        tmp_path_factory.mktemp("channel-identity"),
        "identity-api-key",
        channel_env={
            "CRM_ENV": "development",  # the REST channel is on (it is off in production without a token)
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "TELEGRAM_API_URL": telegram_api.url,
        },
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()


def telegram_says(stack: Stack, telegram_api: FakeTelegramAPI, chat_id: int, text: str) -> str:
    """A private-chat text Update as Telegram posts it; the bot's replies to it, read from the fake Bot API."""
    before = len(telegram_api.messages(chat_id))
    person = {"id": chat_id, "is_bot": False, "first_name": "Alice", "language_code": "en"}
    message = {
        "message_id": random.randint(1, 10**6),
        "from": person,
        "chat": {"id": chat_id, "type": "private", "first_name": "Alice"},
        "date": int(time.time()),
        "text": text,
    }
    response = httpx.post(
        f"{stack.rasa_url}/webhooks/telegram/webhook",
        json={"update_id": random.randint(10**6, 10**9), "message": message},
        headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        timeout=60,
    )
    assert response.status_code == 200 and response.json()["handled"] == "text", response.text
    return " ".join(c.params["text"] for c in telegram_api.messages(chat_id)[before:])


def rest(stack: Stack, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{stack.rasa_url}/webhooks/rest/webhook", json=body, timeout=60)


def tracker(stack: Stack, conversation_id: str) -> dict[str, Any]:
    url = f"{stack.rasa_url}/conversations/{conversation_id}/tracker"
    response = httpx.get(url, params={"token": stack.rasa_token}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def user_texts(state: dict[str, Any]) -> list[str]:
    return [e.get("text") for e in state.get("events") or [] if e.get("event") == "user"]


@pytest.fixture(scope="module")
def telegram_customer(identity_stack: Stack, telegram_api: FakeTelegramAPI) -> tuple[int, str]:
    """A Telegram chat in which Alice asked about order 10001 and proved who she is; (chat id, what she was told)."""
    chat_id = random.randint(10_000_000, 2_000_000_000)
    told = telegram_says(identity_stack, telegram_api, chat_id, "where is my order 10001?")
    told += " " + telegram_says(identity_stack, telegram_api, chat_id, ALICE)
    assert "10001" in told
    return chat_id, told


def test_a_rest_sender_equal_to_a_telegram_chat_id_gets_a_conversation_of_its_own(
    identity_stack: Stack, telegram_customer: tuple[int, str]
):
    chat_id, told = telegram_customer
    before = tracker(identity_stack, str(chat_id))
    assert before["latest_input_channel"] == "telegram" and ALICE in user_texts(before)

    answers = []
    for text in ("where is my order 10001?", "what is the status of my order?", "where is it now?"):
        response = rest(identity_stack, {"sender": str(chat_id), "message": text})
        assert response.status_code == 200, response.text
        assert {m["recipient_id"] for m in response.json()} == {f"rest:{chat_id}"}
        answers.append(" ".join(m.get("text", "") for m in response.json()))
    said = " ".join(answers)
    # nothing the Telegram customer was told once she had proved who she is: amounts, dates, tracking numbers
    details = re.findall(r"£[\d,.]+\d|\d{4}-\d{2}-\d{2}|\b[A-Z]{2}\d{4,}[A-Z]{2}\b", told)
    assert details and "verified" in told
    assert [d for d in (*details, *ALICE_DETAILS, "Alice", "verified", "on its way") if d in said] == []

    after = tracker(identity_stack, str(chat_id))
    assert after["events"] == before["events"]  # the Telegram conversation did not move
    own = tracker(identity_stack, f"rest:{chat_id}")
    assert user_texts(own) == ["where is my order 10001?", "what is the status of my order?", "where is it now?"]
    assert own["latest_input_channel"] == "rest"


def test_a_rest_body_cannot_choose_the_recorded_channel(identity_stack: Stack):
    sender = f"channel-{uuid.uuid4().hex[:8]}"
    body = {"sender": sender, "message": "hello", "input_channel": "telegram"}
    assert rest(identity_stack, body).status_code == 200
    state = tracker(identity_stack, f"rest:{sender}")
    assert state["latest_input_channel"] == "rest"
    assert {e.get("input_channel") for e in state["events"] if e.get("event") == "user"} == {"rest"}


@pytest.mark.parametrize(
    "sender",
    ["x" * 65, "y" * 200, "a b", "x/y", "ünïcödé", "名前", "a\tb", ""],
    ids=["65-chars", "200-chars", "space", "slash", "accents", "cjk", "tab", "empty"],
)
def test_over_long_or_malformed_rest_senders_get_400(identity_stack: Stack, sender: str):
    response = rest(identity_stack, {"sender": sender, "message": "where is my order 10001?"})
    assert response.status_code == 400
    assert "1-64 characters" in response.text


async def test_socketio_cannot_take_the_telegram_chat_as_its_session(
    identity_stack: Stack, telegram_customer: tuple[int, str]
):
    chat_id, _ = telegram_customer
    before = tracker(identity_stack, str(chat_id))
    client = socketio.AsyncClient()
    confirmed: list[Any] = []
    received: list[Any] = []
    client.on("session_confirm", confirmed.append)
    client.on("bot_uttered", received.append)
    await client.connect(identity_stack.rasa_url, socketio_path="/socket.io", transports=["websocket"])
    try:
        for session_id in (str(chat_id), chat_id, f"rest:{chat_id}", f"sio-{chat_id}"):
            await client.emit("session_request", {"session_id": session_id})
            await client.emit("user_uttered", {"message": "where is my order 10001?", "session_id": str(chat_id)})
        await asyncio.sleep(3)
        assert client.connected
    finally:
        await client.disconnect()
    assert confirmed == [] and received == []
    assert tracker(identity_stack, str(chat_id))["events"] == before["events"]


async def test_socketio_custom_data_reaches_the_tracker_with_the_servers_record_of_the_client(
    identity_stack: Stack,
):
    client = socketio.AsyncClient()
    confirmed: list[Any] = []
    received: list[Any] = []
    client.on("session_confirm", confirmed.append)
    client.on("bot_uttered", received.append)
    await client.connect(identity_stack.rasa_url, socketio_path="/socket.io", transports=["websocket"])
    try:
        await client.emit("session_request", {"session_id": None})
        for _ in range(50):
            if confirmed:
                break
            await asyncio.sleep(0.1)
        [session] = confirmed
        custom = {"identityToken": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", CLIENT_KEY: {"address": "10.6.6.6"}}
        await client.emit("user_uttered", {"message": "hello", "session_id": session, "customData": custom})
        for _ in range(200):
            if received:
                break
            await asyncio.sleep(0.1)
    finally:
        await client.disconnect()
    assert received, "the bot did not answer on socket.io"
    latest = tracker(identity_stack, session)["latest_message"]
    assert latest["metadata"] == {
        "identityToken": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
        CLIENT_KEY: {"channel": "socketio", "address": "127.0.0.1"},
    }
