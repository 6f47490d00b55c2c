"""Slack's Web API as far as the bot uses it: ``chat.postMessage``, ``conversations.open`` and ``auth.test``
(slack-sdk's ``base_url``)."""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

from tests.fakes.recording import Call, RecordingServer


class FakeSlackAPI(RecordingServer):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self._ts = itertools.count(1)
        self.fail_next = 0  # answer this many calls with Slack's error format (e.g. Slack having an incident)
        self.refuse_direct_messages: set[str] = set()  # users conversations.open answers "user_not_found" for

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def answer(self, call: Call) -> tuple[int, dict[str, Any]]:
        if call.headers.get("authorization") != f"Bearer {self.token}":
            return 200, {"ok": False, "error": "invalid_auth"}
        if self.fail_next > 0:
            self.fail_next -= 1
            return 500, {"ok": False, "error": "fatal_error"}
        if call.method == "auth.test":
            return 200, {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1"}
        if call.method == "conversations.open":
            users = str(call.params.get("users") or "")
            if not users:
                return 200, {"ok": False, "error": "users_list_not_supplied"}
            if users in self.refuse_direct_messages:
                return 200, {"ok": False, "error": "user_not_found"}
            return 200, {"ok": True, "no_op": True, "already_open": True, "channel": {"id": self.dm_of(users)}}
        if call.method == "chat.postMessage":
            if not call.params.get("channel") or not (call.params.get("text") or call.params.get("blocks")):
                return 200, {"ok": False, "error": "no_text" if call.params.get("channel") else "channel_not_found"}
            ts = f"1800000000.{next(self._ts):06d}"
            message = {"type": "message", "bot_id": "BBOT", "text": call.params.get("text", ""), "ts": ts}
            return 200, {"ok": True, "channel": call.params["channel"], "ts": ts, "message": message}
        return 200, {"ok": False, "error": "unknown_method"}

    @staticmethod
    def dm_of(user: str) -> str:
        """The app's DM channel with ``user``: one per user, as Slack keeps it."""
        return "D" + hashlib.sha256(user.encode()).hexdigest()[:10].upper()

    def messages(self, channel: str, thread_ts: str | None = None) -> list[Call]:
        return self.sent(
            "chat.postMessage", lambda c: c.params.get("channel") == channel and c.params.get("thread_ts") == thread_ts
        )
