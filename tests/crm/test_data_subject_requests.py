"""Data-subject requests (crm_backend/services/privacy.py, the ``crm`` commands): the export holds the customer's data
from every store, and erasure leaves none of it in any store, checked store by store through the ORM, with sqlite3 on
each file and in the files' bytes, while the invoices the law keeps stay and other customers are untouched."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine

from crm_backend.cli import main
from crm_backend.db import (
    AccessLog,
    Address,
    AuditLog,
    Customer,
    DataRequest,
    Escalation,
    IdempotencyKey,
    Invoice,
    OneTimeCode,
    Order,
    Refund,
    Ticket,
    make_engine,
    new_session,
)
from crm_backend.errors import DomainError
from crm_backend.migrate import upgrade_head
from crm_backend.services import customer_records, data_requests, erasure, privacy
from crm_backend.services.customers import find_by_email
from crm_backend.settings import Settings
from tests.databases import throwaway_postgres
from tests.factories import make_customer, make_order, make_refund
from tests.privacy_world import (
    EMAIL,
    MESSAGE,
    NEEDLES,
    OTHER_EMAIL,
    OTHER_MESSAGE,
    OTHER_STREET,
    STREET,
    ZELDA_CONVERSATIONS,
    World,
    build_crm,
    build_rasa_stores,
    file_bytes,
    load_domain,
    settings_for,
    sqlite_rows,
    sqlite_text,
)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return load_domain()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """The schema as Alembic builds it (the ``crm`` commands migrate the database they open)."""
    upgrade_head(settings)
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
async def world(tmp_path: Path, settings: Settings, engine: Engine, domain: Domain) -> World:
    ids = build_crm(engine, settings)
    await build_rasa_stores(settings, domain)
    return World(*ids, tmp_path / "rasa_tracker.db", tmp_path / "rasa_events.db", tmp_path / "crm.db")


@pytest.fixture
def session_of(engine: Engine) -> Iterator:
    sessions = []

    def build():
        session = new_session(engine)
        sessions.append(session)
        return session

    yield build
    for s in sessions:
        s.close()


def _erase(world: World, engine: Engine, settings: Settings) -> dict:
    with new_session(engine) as session:
        request, _ = data_requests.create_request(
            session=session, customer_id=world.customer_id, kind="erase", source="console", requested_by="agent:sue"
        )
        return privacy.carry_out(request, session=session, settings=settings, by="agent:sue", resource="test")


# ----------------------------------------------------------------------------- export
def test_the_export_holds_her_data_from_every_store_and_nobody_elses(world, engine, settings):
    with new_session(engine) as session:
        export = privacy.export_customer(world.customer_id, session=session, settings=settings)
    crm = export["crm"]
    assert crm["customers"][0]["email"] == EMAIL and crm["customers"][0]["phone"] == "07700900123"
    assert [a["line1"] for a in crm["addresses"]] == [STREET]
    assert sorted(o["order_number"] for o in crm["orders"]) == sorted([world.kept_order, world.old_order])
    assert len(crm["invoices"]) == 2 and len(crm["order_items"]) == 2 and len(crm["payments"]) == 2
    assert [r["reason"] for r in crm["refunds"]] == [MESSAGE]
    assert [t["reference"] for t in crm["tickets"]] == ["TK-700001", "TK-700002"]  # the second names no customer
    assert all(MESSAGE in t["summary"] for t in crm["tickets"])
    assert [e["customer_id"] for e in crm["escalations"]] == [world.customer_id, None]
    assert all(MESSAGE in e["packet"]["transcript"][0]["text"] for e in crm["escalations"])
    assert [m["sender"] for m in crm["escalation_messages"]] == ["customer", "agent"] * 2
    assert {a["action"] for a in crm["audit_log"]} >= {"order.address_change", "identity_verified", "refund.create"}
    assert crm["one_time_codes"] and "code_hash" not in crm["one_time_codes"][0]
    assert sorted(export["conversations"]) == sorted(ZELDA_CONVERSATIONS)  # not the stranger's failed check

    for store in ("tracker_store", "event_broker"):
        events = export[store]["events"]
        assert export[store]["status"] == "ok"
        assert {e["sender_id"] for e in events} == set(ZELDA_CONVERSATIONS)
        texts = [e["data"].get("text") for e in events if e["data"].get("event") == "user"]
        assert len(texts) == 4 and all(EMAIL in t and MESSAGE in t for t in texts)
        assert export["manifest"][store] == {**{k: v for k, v in export[store].items() if k != "events"}, "events": 20}
    assert export["manifest"]["crm"]["orders"] == 2 and export["manifest"]["conversations"] == 4

    text = json.dumps(export)
    assert OTHER_EMAIL not in text and OTHER_MESSAGE not in text and OTHER_STREET not in text
    assert "AB1 2CD" not in text  # the stranger's conversation


def test_an_export_request_is_completed_audited_and_recorded_as_a_read(world, engine, settings):
    with new_session(engine) as session:
        request, _ = data_requests.create_request(
            session=session, customer_id=world.customer_id, kind="export", source="assistant", requested_by="bot:x"
        )
        reference = request.reference
        export = privacy.carry_out(request, session=session, settings=settings, by="agent:sue", resource="test")
        assert export["customer_id"] == world.customer_id
    with new_session(engine) as session:
        done = data_requests.get_request(reference, session=session)
        assert (done.status, done.completed_by) == ("done", "agent:sue")
        assert done.result["tracker_store"]["events"] == 20 and done.result["crm"]["customers"] == 1
        actions = session.execute(
            select(AuditLog.action, AuditLog.actor).where(AuditLog.entity_id == reference).order_by(AuditLog.id)
        ).all()
        assert actions == [("data_request.export.create", "bot:x"), ("data_request.export.done", "agent:sue")]
        reads = session.execute(select(AccessLog).where(AccessLog.purpose == f"dsr:{reference}")).scalars().all()
        assert [(r.actor, r.customer_id) for r in reads] == [("agent:sue", world.customer_id)]
        with pytest.raises(DomainError) as closed:
            privacy.carry_out(done, session=session, settings=settings, by="agent:sue", resource="test")
        assert closed.value.code == "data_request_closed"


def test_with_a_message_queue_the_stream_is_said_to_be_unsearchable(world, engine, tmp_path):
    settings = settings_for(tmp_path, rasa_events_url="amqp://guest:secret@127.0.0.1:5672/%2F", rasa_tracker_url="")
    with new_session(engine) as session:
        export = privacy.export_customer(world.customer_id, session=session, settings=settings)
    assert export["event_broker"]["status"] == "not_searchable" and export["event_broker"]["events"] == []
    assert "message queue" in export["event_broker"]["note"] and "secret" not in export["event_broker"]["url"]
    assert export["tracker_store"]["status"] == "not_configured"


# ----------------------------------------------------------------------------- erasure
async def test_erasure_leaves_nothing_of_her_in_any_store_but_the_invoices(world, engine, settings, session_of):
    result = _erase(world, engine, settings)
    assert result["conversations"] == 4
    assert result["tracker_store"]["events_deleted"] == 20 and result["event_broker"]["events_deleted"] == 20
    assert result["crm"]["invoices_kept"] == 1 and result["crm"]["changes"]["orders_deleted"] == 1

    # CRM, through the ORM (decrypted where the columns are encrypted)
    session = session_of()
    customer = session.get(Customer, world.customer_id)
    assert (customer.first_name, customer.last_name, customer.phone, customer.postcode) == ("[erased]",) * 2 + (
        None,
        "",
    )
    assert customer.email.endswith("@erased.invalid") and find_by_email(EMAIL, session=session) is None
    assert session.execute(select(Address).where(Address.customer_id == world.customer_id)).first() is None
    assert session.execute(select(OneTimeCode).where(OneTimeCode.customer_id == world.customer_id)).first() is None
    kept = session.execute(select(Order).where(Order.order_number == world.kept_order)).scalar_one()
    assert (kept.ship_line1, kept.ship_line2, kept.ship_city, kept.ship_postcode) == ("[erased]", None, "[erased]", "")
    assert (kept.total_pence, kept.invoice.amount_pence, kept.payment.amount_pence) == (4200, 4200, 4200)
    assert kept.invoice.invoice_number == f"INV-{world.kept_order}" and [r.reason for r in kept.refunds] == ["[erased]"]
    assert session.execute(select(Order).where(Order.order_number == world.old_order)).first() is None
    assert session.execute(select(Invoice).where(Invoice.invoice_number == f"INV-{world.old_order}")).first() is None
    ticket = session.execute(select(Ticket).where(Ticket.reference == "TK-700001")).scalar_one()
    assert ticket.summary == "[erased]" and ticket.conversation_id == customer_records.pseudonym(ZELDA_CONVERSATIONS[0])
    unverified = session.execute(select(Ticket).where(Ticket.reference == "TK-700002")).scalar_one()
    assert unverified.summary == "[erased]"
    escalations = session.execute(select(Escalation).where(Escalation.conversation_id.like("erased:%"))).scalars()
    escalations = list(escalations)
    assert [e.customer_id for e in escalations] == [world.customer_id, None]
    for escalation in escalations:
        assert (escalation.packet, escalation.summary, escalation.suggested_action) == (
            {"erased": True},
            "[erased]",
            "[erased]",
        )
        assert [m.text for m in escalation.messages] == ["[erased]", "[erased]"] and escalation.request_key is None
    orm_text = json.dumps(
        [[a.actor, a.action, a.before, a.after] for a in session.execute(select(AuditLog)).scalars()]
        + [[i.scope, i.response_json] for i in session.execute(select(IdempotencyKey)).scalars()]
        + [[r.reason] for r in session.execute(select(Refund)).scalars()],
        default=str,
    )
    for needle in (*NEEDLES, *ZELDA_CONVERSATIONS):
        assert needle not in orm_text, needle
    assert "identity_verify_failed" in orm_text  # the stranger's failure on her order stays, not the one keyed by her

    # CRM, the file itself: with sqlite3 (no ORM), then its bytes (free pages, write-ahead log)
    engine.dispose()
    raw = sqlite_text(world.crm_db)
    for needle in NEEDLES:
        assert needle not in raw, needle
        assert needle.encode() not in file_bytes(world.crm_db), needle

    # the tracker store and the event-broker table: her conversations are gone, the others stay whole
    for path, table in ((world.tracker_db, "events"), (world.events_db, "events")):
        senders = {row[1] for row in sqlite_rows(path, table)}
        assert senders == {"rest:otto", "rest:stranger"}, path
        text = sqlite_text(path)
        assert OTHER_MESSAGE in text and "AB1 2CD" in text
        for needle in NEEDLES:
            assert needle not in text, (path, needle)
            assert needle.encode() not in file_bytes(path), (path, needle)


async def test_other_customers_are_untouched(world, engine, settings, session_of):
    with new_session(engine) as session:
        before = privacy.export_customer(world.other_id, session=session, settings=settings)
    _erase(world, engine, settings)
    with new_session(engine) as session:
        after = privacy.export_customer(world.other_id, session=session, settings=settings)
    for part in ("crm", "tracker_store", "event_broker"):
        assert after[part] == before[part], part
    assert after["crm"]["addresses"][0]["line1"] == OTHER_STREET
    assert find_by_email(OTHER_EMAIL, session=session_of()).id == world.other_id


async def test_erasure_is_audited_and_running_it_again_changes_nothing(world, engine, settings):
    first = _erase(world, engine, settings)
    with new_session(engine) as session:
        request = session.execute(select(DataRequest).where(DataRequest.kind == "erase")).scalar_one()
        assert (request.status, request.completed_by, request.result["crm"]) == ("done", "agent:sue", first["crm"])
        done = session.execute(
            select(AuditLog).where(
                AuditLog.action == "data_request.erase.done", AuditLog.entity_id == request.reference
            )
        ).scalar_one()
        assert done.actor == "agent:sue" and done.after["result"]["tracker_store"]["events_deleted"] == 20
        email = session.get(Customer, world.customer_id).email

        again = erasure.erase_customer(world.customer_id, session=session, settings=settings, actor="agent:sue")
        session.commit()
        assert again["crm"]["changes"] == {"addresses_deleted": 0, "one_time_codes_deleted": 0,
                                           "stored_responses_deleted": 0}  # fmt: skip
        assert again["conversations"] == 0 and again["tracker_store"]["events_deleted"] == 0
        assert again["crm"]["invoices_kept"] == 1
        assert session.get(Customer, world.customer_id).email == email  # the stub is not rewritten


def test_erasure_waits_for_open_orders_and_refunds(engine, settings):
    with new_session(engine) as session:
        customer = make_customer(session, first_name="Ada", email="ada@example.com")
        shipped = make_order(session, customer, status="shipped")
        delivered = make_order(session, customer, status="delivered")
        in_review = make_refund(session, delivered, amount_pence=500, status="pending_review")
        session.commit()
        with pytest.raises(DomainError) as refused:
            erasure.erase_customer(customer.id, session=session, settings=settings, actor="agent:sue")
        assert refused.value.code == "open_orders"
        assert refused.value.details["orders"] == sorted([shipped.order_number, delivered.order_number])
        session.rollback()
        assert session.get(Customer, customer.id).first_name == "Ada"

        shipped.status, in_review.status = "delivered", "paid"
        session.commit()
        erasure.erase_customer(customer.id, session=session, settings=settings, actor="agent:sue")
        assert session.get(Customer, customer.id).first_name == "[erased]"


@pytest.fixture
def postgres_stores(tmp_path: Path) -> Iterator[Settings]:
    """Settings whose tracker store and event-broker table are throwaway PostgreSQL databases (the scaled profile's
    tracker store); skips without the machine's PostgreSQL."""
    with throwaway_postgres("dsr_tracker", "dsr_events") as (tracker_url, events_url):
        yield settings_for(tmp_path, rasa_tracker_url=tracker_url, rasa_events_url=events_url)


async def test_the_tracker_store_and_broker_table_on_postgresql(engine, postgres_stores, domain):
    settings = postgres_stores
    ids = build_crm(engine, settings)
    await build_rasa_stores(settings, domain)
    with new_session(engine) as session:
        export = privacy.export_customer(ids[0], session=session, settings=settings)
    assert len(export["tracker_store"]["events"]) == 20 and len(export["event_broker"]["events"]) == 20
    assert "postgresql" in export["manifest"]["tracker_store"]["url"]
    with new_session(engine) as session:
        result = erasure.erase_customer(ids[0], session=session, settings=settings, actor="agent:sue")
        session.commit()
    assert result["tracker_store"]["events_deleted"] == 20 and result["event_broker"]["events_deleted"] == 20
    for url in (settings.rasa_tracker_url, settings.rasa_events_url):
        store = create_engine(url)
        with store.connect() as conn:
            rows = conn.execute(text("SELECT sender_id, data FROM events")).all()
        store.dispose()
        assert {sender for sender, _ in rows} == {"rest:otto", "rest:stranger"}
        assert not [n for n in NEEDLES for _, data in rows if n in data]


# ----------------------------------------------------------------------------- the crm commands
def test_crm_export_customer_by_email_writes_a_zip_and_creates_a_cli_request(world, settings, tmp_path, capsys):
    out = tmp_path / "out" / "zelda.zip"
    assert main(["export-customer", "--email", EMAIL.upper(), "--out", str(out)], settings=settings) == 0
    printed = capsys.readouterr().out
    assert f"customer {world.customer_id} exported" in printed and "20 events" in printed
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["crm.json", "event_broker.json", "manifest.json", "tracker_store.json"]
        assert json.loads(archive.read("crm.json"))["customers"][0]["email"] == EMAIL
        assert len(json.loads(archive.read("tracker_store.json"))["events"]) == 20
    assert main(["data-requests", "--all"], settings=settings) == 0
    listed = capsys.readouterr().out
    assert "export" in listed and "done" in listed and " cli " in listed


def test_crm_erase_customer_without_yes_changes_nothing_and_with_a_request_completes_it(
    world, engine, settings, capsys
):
    with new_session(engine) as session:
        request, _ = data_requests.create_request(
            session=session,
            customer_id=world.customer_id,
            kind="erase",
            source="assistant",
            requested_by=f"bot:{ZELDA_CONVERSATIONS[0]}",
        )
        session.commit()
        reference = request.reference
    assert main(["data-requests"], settings=settings) == 0
    assert reference in capsys.readouterr().out

    assert main(["erase-customer", "--request", reference], settings=settings) == 0
    preview = capsys.readouterr().out
    assert "nothing done" in preview and "crm addresses: 1" in preview and "20 events" in preview
    with new_session(engine) as session:
        assert session.get(Customer, world.customer_id).email == EMAIL
        assert data_requests.get_request(reference, session=session).status == "pending"

    assert main(["erase-customer", "--request", reference, "--yes"], settings=settings) == 0
    assert f"{reference}: customer {world.customer_id} erased (4 conversations)" in capsys.readouterr().out
    with new_session(engine) as session:
        assert data_requests.get_request(reference, session=session).status == "done"
        assert find_by_email(EMAIL, session=session) is None
    assert main(["erase-customer", "--request", reference, "--yes"], settings=settings) == 1
    assert "already done" in capsys.readouterr().err
