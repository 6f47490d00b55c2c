"""The tracker store saves a turn in one pass: the new events are stored once and exactly those are streamed, in
order, without re-reading the conversation; what it stores is Rasa's own table, readable by Rasa's own store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from components.sqlite_stores import SQLiteTunedTrackerStore

ROOT = Path(__file__).resolve().parent.parent


class Collecting(EventBroker):
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, event: dict[str, Any]) -> None:
        self.published.append(event)

    def is_ready(self) -> bool:
        return True


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


async def test_a_turn_is_stored_once_and_streamed_without_rereading(tmp_path, domain, monkeypatch):
    broker = Collecting()
    store = SQLiteTunedTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "tracker.db"), event_broker=broker)

    async def no_reread(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("save re-read the conversation")

    tracker = DialogueStateTracker.from_events(
        "conv-1",
        [ActionExecuted("action_listen"), UserUttered("where is my order 10002?", {"name": "order_status"})],
        domain.slots,
    )
    monkeypatch.setattr(store, "retrieve", no_reread)
    monkeypatch.setattr(store, "retrieve_full_tracker", no_reread)
    await store.save(tracker)
    first = [e["event"] for e in broker.published]
    assert first == ["action", "user"] and {e["sender_id"] for e in broker.published} == {"conv-1"}

    tracker.update(SlotSet("customer_name", "Alice"))
    tracker.update(BotUttered("Which e-mail address is on the order?"))
    tracker.update(ActionExecuted("action_listen"))
    await store.save(tracker)
    assert [e["event"] for e in broker.published[2:]] == ["slot", "bot", "action"]  # only the new ones, in order
    await store.save(tracker)  # nothing new: nothing stored or streamed twice
    assert len(broker.published) == 5

    monkeypatch.undo()
    stock = SQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "tracker.db"))  # Rasa's own reads it back
    restored = await stock.retrieve("conv-1")
    assert restored is not None
    assert [e.as_dict() for e in restored.events] == [e.as_dict() for e in tracker.events]
    assert restored.get_slot("customer_name") == "Alice"
    with stock.session_scope() as session:
        rows = session.query(stock.SQLEvent).order_by(stock.SQLEvent.id).all()
        assert [(r.type_name, r.intent_name, r.action_name) for r in rows] == [
            ("action", None, "action_listen"),
            ("user", "order_status", None),
            ("slot", None, "customer_name"),
            ("bot", None, None),
            ("action", None, "action_listen"),
        ]


async def test_a_loaded_tracker_is_saved_without_counting(tmp_path, domain, monkeypatch):
    broker = Collecting()
    store = SQLiteTunedTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "tracker.db"), event_broker=broker)
    first = DialogueStateTracker.from_events("conv-2", [ActionExecuted("action_listen")], domain.slots)
    await store.save(first)  # a new tracker: counted as Rasa does

    def no_count(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("saving a loaded tracker counted the stored events")

    monkeypatch.setattr(store, "_additional_events", no_count)
    for text in ("hello", "where is my order?"):
        tracker = await store.retrieve("conv-2")
        assert tracker is not None
        tracker.update(UserUttered(text, {"name": "greet"}))
        tracker.update(BotUttered(f"re: {text}"))
        await store.save(tracker)
        tracker.update(ActionExecuted("action_listen"))
        await store.save(tracker)  # saved twice in one turn: the second save adds only what came after the first
    assert [e["event"] for e in broker.published] == ["action"] + ["user", "bot", "action"] * 2
    restored = await store.retrieve("conv-2")
    assert restored is not None
    assert [e.as_dict() for e in restored.events] == [e.as_dict() for e in tracker.events]


async def test_loading_reads_what_rasa_reads_latest_session_or_all(tmp_path, domain):
    store = SQLiteTunedTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    stock = SQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "tracker.db"))
    assert await store.retrieve("nobody") is None and await store.retrieve_full_tracker("nobody") is None
    events = [ActionExecuted("action_listen", timestamp=1.0), UserUttered("hi", {"name": "greet"}, timestamp=2.0)]
    for start in (10.0, 20.0):  # two later sessions, each opened by its SessionStarted
        events += [
            ActionExecuted("action_session_start", timestamp=start),
            SessionStarted(timestamp=start),
            SlotSet("customer_name", f"Alice {start:g}", timestamp=start + 1),
            ActionExecuted("action_listen", timestamp=start + 1),
            UserUttered(f"order {start:g}", {"name": "order_status"}, timestamp=start + 2),
        ]
    await store.save(DialogueStateTracker.from_events("conv-3", events, domain.slots))
    await store.save(DialogueStateTracker.from_events("conv-4", events[:2], domain.slots))  # another conversation

    latest, ours_all = await store.retrieve("conv-3"), await store.retrieve_full_tracker("conv-3")
    theirs, theirs_all = await stock.retrieve("conv-3"), await stock.retrieve_full_tracker("conv-3")
    assert latest is not None and theirs is not None and ours_all is not None and theirs_all is not None
    assert [e.as_dict() for e in latest.events] == [e.as_dict() for e in theirs.events]
    assert (
        [e.as_dict() for e in ours_all.events]
        == [e.as_dict() for e in theirs_all.events]
        == [e.as_dict() for e in events]
    )
    assert len(latest.events) == 5 and latest.get_slot("customer_name") == "Alice 20"
    other = await store.retrieve("conv-4")
    assert other is not None and [e.as_dict() for e in other.events] == [e.as_dict() for e in events[:2]]


def test_the_batching_broker_writes_every_event_masked_once_and_in_order(tmp_path):
    import asyncio
    import json
    import sqlite3
    import time

    from components.sqlite_stores import BatchingSQLEventBroker

    broker = BatchingSQLEventBroker(dialect="sqlite", db=str(tmp_path / "events.db"))
    sent = [
        {"sender_id": f"c{i % 3}", "event": "user", "text": f"message {i}: mail me at bob{i}@example.com"}
        for i in range(250)
    ]
    for i, event in enumerate(sent):
        broker.publish(event)
        if i % 50 == 0:
            time.sleep(0.06)  # let the writer flush part of it, so several batches are written
    asyncio.run(broker.close())
    rows = sqlite3.connect(tmp_path / "events.db").execute("SELECT sender_id, data FROM events ORDER BY id").fetchall()
    assert [(s, json.loads(d)["text"]) for s, d in rows] == [
        (e["sender_id"], e["text"].replace(f"bob{i}@example.com", "[email]")) for i, e in enumerate(sent)
    ]
