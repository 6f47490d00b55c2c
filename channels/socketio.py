"""Rasa's socket.io channel, with agent messages marked as such for the web widget.

An agent's reply reaches the widget as a bot event the CRM appends to the tracker with ``output_channel=latest``
(crm_backend/services/escalations.py: ``metadata = {"agent": <name>, "from_agent": True}``). Rasa's own
``SocketIOOutput`` emits only ``{"text": ...}`` and drops that metadata, so the customer could not tell a person from
the bot. This output adds ``"sender": "agent"`` and ``"agent_name"`` to such messages; everything else (the wire
protocol, session persistence, rooms) is Rasa's unchanged. ``name()`` stays ``"socketio"``, so trackers, the CRM relay
and ``output_channel=latest`` see the same channel name as before.
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.channel import OutputChannel
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput


class AgentAwareSocketIOOutput(SocketIOOutput):
    """Emits an agent's message with who wrote it; bot messages are emitted exactly as Rasa does."""

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        if not kwargs.get("from_agent"):
            await super().send_text_message(recipient_id, text, **kwargs)
            return
        agent_name = str(kwargs.get("agent") or "").strip() or "Customer service"
        for part in text.strip().split("\n\n"):
            await self._send_message(recipient_id, {"text": part, "sender": "agent", "agent_name": agent_name})


class ShopCareSocketIOInput(SocketIOInput):
    """Rasa's socket.io input; messages pushed later (agent replies, hand-back) go out through the agent-aware output.

    Answers to the customer's own messages are bot messages and keep going through Rasa's output created per message.
    """

    def get_output_channel(self) -> OutputChannel | None:
        if super().get_output_channel() is None:  # no server attached yet: Rasa has already warned
            return None
        assert self.sio is not None
        return AgentAwareSocketIOOutput(self.sio, self.bot_message_evt)
