"""Retention (crm_backend/services/retention.py): every store past its period, on real SQLite files; Rasa's own SQL
tracker store writes and reads the conversations; the dashboard, the CLI command and the app's schedule."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine

from crm_backend.app import create_app
from crm_backend.cli import main
from crm_backend.console import dashboard
from crm_backend.db import AuditLog, Base, Escalation, EscalationMessage, Ticket, make_engine, new_session
from crm_backend.db.support import RelayCursor
from crm_backend.relay.sql import cursor_source
from crm_backend.seeding import demo
from crm_backend.seeding.personas import ensure_personas
from crm_backend.services.retention import REMOVED, anonymised_packet, run_retention
from crm_backend.settings import Settings
from tests.console.conftest import login
from tests.databases import throwaway_postgres

NOW = datetime.utcnow()
DAY = 86400.0
DOMAIN = Domain.from_yaml(
    """
version: "3.1"
session_config:
  session_expiration_time: 60
  carry_over_slots_to_new_session: true
slots:
  customer_name:
    type: text
    influence_conversation: false
    mappings:
      - type: custom
responses:
  utter_greet:
    - text: "Hello!"
"""
)


def ago(days: float) -> float:
    """Epoch seconds ``days`` before NOW."""
    return (NOW - datetime(1970, 1, 1)).total_seconds() - days * DAY


# --- the stores, as the assistant writes them
def session_events(at: float, name: str | None, text: str) -> list[Event]:
    """A session as Rasa starts one (action_session_start, session_started, carried-over slot, listen), then a turn."""
    events: list[Event] = [
        ActionExecuted("action_session_start", timestamp=at),
        SessionStarted(timestamp=at + 0.001),
    ]
    if name is not None:
        events.append(SlotSet("customer_name", name, timestamp=at + 0.002))
    return events + [
        ActionExecuted("action_listen", timestamp=at + 0.003),
        UserUttered(text, {"name": "greet", "confidence": 0.9}, timestamp=at + 1),
        BotUttered("Hello!", timestamp=at + 2),
        ActionExecuted("action_listen", timestamp=at + 3),
    ]


async def save(store: SQLTrackerStore, sender: str, events: list[Event]) -> None:
    tracker = await store.retrieve(sender) or DialogueStateTracker(sender, DOMAIN.slots)
    for event in events:
        tracker.update(event)
    await store.save(tracker)


def tracker_rows(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT sender_id, count(*) FROM events GROUP BY sender_id")).all())
    finally:
        engine.dispose()


def loaded(tracker: DialogueStateTracker | None) -> list[dict[str, Any]] | None:
    return None if tracker is None else [e.as_dict() for e in tracker.events]


class Broker:
    """Rasa's SQL event-broker table: events(id, sender_id, data)."""

    def __init__(self, path: Path) -> None:
        self.path, self.url = path, f"sqlite:///{path}"
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE events (id INTEGER NOT NULL PRIMARY KEY, sender_id VARCHAR(255), data TEXT)")

    def add(self, at: float, text: str = "hello") -> int:
        data = json.dumps({"event": "user", "timestamp": at, "text": text})
        with sqlite3.connect(self.path) as db:
            return int(db.execute("INSERT INTO events (sender_id, data) VALUES ('c', ?)", (data,)).lastrowid)

    def ids(self) -> list[int]:
        with sqlite3.connect(self.path) as db:
            return [i for (i,) in db.execute("SELECT id FROM events ORDER BY id")]


# --- fixtures
@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'crm.db'}",
        env="development",
        relay_enabled=False,
        rasa_tracker_url=f"sqlite:///{tmp_path / 'tracker.db'}",
        rasa_events_url=f"sqlite:///{tmp_path / 'events.db'}",
        retention_transcript_days=730,
        retention_tracker_days=730,
        retention_events_days=30,
        retention_interval_hours=0,
    )


@pytest.fixture
def engine(settings: Settings) -> Engine:
    engine = make_engine(settings)
    Base.metadata.create_all(engine)
    with new_session(engine) as session:
        ensure_personas(session=session, today=NOW)
        demo.ensure_agent(session, "sue", "correct horse battery", "supervisor", "Sue Grant")
        session.commit()
    yield engine
    engine.dispose()


def escalation(engine: Engine, conversation: str, *, days_ago: float, closed: bool = True, **kw: Any) -> int:
    """An escalation shaped like the assistant's, raised ``days_ago`` and (when ``closed``) resolved an hour later,
    with a relayed customer message and an agent reply at the same time."""
    raised = NOW - timedelta(days=days_ago)
    with new_session(engine) as session:
        customer = demo.customer_by_email("alice.martin@example.com", session=session)
        body = demo.escalation_request(conversation_id=conversation, customer=customer, started=raised, **kw)
        row = demo.create(session, body, created_at=raised)
        for sender, text, sentiment in (("customer", "I live at 12 High Street", -0.6), ("agent", "Sorry!", None)):
            session.add(
                EscalationMessage(
                    escalation_id=row.id, sender=sender, text=text, sentiment=sentiment, created_at=raised
                )
            )
        if closed:
            row.status, row.verdict, row.csat = "resolved", "justified", 4
            row.resolved_at = raised + timedelta(hours=1)
        session.commit()
        return int(row.id)


def ticket(engine: Engine, reference: str, *, days_ago: float) -> int:
    with new_session(engine) as session:
        row = Ticket(
            reference=reference,
            channel="rest",
            topic="complaint",
            summary="My name is Alice Martin and the parcel was broken",
            created_at=NOW - timedelta(days=days_ago),
        )
        session.add(row)
        session.commit()
        return int(row.id)


def snapshot(engine: Engine) -> dict[str, Any]:
    with new_session(engine) as session:
        return {
            "messages": [(m.id, m.sender, m.text, m.sentiment, m.created_at) for m in session.query(EscalationMessage)],
            "escalations": [(e.id, e.summary, e.packet, e.csat, e.verdict) for e in session.query(Escalation)],
            "tickets": [(t.id, t.summary) for t in session.query(Ticket)],
        }


# --- the CRM's tables
def test_transcripts_past_the_period_are_removed_and_the_statistics_kept(engine: Engine, settings: Settings):
    old = escalation(engine, "conv-old", days_ago=800)
    recent = escalation(engine, "conv-recent", days_ago=100)
    still_open = escalation(engine, "conv-open", days_ago=800, closed=False)
    old_ticket, new_ticket = ticket(engine, "TK-100001", days_ago=731), ticket(engine, "TK-100002", days_ago=729)
    before = snapshot(engine)
    with new_session(engine) as session:
        counts = run_retention(session=session, settings=settings, now=NOW)
    assert counts == {
        "escalation_messages": 4,  # two of conv-old, two of conv-open (messages go by their own age)
        "escalations": 1,
        "tickets": 1,
        "tracker_events": 0,
        "broker_events": 0,
        "one_time_codes": 0,
        "idempotency_keys": 0,
        "login_attempts": 0,
        "failed_identity_checks": 0,
        "access_log": 0,
    }
    with new_session(engine) as session:
        messages = {(m.escalation_id, m.sender): m for m in session.query(EscalationMessage)}
        for escalation_id in (old, still_open):
            assert messages[escalation_id, "customer"].text == REMOVED
            assert messages[escalation_id, "customer"].sentiment == -0.6  # kept for the statistics
            assert messages[escalation_id, "agent"].text == REMOVED
        assert messages[recent, "customer"].text == "I live at 12 High Street"

        e = session.get(Escalation, old)
        assert e.summary == REMOVED and e.verdict == "justified" and e.csat == 4 and e.priority == 85
        assert e.reason_codes == ["strong_negative", "negative_trend"] and e.scores["churn_probability"] == 0.22
        dumped = json.dumps(e.packet)
        for personal in ("Alice", "money back", "10002", "/customers/", "Very upset"):
            assert personal not in dumped, personal
        assert e.packet["customer"]["verified"] is True and "customer_id" not in e.packet["customer"]
        lines = e.packet["transcript"]
        assert lines and {line["text"] for line in lines} == {REMOVED}
        assert [line.get("sentiment") for line in lines] == [
            line.get("sentiment")
            for line in next(p for i, _s, p, *_ in before["escalations"] if i == old)["transcript"]
        ]
        assert e.packet["decision"]["reasons"] == ["strong_negative", "negative_trend"]
        assert e.packet["churn"]["probability"] == 0.22 and "retention" in e.packet

        for untouched in (recent, still_open):  # closed within the period, or not closed at all
            row = session.get(Escalation, untouched)
            assert row.summary != REMOVED and "retention" not in row.packet
        tickets = {t.id: t.summary for t in session.query(Ticket)}
        assert tickets[old_ticket] == REMOVED and tickets[new_ticket].startswith("My name is Alice")
        assert session.execute(select(func.count()).where(AuditLog.action == "retention.run")).scalar_one() == 1

    after = snapshot(engine)
    with new_session(engine) as session:  # a second run (another CRM process, the next day) changes nothing
        assert set(run_retention(session=session, settings=settings, now=NOW + timedelta(days=1)).values()) == {0}
    assert snapshot(engine) == after


def test_two_runs_at_once_change_what_one_run_changes(engine: Engine, settings: Settings, tmp_path: Path):
    for n in range(6):
        escalation(engine, f"conv-{n}", days_ago=800)
        ticket(engine, f"TK-10000{n}", days_ago=800)
    broker = Broker(tmp_path / "events.db")
    for _ in range(30):
        broker.add(ago(40))
    with new_session(engine) as session:
        session.add(RelayCursor(source=cursor_source(broker.url), position=30))
        session.commit()
    results: list[dict[str, int]] = []

    def run() -> None:  # as two CRM processes would: each its own session, small batches to interleave them
        with new_session(engine) as session:
            results.append(run_retention(session=session, settings=settings, now=NOW, batch_size=4))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 2, "a run failed"
    with new_session(engine) as session:
        assert {m.text for m in session.query(EscalationMessage)} == {REMOVED}
        assert {e.summary for e in session.query(Escalation)} == {REMOVED}
        assert all("retention" in e.packet and "name" not in e.packet["customer"] for e in session.query(Escalation))
        assert {t.summary for t in session.query(Ticket) if t.reference.startswith("TK-10000")} == {REMOVED}
    assert broker.ids() == []
    for store, expected in {"escalation_messages": 12, "escalations": 6, "broker_events": 30}.items():
        assert expected <= sum(r[store] for r in results) <= 2 * expected, store
    with new_session(engine) as session:
        assert set(run_retention(session=session, settings=settings, now=NOW).values()) == {0}


def test_a_dry_run_counts_and_changes_nothing(engine: Engine, settings: Settings, tmp_path: Path):
    escalation(engine, "conv-old", days_ago=800)
    ticket(engine, "TK-100001", days_ago=800)
    broker = Broker(tmp_path / "events.db")
    broker.add(ago(40))
    with new_session(engine) as session:
        session.add(RelayCursor(source=cursor_source(broker.url), position=1))
        session.commit()
    before, broker_before = snapshot(engine), broker.ids()
    with new_session(engine) as session:
        counts = run_retention(session=session, settings=settings, now=NOW, dry_run=True)
    assert counts == {
        "escalation_messages": 2,
        "escalations": 1,
        "tickets": 1,
        "tracker_events": 0,
        "broker_events": 1,
        "one_time_codes": 0,
        "idempotency_keys": 0,
        "login_attempts": 0,
        "failed_identity_checks": 0,
        "access_log": 0,
    }
    assert snapshot(engine) == before and broker.ids() == broker_before
    with new_session(engine) as session:
        assert session.execute(select(func.count()).where(AuditLog.action == "retention.run")).scalar_one() == 0


def test_anonymised_packet_keeps_only_what_names_nobody():
    packet = demo.escalation_request(conversation_id="c", customer=None)["packet"]
    packet["decision"]["triggers"] = [{"reason": "safety_issue", "kind": "fire", "phrase": "my charger caught fire"}]
    packet["customer"].update(name="Alice", claimed_customer_id=7, language="fr")
    kept = anonymised_packet(packet, removed_at=NOW)
    assert kept["decision"]["triggers"] == [{"reason": "safety_issue", "kind": "fire"}]
    assert kept["customer"] == {
        "verified": False,
        "verified_by": None,
        "segment": None,
        "language": "fr",
        "identity_locked": False,
        "failed_verifications": 0,
    }
    assert set(kept) == {"task", "churn", "value", "escalated_at", "customer", "decision", "transcript", "retention"}
    assert "summary" not in kept["decision"] and "caught fire" not in json.dumps(kept)


# --- the tracker store, written and read by Rasa's own SQLTrackerStore
@pytest.fixture(params=["sqlite", "postgresql"])
def tracker_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, Callable[[], SQLTrackerStore]]]:
    """(URL, a factory of Rasa SQL tracker stores on it): a SQLite file, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "tracker.db"
        yield f"sqlite:///{path}", lambda: SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(path))
        return
    with throwaway_postgres("retention") as (url,):
        stores: list[SQLTrackerStore] = []

        def make() -> SQLTrackerStore:
            name = url.rsplit("/", 1)[1]
            stores.append(
                SQLTrackerStore(DOMAIN, dialect="postgresql", host="127.0.0.1", port=5432, db=name, username="postgres")
            )
            return stores[-1]

        yield url, make
        for store in stores:
            store.engine.dispose()


async def test_tracker_events_past_the_period_are_deleted_and_conversations_still_load(
    engine: Engine, settings: Settings, tracker_store: tuple[str, Callable[[], SQLTrackerStore]]
):
    url, make_store = tracker_store
    settings = settings.copy(update={"rasa_tracker_url": url})
    store = make_store()
    await save(store, "gone", session_events(ago(800), None, "my e-mail is ann@example.com"))
    await save(store, "two-sessions", session_events(ago(800), "Ann", "hi, I'm Ann"))
    await save(store, "two-sessions", session_events(ago(1), "Ann", "back again"))  # carried the slot over
    await save(store, "one-long-session", session_events(ago(800), "Bo", "still here"))
    await save(store, "one-long-session", [UserUttered("and today", timestamp=ago(1))])
    await save(store, "recent", session_events(ago(10), "Cy", "hello"))
    rows = tracker_rows(url)
    current = {sender: loaded(await store.retrieve(sender)) for sender in rows}

    with new_session(engine) as session:
        counts = run_retention(session=session, settings=settings, now=NOW)
    first_session = len(session_events(ago(800), "Ann", ""))
    # and of the long session its action_session_start, which precedes session_started: Rasa loads neither
    assert counts["tracker_events"] == rows["gone"] + first_session + 1
    after = tracker_rows(url)
    assert "gone" not in after and await store.retrieve("gone") is None
    assert after["two-sessions"] == rows["two-sessions"] - first_session
    assert after["one-long-session"] == rows["one-long-session"] - 1  # Rasa needs its whole current session
    assert after["recent"] == rows["recent"]

    store = make_store()  # a Rasa server started after the purge
    for sender in ("two-sessions", "one-long-session", "recent"):
        assert loaded(await store.retrieve(sender)) == current[sender], sender
    tracker = await store.retrieve("two-sessions")
    assert tracker is not None and tracker.get_slot("customer_name") == "Ann"
    full = await store.retrieve_full_tracker("two-sessions")
    assert full is not None and not any(e.timestamp < ago(730) for e in full.events)
    await save(store, "two-sessions", [UserUttered("one more thing", timestamp=ago(0))])  # the next turn
    tracker = await store.retrieve("two-sessions")
    assert tracker is not None and tracker.latest_message.text == "one more thing"
    assert len(tracker.events) == len(current["two-sessions"] or []) + 1

    with new_session(engine) as session:
        assert run_retention(session=session, settings=settings, now=NOW)["tracker_events"] == 0


# --- the event-broker table
def test_broker_rows_past_the_period_go_only_once_the_relay_has_read_them(
    engine: Engine, settings: Settings, tmp_path: Path
):
    broker = Broker(tmp_path / "events.db")
    ids = [broker.add(ago(40)) for _ in range(4)] + [broker.add(ago(1)) for _ in range(2)]

    def run() -> int:
        with new_session(engine) as session:
            return run_retention(session=session, settings=settings, now=NOW, batch_size=2)["broker_events"]

    def cursor(position: int) -> None:
        with new_session(engine) as session:
            session.merge(RelayCursor(source=cursor_source(broker.url), position=position))
            session.commit()

    assert run() == 0 and broker.ids() == ids  # the relay has read nothing yet
    cursor(3)
    assert run() == 3 and broker.ids() == ids[3:]  # the 4th is old but unread
    cursor(6)
    assert run() == 1 and broker.ids() == ids[4:]  # the last two are within the period
    assert run() == 0


def test_no_stores_no_tables_and_rabbitmq_are_skipped(engine: Engine, settings: Settings, tmp_path: Path):
    sqlite3.connect(tmp_path / "tracker.db").close()  # a file without Rasa's table
    for update in (
        {},
        {"rasa_tracker_url": "", "rasa_events_url": ""},
        {"rasa_events_url": "amqp://guest:guest@127.0.0.1:5672/"},
    ):
        with new_session(engine) as session:
            counts = run_retention(session=session, settings=settings.copy(update=update), now=NOW)
        assert counts["tracker_events"] == 0 and counts["broker_events"] == 0
    assert not (tmp_path / "events.db").exists()  # never created by a purge


# --- what reads the retained rows
def test_the_dashboard_renders_the_same_figures_after_the_transcripts_are_removed(engine: Engine, settings: Settings):
    for n in range(3):
        escalation(engine, f"conv-{n}", days_ago=1)
    today = NOW.date()
    with new_session(engine) as session:
        before = dashboard.summary(session, events_url="", today=today)
    assert before.escalations == 3 and before.csat_average == 4 and before.sentiment_by_day
    later = settings.copy(update={"retention_transcript_days": 0})
    with new_session(engine) as session:
        assert run_retention(session=session, settings=later, now=NOW + timedelta(hours=2))["escalations"] == 3
    with new_session(engine) as session:
        after = dashboard.summary(session, events_url="", today=today)
        assert {e.summary for e in session.query(Escalation)} == {REMOVED}
    assert after == before
    with TestClient(create_app(settings)) as client:
        login(client, "sue")
        page = client.get("/console/dashboard")
        assert page.status_code == 200
        assert '<span class="big">3</span><span>escalations</span>' in page.text and "(3 answers)" in page.text
        escalation_page = client.get("/console/escalations/1")
        assert escalation_page.status_code == 200 and "I want my money back" not in escalation_page.text


# --- the command and the schedule
def test_crm_retention_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'cli.db'}",
        env="development",
        rasa_tracker_url="",
        rasa_events_url="",
        retention_interval_hours=0,
    )
    assert main(["init"], settings=settings) == 0
    engine = make_engine(settings)
    try:
        ticket(engine, "TK-100001", days_ago=800)
        ticket(engine, "TK-100002", days_ago=1)
        capsys.readouterr()
        assert main(["retention", "--dry-run"], settings=settings) == 0
        assert "retention would change: escalation_messages=0, escalations=0, tickets=1" in capsys.readouterr().out
        assert snapshot(engine)["tickets"][0][1] != REMOVED
        assert main(["retention"], settings=settings) == 0
        assert "retention changed: escalation_messages=0, escalations=0, tickets=1" in capsys.readouterr().out
        assert [summary == REMOVED for _id, summary in snapshot(engine)["tickets"]] == [True, False]
        assert main(["retention"], settings=settings) == 0
        assert "tickets=0" in capsys.readouterr().out
    finally:
        engine.dispose()


def test_the_app_runs_retention_on_its_schedule(engine: Engine, settings: Settings):
    ticket(engine, "TK-100001", days_ago=800)
    off = create_app(settings)
    with TestClient(off):
        assert off.state.retention is None  # retention_interval_hours=0: only `crm retention`
    app = create_app(settings.copy(update={"retention_interval_hours": 1 / 3600}))  # every second
    with TestClient(app):
        assert app.state.retention is not None
        deadline = time.monotonic() + 15
        runs = 0
        while time.monotonic() < deadline and runs < 2:
            time.sleep(0.2)
            with new_session(engine) as session:
                runs = session.execute(select(func.count()).where(AuditLog.action == "retention.run")).scalar_one()
        assert runs >= 2, "the schedule did not run twice within 15 s"
    assert app.state.retention is not None and app.state.retention._thread is None  # stopped with the app
    with new_session(engine) as session:
        assert session.execute(select(Ticket).where(Ticket.reference == "TK-100001")).scalar_one().summary == REMOVED


def test_the_test_suite_starts_no_retention_job_unasked(tmp_path: Path):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", env="development", relay_enabled=False))
    assert app.state.settings.retention_interval_hours == 0  # tests/conftest.py sets CRM_RETENTION_INTERVAL_HOURS=0


def test_operational_rows_and_the_read_audit_go_after_their_periods_and_not_within_any_limit(
    engine: Engine, settings: Settings
):
    from crm_backend.db import AccessLog, Customer, IdempotencyKey, LoginAttempt, OneTimeCode

    old, recent = NOW - timedelta(days=31), NOW - timedelta(hours=2)
    with new_session(engine) as session:
        customer_id = session.execute(select(Customer.id)).scalars().first()

        def code(created: datetime, expires: datetime) -> OneTimeCode:
            return OneTimeCode(
                customer_id=customer_id,
                conversation_id="c",
                channel="rest",
                code_hash="h",
                created_at=created,
                expires_at=expires,
            )

        session.add_all(
            [
                code(old, old + timedelta(minutes=10)),  # spent long ago: goes
                code(old, NOW + timedelta(minutes=5)),  # still valid, however old: stays
                code(recent, recent + timedelta(minutes=10)),  # within the period: stays
                IdempotencyKey(key="k1", scope="s", request_hash="x", status_code=200, created_at=old),
                IdempotencyKey(key="k2", scope="s", request_hash="x", status_code=200, created_at=recent),
                LoginAttempt(username="sue", client="203.0.113.9", at=old),
                LoginAttempt(username="sue", client="203.0.113.9", at=recent),
                AuditLog(
                    at=old, actor="bot:c", action="identity_verify_failed", entity="client", entity_id="203.0.113.9"
                ),
                AuditLog(at=recent, actor="bot:c", action="identity_verify_failed", entity="order", entity_id="10001"),
                AuditLog(at=old, actor="crm", action="security_alert", entity="verification", entity_id="budget"),
                AccessLog(at=NOW - timedelta(days=731), actor="agent:sue", purpose="escalation:1", resource="page"),
                AccessLog(at=old, actor="agent:sue", purpose="escalation:1", resource="page"),
            ]
        )
        session.commit()
    expected = {
        "one_time_codes": 1,
        "idempotency_keys": 1,
        "login_attempts": 1,
        "failed_identity_checks": 1,
        "access_log": 1,
    }
    with new_session(engine) as session:
        dry = run_retention(session=session, settings=settings, now=NOW, dry_run=True)
    assert {k: dry[k] for k in expected} == expected
    with new_session(engine) as session:
        counts = run_retention(session=session, settings=settings, now=NOW, batch_size=1)
    assert {k: counts[k] for k in expected} == expected
    with new_session(engine) as session:
        assert sorted(c.expires_at > NOW or c.created_at == recent for c in session.query(OneTimeCode)) == [True, True]
        assert [k.key for k in session.query(IdempotencyKey)] == ["k2"]
        assert [a.at for a in session.query(LoginAttempt)] == [recent]
        kept = {(a.action, a.at) for a in session.query(AuditLog).where(AuditLog.action != "retention.run")}
        assert ("identity_verify_failed", recent) in kept and ("security_alert", old) in kept
        assert ("identity_verify_failed", old) not in kept
        assert [a.at for a in session.query(AccessLog)] == [old]
    with new_session(engine) as session:  # a limit's window outlasts a shorter period: its rows are kept
        short = settings.copy(update={"retention_operational_days": 0})
        assert run_retention(session=session, settings=short, now=NOW)["failed_identity_checks"] == 0
