"""Telegram connector: Rasa's ``TelegramInput``/``TelegramOutput`` made safe to run and to hand off.

Rasa's own connector calls ``setWebhook`` on api.telegram.org while the server is being built (with ``asyncio.run``,
which also fails inside the running loop when the HTTP API asks for an output channel for an agent's reply) and
``getMe`` on every update to compare the bot's user name. Here:

* the Bot API base URL is configurable (``telegram_api_url``; a loopback fake in tests) and ``setWebhook`` (with the
  secret token and the update types we handle) is called once after the server started, only when a public webhook
  URL is configured; a failure is logged, the server runs on;
* an update is authenticated by ``X-Telegram-Bot-Api-Secret-Token`` (constant-time comparison), never by ``getMe``;
  a missing or wrong token gets 401, a body that is not an Update 400, and each ``update_id`` is handled once;
* what the customer can send that is not text gets a polite answer from the connector (stickers, photos without a
  caption, voice, video, files, contacts, locations); a photo's caption is read as the message; edited messages are
  ignored (the original was answered; answering the edit would answer twice), as are channel posts, service messages
  (members joining, pins) and update kinds the bot does not serve. Group chats are refused politely: order details
  belong in a private chat;
* buttons are inline keyboards; a press (``callback_query``) is acknowledged with ``answerCallbackQuery`` and its
  data continues the conversation;
* the conversation id is the chat id, so an agent's reply through Rasa's HTTP API (``output_channel=latest``) reaches
  the same chat; a failed send is logged, not raised, so the turn is still saved.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import aiohttp
from aiogram.bot.api import TelegramAPIServer
from aiogram.utils.exceptions import TelegramAPIError
from aiogram.utils.exceptions import ValidationError as TokenError
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.common import GROUP_CHAT_REPLY, LOCATION_REPLY, NON_TEXT_REPLY, RecentIds, agent_prefixed

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]  # what setWebhook asks Telegram to deliver
# content a person sends that the assistant cannot read: answered politely (a caption, when there is one, is read)
MEDIA_KEYS = ("sticker", "photo", "voice", "video", "video_note", "document", "audio", "animation", "contact", "dice")


class ShopCareTelegramOutput(TelegramOutput):
    """Sends through the configured Bot API base URL; errors are logged so the turn is saved anyway."""

    def __init__(self, access_token: str, api_url: str | None = None) -> None:
        server = TelegramAPIServer.from_base(api_url or DEFAULT_API_URL)
        super(TelegramOutput, self).__init__(access_token, server=server)  # Bot.__init__ with the server

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        try:
            await super().send_response(recipient_id, message)
        except (TelegramAPIError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.error("telegram: sending to chat %s failed: %s", recipient_id, exc)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await super().send_text_message(recipient_id, agent_prefixed(text, kwargs), **kwargs)

    async def send_plain(self, chat_id: str, text: str) -> None:
        await self.send_response(chat_id, {"text": text})


class ShopCareTelegramInput(TelegramInput):
    """Named ``channels.telegram.ShopCareTelegramInput`` in credentials.yml; keeps the name ``telegram``."""

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        if not credentials:
            cls.raise_missing_credentials_exception()
        assert credentials is not None
        if not credentials.get("access_token") or not credentials.get("webhook_secret"):
            raise InvalidConfigException("The Telegram channel needs `access_token` and `webhook_secret`.")
        return cls(
            credentials["access_token"],
            str(credentials["webhook_secret"]),
            webhook_url=credentials.get("webhook_url") or None,
            api_url=credentials.get("telegram_api_url") or None,
        )

    def __init__(
        self, access_token: str, webhook_secret: str, *, webhook_url: str | None = None, api_url: str | None = None
    ) -> None:
        super().__init__(access_token, None, webhook_url, debug_mode=False)
        self.webhook_secret = webhook_secret
        self.api_url = api_url
        self.seen = RecentIds()
        try:
            self._output = ShopCareTelegramOutput(access_token, api_url)
        except TokenError as exc:
            raise InvalidConfigException(f"TELEGRAM_BOT_TOKEN does not look like a bot token ({exc}).") from exc

    def get_output_channel(self) -> ShopCareTelegramOutput:
        """One output channel (one HTTP session) for every chat; no network call here."""
        return self._output

    async def register_webhook(self) -> None:
        """Tell Telegram where to deliver updates, with the secret it must send back in every delivery."""
        if not self.webhook_url:
            return
        # aiogram 2.15 predates secret_token (Bot API 6.1): call the method directly
        payload = {
            "url": self.webhook_url,
            "secret_token": self.webhook_secret,
            "allowed_updates": json.dumps(ALLOWED_UPDATES),
        }
        try:
            await self._output.request("setWebhook", payload)
            logger.info("telegram: webhook set to %s", self.webhook_url)
        except (TelegramAPIError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.error("telegram: setWebhook failed (the server runs on; call it again by restarting): %s", exc)

    # ----------------------------------------------------------------------------- webhook
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        telegram_webhook = Blueprint("telegram_webhook", __name__)

        @telegram_webhook.listener("after_server_start")
        async def set_webhook_once(*_: Any) -> None:
            await self.register_webhook()

        @telegram_webhook.listener("before_server_stop")
        async def close_session(*_: Any) -> None:
            await self._output.session.close()  # not Bot.close(): deprecated, and an API method in aiogram 3

        @telegram_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @telegram_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            given = request.headers.get(SECRET_HEADER) or ""
            # Sanic keeps non-UTF-8 header bytes as surrogates: encode them back instead of failing with a 500
            if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self.webhook_secret.encode()):
                return _error(HTTPStatus.UNAUTHORIZED, "invalid_secret_token", f"Missing or wrong {SECRET_HEADER}.")
            try:
                update = json.loads(request.body or b"")
            except (ValueError, RecursionError):  # RecursionError: nested too deeply
                update = None
            if not isinstance(update, dict) or not _is_int(update.get("update_id")):
                return _error(HTTPStatus.BAD_REQUEST, "malformed_update", "The body is not a Telegram Update.")
            if not self.seen.add(str(update["update_id"])):
                return response.json({"ok": True, "handled": "duplicate"})
            handled = await self._on_update(update, on_new_message)
            return response.json({"ok": True, "handled": handled})

        return telegram_webhook

    async def _on_update(self, update: dict[str, Any], on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> str:
        """Handle one update; returns a word saying what was done (for logs and tests)."""
        if isinstance(update.get("callback_query"), dict):
            return await self._on_button(update["callback_query"], update["update_id"], on_new_message)
        message = update.get("message")
        if not isinstance(message, dict):
            return "ignored"  # edited_message, channel_post, my_chat_member, poll, inline_query, ...
        chat = _obj(message.get("chat"))
        if not _is_int(chat.get("id")) or _obj(message.get("from")).get("is_bot"):
            return "ignored"  # Telegram's chat ids are integers: anything else has nowhere to be answered
        chat_id = str(chat["id"])
        text = message.get("text") or message.get("caption")
        if chat.get("type") not in (None, "private"):
            if text:  # in a group, only commands and mentions reach a bot with privacy mode on
                await self._output.send_plain(chat_id, GROUP_CHAT_REPLY)
                return "group_refused"
            return "ignored"
        if isinstance(text, str) and text.strip():
            await self._turn(on_new_message, _clean(text), chat_id, update["update_id"])
            return "text"
        if message.get("location") or message.get("venue"):
            await self._output.send_plain(chat_id, LOCATION_REPLY)
            return "location"
        if any(message.get(key) for key in MEDIA_KEYS):
            await self._output.send_plain(chat_id, NON_TEXT_REPLY)
            return "non_text"
        return "ignored"  # service messages: new members, pinned messages, ...

    async def _on_button(
        self, query: dict[str, Any], update_id: int, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> str:
        try:
            await self._output.answer_callback_query(str(query.get("id") or ""))  # stops the button's spinner
        except (TelegramAPIError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.warning("telegram: answerCallbackQuery failed: %s", exc)
        chat = _obj(_obj(query.get("message")).get("chat")).get("id")
        data = query.get("data")
        if not _is_int(chat) or not isinstance(data, str) or not data.strip():
            return "ignored"  # a button of an inline-mode message, or a game: no conversation to continue
        await self._turn(on_new_message, data, str(chat), update_id)
        return "button"

    async def _turn(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]], text: str, chat_id: str, update_id: int
    ) -> None:
        metadata = {"telegram_update_id": update_id}
        message = UserMessage(text, self._output, chat_id, input_channel=self.name(), metadata=metadata)
        try:
            await on_new_message(message)
        except Exception:  # answered 200 anyway: Telegram would re-deliver a failing update again and again
            logger.exception("telegram: handling update %s failed", update_id)


def _obj(value: Any) -> dict[str, Any]:
    """A JSON object field, or an empty one when the field has another type (a hostile or broken update)."""
    return value if isinstance(value, dict) else {}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _clean(text: str) -> str:
    """``/start`` is what Telegram sends when a customer opens the bot: greet them."""
    stripped = text.strip()
    if stripped.split()[0].split("@")[0] == "/start":  # also "/start@ShopCareBot" and deep links "/start <code>"
        return "hi"
    return stripped


def _error(status: HTTPStatus, code: str, message: str) -> HTTPResponse:
    return response.json({"error": code, "message": message}, status=status)
