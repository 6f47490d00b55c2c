"""A customer with something in every store, for the data-subject request tests: the CRM (orders, a recent and a
7-year-old invoice, a refund, a ticket, an escalation with its transcript, audit rows, a one-time code, a stored API
response, failed identity checks keyed by her e-mail), and her conversations in a Rasa tracker store and SQL
event-broker table (real SQLite files written by Rasa's own SQLTrackerStore and SQLEventBroker). Beside her: another
customer with the same kinds of records, and a stranger's conversation that failed to verify on her order. One of her
conversations raised an escalation and a ticket before she verified in it: they name no customer."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import URL, Engine, make_url

from crm_backend.db import (
    Address,
    Escalation,
    EscalationMessage,
    IdempotencyKey,
    OneTimeCode,
    Ticket,
    new_session,
)
from crm_backend.services import audit, verification
from crm_backend.settings import Settings
from tests.factories import make_customer, make_order, make_refund

ROOT = Path(__file__).resolve().parent.parent

EMAIL = "zelda.quarrington@example.com"
FIRST, LAST = "Zelda", "Quarrington"
PHONE = "07700900123"
POSTCODE = "KY16 9AJ"
STREET = "17 Larkspur Crescent"
MESSAGE = "the blue teapot arrived in pieces"
# none of these may be left anywhere after her erasure
NEEDLES = (EMAIL, FIRST, LAST, PHONE, POSTCODE, "Larkspur", "teapot")

OTHER_EMAIL = "otto.brightwater@example.com"
OTHER_STREET = "4 Heronsgate Row"
OTHER_MESSAGE = "my umbrella stand is late"

ZELDA_CONVERSATIONS = ("rest:zelda-ticket", "socketio-zelda-escalation", "rest:zelda-address", "telegram-5550001")
OTHER_CONVERSATIONS = ("rest:otto", "rest:stranger")


@dataclass
class World:
    customer_id: int
    other_id: int
    kept_order: str  # delivered, invoice 40 days old: kept, address blanked
    old_order: str  # invoice 7 years old: deleted
    other_order: str
    tracker_db: Path
    events_db: Path
    crm_db: Path
    conversations: tuple[str, ...] = field(default=ZELDA_CONVERSATIONS)


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path / 'crm.db'}",
        "api_key": "privacy-test-key",
        "env": "development",
        "relay_enabled": False,
        "rasa_tracker_url": f"sqlite:///{tmp_path / 'rasa_tracker.db'}",
        "rasa_events_url": f"sqlite:///{tmp_path / 'rasa_events.db'}",
        **overrides,
    }
    return Settings(**values)


def load_domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def _escalation(session, *, customer_id: int, conversation: str, name: str, email: str, text: str) -> Escalation:
    escalation = Escalation(
        conversation_id=conversation,
        customer_id=customer_id,
        channel="socketio",
        request_key=f"{conversation}:escalation:1",
        status="resolved",
        priority=60,
        reason_codes=["explicit_request"],
        scores={"churn_probability": 0.4},
        packet={
            "customer": {"name": name, "email": email, "verified": True},
            "transcript": [{"sender": "customer", "text": f"{text}, write to {email}", "sentiment": -0.6}],
        },
        summary=f"{name} says: {text}",
        suggested_action=f"Call {name} back",
        created_at=datetime.utcnow() - timedelta(days=3),
    )
    session.add(escalation)
    session.flush()
    session.add(EscalationMessage(escalation_id=escalation.id, sender="customer", text=f"{text} ({email})"))
    session.add(EscalationMessage(escalation_id=escalation.id, sender="agent", text=f"Sorry {name}, refund on its way"))
    return escalation


def build_crm(engine: Engine, settings: Settings) -> tuple[int, int, str, str, str]:
    with new_session(engine) as session:
        zelda = make_customer(session, first_name=FIRST, last_name=LAST, email=EMAIL, postcode=POSTCODE)
        zelda.phone = PHONE
        session.add(Address(customer_id=zelda.id, line1=STREET, city="St Andrews", postcode=POSTCODE))
        kept = make_order(session, zelda, status="delivered", placed_days_ago=40, total_pence=4200)
        kept.ship_line1 = STREET
        old = make_order(session, zelda, status="delivered", placed_days_ago=7 * 365 + 30, total_pence=1900)
        old.ship_line1 = STREET
        refund = make_refund(session, kept, amount_pence=1000)
        refund.reason = MESSAGE
        session.add(
            Ticket(
                reference="TK-700001",
                customer_id=zelda.id,
                order_id=kept.id,
                conversation_id=ZELDA_CONVERSATIONS[0],
                channel="rest",
                topic="complaint",
                summary=f"{FIRST} {LAST}: {MESSAGE}",
            )
        )
        _escalation(
            session,
            customer_id=zelda.id,
            conversation=ZELDA_CONVERSATIONS[1],
            name=f"{FIRST} {LAST}",
            email=EMAIL,
            text=MESSAGE,
        )
        # raised in her Telegram conversation before she verified there: the CRM holds no customer id for it
        unverified = _escalation(
            session,
            customer_id=zelda.id,
            conversation=ZELDA_CONVERSATIONS[3],
            name=f"{FIRST} {LAST}",
            email=EMAIL,
            text=MESSAGE,
        )
        unverified.customer_id = None
        session.add(
            Ticket(
                reference="TK-700002",
                customer_id=None,
                conversation_id=ZELDA_CONVERSATIONS[3],
                channel="telegram",
                topic="inquiry",
                summary=f"asks about {MESSAGE}",
            )
        )
        before = audit.order_snapshot(kept)
        audit.record(
            session=session,
            actor=f"bot:{ZELDA_CONVERSATIONS[2]}",
            action="order.address_change",
            entity="order",
            entity_id=kept.order_number,
            before=before,
            after={**before, "shipping_address": {"line1": STREET, "city": "St Andrews", "postcode": POSTCODE}},
        )
        audit.record(
            session=session,
            actor=f"bot:{ZELDA_CONVERSATIONS[3]}",
            action="identity_verified",
            entity="customer",
            entity_id=zelda.id,
            after={"strength": "email", "channel": "telegram"},
        )
        audit.record(
            session=session,
            actor=f"bot:{ZELDA_CONVERSATIONS[2]}",
            action="refund.create",
            entity="refund",
            entity_id=refund.reference,
            after={"order_number": kept.order_number, "amount_pence": 1000, "reason": MESSAGE},
        )
        session.add(
            OneTimeCode(
                customer_id=zelda.id,
                conversation_id=ZELDA_CONVERSATIONS[0],
                channel="rest",
                code_hash="0" * 64,
                expires_at=datetime.utcnow() + timedelta(minutes=10),
            )
        )
        session.add(
            IdempotencyKey(
                key="refund-1",
                scope=f"POST /api/v1/customers/{zelda.id}/orders/{kept.order_number}/refunds",
                request_hash="h",
                status_code=201,
                response_json={"reference": refund.reference, "note": f"for {FIRST} {LAST} at {STREET}"},
            )
        )
        # failed identity checks: one keyed by her e-mail, one by a stranger on her order (not her conversation)
        attempt = verification.Attempt.of(
            secret=settings.grant_secret,
            order_number=kept.order_number,
            email=EMAIL,
            postcode=None,
            conversation_id="rest:stranger",
            channel="rest",
            client_address=None,
        )
        for scope, key in (("proof", attempt.proof), ("order", kept.order_number)):
            audit.record(
                session=session, actor="bot:rest:stranger", action=verification.FAILED, entity=scope, entity_id=key
            )

        otto = make_customer(session, first_name="Otto", last_name="Brightwater", email=OTHER_EMAIL, postcode="EH1 1AA")
        session.add(Address(customer_id=otto.id, line1=OTHER_STREET, city="Edinburgh", postcode="EH1 1AA"))
        other = make_order(session, otto, status="delivered", placed_days_ago=20)
        other.ship_line1 = OTHER_STREET
        _escalation(
            session, customer_id=otto.id, conversation="rest:otto", name="Otto Brightwater", email=OTHER_EMAIL,
            text=OTHER_MESSAGE,
        )  # fmt: skip
        session.commit()
        return zelda.id, otto.id, kept.order_number, old.order_number, other.order_number


def rasa_stores(settings: Settings, domain: Domain) -> tuple[SQLTrackerStore, SQLEventBroker]:
    """Rasa's SQL tracker store and SQL event broker on the settings' URLs: SQLite files or PostgreSQL databases."""
    tracker, events = make_url(settings.rasa_tracker_url), make_url(settings.rasa_events_url)

    def where(url: URL) -> dict[str, Any]:
        if url.get_backend_name() == "sqlite":
            return {"dialect": "sqlite", "db": url.database}
        return {
            "dialect": "postgresql",
            "host": url.host,
            "port": url.port,
            "db": url.database,
            "username": url.username,
        }

    broker = SQLEventBroker(**where(events))
    return SQLTrackerStore(domain, event_broker=broker, **where(tracker)), broker


async def build_rasa_stores(settings: Settings, domain: Domain) -> None:
    """Her conversations, Otto's and the stranger's, saved by Rasa's SQLTrackerStore, streamed to its SQL broker."""
    store, broker = rasa_stores(settings, domain)
    said = {
        **{c: f"I'm {FIRST} {LAST}, {EMAIL}, {STREET} {POSTCODE}, tel {PHONE}: {MESSAGE}" for c in ZELDA_CONVERSATIONS},
        "rest:otto": f"Otto here, {OTHER_EMAIL}: {OTHER_MESSAGE}",
        "rest:stranger": "order 90001, postcode AB1 2CD",
    }
    for conversation, text in said.items():
        tracker = DialogueStateTracker.from_events(
            conversation,
            [
                ActionExecuted("action_listen"),
                UserUttered(text, {"name": "inform", "confidence": 1.0}),
                SlotSet("customer_name", text.split(",")[0]),
                BotUttered(f"Thanks, {text.split(',')[0]}"),
                ActionExecuted("action_listen"),
            ],
            domain.slots,
        )
        await store.save(tracker)
    store.engine.dispose()
    broker.engine.dispose()


def sqlite_rows(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute(f"SELECT * FROM {table}"))  # noqa: S608 - table names of the test's own files


def sqlite_text(path: Path) -> str:
    """Every cell of every table of a SQLite file, read with sqlite3 (no ORM, no decryption), as one text."""
    with sqlite3.connect(path) as conn:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        cells = [str(cell) for table in tables for row in conn.execute(f'SELECT * FROM "{table}"') for cell in row]
    return "\n".join(cells)


def file_bytes(path: Path) -> bytes:
    """The file and its write-ahead log as stored on disk (free pages included)."""
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
