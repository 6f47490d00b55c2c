"""Rasa's socket.io channel, with agent messages marked as such for the web widget.

An agent's reply reaches the widget as a bot event the CRM appends to the tracker with ``output_channel=latest``
(crm_backend/services/escalations.py: ``metadata = {"agent": <name>, "from_agent": True}``). Rasa's own
``SocketIOOutput`` emits only ``{"text": ...}`` and drops that metadata, so the customer could not tell a person from
the bot. This output adds ``"sender": "agent"`` and ``"agent_name"`` to such messages; everything else (the wire
protocol, session persistence, rooms) is Rasa's unchanged. ``name()`` stays ``"socketio"``, so trackers, the CRM relay
and ``output_channel=latest`` see the same channel name as before.

Several replicas (the scaled profile): a customer's socket lives on one replica (nginx's route cookie keeps it there),
but the CRM's call that delivers an agent's reply can reach any replica. With ``SOCKETIO_REDIS_URL`` set, the server
shares its rooms through Redis (python-socketio's own Redis client manager): a message for a socket held by another
replica is published there, a message for a local socket is emitted directly, so the customer's own answers never
depend on Redis.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint
from socketio import AsyncRedisManager

logger = logging.getLogger(__name__)


class LocalFirstRedisManager(AsyncRedisManager):
    """Emits to a room with a member on this replica directly, and publishes through Redis only otherwise."""

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: str | None = None,
        skip_sid: Any = None,
        callback: Any = None,
        **kwargs: Any,
    ) -> None:
        if room is not None and self.rooms.get(namespace or "/", {}).get(room):
            kwargs["ignore_queue"] = True
        await super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)


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

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        url = os.environ.get("SOCKETIO_REDIS_URL", "").strip()
        if url and self.sio is not None:
            # replaced before the first connection: the server initialises its manager lazily, on the first one
            manager = LocalFirstRedisManager(
                url, channel=os.environ.get("SOCKETIO_REDIS_CHANNEL") or "shopcare-socketio"
            )
            manager.set_server(self.sio)
            self.sio.manager = manager
            logger.info("socket.io: rooms shared through Redis (channel %r)", manager.channel)
        return blueprint

    def get_output_channel(self) -> OutputChannel | None:
        if super().get_output_channel() is None:  # no server attached yet: Rasa has already warned
            return None
        assert self.sio is not None
        return AgentAwareSocketIOOutput(self.sio, self.bot_message_evt)
