"""Rasa's Redis lock store with atomic ticket operations, for several Rasa replicas (the scaled profile).

Rasa 3.6's `RedisLockStore` changes a conversation's lock by GET, change in Python, SET. Two replicas receiving a
message of the same conversation at the same moment both read "no lock", both create one holding ticket 0 and both
process their message at once: the lock does not lock. tests/scaled/test_double_writes.py caught it (a double "yes"
on two replicas ran the confirmation twice). Here every read-change-write of a lock runs in a Redis transaction
(WATCH the key, MULTI/EXEC the write, retry when another replica changed it in between), with Rasa's own `TicketLock`
logic and key layout unchanged. Named by class path in endpoints.scaled.yml (same settings as `type: redis`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)
T = TypeVar("T")
MAX_ATTEMPTS = 100


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # created by Rasa from endpoints.yml
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs}
        super().__init__(**kwargs)

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
