"""Slack's Web API as far as the bot uses it: ``chat.postMessage`` and ``auth.test`` (slack-sdk's ``base_url``)."""

from __future__ import annotations

import itertools
from typing import Any

from tests.fakes.recording import Call, RecordingServer


class FakeSlackAPI(RecordingServer):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self._ts = itertools.count(1)
        self.fail_next = 0  # answer this many calls with Slack's error format (e.g. Slack having an incident)

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
        if call.method == "chat.postMessage":
            if not call.params.get("channel") or not (call.params.get("text") or call.params.get("blocks")):
                return 200, {"ok": False, "error": "no_text" if call.params.get("channel") else "channel_not_found"}
            ts = f"1800000000.{next(self._ts):06d}"
            message = {"type": "message", "bot_id": "BBOT", "text": call.params.get("text", ""), "ts": ts}
            return 200, {"ok": True, "channel": call.params["channel"], "ts": ts, "message": message}
        return 200, {"ok": False, "error": "unknown_method"}

    def messages(self, channel: str, thread_ts: str | None = None) -> list[Call]:
        return self.sent(
            "chat.postMessage", lambda c: c.params.get("channel") == channel and c.params.get("thread_ts") == thread_ts
        )
