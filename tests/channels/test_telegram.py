"""Telegram: Update payloads in the Bot API's own format, with the webhook secret header, posted to the running Rasa
server; the bot's answers are read from the fake Bot API (tests/fakes/telegram_api.py)."""

from __future__ import annotations

import itertools
import json
import random
import time
from typing import Any

import httpx
import pytest

from tests.channels.conftest import (
    TELEGRAM_SECRET,
    agent_replies,
    customer_thread,
    escalation_of,
    wait_until,
)
from tests.support import one_time_code

_update_ids = itertools.count(random.randint(10_000, 900_000_000))
_message_ids = itertools.count(1)
ALICE = "alice.martin@example.com"


def new_chat() -> int:
    return random.randint(10_000_000, 2_000_000_000)


def message(chat_id: int, text: str | None = None, chat_type: str = "private", **content: Any) -> dict[str, Any]:
    person = {"id": chat_id, "is_bot": False, "first_name": "Alice", "language_code": "en"}
    chat = {"id": chat_id, "type": chat_type}
    chat |= {"first_name": "Alice"} if chat_type == "private" else {"title": "Parcel fans"}
    body: dict[str, Any] = {"message_id": next(_message_ids), "from": person, "chat": chat, "date": int(time.time())}
    if text is not None:
        body["text"] = text
    return body | content


def update(**kind: Any) -> dict[str, Any]:
    return {"update_id": next(_update_ids), **kind}


class Telegram:
    def __init__(self, rasa_url: str) -> None:
        self.url = f"{rasa_url}/webhooks/telegram/webhook"

    def post(self, payload: Any, secret: str | None = TELEGRAM_SECRET, raw: bytes | None = None) -> httpx.Response:
        headers = {"content-type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        if raw is not None:
            return httpx.post(self.url, content=raw, headers=headers, timeout=30)
        return httpx.post(self.url, json=payload, headers=headers, timeout=30)

    def send(self, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.post(payload)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def telegram(stack) -> Telegram:
    return Telegram(stack.rasa_url)


def say(telegram: Telegram, telegram_api, chat_id: int, text: str) -> str:
    """Send a text; Telegram's webhook returns after the turn, so the replies are already at the fake."""
    before = len(telegram_api.messages(chat_id))
    assert telegram.send(update(message=message(chat_id, text)))["handled"] == "text"
    return " ".join(c.params["text"] for c in telegram_api.messages(chat_id)[before:])


def test_the_webhook_was_registered_with_the_secret_at_start(stack, telegram_api):
    calls = telegram_api.wait_for("setWebhook")
    assert calls[0].params["url"] == f"{stack.rasa_url}/webhooks/telegram/webhook"
    assert calls[0].params["secret_token"] == TELEGRAM_SECRET
    assert json.loads(calls[0].params["allowed_updates"]) == ["message", "callback_query"]
    assert telegram_api.sent("getMe") == []  # nothing asked of Telegram per update


def test_updates_without_the_right_secret_are_refused(telegram, telegram_api):
    chat = new_chat()
    payload = update(message=message(chat, "where is my order 10001?"))
    assert telegram.post(payload, secret=None).status_code == 401
    refused = telegram.post(payload, secret="guessed")
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_secret_token"
    assert telegram_api.messages(chat) == []


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b'{"message": {"text": "hi"}}', b""])
def test_a_body_that_is_not_an_update_gets_a_clear_400(telegram, raw):
    response = telegram.post(None, raw=raw)
    assert response.status_code == 400 and response.json()["error"] == "malformed_update"


def test_order_status_conversation(telegram, telegram_api):
    chat = new_chat()
    assert say(telegram, telegram_api, chat, "/start")  # the greeting
    assert "e-mail" in say(telegram, telegram_api, chat, "where is my order 10001?")
    reply = say(telegram, telegram_api, chat, ALICE)
    assert "you're verified" in reply and "on its way" in reply


@pytest.mark.parametrize(
    "content, expected",
    [
        (
            {"sticker": {"file_id": "CAAC", "file_unique_id": "A1", "width": 512, "height": 512, "is_animated": False}},
            "can only read text",
        ),
        ({"photo": [{"file_id": "AgAD", "file_unique_id": "P1", "width": 90, "height": 67}]}, "can only read text"),
        ({"voice": {"file_id": "AwAD", "file_unique_id": "V1", "duration": 3}}, "can only read text"),
        ({"document": {"file_id": "BQAD", "file_unique_id": "D1", "file_name": "receipt.pdf"}}, "can only read text"),
        ({"location": {"latitude": 51.5014, "longitude": -0.1419}}, "sharing a location"),
    ],
)
def test_non_text_messages_get_a_polite_answer(telegram, telegram_api, content, expected):
    chat = new_chat()
    answer = telegram.send(update(message=message(chat, **content)))
    assert answer["handled"] in ("non_text", "location")
    sent = telegram_api.messages(chat)
    assert len(sent) == 1 and expected in sent[0].params["text"]


def test_a_photo_caption_is_read_as_the_message(telegram, telegram_api):
    chat = new_chat()
    photo = [{"file_id": "AgAD", "file_unique_id": "P2", "width": 90, "height": 67}]
    telegram.send(update(message=message(chat, caption="where is my order 10001?", photo=photo)))
    assert "e-mail" in telegram_api.messages(chat)[-1].params["text"]


def test_edits_channel_posts_and_service_messages_are_ignored(telegram, telegram_api):
    chat = new_chat()
    edited = message(chat, "where is my order 10001?") | {"edit_date": int(time.time())}
    post = message(chat, "New collection out now", chat_type="channel")
    post.pop("from")
    joined = message(chat, new_chat_members=[{"id": 7, "is_bot": False, "first_name": "Ben"}])
    for payload in (update(edited_message=edited), update(channel_post=post), update(message=joined)):
        assert telegram.send(payload)["handled"] == "ignored"
    assert telegram.send(update(poll={"id": "1", "question": "?", "options": []}))["handled"] == "ignored"
    assert telegram_api.messages(chat) == []


def test_a_redelivered_update_is_handled_once(telegram, telegram_api):
    chat = new_chat()
    payload = update(message=message(chat, "hello"))
    assert telegram.send(payload)["handled"] == "text"
    answered = len(telegram_api.messages(chat))
    assert answered >= 1
    assert telegram.send(payload)["handled"] == "duplicate"
    assert len(telegram_api.messages(chat)) == answered


def test_a_group_chat_is_pointed_to_a_private_chat(telegram, telegram_api):
    group = -new_chat()
    assert telegram.send(update(message=message(group, "where is my order 10001?", chat_type="group")))
    sent = telegram_api.messages(group)
    assert len(sent) == 1 and "private chat" in sent[0].params["text"]


def test_buttons_are_an_inline_keyboard_and_a_press_continues_the_conversation(stack, telegram, telegram_api):
    chat = new_chat()
    say(telegram, telegram_api, chat, "please cancel order 10005")
    asked = time.time()
    reply = say(telegram, telegram_api, chat, ALICE)
    assert "you're verified" in reply and "e-mailed a 6-digit code" in reply  # a change needs the code first
    assert "Shall I cancel" not in reply and not any(c.params.get("reply_markup") for c in telegram_api.messages(chat))
    code = one_time_code(stack.crm_url, ALICE, after=asked - 1)
    reply = say(telegram, telegram_api, chat, code)  # typed in the same chat
    assert "that's confirmed" in reply and "Shall I cancel order 10005?" in reply
    question = next(c for c in telegram_api.messages(chat) if c.params.get("reply_markup"))
    keyboard = telegram_api.keyboard(question)
    assert [[(b["text"], b["callback_data"]) for b in row] for row in keyboard] == [
        [("Yes", "/affirm"), ("No", "/deny")]
    ]

    before = len(telegram_api.messages(chat))
    press = {
        "id": "4382bfdwdsb323b2d9",
        "from": {"id": chat, "is_bot": False, "first_name": "Alice"},
        "message": message(chat, question.params["text"])
        | {"from": {"id": 1, "is_bot": True, "first_name": "ShopCare"}},
        "chat_instance": "-7383920123",
        "data": "/affirm",
    }
    assert telegram.send(update(callback_query=press))["handled"] == "button"
    assert telegram_api.sent("answerCallbackQuery", lambda c: c.params.get("callback_query_id") == press["id"])
    assert "order 10005 is cancelled" in " ".join(c.params["text"] for c in telegram_api.messages(chat)[before:])


def test_handoff(telegram, telegram_api, crm_api):
    chat = new_chat()
    assert "member of our team" in say(telegram, telegram_api, chat, "I want to speak to a real person please")
    escalation = wait_until(lambda: escalation_of(crm_api, str(chat)))
    assert "explicit_request" in escalation["reason_codes"] and escalation["channel"] == "telegram"

    assert say(telegram, telegram_api, chat, "my order 10012 arrived with the wrong item") == ""  # paused
    assert wait_until(lambda: "my order 10012 arrived with the wrong item" in customer_thread(crm_api, str(chat)))

    before = len(telegram_api.messages(chat))
    agent_replies(crm_api, str(chat), "Hello, this is Sam. Sorry about 10012, I'll send the right item today.")
    sent = telegram_api.wait_for("sendMessage", lambda c: c.params.get("chat_id") == str(chat), count=before + 1)
    assert (
        sent[-1].params["text"]
        == "Sam (ShopCare team): Hello, this is Sam. Sorry about 10012, I'll send the right item today."
    )
