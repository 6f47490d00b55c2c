"""Rasa's SQL tracker store and SQL event broker, tuned for SQLite (the single-machine profile).

Rasa opens SQLite in its default rollback-journal mode with a full fsync per commit; the event broker commits every
event on its own, so one customer turn costs several fsyncs on the request path. Write-ahead logging with
`synchronous=NORMAL` (durable at checkpoints, safe against corruption) removes most of that; measured in
docs/benchmarks.md. Other databases (PostgreSQL in the scaled profile) are left untouched. Named by class path in
endpoints.yml.
"""

from __future__ import annotations

from typing import Any

from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy import event
from sqlalchemy.engine import Engine


def tune_sqlite(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    engine.dispose()  # connections opened before the listener get the pragmas on their next checkout


class SQLiteTunedTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tune_sqlite(self.engine)


class SQLiteTunedEventBroker(SQLEventBroker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tune_sqlite(self.engine)
