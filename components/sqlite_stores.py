"""Rasa's SQL tracker store and SQL event broker, tuned: one pass to save a turn (both profiles), SQLite in WAL mode
and a batching SQL event broker (the single-machine profile).

`SaveOnceSQLTrackerStore` stores what Rasa's `SQLTrackerStore` stores: it counts the stored events once, stores the
new events and hands the same events to the broker, without re-reading the conversation.

SQLite runs with write-ahead logging and `synchronous=NORMAL` (durable at checkpoints, safe against corruption), and
the broker hands events to a writer thread that commits them in batches (every 50 ms, in order): events of the last
50 ms before a hard crash of the Rasa process can be lost from the broker's table (never from the tracker store,
which stays the record of the conversation). Why, and the measurements:
docs/architecture.md#sql-tracker-store-and-event-broker. Named by class path in endpoints.yml.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import bindparam, create_engine, event, func, insert, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql import Select

from shopcare_core.pii import Masker, mask_event

logger = logging.getLogger(__name__)
STORED = "_shopcare_stored_events"  # attribute set on trackers this store loaded
T = TypeVar("T")


def tune_sqlite(store: Any) -> None:
    """SQLite in WAL mode, behind a connection pool, for a Rasa SQL store (`store.engine`, `store.sessionmaker`).

    Pooled connections keep the write-ahead log open between sessions (SQLAlchemy 1.4 gives a SQLite file no pool):
    docs/architecture.md#sql-tracker-store-and-event-broker.
    """
    url = store.engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    store.engine.dispose()
    engine = create_engine(
        url, poolclass=QueuePool, pool_size=5, max_overflow=10, connect_args={"check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    store.engine = engine
    store.sessionmaker = sessionmaker(bind=engine)


class SaveOnceSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store; a turn's new events are found once, stored, then streamed (module docstring).

    A database that restarts or drops connections is waited for, not worked around: pooled connections are checked
    before use (a restart leaves every pooled connection dead), and a read or save that still fails on the
    connection is tried again for up to `DB_WAIT_SECONDS`, sleeping without holding the event loop. Rasa would
    otherwise fall back to an empty in-memory tracker: a conversation paused for an agent would be answered by the
    bot as a stranger, and its messages kept nowhere.

    The events are stored before they are streamed (Rasa streams first): the broker never carries an event the
    conversation's record lacks. A broker that is down keeps them, as Rasa's does (the pika broker's own queue of
    unpublished messages). Under the lock store one replica at a time saves a conversation, so the count is exact.
    A tracker this store loaded also remembers how many of its events are stored, so saving it needs no count query
    at all; any other tracker (a new one, one loaded with all sessions) is counted as Rasa does.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        engine: Engine = self.engine  # type: ignore[has-type]
        if engine.url.get_backend_name() != "sqlite":  # SQLite gets its own pool (tune_sqlite)
            engine.dispose()
            self.engine = create_engine(engine.url, pool_pre_ping=True, **create_engine_kwargs(engine.url))
            self.sessionmaker = sessionmaker(bind=self.engine)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        return await _waiting_for_the_database(lambda: self._retrieve_once(sender_id))

    async def save(self, tracker: DialogueStateTracker) -> None:
        await _waiting_for_the_database(lambda: self._save_once(tracker))

    async def _retrieve_once(self, sender_id: str) -> DialogueStateTracker | None:
        tracker = await super().retrieve(sender_id)
        if tracker is not None and tracker._max_event_history is None:
            # what the count query of the next save would find: the events of the latest session, all loaded here
            setattr(tracker, STORED, len(tracker.events))
        return tracker

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        """Rasa's query (the latest session, or all), reading only the ``data`` column with a statement built once."""
        with self.session_scope() as session:
            rows = session.execute(self._events_statement(fetch_events_from_all_sessions), {"sender": sender_id})
            events = [json.loads(data) for (data,) in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    def _events_statement(self, all_sessions: bool) -> Select:
        cache = self.__dict__.setdefault("_shopcare_statements", {})
        if all_sessions not in cache:
            table = self.SQLEvent.__table__
            statement = select(table.c.data).where(table.c.sender_id == bindparam("sender"))
            if not all_sessions:  # events from the latest SessionStarted on, or all when there is none
                start = (
                    select(func.max(table.c.timestamp))
                    .where(table.c.sender_id == bindparam("sender"), table.c.type_name == SessionStarted.type_name)
                    .scalar_subquery()
                )
                statement = statement.where(or_(table.c.timestamp >= start, start.is_(None)))
            cache[all_sessions] = statement.order_by(table.c.id)
        return cache[all_sessions]

    async def _save_once(self, tracker: DialogueStateTracker) -> None:
        stored = getattr(tracker, STORED, None)
        with self.session_scope() as session:
            if stored is None:  # a tracker this store did not load (a new one, a copy): count as Rasa does
                events = self._additional_events(session, tracker)
            else:
                events = itertools.islice(tracker.events, stored, None)
            new_events = [event.as_dict() for event in events]
            if new_events:
                # one multi-row INSERT (Core), not one ORM INSERT ... RETURNING id per event
                rows = [self._row(tracker.sender_id, data) for data in new_events]
                session.execute(insert(self.SQLEvent.__table__), rows)
            session.commit()
        if stored is not None:
            setattr(tracker, STORED, len(tracker.events))
        if self.event_broker is not None:
            for data in new_events:
                self.event_broker.publish({"sender_id": tracker.sender_id, **data})

    @staticmethod
    def _row(sender_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """One row of Rasa's `events` table, with the columns Rasa fills (same schema, readable by Rasa)."""
        parse_data = data.get("parse_data")
        intent = parse_data.get("intent", {}).get(INTENT_NAME_KEY) if isinstance(parse_data, dict) else None
        return {
            "sender_id": sender_id,
            "type_name": data.get("event"),
            "timestamp": data.get("timestamp"),
            "intent_name": intent,
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }


DB_WAIT_SECONDS = 30.0


async def _waiting_for_the_database(work: Callable[[], Awaitable[T]]) -> T:
    """``work()``, tried again while the database connection fails (a restart), for up to DB_WAIT_SECONDS."""
    deadline = time.monotonic() + DB_WAIT_SECONDS
    delay = 0.2
    while True:
        try:
            return await work()
        except (OperationalError, InterfaceError) as exc:  # connection refused, closed or reset
            if time.monotonic() + delay > deadline:
                raise
            logger.warning("Tracker store: database unavailable (%s); trying again in %.1f s", exc.orig, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


class SQLiteTunedTrackerStore(SaveOnceSQLTrackerStore):
    """The same, with SQLite in WAL mode."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tune_sqlite(self)


class BatchingSQLEventBroker(SQLEventBroker):
    """Rasa's SQL event broker (same table), written by a background thread in batches."""

    def __init__(self, *args: Any, flush_interval: float = 0.05, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tune_sqlite(self)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._interval = float(flush_interval)
        self._masker = Masker.from_env()
        self._writer = threading.Thread(target=self._write_loop, name="event-broker-writer", daemon=True)
        self._writer.start()

    def publish(self, event: dict[str, Any]) -> None:
        # PII leaves the conversation masked; the escalation packet (access-controlled in the CRM) stays whole
        self._queue.put(mask_event(event, self._masker))

    def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            batch: list[dict[str, Any]] = []
            try:
                item = self._queue.get(timeout=self._interval)
                while True:
                    if item is None:
                        stopping = True
                        break
                    batch.append(item)
                    item = self._queue.get_nowait()
            except queue.Empty:
                pass
            if batch:
                self._write(batch)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        try:
            rows = [{"sender_id": event.get("sender_id"), "data": json.dumps(event)} for event in batch]
            with self.session_scope() as session:
                # one executemany (Core), not the ORM's INSERT per row to learn each id
                session.execute(insert(self.SQLBrokerEvent.__table__), rows)
                session.commit()
        except Exception:  # a broker must not take the server down; the tracker store keeps the conversation
            logger.exception("Event broker: could not write %d events", len(batch))

    async def close(self) -> None:
        self._queue.put(None)
        self._writer.join(timeout=5)
        await super().close()
