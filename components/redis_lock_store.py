"""Rasa's Redis lock store with atomic ticket operations, for several Rasa replicas (the scaled profile).

Rasa 3.6's `RedisLockStore` changes a conversation's lock by GET, change in Python, SET. Two replicas receiving a
message of the same conversation at the same moment both read "no lock", both create one holding ticket 0 and both
process their message at once: the lock does not lock. tests/scaled/test_double_writes.py caught it (a double "yes"
on two replicas ran the confirmation twice). Here every read-change-write of a lock runs in a Redis transaction
(WATCH the key, MULTI/EXEC the write, retry when another replica changed it in between), with Rasa's own `TicketLock`
logic and key layout unchanged. Named by class path in endpoints.scaled.yml (same settings as `type: redis`).

When Redis is unreachable (stopped, restarting, network), a turn does not fail (Rasa would answer a REST message with
nothing and a socket.io message not at all): the store falls back to a per-process in-memory lock and logs one warning
per outage. That still serialises the turns of a conversation within a replica, which is what socket.io (sticky) and
a REST client that waits for its answer produce; only two messages of one conversation sent at the same moment to two
replicas may then overlap, and the CRM's idempotency keys keep even that to one write. Redis is tried again at most
every `RETRY_SECONDS` (no reconnect storm, no extra delay per message); the first turn that reaches it switches the
process back to shared locks, with no restart. tests/scaled/test_redis_stop.py stops a private Redis under two
replicas to prove both directions.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockError, LockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)
T = TypeVar("T")
MAX_ATTEMPTS = 100
RETRY_SECONDS = 2.0  # while Redis is down, how often a turn tries it again
CONNECT_TIMEOUT_SECONDS = 2.0  # Redis is on the local network: a connect that takes longer means it is unreachable
# An answer slower than this means a hung Redis. redis-py is synchronous and Rasa calls the lock store on its event
# loop, so Rasa's socket_timeout of 10 s would freeze every conversation of the replica for 10 s per try while Redis
# hangs (stopped process, full disk, network black hole): tests/faults/test_redis_stop.py.
ANSWER_TIMEOUT_SECONDS = 1.0
# refused, timed out, reset, or something that is not a healthy Redis answering: all mean "no shared lock now"
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.ResponseError, redis.InvalidResponse)


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # created by Rasa from endpoints.yml
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs}
        super().__init__(**kwargs)
        # Rasa passes only socket_timeout (10 s), which redis-py also uses to connect: cap both
        pool_kwargs = self.red.connection_pool.connection_kwargs
        if pool_kwargs.get("socket_connect_timeout") is None:
            pool_kwargs["socket_connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        pool_kwargs["socket_timeout"] = min(
            pool_kwargs.get("socket_timeout") or ANSWER_TIMEOUT_SECONDS, ANSWER_TIMEOUT_SECONDS
        )
        self.fallback = InMemoryLockStore()
        self._down_since: float | None = None  # monotonic time of the last failure while Redis is down

    # ------------------------------------------------------------------------- degrading when Redis is down
    def _redis_down(self, exc: Exception) -> None:
        if self._down_since is None:
            logger.warning(
                "Redis lock store unreachable (%s): locking conversations in this process only until it is back",
                exc,
            )
        self._down_since = time.monotonic()

    def _redis_back(self) -> None:
        if self._down_since is not None:
            logger.warning("Redis lock store reachable again: conversations are locked in Redis again")
            self._down_since = None

    def _try_redis(self, conversation_id: str) -> bool:
        """Whether this turn should use Redis: not while a turn of the conversation still holds a fallback lock in
        this process (the two would not see each other), and while Redis is down only once per RETRY_SECONDS."""
        if conversation_id in self.fallback.conversation_locks:
            return False
        return self._down_since is None or time.monotonic() - self._down_since >= RETRY_SECONDS

    async def _enter(
        self, conversation_id: str, lock_lifetime: float, wait_time_in_seconds: float
    ) -> tuple[LockStore, int, TicketLock]:
        """Take a ticket and wait for it, in Redis if it answers, else in this process's fallback store."""
        if self._try_redis(conversation_id):
            try:
                ticket = self.issue_ticket(conversation_id, lock_lifetime)
                lock = await self._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
                self._redis_back()
                return self, ticket, lock
            except REDIS_DOWN as exc:  # a ticket already taken in Redis expires with its lifetime
                self._redis_down(exc)
        ticket = self.fallback.issue_ticket(conversation_id, lock_lifetime)
        return self.fallback, ticket, await self.fallback._acquire_lock(conversation_id, ticket, wait_time_in_seconds)

    @asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 1
    ) -> AsyncGenerator[TicketLock, None]:
        """Rasa's `LockStore.lock`, with the store chosen once per turn so the ticket is returned where it was taken."""
        store, ticket, lock = await self._enter(conversation_id, lock_lifetime, wait_time_in_seconds)
        try:
            yield lock
        finally:
            try:
                store.cleanup(conversation_id, ticket)
            except REDIS_DOWN as exc:  # the turn is done; its ticket expires (a restarted Redis starts empty anyway)
                self._redis_down(exc)

    # ------------------------------------------------------------------------- atomic ticket operations

    def _transaction(
        self, conversation_id: str, change: Callable[[TicketLock | None], tuple[str, TicketLock | None, T]]
    ) -> T:
        """Apply `change` to the stored lock atomically. `change` gets the stored lock (or None) and returns (what to
        do: "keep" / "save" / "delete", the lock to save, result); it is re-run if another replica changed the key
        between the read and the write."""
        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            for _ in range(MAX_ATTEMPTS):
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    action, lock, result = change(TicketLock.from_dict(json.loads(raw)) if raw else None)
                    pipe.multi()
                    if action == "save" and lock is not None:
                        pipe.set(key, lock.dumps())
                    elif action == "delete":
                        pipe.delete(key)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue
        raise LockError(f"Lock of conversation '{conversation_id}' kept changing; gave up after {MAX_ATTEMPTS} tries.")

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def change(lock: TicketLock | None) -> tuple[str, TicketLock | None, int]:
            lock = lock or self.create_lock(conversation_id)
            return "save", lock, lock.issue_ticket(lock_lifetime)

        return self._transaction(conversation_id, change)

    def update_lock(self, conversation_id: str) -> None:
        def change(lock: TicketLock | None) -> tuple[str, TicketLock | None, None]:
            if lock is None:
                return "keep", None, None
            lock.remove_expired_tickets()
            return "save", lock, None

        self._transaction(conversation_id, change)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def change(lock: TicketLock | None) -> tuple[str, TicketLock | None, None]:
            if lock is None:
                return "keep", None, None
            lock.remove_ticket_for(ticket_number)
            return "save", lock, None

        self._transaction(conversation_id, change)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Give the ticket back and delete the lock if nobody else waits, in one step (Rasa does it in three)."""

        def change(lock: TicketLock | None) -> tuple[str, TicketLock | None, None]:
            if lock is None:
                return "keep", None, None
            lock.remove_ticket_for(ticket_number)
            return ("save" if lock.is_someone_waiting() else "delete"), lock, None

        self._transaction(conversation_id, change)
