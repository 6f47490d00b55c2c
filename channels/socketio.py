"""Rasa's socket.io channel for the web widget: sessions the client cannot aim at another channel's conversation,
the client's address recorded server-side, and agent messages marked for the widget.

* With ``session_persistence`` the session id a client asks for in ``session_request`` becomes the conversation
  (tracker) id. Only ids of the shape the server itself hands out are accepted: 32 hex digits (what Rasa generates
  when the client asks for none, as the widget does at first) or a UUID with dashes. Any other id (a Telegram chat id,
  a Slack conversation id, a ``rest:`` id) is refused: nothing is emitted and no room is joined. A message is handled
  only for the session its socket was confirmed in (Rasa's own channel believed the ``session_id`` of every message).
* Each message carries ``metadata["shopcare_client"] = {"channel": "socketio", "address": ...}`` (channels/identity.py:
  the socket's peer, or ``X-Forwarded-For`` from a proxy in ``SOCKETIO_TRUSTED_PROXIES``), over anything the client
  sent under that key; the rest of the client's ``metadata_key`` object (``customData``: the widget's
  ``identityToken``, ...) is passed through to ``tracker.latest_message["metadata"]``.
* An agent's reply reaches the widget as a bot event the CRM appends to the tracker with ``output_channel=latest``
  (crm_backend/services/escalations.py: ``metadata = {"agent": <name>, "from_agent": True}``). Rasa's own
  ``SocketIOOutput`` emits only ``{"text": ...}`` and drops that metadata, so the customer could not tell a person
  from the bot. This output adds ``"sender": "agent"`` and ``"agent_name"`` to such messages; bot messages, the wire
  protocol and the rooms are Rasa's. ``name()`` stays ``"socketio"``, so trackers, the CRM relay and
  ``output_channel=latest`` see the channel name they expect.

Several replicas (the scaled profile): a customer's socket lives on one replica (nginx's route cookie keeps it there),
but the CRM's call that delivers an agent's reply can reach any replica. With ``SOCKETIO_REDIS_URL`` set, the server
shares its rooms through Redis (python-socketio's own Redis client manager): a message for a socket held by another
replica is published there, a message for a local socket is emitted directly, so the customer's own answers never
depend on Redis.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint
from socketio import AsyncRedisManager

from channels.identity import client_address, stamp_client, trusted_proxies
from channels.settings import RasaServerSettings

logger = logging.getLogger(__name__)

# what the server hands out (uuid4().hex, Rasa's choice when the client asks for no id) or a dashed UUID
SESSION_ID = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def valid_session_id(value: Any) -> bool:
    return isinstance(value, str) and SESSION_ID.fullmatch(value) is not None


def _client_metadata(value: Any) -> dict[str, Any]:
    """The client's metadata object (Rasa also accepts it as a JSON string); anything else is no metadata."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, dict) else {}


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
    """Rasa's socket.io input with checked sessions (``session_request`` and the message handler are replaced) and
    the agent-aware output for every message, answers and messages pushed later (agent replies, hand-back) alike."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        assert self.sio is not None
        sio, namespace = self.sio, self.namespace
        settings = RasaServerSettings()
        trusted = trusted_proxies(settings.socketio_trusted_proxies)

        async def session_request(sid: str, data: Any = None) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else data
            if data is None or requested is None:
                session_id = uuid.uuid4().hex
            elif isinstance(data, dict) and valid_session_id(requested):
                session_id = requested
            else:
                logger.warning("socket.io: %s asked for a session id the server never hands out; refused", sid)
                return
            if self.session_persistence:
                for room in sio.rooms(sid, namespace=namespace):
                    if room not in (sid, session_id):
                        await _done(sio.leave_room(sid, room, namespace=namespace))
                await _done(sio.enter_room(sid, session_id, namespace=namespace))
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)

        async def handle_message(sid: str, data: Any = None) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("message"), str):
                return
            if self.session_persistence:
                sender = data.get("session_id")
                if not valid_session_id(sender) or sender not in sio.rooms(sid, namespace=namespace):
                    logger.info("socket.io: a message from %s outside its confirmed session was ignored", sid)
                    return
            else:
                sender = sid
            environ = sio.get_environ(sid, namespace=namespace) or {}
            peer = getattr(environ.get("sanic.request"), "ip", None) or environ.get("REMOTE_ADDR") or ""
            address = client_address(str(peer), environ.get("HTTP_X_FORWARDED_FOR"), trusted)
            metadata = stamp_client(_client_metadata(data.get(self.metadata_key)), self.name(), address)
            output = AgentAwareSocketIOOutput(sio, self.bot_message_evt)
            await on_new_message(
                UserMessage(data["message"], output, sender, input_channel=self.name(), metadata=metadata)
            )

        # python-socketio keeps one handler per event and namespace: these replace the ones Rasa registered
        sio.on("session_request", handler=session_request, namespace=namespace)
        sio.on(self.user_message_evt, handler=handle_message, namespace=namespace)

        if settings.socketio_redis_url:
            # replaced before the first connection: the server initialises its manager lazily, on the first one
            manager = LocalFirstRedisManager(settings.socketio_redis_url, channel=settings.socketio_redis_channel)
            manager.set_server(sio)
            sio.manager = manager
            logger.info("socket.io: rooms shared through Redis (channel %r)", manager.channel)
        return blueprint

    def get_output_channel(self) -> OutputChannel | None:
        if super().get_output_channel() is None:  # no server attached yet: Rasa has already warned
            return None
        assert self.sio is not None
        return AgentAwareSocketIOOutput(self.sio, self.bot_message_evt)


async def _done(result: Any) -> None:
    """python-socketio's room calls return None up to 5.9 and a coroutine from 5.10: wait for it either way."""
    if inspect.isawaitable(result):
        await result
