"""A web-widget customer's socket lives on one replica; the CRM's call that delivers an agent's reply may reach the
other. The replicas share socket.io rooms through Redis (channels/socketio.py), so the reply still arrives, marked as
a person's, and the customer's own answers keep coming from the replica that holds the socket."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import socketio


async def next_message(queue: asyncio.Queue[dict[str, Any]], timeout: float = 30.0) -> dict[str, Any]:
    return await asyncio.wait_for(queue.get(), timeout)


async def test_agent_reply_posted_to_the_other_replica_reaches_the_socket(scaled):
    first, second = scaled.replica_urls
    session = uuid.uuid4().hex  # the shape of id the server hands out; others are refused
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    client = socketio.AsyncClient(reconnection=False)
    client.on("bot_uttered", received.put_nowait)
    await client.connect(first, socketio_path="/socket.io", transports=["websocket"], wait_timeout=30)
    try:
        await client.emit("session_request", {"session_id": session})
        await client.emit("user_uttered", {"message": "hello", "session_id": session})
        greeting = await next_message(received)
        assert greeting.get("text") and "sender" not in greeting  # the bot's answer, from the socket's replica
        await asyncio.sleep(1.0)  # the rest of the greeting, if any
        while not received.empty():
            received.get_nowait()

        # what the CRM does for an agent's reply (crm_backend/rasa_client.py), sent to the replica without the socket
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                f"{second}/conversations/{session}/tracker/events",
                params={"execute_side_effects": "true", "output_channel": "latest", "token": scaled.rasa_token},
                json=[
                    {"event": "bot", "text": "Hi, Sam here.", "metadata": {"agent": "Sam Patel", "from_agent": True}}
                ],
            )
        assert response.status_code == 200, response.text
        assert await next_message(received, 15) == {
            "text": "Hi, Sam here.",
            "sender": "agent",
            "agent_name": "Sam Patel",
        }

        await client.emit("user_uttered", {"message": "where is my order 10002?", "session_id": session})
        answer = await next_message(received)
        assert "e-mail" in answer.get("text", "")  # the bot goes on answering on the socket's replica
    finally:
        await client.disconnect()
