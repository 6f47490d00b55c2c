"""The socket.io channel: sessions only of the shape the server hands out, one session per socket, the client's
address recorded over anything the client sent, the client's other metadata passed through, and agent messages
marked with who wrote them. The input runs on an in-process Sanic server with a real socket.io client.

The browser test (tests/browser/test_widget.py) covers the widget end to end through a running Rasa server;
tests/security/test_channel_identity.py shows the metadata arriving in the tracker.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import socketio

from channels.identity import CLIENT_KEY
from channels.socketio import AgentAwareSocketIOOutput, ShopCareSocketIOInput, valid_session_id
from tests.channels.inprocess import Recorder, serve


class RecordingServer:
    """Stands in for python-socketio's AsyncServer: records what would be emitted to which room."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, Any, str | None]] = []

    async def emit(self, event: str, data: Any = None, room: str | None = None, **_: Any) -> None:
        self.emitted.append((event, data, room))


async def test_agent_message_carries_sender_and_name_on_every_part():
    server = RecordingServer()
    output = AgentAwareSocketIOOutput(server, "bot_uttered")  # type: ignore[arg-type]
    message = {"text": "Hi, Sam here.\n\nOne moment please.", "agent": "Sam Patel", "from_agent": True}
    await output.send_response("conv-1", message)
    assert server.emitted == [
        ("bot_uttered", {"text": "Hi, Sam here.", "sender": "agent", "agent_name": "Sam Patel"}, "conv-1"),
        ("bot_uttered", {"text": "One moment please.", "sender": "agent", "agent_name": "Sam Patel"}, "conv-1"),
    ]


async def test_bot_messages_and_buttons_are_emitted_as_rasa_does():
    server = RecordingServer()
    output = AgentAwareSocketIOOutput(server, "bot_uttered")  # type: ignore[arg-type]
    await output.send_response("conv-2", {"text": "You're back with the assistant."})
    await output.send_response("conv-2", {"text": "Shall I?", "buttons": [{"title": "Yes", "payload": "/affirm"}]})
    assert server.emitted == [
        ("bot_uttered", {"text": "You're back with the assistant."}, "conv-2"),
        (
            "bot_uttered",
            {"text": "Shall I?", "quick_replies": [{"content_type": "text", "title": "Yes", "payload": "/affirm"}]},
            "conv-2",
        ),
    ]


async def test_agent_without_a_name_is_still_marked_as_a_person():
    server = RecordingServer()
    output = AgentAwareSocketIOOutput(server, "bot_uttered")  # type: ignore[arg-type]
    await output.send_response("conv-3", {"text": "Hello", "agent": "  ", "from_agent": True})
    assert server.emitted == [
        ("bot_uttered", {"text": "Hello", "sender": "agent", "agent_name": "Customer service"}, "conv-3")
    ]


def test_input_keeps_rasas_channel_name_and_credentials():
    channel = ShopCareSocketIOInput.from_credentials({"session_persistence": True, "metadata_key": "customData"})
    assert channel.name() == "socketio"  # trackers, the relay and output_channel=latest see the same name
    assert channel.session_persistence and channel.metadata_key == "customData"
    assert channel.get_output_channel() is None  # no server before the blueprint is attached


# ----------------------------------------------------------------------------- sessions, on a real socket.io server
# fixed values: test ids must be the same in every process collecting them (pytest-xdist)
HEX = "b191874c692d40cbaadeb45f85b69f69"
DASHED = "82c38734-8b4d-43c3-b65f-fefc0053bdcc"
REFUSED = [
    "123456789",
    "-1001234567890",
    "U0ALICE_D0ALICE",
    "rest:alice",
    "sio-hostile-1a2b3c4d",
    HEX + "0",
    HEX[:31],
    HEX[:31] + "g",
    DASHED.replace("-", "_"),
    "",
    42,
    ["x"],
    {"id": HEX},
]


@pytest.mark.parametrize("value", [HEX, HEX.upper(), DASHED])
def test_session_ids_the_server_hands_out_are_valid(value):
    assert valid_session_id(value)


@pytest.mark.parametrize("value", REFUSED)
def test_other_session_ids_are_not(value):
    assert not valid_session_id(value)


class Client:
    """A socket.io client that keeps every ``session_confirm`` and ``bot_uttered`` it receives."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient()
        self.confirmed: list[Any] = []
        self.received: list[Any] = []
        self.sio.on("session_confirm", self.confirmed.append)
        self.sio.on("bot_uttered", self.received.append)

    async def request(self, session_id: Any, wait: float = 1.0) -> list[Any]:
        before = len(self.confirmed)
        await self.sio.emit("session_request", {"session_id": session_id})
        await asyncio.sleep(wait)
        return self.confirmed[before:]


@asynccontextmanager
async def widget_server(recorder: Recorder, headers: dict[str, str] | None = None) -> AsyncIterator[Client]:
    channel = ShopCareSocketIOInput.from_credentials({"session_persistence": True, "metadata_key": "customData"})
    async with serve(channel, recorder) as url:
        client = Client()
        await client.sio.connect(url, socketio_path="/socket.io", transports=["websocket"], headers=headers or {})
        try:
            yield client
        finally:
            await client.sio.disconnect()


async def test_a_session_id_the_server_never_hands_out_is_refused_and_its_messages_ignored():
    recorder = Recorder()
    async with widget_server(recorder) as client:
        for session_id in REFUSED:
            assert await client.request(session_id, wait=0.2) == [], session_id
            await client.sio.emit("user_uttered", {"message": "where is my order 10001?", "session_id": session_id})
        await client.sio.emit("session_request", "not an object")
        await asyncio.sleep(1.0)
        assert client.sio.connected
    assert client.confirmed == [] and client.received == [] and recorder.messages == []


async def test_a_new_session_gets_a_server_made_id_and_a_known_one_is_kept():
    recorder = Recorder()
    async with widget_server(recorder) as client:
        [fresh] = await client.request(None)
        assert valid_session_id(fresh) and len(fresh) == 32
        await client.sio.emit("session_request")  # no data at all, as Rasa's own client may send it
        await asyncio.sleep(0.5)
        assert len(client.confirmed) == 2 and valid_session_id(client.confirmed[-1])
        assert await client.request(DASHED) == [DASHED]
        await client.sio.emit("user_uttered", {"message": "hello", "session_id": DASHED})
        await asyncio.sleep(1.0)
    assert [(m.sender_id, m.text, m.input_channel) for m in recorder.messages] == [(DASHED, "hello", "socketio")]
    assert client.received == [{"text": "got hello"}]


async def test_a_message_for_another_session_than_the_sockets_own_is_ignored():
    recorder = Recorder()
    async with widget_server(recorder) as client:
        mine, other = uuid.uuid4().hex, uuid.uuid4().hex
        assert await client.request(other) == [other]
        assert await client.request(mine) == [mine]  # the socket leaves the first session's room
        for session_id in (other, uuid.uuid4().hex, None):
            await client.sio.emit("user_uttered", {"message": "where is my order 10001?", "session_id": session_id})
        await client.sio.emit("user_uttered", {"message": "hello", "session_id": mine})
        await asyncio.sleep(1.0)
    assert [(m.sender_id, m.text) for m in recorder.messages] == [(mine, "hello")]


@pytest.mark.parametrize(
    "trusted, expected", [(None, "203.0.113.9"), ("10.0.0.0/8", "127.0.0.1")], ids=["loopback-proxy", "no-proxy"]
)
async def test_the_client_address_is_recorded_over_the_clients_own_and_custom_data_passes(
    monkeypatch, trusted, expected
):
    if trusted:
        monkeypatch.setenv("SOCKETIO_TRUSTED_PROXIES", trusted)
    else:
        monkeypatch.delenv("SOCKETIO_TRUSTED_PROXIES", raising=False)
    recorder = Recorder()
    async with widget_server(recorder, headers={"X-Forwarded-For": "203.0.113.9"}) as client:
        session = uuid.uuid4().hex
        assert await client.request(session) == [session]
        custom = {"identityToken": "eyJhbGciOiJIUzI1NiJ9.e30.sig", CLIENT_KEY: {"address": "10.6.6.6"}}
        await client.sio.emit("user_uttered", {"message": "hi", "session_id": session, "customData": custom})
        await asyncio.sleep(1.0)
    [message] = recorder.messages
    assert message.metadata == {
        "identityToken": "eyJhbGciOiJIUzI1NiJ9.e30.sig",
        CLIENT_KEY: {"channel": "socketio", "address": expected},
    }
