"""The socket.io output marks an agent's message with who wrote it and leaves the bot's messages as Rasa sends them.

The browser test (tests/browser/test_widget.py) covers the same path end to end through a running Rasa server.
"""

from __future__ import annotations

from typing import Any

from channels.socketio import AgentAwareSocketIOOutput, ShopCareSocketIOInput


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
