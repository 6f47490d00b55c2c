"""The atomic Redis lock store on a real Redis: two store instances (two replicas) hand out each ticket once and
never let two turns of one conversation run at the same time."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator

import pytest
import redis

from components.redis_lock_store import AtomicRedisLockStore

from .conftest import ScaledConfig


@pytest.fixture
def stores() -> Iterator[tuple[AtomicRedisLockStore, AtomicRedisLockStore]]:
    url = ScaledConfig.from_env().redis_url
    prefix = f"lk{uuid.uuid4().hex[:10]}"
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"Redis is not reachable at {url}")
    parts = client.connection_pool.connection_kwargs
    pair = tuple(
        AtomicRedisLockStore(host=parts.get("host", "127.0.0.1"), port=parts.get("port", 6379), key_prefix=prefix)
        for _ in range(2)
    )
    yield pair  # type: ignore[misc]
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


def test_concurrent_tickets_from_two_replicas_are_all_different(stores) -> None:
    conversation, tickets, per_thread = f"c-{uuid.uuid4().hex[:6]}", [], 50
    guard = threading.Lock()

    def issue(store: AtomicRedisLockStore) -> None:
        for _ in range(per_thread):
            ticket = store.issue_ticket(conversation, lock_lifetime=60)
            with guard:
                tickets.append(ticket)

    threads = [threading.Thread(target=issue, args=(stores[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(tickets) == list(range(4 * per_thread))  # each ticket exactly once


async def test_turns_of_one_conversation_on_two_replicas_never_overlap(stores) -> None:
    conversation, active, overlaps, done = f"c-{uuid.uuid4().hex[:6]}", [0], [0], []

    async def turn(store: AtomicRedisLockStore, n: int) -> None:
        async with store.lock(conversation, lock_lifetime=30, wait_time_in_seconds=0.01):
            active[0] += 1
            overlaps[0] += active[0] > 1
            await asyncio.sleep(0.005)
            done.append(n)
            active[0] -= 1

    await asyncio.gather(*(turn(stores[n % 2], n) for n in range(40)))
    assert overlaps[0] == 0 and sorted(done) == list(range(40))
    assert stores[0].get_lock(conversation) is None  # the last turn removed the lock
