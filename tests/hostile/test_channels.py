"""The hostile corpus through Rasa's REST and socket.io channels of a real stack: no 5xx, no echoed script, and
Rasa, the action server and the CRM still alive and answering a normal conversation afterwards."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import socketio

from tests.hostile.inputs import Case, echoes_markup, messages, raw_bodies

CONCURRENCY = 4
SENDERS = 40  # the corpus is spread over this many conversations, so state (forms, pauses) builds up
SOCKET_CASES = 200  # a seeded slice of the corpus through socket.io (each case waits for the bot)


def assert_alive_and_answering(stack: Any) -> None:
    assert httpx.get(f"{stack.action_url}/health", timeout=10).status_code == 200
    assert httpx.get(f"{stack.crm_url}/health", timeout=10).json()["status"] == "ok"
    reply = httpx.post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        json={"sender": f"after-hostile-{uuid.uuid4().hex[:8]}", "message": "what is your refund policy?"},
        timeout=30,
    )
    assert reply.status_code == 200
    assert "refund" in " ".join(m.get("text", "") for m in reply.json()).lower()


async def test_corpus_through_rest_gets_no_5xx_and_no_echoed_script(stack):
    url = f"{stack.rasa_url}/webhooks/rest/webhook"
    gate = asyncio.Semaphore(CONCURRENCY)
    run = uuid.uuid4().hex[:6]

    async def send(client: httpx.AsyncClient, index: int, case: Case) -> tuple[Case, int, str]:
        body: dict[str, Any] = {"sender": f"hostile-{run}-{index % SENDERS}", "message": case.text}
        if case.metadata:
            body["metadata"] = case.metadata
        async with gate:
            response = await client.post(url, json=body)
        answer = " ".join(m.get("text", "") for m in response.json()) if response.status_code == 200 else ""
        return case, response.status_code, answer

    async with httpx.AsyncClient(timeout=120) as client:
        results = await asyncio.gather(*(send(client, i, case) for i, case in enumerate(messages())))
    assert len(results) >= 1000
    assert [(c.name, status) for c, status, _ in results if status != 200] == []
    assert [(c.name, answer) for c, _, answer in results if echoes_markup(answer)] == []
    assert_alive_and_answering(stack)


def test_malformed_rest_bodies_are_refused_cleanly(stack):
    url = f"{stack.rasa_url}/webhooks/rest/webhook"
    outcomes = {}
    for raw in raw_bodies():
        response = httpx.post(url, content=raw.body, headers={"content-type": raw.content_type}, timeout=60)
        outcomes[raw.name] = response.status_code
    assert {name: status for name, status in outcomes.items() if status >= 500} == {}
    assert_alive_and_answering(stack)


async def test_corpus_slice_through_socketio(stack):
    cases = [case for i, case in enumerate(messages()) if i % 5 == 0][:SOCKET_CASES]
    received: list[dict[str, Any]] = []
    client = socketio.AsyncClient()
    client.on("bot_uttered", lambda data: received.append(data))
    session_id = uuid.uuid4().hex  # the shape of id the server hands out; others are refused
    await client.connect(stack.rasa_url, socketio_path="/socket.io", transports=["websocket"])
    try:
        await client.emit("session_request", {"session_id": session_id})
        for case in cases:
            payload: dict[str, Any] = {"message": case.text, "session_id": session_id}
            if case.metadata:
                payload["customData"] = case.metadata
            await client.emit("user_uttered", payload)
            await asyncio.sleep(0.05)
        # malformed socket.io payloads: wrong types and missing fields
        for bad in (None, "just a string", 42, [], {"message": None}, {"message": {"x": 1}}, {"session_id": 7}):
            await client.emit("user_uttered", bad)
        await client.emit("session_request", "not a dict")
        await asyncio.sleep(3)
        assert client.connected
    finally:
        await client.disconnect()
    answers = [m.get("text", "") for m in received]
    assert answers, "the bot answered nothing on socket.io"
    assert [a for a in answers if echoes_markup(a)] == []
    assert_alive_and_answering(stack)
