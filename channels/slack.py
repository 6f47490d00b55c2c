"""Slack connector: Rasa's ``SlackInput``/``SlackBot`` with the routing, retry and error handling a shop needs.

* Conversations happen in direct messages only, so nobody is verified and no order detail is shown where others
  read. A message in a channel (a mention, or any message in the configured support channel) is answered in its
  thread with a notice that the conversation continues in a direct message; the app opens that DM
  (``conversations.open``) and the customer's message is handled there, as the DM's conversation. A button click
  outside a DM is ignored (the bot sends buttons only to DMs).
* The conversation id encodes where to answer: ``<user>_<channel>`` or ``<user>_<channel>_<thread_ts>`` when the
  customer wrote in a thread of the DM (Slack ids and timestamps contain no ``_``). Rasa hands an output channel
  nothing but that id (``send_response(tracker.sender_id, ...)``), including for an agent's reply posted through the
  HTTP API with ``output_channel=latest``, where Rasa's own ``get_output_channel()`` only knows the configured channel.
* Every request is verified (v0 HMAC of the body with the signing secret, timestamps older than five minutes refused,
  401 otherwise). An event is handled once: its ``event_id`` is remembered, and a retry (``X-Slack-Retry-Num``) of an
  id this process does not remember is checked against the conversation's tracker, which stores the id of every
  message it received, so a restart between an attempt and its retry does not answer twice either.
* Slack needs an answer within three seconds, so a turn runs in a background task after the 200. Rasa saves the
  tracker only after the replies are sent, so a failed ``chat.postMessage`` (Slack down, token revoked) is logged and
  swallowed: the customer's turn is kept.
* Buttons are Block Kit buttons; a click arrives as a ``block_actions`` payload and continues the same conversation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.slack import SlackBot, SlackInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.errors import SlackClientError

from channels.common import (
    DIRECT_MESSAGE_NOTICE,
    GROUP_CHAT_REPLY,
    NON_TEXT_REPLY,
    RecentIds,
    agent_prefixed,
)

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
# message subtypes that are a person writing to us; the rest (edits, joins, bot posts, deletions) are not
ANSWERED_SUBTYPES = {None, "file_share", "thread_broadcast"}
# Slack's user/channel ids and message timestamps; anything else cannot be routed (and an id with "_" would route
# the answer elsewhere, see ``route``), so such an event is ignored
SLACK_ID = re.compile(r"[A-Z0-9]{1,40}")
SLACK_TS = re.compile(r"\d{1,12}\.\d{1,9}")


def _obj(value: Any) -> dict[str, Any]:
    """A JSON object field, or an empty one when the field has another type (a hostile or broken payload)."""
    return value if isinstance(value, dict) else {}


def _valid_route(user: str, channel: str, thread_ts: Any) -> bool:
    ids_ok = bool(SLACK_ID.fullmatch(user)) and bool(SLACK_ID.fullmatch(channel))
    return ids_ok and (thread_ts is None or (isinstance(thread_ts, str) and bool(SLACK_TS.fullmatch(thread_ts))))


def _is_direct(event: dict[str, Any]) -> bool:
    """An event of the app's direct-message conversation with a person (Slack's DM ids start with ``D``)."""
    return str(event.get("channel") or "").startswith("D") and event.get("channel_type", "im") == "im"


def conversation_id(user: str, channel: str, thread_ts: str | None) -> str:
    return f"{user}_{channel}_{thread_ts}" if thread_ts else f"{user}_{channel}"


def route(recipient_id: str) -> tuple[str, str | None]:
    """(channel, thread_ts) to post to for a conversation id; a bare user id posts to the app's DM with that user."""
    parts = str(recipient_id).split("_")
    if len(parts) >= 3:
        return parts[1], parts[2]
    if len(parts) == 2:
        return parts[1], None
    return parts[0], None


class ShopCareSlackBot(SlackBot):
    """Posts to the channel and thread encoded in the recipient id, through a configurable Web API base URL."""

    def __init__(self, token: str, api_url: str | None = None, proxy: str | None = None) -> None:
        super().__init__(token, None, None, proxy)
        self.client.base_url = api_url or DEFAULT_API_URL

    async def _post_message(self, channel: str, **kwargs: Any) -> None:
        target, thread_ts = route(channel)
        kwargs.pop("as_user", None)  # legacy; refused by apps with granular bot scopes
        kwargs.pop("type", None)
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        try:
            await self.client.chat_postMessage(channel=target, **kwargs)
        except (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            # raising here would lose the whole turn (the tracker is saved after the replies are sent)
            logger.error("slack: chat.postMessage to %s failed: %s", target, exc)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in agent_prefixed(text, kwargs).strip().split("\n\n"):
            await self._post_message(channel=recipient_id, text=part)

    async def open_direct_message(self, user: str) -> str | None:
        """The id of the app's DM with ``user`` (``conversations.open``), or None when Slack refuses or fails."""
        try:
            answer = await self.client.conversations_open(users=user)
        except (SlackClientError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.error("slack: conversations.open with %s failed: %s", user, exc)
            return None
        channel = _obj(answer.get("channel")).get("id")
        return channel if isinstance(channel, str) and SLACK_ID.fullmatch(channel) else None


class ShopCareSlackInput(SlackInput):
    """Named ``channels.slack.ShopCareSlackInput`` in credentials.yml; keeps the name ``slack`` in the tracker."""

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        if not credentials:
            cls.raise_missing_credentials_exception()
        assert credentials is not None
        return cls(
            str(credentials.get("slack_token") or ""),
            slack_channel=credentials.get("slack_channel") or None,
            proxy=credentials.get("proxy"),
            slack_retry_number_header=credentials.get("slack_retry_number_header", "x-slack-retry-num"),
            slack_signing_secret=credentials.get("slack_signing_secret", ""),
            api_url=credentials.get("slack_api_url") or None,
        )

    def __init__(self, slack_token: str, *, api_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(slack_token, **kwargs)
        self.api_url = api_url
        self.seen = RecentIds()
        self._output: ShopCareSlackBot | None = None

    def get_output_channel(self, channel: str | None = None, thread_id: str | None = None) -> ShopCareSlackBot:
        """One output channel for every conversation: the recipient id carries the route (see ``route``)."""
        if self._output is None:
            self._output = ShopCareSlackBot(self.slack_token, self.api_url, self.proxy)
        return self._output

    # ----------------------------------------------------------------------------- webhook
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        slack_webhook = Blueprint("slack_webhook", __name__)

        @slack_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @slack_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.is_request_from_slack_authentic(request):
                return _error(HTTPStatus.UNAUTHORIZED, "invalid_signature", "Missing, wrong or stale Slack signature.")
            content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
            try:
                if content_type == "application/json":
                    body = _parse_json(request.body or b"")
                    if not isinstance(body, dict):
                        raise ValueError("not an object")
                    return await self._on_event(request, body, on_new_message)
                if content_type == "application/x-www-form-urlencoded":
                    payload = _parse_json(request.form.get("payload") or "")
                    if not isinstance(payload, dict):
                        raise ValueError("not an object")
                    return self._on_interaction(payload, on_new_message)
            except ValueError:
                return _error(HTTPStatus.BAD_REQUEST, "malformed_body", "The body is not a Slack event or payload.")
            return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_content_type", "Expected JSON or a form.")

        return slack_webhook

    async def _on_event(
        self, request: Request, body: dict[str, Any], on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        if body.get("type") == "url_verification":
            return response.json({"challenge": body.get("challenge", "")})
        event = body.get("event")
        if body.get("type") != "event_callback" or not isinstance(event, dict):
            return response.text("ignored")
        event_id = str(body.get("event_id") or "")
        retry = request.headers.get(self.retry_num_header)
        if event_id and event_id in self.seen:
            logger.info("slack: delivery %s of event %s already handled", retry or "again", event_id)
            return response.text("duplicate", headers={"X-Slack-No-Retry": "1"})

        channel, user = str(event.get("channel") or ""), str(event.get("user") or "")
        thread_ts = event.get("thread_ts") or None
        if not _valid_route(user, channel, thread_ts) or event.get("bot_id") or not self._answers(event):
            return response.text("ignored")
        direct = _is_direct(event)
        if not direct:  # answered in the message's thread: a thread of its own for a top-level message
            ts = event.get("ts")
            thread_ts = thread_ts or (ts if isinstance(ts, str) and SLACK_TS.fullmatch(ts) else None)
        here = conversation_id(user, channel, thread_ts)  # where this event is answered
        if direct and event_id and retry and await self._answered_before(request, here, event_id):
            self.seen.add(event_id)
            return response.text("duplicate", headers={"X-Slack-No-Retry": "1"})
        if event_id:
            self.seen.add(event_id)

        authorizations = body.get("authorizations")
        authorizations = authorizations if isinstance(authorizations, list) else []
        users = [str(a.get("user_id")) for a in authorizations if isinstance(a, dict) and a.get("user_id")]
        raw_text = event.get("text")
        text = self._sanitize_user_message(raw_text if isinstance(raw_text, str) else "", users)
        if not text:
            if event.get("files"):
                self._spawn(self.get_output_channel().send_text_message(here, NON_TEXT_REPLY))
            return response.text("ok")
        if not direct:
            retried = bool(event_id and retry)
            self._spawn(self._continue_in_dm(request, on_new_message, text, user, users, here, event_id, retried))
            return response.text("ok")
        metadata = {"out_channel": channel, "thread_id": thread_ts, "users": users, "slack_event_id": event_id}
        self._turn(on_new_message, text, here, metadata)
        return response.text("ok")

    def _answers(self, event: dict[str, Any]) -> bool:
        """DMs, mentions elsewhere, and plain messages in the configured support channel (where a mention also
        arrives as a plain message, so the mention is skipped there: one answer per message)."""
        subtype = event.get("subtype")
        if not (subtype is None or isinstance(subtype, str)) or subtype not in ANSWERED_SUBTYPES:
            return False
        in_support_channel = bool(self.slack_channel) and event.get("channel") == self.slack_channel
        if event.get("type") == "app_mention":
            return not in_support_channel
        if event.get("type") == "message":
            return event.get("channel_type") == "im" or in_support_channel
        return False

    async def _continue_in_dm(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        text: str,
        user: str,
        users: list[str],
        here: str,
        event_id: str,
        retried: bool,
    ) -> None:
        """A message written in a channel: a notice in its thread, then the turn in the app's DM with the author."""
        bot = self.get_output_channel()
        direct_channel = await bot.open_direct_message(user)
        if direct_channel is None:
            await bot.send_text_message(here, GROUP_CHAT_REPLY)
            return
        sender = conversation_id(user, direct_channel, None)
        if retried and await self._answered_before(request, sender, event_id):
            return
        await bot.send_text_message(here, DIRECT_MESSAGE_NOTICE)
        metadata = {"out_channel": direct_channel, "thread_id": None, "users": users, "slack_event_id": event_id}
        await on_new_message(UserMessage(text, bot, sender, input_channel=self.name(), metadata=metadata))

    async def _answered_before(self, request: Request, sender: str, event_id: str) -> bool:
        """A retry this process has no memory of (e.g. it restarted): did the tracker already record the event?"""
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None or agent.tracker_store is None:
            return False
        tracker = await agent.tracker_store.retrieve(sender)
        if tracker is None:
            return False
        return any((getattr(e, "metadata", None) or {}).get("slack_event_id") == event_id for e in tracker.events)

    def _on_interaction(
        self, payload: dict[str, Any], on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        actions = payload.get("actions")
        if payload.get("type") != "block_actions" or not isinstance(actions, list) or not actions:
            return response.text("ignored")
        if not isinstance(actions[0], dict) or not self._is_interactive_message(payload):
            return response.text("ignored")
        try:
            value = self._get_interactive_response(actions[0])
        except (AttributeError, IndexError, KeyError, TypeError):  # Rasa's parser trusts the select's shape
            value = None
        user = str(_obj(payload.get("user")).get("id") or "")
        container = _obj(payload.get("container"))
        channel = str(_obj(payload.get("channel")).get("id") or container.get("channel_id") or "")
        message = _obj(payload.get("message"))
        thread_ts = message.get("thread_ts") or container.get("thread_ts") or None
        # a link button has no value: nothing for the bot; and buttons are only ever sent to DMs
        if not isinstance(value, str) or not value or not _valid_route(user, channel, thread_ts):
            return response.text("ignored")
        if not channel.startswith("D"):
            logger.info("slack: a button click outside a DM (%s) was ignored", channel)
            return response.text("ignored")
        key = str(payload.get("trigger_id") or actions[0].get("action_ts") or "")[:200]
        if key and not self.seen.add(f"interaction:{key}"):
            return response.text("duplicate")
        sender = conversation_id(user, channel, thread_ts)
        metadata = {"out_channel": channel, "thread_id": thread_ts, "users": [user], "slack_trigger_id": key}
        self._turn(on_new_message, str(value), sender, metadata)
        return response.text("")

    def _turn(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        text: str,
        sender: str,
        metadata: dict[str, Any],
    ) -> None:
        message = UserMessage(text, self.get_output_channel(), sender, input_channel=self.name(), metadata=metadata)
        self._spawn(on_new_message(message))

    def _spawn(self, work: Awaitable[Any]) -> None:
        """Run after the 200 (Slack retries what is not acknowledged within three seconds); keep a reference."""

        async def guarded() -> None:
            try:
                await work
            except Exception:  # a background task has nobody to report to: log it with its traceback
                logger.exception("slack: handling a message failed")

        task = asyncio.create_task(guarded())
        self._background_tasks.add(task)
        task.add_done_callback(self._background_tasks.discard)


def _parse_json(raw: bytes | str) -> Any:
    """``json.loads`` whose every failure is a ``ValueError`` (deep nesting raises ``RecursionError``)."""
    try:
        return json.loads(raw)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


def _error(status: HTTPStatus, code: str, message: str) -> HTTPResponse:
    return response.json({"error": code, "message": message}, status=status)
