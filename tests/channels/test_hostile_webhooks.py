"""The hostile corpus (tests/hostile/inputs.py) through the Slack and Telegram webhooks of the channels' real stack.

Slack: correctly signed Events API payloads (direct-message text and thread replies) and ``block_actions`` clicks
with hostile ``value``s; then unsigned, forged, stale and replayed requests, bodies that are not JSON or too deeply
nested, wrong content types and events whose fields have the wrong types. Telegram: Updates with hostile text,
captions and ``callback_data``; odd and huge update fields, malformed JSON, a wrong secret, a replayed update_id.

What must hold: never a 5xx (a refused request is a 4xx, an odd event is acknowledged and ignored), a replay is
answered once, nothing the loopback fakes of Slack's and Telegram's APIs received echoes raw markup, and Rasa still
answers a normal message afterwards. A deterministic slice of the corpus per channel (every ``STEP``-th case, the
first ``PER_CHANNEL``) keeps this module at about a minute.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.channels.conftest import TELEGRAM_SECRET, json_body, slack_headers
from tests.channels.test_slack import dm, event_callback, new_ts, new_user
from tests.fakes.recording import RecordingServer
from tests.hostile.inputs import Case, echoes_markup, messages

STEP = 6
PER_CHANNEL = 100
CONCURRENCY = 4
CONVERSATIONS = 10  # the slice is spread over this many conversations, so forms and pauses build up


def corpus_slice() -> list[Case]:
    return [case for i, case in enumerate(messages()) if i % STEP == 0][:PER_CHANNEL]


def settle(fake: RecordingServer, method: str, quiet: float = 3.0, limit: float = 90.0) -> int:
    """Wait until ``fake`` received no new ``method`` call for ``quiet`` seconds (bounded by ``limit``)."""
    deadline, count, since = time.monotonic() + limit, len(fake.sent(method)), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = len(fake.sent(method))
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return count


def echoed(fake: RecordingServer, method: str) -> list[str]:
    """Everything the bot sent that carries active markup (text, Block Kit blocks, inline keyboards)."""
    sent = [json.dumps(c.params, ensure_ascii=False) for c in fake.sent(method)]
    texts = [str(c.params.get("text", "")) for c in fake.sent(method)]
    return [s for s in texts + sent if echoes_markup(s)]


# ----------------------------------------------------------------------------- Slack
class SignedSlack:
    def __init__(self, rasa_url: str) -> None:
        self.url = f"{rasa_url}/webhooks/slack/webhook"

    async def post(
        self, client: httpx.AsyncClient, body: bytes, content_type: str = "application/json", **headers: str
    ) -> httpx.Response:
        all_headers = {"content-type": content_type, **slack_headers(body), **headers}
        return await client.post(self.url, content=body, headers=all_headers)


def click_body(user: str, channel: str, value: Any, action: dict[str, Any] | None = None) -> bytes:
    ts = new_ts()
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "customer", "team_id": "T0SHOP"},
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}",
        "channel": {"id": channel, "name": "directmessage"},
        "message": {"type": "message", "bot_id": "BBOT", "text": "...", "ts": ts},
        "actions": [action or {"action_id": "a1", "block_id": "b1", "value": value, "type": "button"}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def slack_bodies(case: Case, index: int, users: list[str], channels: list[str]) -> tuple[bytes, str]:
    """A third as direct messages, a third as thread replies in a channel, a third as button values."""
    user, channel = users[index % CONVERSATIONS], channels[index % CONVERSATIONS]
    kind = index % 3
    if kind == 0:
        return json_body(event_callback(dm(user, case.text, channel))), "application/json"
    if kind == 1:
        ts = new_ts()
        thread = f"1700000000.{index % CONVERSATIONS:06d}"
        event = {"type": "app_mention", "user": user, "text": f"<@UBOT> {case.text}", "ts": ts}
        event |= {"channel": "C" + channel[1:], "thread_ts": thread, "event_ts": ts, "team": "T0SHOP"}
        return json_body(event_callback(event)), "application/json"
    return click_body(user, channel, case.text), "application/x-www-form-urlencoded"


async def test_slack_corpus_slice_signed_gets_no_5xx_and_no_echoed_markup(stack, slack_api):
    slack = SignedSlack(stack.rasa_url)
    users = [new_user() for _ in range(CONVERSATIONS)]
    channels = ["D" + uuid.uuid4().hex[:8].upper() for _ in range(CONVERSATIONS)]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def send(client: httpx.AsyncClient, index: int, case: Case) -> tuple[str, int]:
        body, content_type = slack_bodies(case, index, users, channels)
        async with gate:
            response = await slack.post(client, body, content_type)
        return case.name, response.status_code

    started = time.monotonic()
    async with httpx.AsyncClient(timeout=120) as client:
        results = await asyncio.gather(*(send(client, i, c) for i, c in enumerate(corpus_slice())))
    print(f"slack: {len(results)} posted in {time.monotonic() - started:.1f} s")
    assert len(results) == PER_CHANNEL
    assert [r for r in results if r[1] != 200] == []
    await asyncio.to_thread(settle, slack_api, "chat.postMessage")
    ours = set(channels) | {"C" + c[1:] for c in channels} | {slack_api.dm_of(user) for user in users}
    assert slack_api.sent("chat.postMessage", lambda c: c.params.get("channel") in ours), "Rasa answered nothing"
    assert echoed(slack_api, "chat.postMessage") == []


ODD_EVENTS: dict[str, Any] = {
    "event_list": [1, 2],
    "user_object": {"type": "message", "channel_type": "im", "user": {"id": "U1"}, "channel": "D1", "text": "hi"},
    "user_with_underscore": {
        "type": "message",
        "channel_type": "im",
        "user": "U1_CEVIL",
        "channel": "D1",
        "text": "hi",
    },
    "huge_user": {"type": "message", "channel_type": "im", "user": "U" * 100_000, "channel": "D1", "text": "hi"},
    "thread_list": {"type": "message", "channel_type": "im", "user": "U1", "channel": "D1", "thread_ts": [1]},
    "text_object": {"type": "message", "channel_type": "im", "user": "U1", "channel": "D1", "text": {"a": 1}},
    "subtype_object": {"type": "message", "channel_type": "im", "user": "U1", "channel": "D1", "subtype": {}},
    "channel_number": {"type": "message", "channel_type": "im", "user": "U1", "channel": 42, "text": "hi"},
}


def form_payload(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def odd_slack_requests() -> dict[str, tuple[bytes, str]]:
    js, form = "application/json", "application/x-www-form-urlencoded"
    odd = {name: (json_body(event_callback(event)), js) for name, event in ODD_EVENTS.items()}
    envelope = event_callback(dm(new_user(), "hi", "DODD1"))
    odd["authorizations_number"] = (json_body(envelope | {"authorizations": 7}), js)
    odd["type_object"] = (json_body({"type": {"x": 1}, "event": {}}), js)
    odd["challenge_object"] = (json_body({"type": "url_verification", "challenge": {"<script>": 1}}), js)
    odd["not_json"] = (b'{"type": "event_callback", "event": ', js)
    odd["json_array"] = (b"[1, 2, 3]", js)
    odd["deep_nesting"] = (b'{"type": "event_callback", "event": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", js)
    odd["bad_utf8"] = (b'{"type": "event_callback", "event": "\xff\xfe"}', js)
    odd["empty"] = (b"", js)
    odd["text_plain"] = (json_body(envelope), "text/plain")
    odd["xml"] = (b"<event><text>hi</text></event>", "application/xml")
    odd["multipart"] = (
        b"--b\r\nContent-Disposition: form-data; name=payload\r\n\r\n{}\r\n--b--",
        "multipart/form-data",
    )
    odd["form_without_payload"] = (b"text=hi", form)
    odd["form_payload_not_json"] = (urlencode({"payload": "{nope"}).encode(), form)
    odd["form_payload_deep"] = (urlencode({"payload": "[" * 50_000 + "]" * 50_000}).encode(), form)
    button = {"type": "button", "value": "/affirm"}
    odd["actions_object"] = (form_payload({"type": "block_actions", "actions": {"0": 1}}), form)
    odd["actions_numbers"] = (form_payload({"type": "block_actions", "actions": [1]}), form)
    odd["user_string"] = (
        form_payload({"type": "block_actions", "user": "U1", "actions": [button], "channel": "D1"}),
        form,
    )
    odd["container_list"] = (
        form_payload({"type": "block_actions", "actions": [button], "container": [], "message": 1}),
        form,
    )
    odd["select_without_options"] = (click_body("U1", "D1", None, {"type": "select", "selected_options": []}), form)
    odd["static_select_string"] = (
        click_body("U1", "D1", None, {"type": "static_select", "selected_option": "x"}),
        form,
    )
    odd["value_object"] = (click_body("U1", "D1", {"text": "/affirm"}), form)
    return odd


def test_odd_and_malformed_signed_slack_requests_get_no_5xx(stack, slack_api):
    url = f"{stack.rasa_url}/webhooks/slack/webhook"
    outcomes = {}
    for name, (body, kind) in odd_slack_requests().items():
        headers = {"content-type": kind, **slack_headers(body)}
        outcomes[name] = httpx.post(url, content=body, headers=headers, timeout=30).status_code
    assert {name: status for name, status in outcomes.items() if status >= 500} == {}
    for name in ("not_json", "json_array", "deep_nesting", "bad_utf8", "empty", "form_payload_not_json"):
        assert outcomes[name] == 400, (name, outcomes[name])
    for name in ("text_plain", "xml", "multipart"):
        assert outcomes[name] == 415, (name, outcomes[name])
    time.sleep(1.0)
    assert slack_api.sent("chat.postMessage", lambda c: c.params.get("channel") in ("D1", "CEVIL")) == []
    # a well-formed DM whose envelope has a broken ``authorizations`` field is still answered
    assert slack_api.wait_for("chat.postMessage", lambda c: c.params.get("channel") == "DODD1")


def test_unsigned_forged_stale_and_replayed_slack_requests(stack, slack_api):
    url = f"{stack.rasa_url}/webhooks/slack/webhook"
    user, channel = new_user(), "D" + uuid.uuid4().hex[:8].upper()
    body = json_body(event_callback(dm(user, "<script>alert(1)</script> hello", channel)))
    js = {"content-type": "application/json"}
    refused = {
        "unsigned": js,
        "forged": js | slack_headers(body, secret="guessed-secret"),
        "stale": js | slack_headers(body, timestamp=int(time.time()) - 600),
        "future": js | slack_headers(body, timestamp=int(time.time()) + 600),
        "timestamp_text": js | slack_headers(body) | {"X-Slack-Request-Timestamp": "yesterday"},
        "timestamp_huge": js | slack_headers(body) | {"X-Slack-Request-Timestamp": "9" * 400},
        "signature_v1": js | {**slack_headers(body), "X-Slack-Signature": "v1=" + "0" * 64},
        "signature_huge": js | {**slack_headers(body), "X-Slack-Signature": "v0=" + "a" * 100_000},
    }
    for name, headers in refused.items():
        response = httpx.post(url, content=body, headers=headers, timeout=10)
        # 413: Sanic refuses a header over its limit before the connector sees it
        assert response.status_code in ((401, 413) if name == "signature_huge" else (401,)), (name, response)
    time.sleep(1.0)
    assert slack_api.messages(channel) == []

    signed = js | slack_headers(body)
    for _ in range(3):  # the very same request (bytes and signature) replayed within the five minutes
        assert httpx.post(url, content=body, headers=signed, timeout=10).status_code == 200
    slack_api.wait_for("chat.postMessage", lambda c: c.params.get("channel") == channel)
    answered = settle(slack_api, "chat.postMessage", quiet=2.0, limit=20)
    assert answered and len(slack_api.messages(channel)) <= 2  # one turn (a greeting may be two messages)
    first = len(slack_api.messages(channel))
    time.sleep(1.0)
    assert len(slack_api.messages(channel)) == first
    assert echoed(slack_api, "chat.postMessage") == []


# ----------------------------------------------------------------------------- Telegram
_update_ids = iter(range(random.randint(10**9, 2 * 10**9), 3 * 10**9))


def telegram_update(case: Case, index: int, chats: list[int]) -> dict[str, Any]:
    """A third as text, a third as photo captions, a third as button presses (``callback_data``)."""
    chat = chats[index % CONVERSATIONS]
    person = {"id": chat, "is_bot": False, "first_name": "Alice"}
    message = {"message_id": index + 1, "from": person, "chat": {"id": chat, "type": "private"}, "date": 1}
    kind = index % 3
    if kind == 0:
        return {"update_id": next(_update_ids), "message": message | {"text": case.text}}
    if kind == 1:
        photo = [{"file_id": "AgAD", "file_unique_id": "P1", "width": 90, "height": 67}]
        return {"update_id": next(_update_ids), "message": message | {"caption": case.text, "photo": photo}}
    query = {
        "id": str(index),
        "from": person,
        "message": message | {"text": "?"},
        "chat_instance": "1",
        "data": case.text,
    }
    return {"update_id": next(_update_ids), "callback_query": query}


async def test_telegram_corpus_slice_gets_no_5xx_and_no_echoed_markup(stack, telegram_api):
    url = f"{stack.rasa_url}/webhooks/telegram/webhook"
    chats = [random.randint(10**8, 2 * 10**9) for _ in range(CONVERSATIONS)]
    gate = asyncio.Semaphore(CONCURRENCY)
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}

    async def send(client: httpx.AsyncClient, index: int, case: Case) -> tuple[str, int, str]:
        async with gate:
            response = await client.post(url, json=telegram_update(case, index, chats), headers=headers)
        handled = response.json().get("handled", "") if response.status_code == 200 else response.text[:200]
        return case.name, response.status_code, handled

    async with httpx.AsyncClient(timeout=120) as client:
        results = await asyncio.gather(*(send(client, i, c) for i, c in enumerate(corpus_slice())))
    assert len(results) == PER_CHANNEL
    assert [r for r in results if r[1] != 200] == []
    assert {handled for _, _, handled in results} <= {"text", "button", "ignored", "non_text"}
    answered = telegram_api.sent("sendMessage", lambda c: int(c.params.get("chat_id", 0)) in chats)
    assert answered, "Rasa answered nothing"
    assert echoed(telegram_api, "sendMessage") == []


def odd_updates() -> dict[str, Any]:
    me = {"id": 5551234, "is_bot": False, "first_name": "Eve"}
    chat = {"id": 5551234, "type": "private"}

    def msg(**fields: Any) -> dict[str, Any]:
        return {"message_id": 1, "from": me, "chat": chat, "date": 1} | fields

    return {
        "update_id_huge": {"update_id": 10**30, "message": msg(text="hi")},
        "update_id_negative": {"update_id": -next(_update_ids), "message": msg(text="hi")},
        "update_id_bool": {"update_id": True, "message": msg(text="hi")},
        "update_id_string": {"update_id": "12", "message": msg(text="hi")},
        "update_id_float": {"update_id": 1.5, "message": msg(text="hi")},
        "message_list": {"update_id": next(_update_ids), "message": [1, 2]},
        "chat_string": {"update_id": next(_update_ids), "message": msg(chat="5551234", text="hi")},
        "chat_id_object": {"update_id": next(_update_ids), "message": msg(chat={"id": {"x": 1}}, text="hi")},
        "chat_id_huge": {"update_id": next(_update_ids), "message": msg(chat={"id": 10**40}, text="hi")},
        "from_string": {"update_id": next(_update_ids), "message": msg(**{"from": "Eve"}, text="hi")},
        "text_object": {"update_id": next(_update_ids), "message": msg(text={"a": 1})},
        "text_number": {"update_id": next(_update_ids), "message": msg(text=42)},
        "caption_list": {"update_id": next(_update_ids), "message": msg(caption=["x"], photo=[{}])},
        "huge_text": {"update_id": next(_update_ids), "message": msg(text="where is my order " * 20_000)},
        "huge_unknown_field": {"update_id": next(_update_ids), "junk": "x" * 1_000_000, "message": msg(text="hi")},
        "callback_message_string": {"update_id": next(_update_ids), "callback_query": {"id": "1", "message": "m"}},
        "callback_chat_string": {
            "update_id": next(_update_ids),
            "callback_query": {"id": "2", "message": {"chat": "c"}, "data": "/affirm"},
        },
        "callback_data_object": {
            "update_id": next(_update_ids),
            "callback_query": {"id": "3", "message": msg(), "data": {"x": "/affirm"}},
        },
        "callback_id_object": {
            "update_id": next(_update_ids),
            "callback_query": {"id": {"x": 1}, "message": msg(), "data": "   "},
        },
        "group_with_markup": {
            "update_id": next(_update_ids),
            "message": msg(chat={"id": -5551234, "type": "supergroup"}, text="<script>alert(1)</script>"),
        },
    }


def test_odd_and_malformed_telegram_updates_get_no_5xx(stack, telegram_api):
    url = f"{stack.rasa_url}/webhooks/telegram/webhook"
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET, "content-type": "application/json"}
    outcomes = {}
    for name, update in odd_updates().items():
        outcomes[name] = httpx.post(url, content=json.dumps(update).encode(), headers=headers, timeout=60).status_code
    raw = {
        "not_json": b"{not json",
        "deep_nesting": b'{"update_id": 1, "message": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "bad_utf8": b'{"update_id": 77, "message": "\xff\xfe"}',
        "nan": b'{"update_id": NaN}',
        "int_too_long": b'{"update_id": ' + b"9" * 5000 + b"}",
        "empty": b"",
    }
    for name, body in raw.items():
        outcomes[name] = httpx.post(url, content=body, headers=headers, timeout=30).status_code
    for name, content_type in (("form", "application/x-www-form-urlencoded"), ("xml", "application/xml")):
        form_headers = headers | {"content-type": content_type}
        outcomes[name] = httpx.post(url, content=b"update_id=1&text=hi", headers=form_headers, timeout=30).status_code
    assert {name: status for name, status in outcomes.items() if status >= 500} == {}
    for name in ("update_id_bool", "update_id_string", "update_id_float", "not_json", "deep_nesting", "nan", "empty"):
        assert outcomes[name] == 400, (name, outcomes[name])
    for name in ("chat_string", "chat_id_object", "from_string", "callback_chat_string", "callback_data_object"):
        assert outcomes[name] == 200, (name, outcomes[name])
    assert echoed(telegram_api, "sendMessage") == []


def test_wrong_secret_and_replayed_update_id(stack, telegram_api):
    url = f"{stack.rasa_url}/webhooks/telegram/webhook"
    chat = random.randint(10**8, 2 * 10**9)
    update = {
        "update_id": next(_update_ids),
        "message": {"message_id": 1, "chat": {"id": chat, "type": "private"}, "date": 1, "text": "hello"},
    }
    for secret in (None, "", "wrong", TELEGRAM_SECRET + "x", TELEGRAM_SECRET.upper(), "é" * 10, "x" * 4000):
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        try:
            response = httpx.post(url, json=update, headers=headers, timeout=10)
        except UnicodeEncodeError:  # httpx refuses a non-ASCII header itself; send it as Latin-1 bytes
            raw_headers = [(b"X-Telegram-Bot-Api-Secret-Token", secret.encode("latin-1"))]
            response = httpx.post(url, json=update, headers=raw_headers, timeout=10)
        assert response.status_code == 401, (secret and secret[:20], response.status_code)
    assert telegram_api.messages(chat) == []
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    first = httpx.post(url, json=update, headers=headers, timeout=60).json()
    assert first["handled"] == "text"
    answered = len(telegram_api.messages(chat))
    assert answered >= 1
    for _ in range(3):
        assert httpx.post(url, json=update, headers=headers, timeout=60).json()["handled"] == "duplicate"
    assert len(telegram_api.messages(chat)) == answered


# ----------------------------------------------------------------------------- afterwards
@pytest.mark.parametrize("channel", ["slack", "telegram"])
def test_rasa_still_answers_a_normal_message_afterwards(stack, slack_api, telegram_api, channel):
    question = "what is your refund policy?"
    if channel == "telegram":
        chat = random.randint(10**8, 2 * 10**9)
        update = {
            "update_id": next(_update_ids),
            "message": {"message_id": 1, "chat": {"id": chat, "type": "private"}, "date": 1, "text": question},
        }
        headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        assert (
            httpx.post(f"{stack.rasa_url}/webhooks/telegram/webhook", json=update, headers=headers).status_code == 200
        )
        reply = " ".join(c.params["text"] for c in telegram_api.messages(chat))
    else:
        user, dm_channel = new_user(), "D" + uuid.uuid4().hex[:8].upper()
        body = json_body(event_callback(dm(user, question, dm_channel)))
        headers = {"content-type": "application/json", **slack_headers(body)}
        assert httpx.post(f"{stack.rasa_url}/webhooks/slack/webhook", content=body, headers=headers).status_code == 200
        calls = slack_api.wait_for("chat.postMessage", lambda c: c.params.get("channel") == dm_channel, timeout=60)
        reply = " ".join(c.params.get("text", "") for c in calls)
    assert "refund" in reply.lower()
    assert httpx.get(f"{stack.action_url}/health", timeout=10).status_code == 200
    assert httpx.get(f"{stack.crm_url}/health", timeout=10).json()["status"] == "ok"
