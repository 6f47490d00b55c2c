"""Telegram's Bot API as far as the bot uses it: ``/bot<token>/<method>`` for sendMessage, answerCallbackQuery,
setWebhook, getMe (the base URL is the connector's ``telegram_api_url``)."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from tests.fakes.recording import Call, RecordingServer


class FakeTelegramAPI(RecordingServer):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self._message_ids = itertools.count(1000)

    def answer(self, call: Call) -> tuple[int, dict[str, Any]]:
        if not call.path.startswith(f"/bot{self.token}/"):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        method = call.method
        if method == "getMe":
            return 200, {
                "ok": True,
                "result": {"id": 1, "is_bot": True, "first_name": "ShopCare", "username": "shopcare_bot"},
            }
        if method in ("setWebhook", "answerCallbackQuery"):
            return 200, {"ok": True, "result": True}
        if method == "sendMessage":
            if not call.params.get("chat_id") or not call.params.get("text"):
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
            chat_id = int(call.params["chat_id"])
            result = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "text": call.params["text"],
            }
            return 200, {"ok": True, "result": result}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}

    def method_of(self, path: str) -> str:
        return path.rstrip("/").rsplit("/", 1)[-1]

    def messages(self, chat_id: int | str) -> list[Call]:
        return self.sent("sendMessage", lambda c: str(c.params.get("chat_id")) == str(chat_id))

    @staticmethod
    def keyboard(call: Call) -> list[list[dict[str, Any]]]:
        markup = call.params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        return (markup or {}).get("inline_keyboard", [])
