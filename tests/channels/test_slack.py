"""Slack: signed Events API and interactivity payloads, in Slack's own format, posted to the running Rasa server; the
bot's answers are read from the fake Web API (tests/fakes/slack_api.py). Conversations happen in DMs: a message in a
channel gets a notice in its thread and continues in the app's DM with its author."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from channels.common import DIRECT_MESSAGE_NOTICE, GROUP_CHAT_REPLY
from tests.channels.conftest import (
    SLACK_SUPPORT_CHANNEL,
    agent_replies,
    customer_thread,
    escalation_of,
    json_body,
    slack_headers,
    wait_until,
)
from tests.support import one_time_code

_ts = itertools.count(1)
ALICE = "alice.martin@example.com"


def new_ts() -> str:
    return f"{int(time.time())}.{next(_ts):06d}"


def new_user() -> str:
    return "U" + uuid.uuid4().hex[:10].upper()


def event_callback(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """An Events API envelope as Slack posts it."""
    return {
        "token": "verification-token-unused",
        "team_id": "T0SHOP",
        "api_app_id": "A0SHOPCARE",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": "T0SHOP",
                "user_id": "UBOT",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def dm(user: str, text: str, channel: str) -> dict[str, Any]:
    ts = new_ts()
    return {
        "client_msg_id": str(uuid.uuid4()),
        "type": "message",
        "text": text,
        "user": user,
        "ts": ts,
        "team": "T0SHOP",
        "channel": channel,
        "event_ts": ts,
        "channel_type": "im",
    }


def mention(user: str, text: str, channel: str, thread_ts: str | None = None) -> dict[str, Any]:
    ts = new_ts()
    event = {"type": "app_mention", "user": user, "text": f"<@UBOT> {text}", "ts": ts, "channel": channel}
    event |= {"event_ts": ts, "team": "T0SHOP", "client_msg_id": str(uuid.uuid4())}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


class Slack:
    """Posts signed requests to the Slack webhook of the running Rasa server."""

    def __init__(self, rasa_url: str) -> None:
        self.url = f"{rasa_url}/webhooks/slack/webhook"

    def post_json(self, payload: dict[str, Any], **headers: str) -> httpx.Response:
        body = json_body(payload)
        all_headers = {"content-type": "application/json", **slack_headers(body), **headers}
        return httpx.post(self.url, content=body, headers=all_headers, timeout=10)

    def event(self, event: dict[str, Any], **headers: str) -> httpx.Response:
        response = self.post_json(event_callback(event), **headers)
        assert response.status_code == 200, response.text
        return response

    def click(self, user: str, channel: str, value: str, message_ts: str, thread_ts: str | None = None) -> None:
        """A block_actions payload: the customer pressed a Block Kit button of the bot's message."""
        message: dict[str, Any] = {"type": "message", "bot_id": "BBOT", "text": "...", "ts": message_ts}
        container: dict[str, Any] = {"type": "message", "message_ts": message_ts, "channel_id": channel}
        if thread_ts:
            message["thread_ts"] = container["thread_ts"] = thread_ts
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": "customer", "team_id": "T0SHOP"},
            "api_app_id": "A0SHOPCARE",
            "token": "verification-token-unused",
            "container": container | {"is_ephemeral": False},
            "trigger_id": f"{int(time.time())}.{uuid.uuid4().int % 10**12}",
            "team": {"id": "T0SHOP", "domain": "shop"},
            "channel": {"id": channel, "name": "directmessage"},
            "message": message,
            "response_url": "https://hooks.slack.invalid/actions/T0SHOP/1/x",
            "actions": [
                {
                    "action_id": uuid.uuid4().hex[:6],
                    "block_id": uuid.uuid4().hex[:6],
                    "text": {"type": "plain_text", "text": value.strip("/").title()},
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        headers = {"content-type": "application/x-www-form-urlencoded", **slack_headers(body)}
        response = httpx.post(self.url, content=body, headers=headers, timeout=10)
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def slack(stack) -> Slack:
    return Slack(stack.rasa_url)


def texts(calls: list[Any]) -> str:
    return " ".join(c.params.get("text", "") for c in calls)


def say(slack: Slack, slack_api, event: dict[str, Any], replies: int = 1, thread: str | None = None) -> str:
    """Send one customer message; the text of the replies it caused in the same channel (and thread)."""
    before = len(slack_api.messages(event["channel"], thread))
    slack.event(event)
    where = event["channel"]
    calls = slack_api.wait_for(
        "chat.postMessage",
        lambda c: c.params.get("channel") == where and c.params.get("thread_ts") == thread,
        count=before + replies,
    )
    return texts(calls[before:])


def said_in_dm(slack_api, user: str, before: int, replies: int) -> str:
    """The text of the bot's messages in the app's DM with ``user`` after the first ``before``."""
    dm_channel = slack_api.dm_of(user)
    return texts(
        slack_api.wait_for("chat.postMessage", lambda c: c.params.get("channel") == dm_channel, before + replies)[
            before:
        ]
    )


def tracker_events(stack, conversation: str) -> list[dict[str, Any]]:
    url = f"{stack.rasa_url}/conversations/{conversation}/tracker"
    return httpx.get(url, params={"token": stack.rasa_token}, timeout=10).json().get("events") or []


def test_url_verification_answers_the_challenge(slack):
    payload = {
        "token": "x",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    response = slack.post_json(payload)
    assert response.status_code == 200
    assert response.json() == {"challenge": payload["challenge"]}


def test_requests_with_a_bad_or_stale_signature_are_refused_and_not_answered(slack, slack_api):
    user, channel = new_user(), "D" + uuid.uuid4().hex[:8].upper()
    body = json_body(event_callback(dm(user, "where is my order 10001?", channel)))
    forged = slack_headers(body, secret="not-the-signing-secret")
    response = httpx.post(slack.url, content=body, headers={"content-type": "application/json", **forged})
    assert response.status_code == 401 and response.json()["error"] == "invalid_signature"
    stale = slack_headers(body, timestamp=int(time.time()) - 10 * 60)  # correctly signed, ten minutes old
    response = httpx.post(slack.url, content=body, headers={"content-type": "application/json", **stale})
    assert response.status_code == 401
    response = httpx.post(slack.url, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 401
    time.sleep(1.5)
    assert slack_api.messages(channel) == []


def test_a_signed_body_that_is_not_json_gets_a_clear_400(slack):
    body = b'{"type": "event_callback", "event": '
    response = httpx.post(slack.url, content=body, headers={"content-type": "application/json", **slack_headers(body)})
    assert response.status_code == 400 and response.json()["error"] == "malformed_body"


def test_order_status_conversation_in_a_direct_message(slack, slack_api):
    user, channel = new_user(), "D" + uuid.uuid4().hex[:8].upper()
    reply = say(slack, slack_api, dm(user, "where is my order 10001?", channel))
    assert "e-mail" in reply
    reply = say(slack, slack_api, dm(user, ALICE, channel), replies=2)
    assert "you're verified" in reply and "on its way" in reply
    sent = slack_api.messages(channel)
    assert all(c.params.get("thread_ts") is None for c in sent)  # a top-level DM is answered at top level
    assert all(c.headers["authorization"] == "Bearer xoxb-test-0000-shopcare" for c in sent)


def test_a_retried_event_is_answered_once(slack, slack_api):
    user, channel = new_user(), "D" + uuid.uuid4().hex[:8].upper()
    payload = event_callback(dm(user, "hello", channel))
    assert slack.post_json(payload).status_code == 200
    slack_api.wait_for("chat.postMessage", lambda c: c.params.get("channel") == channel)
    answered = len(slack_api.messages(channel))
    for attempt in ("1", "2"):  # Slack's retries carry the same event_id (and a fresh signature)
        retry = slack.post_json(payload, **{"X-Slack-Retry-Num": attempt, "X-Slack-Retry-Reason": "http_error"})
        assert retry.status_code == 200 and retry.headers.get("X-Slack-No-Retry") == "1"
    time.sleep(2.5)
    assert len(slack_api.messages(channel)) == answered


def test_bot_messages_and_edits_are_not_answered(slack, slack_api):
    user, channel = new_user(), "D" + uuid.uuid4().hex[:8].upper()
    own = dm(user, "I am the bot talking", channel) | {"bot_id": "BBOT", "subtype": "bot_message"}
    edit = dm(user, "where is my order 10001?", channel) | {"subtype": "message_changed"}
    slack.event(own)
    slack.event(edit)
    time.sleep(2.0)
    assert slack_api.messages(channel) == []


def test_a_file_without_text_gets_a_polite_answer(slack, slack_api):
    user, channel = new_user(), "D" + uuid.uuid4().hex[:8].upper()
    upload = dm(user, "", channel) | {"subtype": "file_share", "files": [{"id": "F1", "name": "parcel.jpg"}]}
    reply = say(slack, slack_api, upload)
    assert "can only read text" in reply


ORDER_DETAILS = ("10001", "e-mail", "verified", "on its way", "DPD", "tracking")


def test_a_mention_in_a_channel_gets_a_notice_there_and_the_question_in_a_direct_message(stack, slack, slack_api):
    user, channel = new_user(), "C" + uuid.uuid4().hex[:8].upper()
    posted = mention(user, "where is my order 10001?", channel)
    slack.event(posted)
    notice = slack_api.wait_for("chat.postMessage", lambda c: c.params.get("channel") == channel)
    assert [(c.params["text"], c.params.get("thread_ts")) for c in notice] == [(DIRECT_MESSAGE_NOTICE, posted["ts"])]
    assert [c.params["users"] for c in slack_api.sent("conversations.open", lambda c: c.params.get("users") == user)]
    assert "e-mail" in said_in_dm(slack_api, user, 0, 1)  # the bot's question, in the DM
    time.sleep(1.0)
    in_channel = texts(slack_api.messages(channel) + slack_api.messages(channel, posted["ts"]))
    assert in_channel == DIRECT_MESSAGE_NOTICE and not any(word in in_channel for word in ORDER_DETAILS)
    # the conversation is the DM's: nothing ran under the channel's conversation id
    dm_conversation = f"{user}_{slack_api.dm_of(user)}"
    assert "where is my order 10001?" in [e.get("text") for e in tracker_events(stack, dm_conversation)]
    assert not [e for e in tracker_events(stack, f"{user}_{channel}_{posted['ts']}") if e.get("event") == "user"]


def test_a_mention_in_a_thread_continues_in_the_direct_message(slack, slack_api):
    user, channel, thread = new_user(), "C" + uuid.uuid4().hex[:8].upper(), new_ts()
    reply = say(slack, slack_api, mention(user, "where is my order 10001?", channel, thread), thread=thread)
    assert reply == DIRECT_MESSAGE_NOTICE
    assert "e-mail" in said_in_dm(slack_api, user, 0, 1)
    dm_channel = slack_api.dm_of(user)
    reply = say(slack, slack_api, dm(user, ALICE, dm_channel), replies=2)
    assert "you're verified" in reply and "on its way" in reply
    assert slack_api.messages(channel) == []  # nothing at the channel's top level
    assert texts(slack_api.messages(channel, thread)) == DIRECT_MESSAGE_NOTICE


def test_when_the_direct_message_cannot_be_opened_the_channel_is_asked_to_write_one(slack, slack_api):
    user, channel = new_user(), "C" + uuid.uuid4().hex[:8].upper()
    slack_api.refuse_direct_messages.add(user)
    posted = mention(user, "where is my order 10001?", channel)
    assert say(slack, slack_api, posted, thread=posted["ts"]) == GROUP_CHAT_REPLY
    time.sleep(1.0)
    assert slack_api.messages(slack_api.dm_of(user)) == []


def test_a_button_click_outside_a_direct_message_is_ignored(slack, slack_api):
    user, channel = new_user(), "C" + uuid.uuid4().hex[:8].upper()
    slack.click(user, channel, "/affirm", message_ts="1800000000.000001")
    time.sleep(1.5)
    assert slack_api.messages(channel) == [] and slack_api.messages(slack_api.dm_of(user)) == []


def test_buttons_are_block_kit_and_a_click_continues_the_conversation(stack, slack, slack_api):
    user, channel = new_user(), "D" + uuid.uuid4().hex[:8].upper()
    say(slack, slack_api, dm(user, "please cancel order 10004", channel))
    asked = time.time()
    reply = say(slack, slack_api, dm(user, ALICE, channel), replies=2)
    assert "you're verified" in reply and "e-mailed a 6-digit code" in reply  # a change needs the code first
    assert "Shall I cancel" not in reply and not any(c.params.get("blocks") for c in slack_api.messages(channel))
    code = one_time_code(stack.crm_url, ALICE, after=asked - 1)
    reply = say(slack, slack_api, dm(user, code, channel), replies=2)  # typed in the same DM
    assert "that's confirmed" in reply and "Shall I cancel order 10004?" in reply
    question = next(c for c in slack_api.messages(channel) if c.params.get("blocks"))
    buttons = next(b for b in question.params["blocks"] if b["type"] == "actions")["elements"]
    assert [(b["type"], b["text"]["text"], b["value"]) for b in buttons] == [
        ("button", "Yes", "/affirm"),
        ("button", "No", "/deny"),
    ]
    before = len(slack_api.messages(channel))
    slack.click(user, channel, "/affirm", message_ts="1800000000.000001")
    done = slack_api.wait_for("chat.postMessage", lambda c: c.params.get("channel") == channel, count=before + 1)
    assert "order 10004 is cancelled" in texts(done[before:])


def test_the_turn_is_kept_when_slack_cannot_take_the_reply(stack, slack, slack_api):
    user, channel = new_user(), "D" + uuid.uuid4().hex[:8].upper()
    slack_api.fail_next = 3  # Slack answers 500 to the replies of this turn
    slack.event(dm(user, "where is my order 10001?", channel))
    conversation = f"{user}_{channel}"

    def tracker_texts() -> list[str]:
        url = f"{stack.rasa_url}/conversations/{conversation}/tracker"
        events = httpx.get(url, params={"token": stack.rasa_token}).json().get("events", [])
        return [e.get("text") for e in events if e.get("event") == "user"]

    assert wait_until(lambda: "where is my order 10001?" in tracker_texts())
    slack_api.fail_next = 0
    reply = say(slack, slack_api, dm(user, ALICE, channel), replies=2)
    assert "on its way" in reply  # the order number of the lost-reply turn was remembered


def test_handoff_asked_for_in_a_support_channel_thread_happens_in_the_direct_message(slack, slack_api, crm_api):
    user, channel, thread = new_user(), SLACK_SUPPORT_CHANNEL, new_ts()
    ts = new_ts()
    event = {"type": "message", "text": "let me talk to a human", "user": user, "ts": ts, "channel": channel}
    event |= {"thread_ts": thread, "event_ts": ts, "channel_type": "channel", "team": "T0SHOP"}
    assert say(slack, slack_api, event, replies=1, thread=thread) == DIRECT_MESSAGE_NOTICE
    assert "member of our team" in said_in_dm(slack_api, user, 0, 1)
    dm_channel = slack_api.dm_of(user)
    conversation = f"{user}_{dm_channel}"
    escalation = wait_until(lambda: escalation_of(crm_api, conversation))
    assert "explicit_request" in escalation["reason_codes"] and escalation["channel"] == "slack"

    slack.event(dm(user, "my parcel 10001 is late", dm_channel))  # paused: relayed to the agent, not answered
    assert wait_until(lambda: "my parcel 10001 is late" in customer_thread(crm_api, conversation))

    before = len(slack_api.messages(dm_channel))
    agent_replies(crm_api, conversation, "Hi, Sam here. I'm checking order 10001 with DPD now.")
    sent = slack_api.wait_for("chat.postMessage", lambda c: c.params.get("channel") == dm_channel, count=before + 1)
    assert texts(sent[before:]) == "Sam (ShopCare team): Hi, Sam here. I'm checking order 10001 with DPD now."
    assert texts(slack_api.messages(channel, thread)) == DIRECT_MESSAGE_NOTICE  # nothing else where others read


def test_a_mention_in_the_support_channel_is_answered_once(slack, slack_api):
    """Slack delivers a mention in a channel the app reads both as ``message`` and as ``app_mention``."""
    user, thread = new_user(), new_ts()
    posted = mention(user, "hello", SLACK_SUPPORT_CHANNEL, thread)
    as_message = posted | {"type": "message", "channel_type": "channel"}
    slack.event(as_message)
    slack.event(posted)
    slack_api.wait_for("chat.postMessage", lambda c: c.params.get("thread_ts") == thread)
    said_in_dm(slack_api, user, 0, 1)
    time.sleep(2.0)
    assert len(slack_api.messages(SLACK_SUPPORT_CHANNEL, thread)) == 1
    assert len(slack_api.messages(slack_api.dm_of(user))) == 1
