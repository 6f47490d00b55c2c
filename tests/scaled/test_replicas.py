"""Two Rasa replicas sharing the Redis lock store and the PostgreSQL tracker store: 50 concurrent conversations whose
messages alternate between the replicas (and, for some, go through nginx) lose, duplicate or reorder no event."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

PERSONAS = [
    ("alice.martin@example.com", "10001", "10002"),
    ("ben.okafor@example.com", "10011", "10012"),
    ("chloe.nguyen@example.com", "10021", "10022"),
]
CONVERSATIONS = 50


def script(i: int) -> list[str]:
    email, first, second = PERSONAS[i % len(PERSONAS)]
    return ["hi", f"where is my order {first}?", email, f"and order {second}?"]


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("text") or "") for m in messages]


async def post(client: httpx.AsyncClient, base: str, sender: str, text: str) -> list[str]:
    response = await client.post(f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": text})
    response.raise_for_status()
    return texts(response.json())


async def converse(client: httpx.AsyncClient, targets: list[str], sender: str, lines: list[str]) -> list[Any]:
    """Sequential turns, turn k on targets[k % len]; then one pair of messages sent at the same moment to both
    replicas (the lock store must serialise them). Returns [(text, replies), ..., ((a, replies_a), (b, replies_b))]."""
    turns: list[Any] = []
    for k, line in enumerate(lines):
        turns.append((line, await post(client, targets[k % len(targets)], sender, line)))
    pair = ("thanks", "thank you, bye")
    replies = await asyncio.gather(*(post(client, targets[j % len(targets)], sender, pair[j]) for j in range(2)))
    turns.append(tuple(zip(pair, replies)))
    return turns


def transcript(tracker: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["event"], str(e.get("text") or "")) for e in tracker["events"] if e["event"] in ("user", "bot")]


def expected_orders(turns: list[Any]) -> list[list[tuple[str, str]]]:
    """The transcripts the tracker may hold: the sequential turns, then the concurrent pair in either order (each
    message followed by exactly its own replies, never interleaved)."""
    head: list[tuple[str, str]] = []
    for text, replies in turns[:-1]:
        head += [("user", text)] + [("bot", r) for r in replies]
    (a, ra), (b, rb) = turns[-1]
    first = [("user", a)] + [("bot", r) for r in ra]
    second = [("user", b)] + [("bot", r) for r in rb]
    return [head + first + second, head + second + first]


async def test_fifty_conversations_alternating_between_replicas_keep_every_event_once_and_in_order(scaled):
    run = uuid.uuid4().hex[:8]
    direct = scaled.replica_urls
    via_nginx = [scaled.rasa_url, direct[1], scaled.rasa_url, direct[0]]
    limits = httpx.Limits(max_connections=120, max_keepalive_connections=120)
    async with httpx.AsyncClient(timeout=httpx.Timeout(120.0), limits=limits) as client:
        senders = [f"replicas-{run}-{i}" for i in range(CONVERSATIONS)]
        # every 5th conversation mixes nginx and direct hits; the others alternate strictly between the replicas
        results = await asyncio.gather(
            *(
                converse(client, via_nginx if i % 5 == 0 else direct, sender, script(i))
                for i, sender in enumerate(senders)
            )
        )
        problems = []
        for i, (sender, turns) in enumerate(zip(senders, results)):
            # read back from the replica that did not answer last, and check both see the same tracker
            trackers = []
            for base in direct:
                response = await client.get(
                    f"{base}/conversations/rest:{sender}/tracker", params={"token": scaled.rasa_token}
                )
                response.raise_for_status()
                trackers.append(transcript(response.json()))
            if trackers[0] != trackers[1]:
                problems.append(f"{sender}: the replicas disagree")
            if trackers[0] not in expected_orders(turns):
                problems.append(f"{sender}: tracker {trackers[0]} != sent/received {expected_orders(turns)[0]}")
            # the status replies are real answers, not errors: the verified status turn names its order
            _, first, second = PERSONAS[i % len(PERSONAS)]
            if not any(first in r for r in turns[2][1]) or not any(second in r for r in turns[3][1]):
                problems.append(f"{sender}: status replies do not name the orders: {turns[2][1]} {turns[3][1]}")
    assert not problems, "\n".join(problems[:10])


async def test_both_replicas_and_the_load_balancer_serve(scaled):
    async with httpx.AsyncClient(timeout=30) as client:
        for base in [*scaled.replica_urls, scaled.api_url]:  # the HTTP API: internal listener only
            response = await client.get(f"{base}/status", params={"token": scaled.rasa_token})
            assert response.status_code == 200 and response.json()["model_file"].endswith("shopcare.tar.gz")
        # a socket.io handshake through nginx sets the route cookie that keeps the socket on one replica
        response = await client.get(f"{scaled.rasa_url}/socket.io/", params={"EIO": "4", "transport": "polling"})
        assert response.status_code == 200 and "shopcare_route=" in response.headers.get("set-cookie", "")
