"""The assistant's SQL stores as the CRM reaches them, without importing Rasa: the tracker store's ``events``
(Rasa's ``SQLTrackerStore.SQLEvent``, ``CRM_RASA_TRACKER_URL``) and the SQL event broker's ``events``
(``SQLEventBroker.SQLBrokerEvent``, ``CRM_RASA_EVENTS_URL``), each in its own database. ``EventStore`` reads and
erases a customer's conversations in one of them (data-subject requests); ``purge_tracker`` and ``purge_broker``
delete what is past its retention period. Nothing here creates a store that does not exist.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    func,
    inspect,
    select,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Engine, make_url

AMQP_SCHEMES = ("amqp://", "amqps://")  # an events URL naming RabbitMQ (the scaled profile): no table to reach
BATCH_SIZE = 500
SESSION_STARTED = "session_started"

TRACKER_EVENTS = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)
BROKER_EVENTS = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("data", Text),
)


def open_store(url: str) -> Engine | None:
    """An engine on the store's ``events`` table; None when there is no such store (never creates a SQLite file)."""
    if not url or url.startswith(AMQP_SCHEMES):
        return None
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).exists():
            return None
    engine = create_engine(url, future=True)
    if not inspect(engine).has_table("events"):
        engine.dispose()
        return None
    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.url.get_backend_name() == "sqlite"


def checkpoint(engine: Engine) -> None:
    """Move a SQLite file's write-ahead log into the file and truncate it (erased pages do not linger there)."""
    if is_sqlite(engine) and engine.url.database not in (None, "", ":memory:"):
        with engine.connect() as conn:
            conn.execute(sql_text("PRAGMA wal_checkpoint(TRUNCATE)"))


# --- a customer's conversations in one store
class EventStore:
    """One of the assistant's SQL stores (tracker store or event-broker table), reached by URL.

    ``status`` says what could be done: ``ok``, ``not_configured`` (empty URL), ``not_found`` (no file or no table
    yet: nothing stored), or ``not_searchable`` (a message queue, amqp://: nothing is stored to search).
    """

    def __init__(self, name: str, url: str, table: Table) -> None:
        self.name, self.url, self.table = name, url, table
        self.note = ""
        self._engine: Engine | None = None
        if not url:
            self.status = "not_configured"
        elif url.startswith(AMQP_SCHEMES):
            self.status = "not_searchable"
            self.note = "events go to a message queue: they are not stored where they can be searched or erased"
        else:
            self._engine = open_store(url)
            self.status = "ok" if self._engine is not None else "not_found"

    def describe(self, **counts: int) -> dict[str, Any]:
        shown = make_url(self.url).render_as_string(hide_password=True) if self.url else ""
        return {"status": self.status, "url": shown, **({"note": self.note} if self.note else {}), **counts}

    def read(self, conversations: list[str]) -> list[dict[str, Any]]:
        if self._engine is None or not conversations:
            return []
        columns = self.table.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(self.table).where(columns.sender_id.in_(conversations)).order_by(columns.id)
            ).mappings()
            return [self._event(dict(row)) for row in rows]

    @staticmethod
    def _event(row: dict[str, Any]) -> dict[str, Any]:
        try:
            row["data"] = json.loads(row["data"]) if row.get("data") else None
        except ValueError:
            pass  # kept as the text it is
        return row

    def erase(self, conversations: list[str]) -> int:
        """Deletes the conversations' rows (zeroing the freed pages of a SQLite file); returns how many."""
        if self._engine is None or not conversations:
            return 0
        with self._engine.begin() as conn:
            if is_sqlite(self._engine):
                conn.execute(sql_text("PRAGMA secure_delete=ON"))
            deleted = conn.execute(delete(self.table).where(self.table.c.sender_id.in_(conversations))).rowcount
        checkpoint(self._engine)
        return int(deleted or 0)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def assistant_stores(tracker_url: str, events_url: str) -> list[EventStore]:
    return [
        EventStore("tracker_store", tracker_url, TRACKER_EVENTS),
        EventStore("event_broker", events_url, BROKER_EVENTS),
    ]


# --- retention of the stores
def purge_tracker(url: str, *, cutoff: float, dry_run: bool = False, batch_size: int = BATCH_SIZE) -> int:
    """Deletes the tracker store's events older than ``cutoff`` (epoch seconds); returns how many (would be) deleted.

    Rasa loads a conversation from its latest ``session_started`` event on. A conversation whose newest event is
    older than the cutoff is deleted whole; of any other, only the events before its current session, so what Rasa
    loads is what it loaded before the purge.
    """
    engine = open_store(url)
    if engine is None:
        return 0
    t = TRACKER_EVENTS.c
    deleted = 0
    try:
        with engine.connect() as conn:  # one pass: each conversation with old events, its newest event and session
            stats = conn.execute(
                select(t.sender_id, func.max(t.timestamp), func.max(t.timestamp).filter(t.type_name == SESSION_STARTED))
                .where(t.sender_id.in_(select(t.sender_id).where(t.timestamp < cutoff)))
                .group_by(t.sender_id)
            ).all()
        bounds: dict[str, float] = {}
        for sender, newest, started in stats:
            if newest is not None and newest < cutoff:
                bounds[sender] = cutoff  # the whole conversation is past its period
            elif started is not None:
                bounds[sender] = min(cutoff, started)  # the sessions before the current one
            # else one session, still going: Rasa needs all of it
        senders = list(bounds)
        for first in range(0, len(senders), batch_size):
            chunk = senders[first : first + batch_size]
            with engine.connect() as conn:
                rows = conn.execute(
                    select(t.id, t.sender_id, t.timestamp).where(t.sender_id.in_(chunk), t.timestamp < cutoff)
                ).all()
            ids = [int(i) for i, sender, at in rows if at < bounds[sender]]
            for start in range(0, len(ids), batch_size):
                deleted += _delete_ids(engine, TRACKER_EVENTS, ids[start : start + batch_size], dry_run)
    finally:
        engine.dispose()
    return deleted


def purge_broker(url: str, *, cutoff: float, position: int, dry_run: bool = False, batch_size: int = BATCH_SIZE) -> int:
    """Deletes the event-broker rows older than ``cutoff`` (epoch seconds, the event's own timestamp) whose id is at
    most ``position`` (what the relay has read); returns how many (would be) deleted.

    Rows are read from the oldest id on and the purge stops at the first row within the period: the table is written
    in time order, so what follows it is within the period too.
    """
    engine = open_store(url) if position > 0 else None
    if engine is None:
        return 0
    e = BROKER_EVENTS.c
    deleted, last = 0, 0
    try:
        while True:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(e.id, e.data).where(e.id > last, e.id <= position).order_by(e.id).limit(batch_size)
                ).all()
            old = []
            for event_id, data in rows:
                at = _event_time(data)
                if at is not None and at >= cutoff:
                    break
                old.append(int(event_id))
            deleted += _delete_ids(engine, BROKER_EVENTS, old, dry_run)
            if len(old) < batch_size:
                return deleted
            last = old[-1]
    finally:
        engine.dispose()


def _event_time(data: str | None) -> float | None:
    """The event's timestamp; None for a row that is not a Rasa event (the relay skipped it)."""
    try:
        event = json.loads(data or "")
    except ValueError:
        return None
    value = event.get("timestamp") if isinstance(event, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _delete_ids(engine: Engine, table: Table, ids: list[int], dry_run: bool) -> int:
    if not ids or dry_run:
        return len(ids)
    with engine.begin() as conn:  # one short transaction per batch
        return int(conn.execute(delete(table).where(table.c.id.in_(ids))).rowcount or 0)
