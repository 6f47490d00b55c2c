"""The CRM's client of Rasa's tracker API addresses the conversation the customer is in, whatever its id looks like."""

from __future__ import annotations

import httpx
import pytest

from crm_backend.rasa_client import RasaClient


@pytest.mark.parametrize(
    ("conversation_id", "path"),
    [
        ("rest:alice-1", "/conversations/rest:alice-1/tracker/events"),  # the REST channel's namespace
        ("U123_D456", "/conversations/U123_D456/tracker/events"),  # a Slack DM
        ("a@b.c", "/conversations/a@b.c/tracker/events"),
        ("x/../y", "/conversations/x%2F..%2Fy/tracker/events"),  # cannot step out of the conversation's path
    ],
)
def test_agent_messages_go_to_the_conversations_own_tracker(conversation_id: str, path: str) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode().split("?")[0])
        return httpx.Response(200, json={})

    client = RasaClient("http://rasa.test", "t", transport=httpx.MockTransport(answer))
    client.post_events(conversation_id, [{"event": "bot", "text": "hi"}])
    assert seen == [path]
