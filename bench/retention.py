#!/usr/bin/env python
"""What a retention run costs on SQLite files (crm_backend/services/retention.py), and how long it holds a write lock.

  python bench/retention.py
  python bench/retention.py --conversations 20000 --broker-rows 300000 --escalations 5000

Builds, in a temporary folder:
- a tracker store shaped like Rasa's (its ``events`` table and index, WAL mode): ``--conversations`` conversations,
  each with an 800-day-old session of 15 events, and every other one also with one from yesterday;
- an event-broker table of ``--broker-rows`` customer messages spread over the last 60 days, all read by the relay;
- a CRM database (encrypted columns, development keys) with ``--escalations`` resolved escalations 800 days old, 10
  messages and a ticket each.
Then times the tracker purge (730 days), the broker purge (30 days) and two runs over the CRM's tables (the first
removes everything, the second finds nothing left but reads every row again), and prints for each delete transaction
of the purges the median and longest time, which is how long the assistant's writers may wait on the lock.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm_backend import rasa_stores  # noqa: E402
from crm_backend.db import Base, Escalation, EscalationMessage, Ticket, make_engine, new_session  # noqa: E402
from crm_backend.seeding import demo  # noqa: E402
from crm_backend.services import retention  # noqa: E402
from crm_backend.settings import Settings  # noqa: E402

DAY = 86400.0
SESSION_EVENTS = 15


def tracker_store(path: Path, conversations: int, now: float) -> int:
    rows = []
    for c in range(conversations):
        for start in [now - 800 * DAY - c] + ([now - DAY - c] if c % 2 else []):
            for i in range(SESSION_EVENTS):
                kind = "session_started" if i == 1 else "user" if i % 3 == 0 else "action"
                data = json.dumps({"event": kind, "timestamp": start + i, "text": "x" * 60})
                rows.append((f"conversation-{c}", kind, start + i, data))
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE events (id INTEGER NOT NULL PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
            "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), "
            "data TEXT)"
        )
        db.execute("CREATE INDEX ix_events_sender_id ON events (sender_id)")
        db.executemany("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)", rows)
        db.execute("PRAGMA journal_mode=WAL")
    return len(rows)


def broker_table(path: Path, count: int, now: float) -> None:
    rows = [
        ("c", json.dumps({"event": "user", "timestamp": now - (60 - 60 * i / count) * DAY, "text": "y" * 60}))
        for i in range(count)
    ]
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE events (id INTEGER NOT NULL PRIMARY KEY, sender_id VARCHAR(255), data TEXT)")
        db.executemany("INSERT INTO events (sender_id, data) VALUES (?, ?)", rows)


def crm_database(settings: Settings, escalations: int, old: datetime) -> None:
    engine = make_engine(settings)
    Base.metadata.create_all(engine)
    with new_session(engine) as session:
        for i in range(escalations):
            body = demo.escalation_request(conversation_id=f"c{i}", started=old)
            row = Escalation(
                request_key=f"k{i}",
                conversation_id=f"c{i}",
                channel="rest",
                status="resolved",
                priority=body["priority"],
                reason_codes=body["reason_codes"],
                scores=body["scores"],
                packet=body["packet"],
                summary=body["summary"],
                suggested_action=body["suggested_action"],
                created_at=old,
                resolved_at=old,
                csat=4,
                verdict="justified",
            )
            session.add(row)
            session.flush()
            for _ in range(10):
                text = "I live at 12 High Street and it is the third time"
                session.add(EscalationMessage(escalation_id=row.id, sender="customer", text=text, created_at=old))
            topic, summary = "complaint", "the customer's words about a broken parcel"
            session.add(
                Ticket(reference=f"TK-{100000 + i}", channel="rest", topic=topic, summary=summary, created_at=old)
            )
        session.commit()
    engine.dispose()


def timed_deletes() -> list[float]:
    """Records how long each delete transaction of the purges takes."""
    durations: list[float] = []
    delete_ids = rasa_stores._delete_ids

    def timed(*args: Any, **kwargs: Any) -> int:
        start = time.perf_counter()
        try:
            return delete_ids(*args, **kwargs)
        finally:
            durations.append(time.perf_counter() - start)

    rasa_stores._delete_ids = timed
    return durations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=20000)
    parser.add_argument("--broker-rows", type=int, default=300000)
    parser.add_argument("--escalations", type=int, default=5000)
    args = parser.parse_args()
    now = time.time()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        events = tracker_store(tmp / "tracker.db", args.conversations, now)
        broker_table(tmp / "events.db", args.broker_rows, now)
        settings = Settings(
            database_url=f"sqlite:///{tmp / 'crm.db'}", env="development", rasa_tracker_url="", rasa_events_url=""
        )
        crm_database(settings, args.escalations, datetime.utcnow() - timedelta(days=800))
        durations = timed_deletes()
        print(f"tracker store: {events} events of {args.conversations} conversations; broker: {args.broker_rows} rows")
        for name, purge in (
            (
                "tracker purge",
                lambda: rasa_stores.purge_tracker(f"sqlite:///{tmp / 'tracker.db'}", cutoff=now - 730 * DAY),
            ),
            (
                "broker purge",
                lambda: rasa_stores.purge_broker(
                    f"sqlite:///{tmp / 'events.db'}", cutoff=now - 30 * DAY, position=args.broker_rows
                ),
            ),
        ):
            durations.clear()
            start = time.perf_counter()
            deleted = purge()
            elapsed = time.perf_counter() - start
            print(
                f"{name}: {deleted} rows deleted in {elapsed:.1f} s; {len(durations)} delete transactions, "
                f"median {statistics.median(durations) * 1000:.0f} ms, longest {max(durations) * 1000:.0f} ms"
            )
        engine = make_engine(settings)
        rows = args.escalations * 12
        for label in ("CRM tables, first run", "CRM tables, next run"):
            with new_session(engine) as session:
                start = time.perf_counter()
                counts = retention.run_retention(session=session, settings=settings)
                elapsed = time.perf_counter() - start
            changed = counts["escalation_messages"] + counts["escalations"] + counts["tickets"]
            print(f"{label}: {rows} rows read, {changed} changed in {elapsed:.1f} s")
        engine.dispose()


if __name__ == "__main__":
    main()
