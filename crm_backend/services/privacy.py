"""Data-subject requests carried out: a copy of everything the system holds about one customer (``export_customer``)
and its erasure (``erase_customer``), across the three stores that hold it: the CRM database, the assistant's tracker
store (``settings.rasa_tracker_url``) and the event-broker table (``settings.rasa_events_url``).

The customer's conversations are the ones the CRM linked to them (``conversations_of``): escalations, tickets,
one-time codes, data requests, successful identity checks and other audited bot actions on their records, and the
bot's audited reads of their data. CRM rows are read and written through the ORM, so column encryption stays
transparent. Erasure keeps only what the law asks for (invoices for ``INVOICE_RETENTION_YEARS`` and the order rows
and amounts they rest on, with the addresses blanked), replaces free text with ``ERASED``, deletes the rest, and leaves
the customer row as an anonymised stub; running it again changes nothing. It refuses while an order or a refund is
still open (``unfinished``). ``carry_out`` runs a pending data request and completes it (audited). SQLite files are
written with ``secure_delete`` and their write-ahead log checkpointed, so erased values do not linger in free pages.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Table,
    create_engine,
    delete,
    inspect,
    or_,
    select,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from crm_backend.db import (
    AccessLog,
    Address,
    AuditLog,
    Customer,
    DataRequest,
    Escalation,
    EscalationMessage,
    IdempotencyKey,
    Invoice,
    OneTimeCode,
    Order,
    OrderItem,
    Payment,
    Refund,
    Shipment,
    Ticket,
)
from crm_backend.errors import DomainError, not_found
from crm_backend.rasa_tables import BROKER_EVENTS, TRACKER_EVENTS
from crm_backend.services import data_requests
from crm_backend.services.verification import FAILED, Attempt
from crm_backend.settings import Settings
from crm_backend.util import utcnow

ERASED = "[erased]"
ERASED_DOMAIN = "erased.invalid"  # a reserved top-level domain: no mail is ever delivered there
INVOICE_RETENTION_YEARS = 6  # invoices, and the orders they rest on, are kept this long after issue
OPEN_ORDER_STATUSES = ("pending", "paid", "packed", "shipped")
EXPORT_FORMAT = "shopcare-customer-export/1"
PSEUDONYM_PREFIX = "erased:"
# keys of audit-log snapshots that hold personal data or the customer's words
PERSONAL_KEYS = frozenset(
    {
        "shipping_address",
        "address",
        "line1",
        "line2",
        "city",
        "postcode",
        "email",
        "phone",
        "first_name",
        "last_name",
        "name",
        "reason",
        "cancel_reason",
        "summary",
        "text",
        "message",
    }
)


# ----------------------------------------------------------------------------- helpers
def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def row_dict(obj: Any, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """A mapped row as a plain JSON-ready dict, read through the ORM's attributes (decrypted where encrypted); keyed
    hashes (``*_hash``: look-up keys, one-time codes) are left out."""
    skip = set(exclude)
    return {
        attr.key: _plain(getattr(obj, attr.key))
        for attr in inspect(obj).mapper.column_attrs
        if attr.key not in skip and not attr.key.endswith("_hash")
    }


def pseudonym(conversation_id: str) -> str:
    """The stand-in of an erased conversation id on the rows that stay (stable, not reversible without the id)."""
    return PSEUDONYM_PREFIX + hashlib.sha256(conversation_id.encode()).hexdigest()[:16]


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (ERASED if k in PERSONAL_KEYS and v not in (None, "") else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _is_sqlite(engine: Engine) -> bool:
    return engine.url.get_backend_name() == "sqlite"


def checkpoint(engine: Engine) -> None:
    """Move a SQLite file's write-ahead log into the file and truncate it (erased pages do not linger there)."""
    if _is_sqlite(engine) and engine.url.database not in (None, "", ":memory:"):
        with engine.connect() as conn:
            conn.execute(sql_text("PRAGMA wal_checkpoint(TRUNCATE)"))


# ----------------------------------------------------------------------------- what belongs to the customer
class Records:
    """The customer's CRM records, loaded once, and their conversations (``conversations_of``). Escalations and
    tickets raised in those conversations count as theirs even when they name no customer (raised before the
    customer verified there)."""

    def __init__(self, customer_id: int, *, session: Session) -> None:
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise not_found("customer", customer_id=customer_id)
        self.customer: Customer = customer
        self.addresses = list(session.execute(select(Address).where(Address.customer_id == customer_id)).scalars())
        self.orders = list(
            session.execute(select(Order).where(Order.customer_id == customer_id).order_by(Order.id)).scalars()
        )
        order_ids = [o.id for o in self.orders]
        self.refunds = list(session.execute(select(Refund).where(Refund.order_id.in_(order_ids))).scalars())
        self.tickets = list(
            session.execute(
                select(Ticket)
                .where(or_(Ticket.customer_id == customer_id, Ticket.order_id.in_(order_ids)))
                .order_by(Ticket.id)
            ).scalars()
        )
        self.escalations = list(
            session.execute(
                select(Escalation).where(Escalation.customer_id == customer_id).order_by(Escalation.id)
            ).scalars()
        )
        self.one_time_codes = list(
            session.execute(select(OneTimeCode).where(OneTimeCode.customer_id == customer_id)).scalars()
        )
        self.data_requests = list(
            session.execute(
                select(DataRequest).where(DataRequest.customer_id == customer_id).order_by(DataRequest.id)
            ).scalars()
        )
        self.access_log = list(
            session.execute(
                select(AccessLog).where(AccessLog.customer_id == customer_id).order_by(AccessLog.id)
            ).scalars()
        )
        self.audit_log = list(session.execute(self._audit_query()).scalars())
        self.conversations = conversations_of(self)
        # what was raised in those conversations before (or without) the CRM knowing who the customer was
        known = {e.id for e in self.escalations}, {t.id for t in self.tickets}
        if self.conversations:
            self.escalations += [
                e
                for e in session.execute(
                    select(Escalation).where(Escalation.conversation_id.in_(self.conversations)).order_by(Escalation.id)
                ).scalars()
                if e.id not in known[0]
            ]
            self.tickets += [
                t
                for t in session.execute(
                    select(Ticket).where(Ticket.conversation_id.in_(self.conversations)).order_by(Ticket.id)
                ).scalars()
                if t.id not in known[1]
            ]
            self.audit_log = list(session.execute(self._audit_query()).scalars())

    def entity_keys(self) -> list[tuple[str, list[str]]]:
        return [
            ("customer", [str(self.customer.id)]),
            ("order", [o.order_number for o in self.orders]),
            ("refund", [r.reference for r in self.refunds]),
            ("ticket", [t.reference for t in self.tickets]),
            ("escalation", [str(e.id) for e in self.escalations]),
            ("data_request", [d.reference for d in self.data_requests]),
        ]

    def _audit_query(self) -> Any:
        about = [(AuditLog.entity == entity) & AuditLog.entity_id.in_(ids) for entity, ids in self.entity_keys() if ids]
        return select(AuditLog).where(or_(*about)).order_by(AuditLog.id)


def conversations_of(records: Records) -> list[str]:
    """The conversation ids the CRM linked to the customer (already-erased ones excluded).

    A failed identity check on one of the customer's orders does not link its conversation: it may be someone else's.
    """
    ids: set[str] = set()
    ids.update(e.conversation_id for e in records.escalations if e.conversation_id)
    ids.update(t.conversation_id for t in records.tickets if t.conversation_id)
    ids.update(c.conversation_id for c in records.one_time_codes if c.conversation_id)
    ids.update(d.conversation_id for d in records.data_requests if d.conversation_id)
    ids.update(row.actor[4:] for row in records.audit_log if row.actor.startswith("bot:") and row.action != FAILED)
    ids.update(row.actor[4:] for row in records.access_log if row.actor.startswith("bot:"))
    return sorted(i for i in ids if i and not i.startswith(PSEUDONYM_PREFIX))


# ----------------------------------------------------------------------------- the assistant's stores
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
        elif url.startswith(("amqp://", "amqps://")):
            self.status = "not_searchable"
            self.note = "events go to a message queue: they are not stored where they can be searched or erased"
        else:
            self.status = "ok" if self._has_table() else "not_found"

    def _has_table(self) -> bool:
        url = make_url(self.url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            if not Path(str(url.database)).exists():
                return False
        self._engine = create_engine(self.url, future=True)
        return bool(inspect(self._engine).has_table("events"))

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
            if _is_sqlite(self._engine):
                conn.execute(sql_text("PRAGMA secure_delete=ON"))
            deleted = conn.execute(delete(self.table).where(self.table.c.sender_id.in_(conversations))).rowcount
        checkpoint(self._engine)
        return int(deleted or 0)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _stores(settings: Settings) -> list[EventStore]:
    return [
        EventStore("tracker_store", settings.rasa_tracker_url, TRACKER_EVENTS),
        EventStore("event_broker", settings.rasa_events_url, BROKER_EVENTS),
    ]


# ----------------------------------------------------------------------------- export
def export_customer(customer_id: int, *, session: Session, settings: Settings) -> dict[str, Any]:
    """Everything held about the customer: CRM rows as plain dicts, the tracker events and event-broker rows of their
    conversations, and a manifest (each store's status and row counts)."""
    records = Records(customer_id, session=session)
    orders = records.orders
    order_ids = [o.id for o in orders]
    escalation_ids = [e.id for e in records.escalations]

    def rows(model: Any, column: Any, ids: list[int]) -> list[dict[str, Any]]:
        if not ids:
            return []
        query = select(model).where(column.in_(ids)).order_by(model.id)
        return [row_dict(r) for r in session.execute(query).scalars()]

    crm: dict[str, list[dict[str, Any]]] = {
        "customers": [row_dict(records.customer)],
        "addresses": [row_dict(a) for a in records.addresses],
        "orders": [row_dict(o) for o in orders],
        "order_items": rows(OrderItem, OrderItem.order_id, order_ids),
        "shipments": rows(Shipment, Shipment.order_id, order_ids),
        "payments": rows(Payment, Payment.order_id, order_ids),
        "refunds": [row_dict(r) for r in records.refunds],
        "invoices": rows(Invoice, Invoice.order_id, order_ids),
        "tickets": [row_dict(t) for t in records.tickets],
        "escalations": [row_dict(e, exclude=("agent_id",)) for e in records.escalations],
        "escalation_messages": rows(EscalationMessage, EscalationMessage.escalation_id, escalation_ids),
        "audit_log": [row_dict(a, exclude=("idempotency_key",)) for a in records.audit_log],
        "one_time_codes": [row_dict(c) for c in records.one_time_codes],
        "access_log": [row_dict(a, exclude=("agent_id",)) for a in records.access_log],
        "data_requests": [row_dict(d) for d in records.data_requests],
    }
    conversations = records.conversations
    manifest: dict[str, Any] = {"crm": {table: len(items) for table, items in crm.items()}}
    export: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "customer_id": customer_id,
        "exported_at": utcnow().isoformat(),
        "conversations": conversations,
        "crm": crm,
    }
    for store in _stores(settings):
        try:
            events = store.read(conversations)
        finally:
            store.close()
        export[store.name] = {**store.describe(), "events": events}
        manifest[store.name] = store.describe(events=len(events))
    manifest["conversations"] = len(conversations)
    export["manifest"] = manifest
    return export


# ----------------------------------------------------------------------------- erasure
def _retained(order: Order, cutoff: datetime) -> bool:
    invoice = order.invoice
    return invoice is not None and invoice.issued_at is not None and invoice.issued_at >= cutoff


def _set(obj: Any, counts: dict[str, int], key: str, **values: Any) -> None:
    """Sets the attributes that differ; counts the row once under ``key`` when anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    if changed:
        counts[key] = counts.get(key, 0) + 1


def _anonymise_customer(customer: Customer, counts: dict[str, int]) -> None:
    if customer.email.endswith("@" + ERASED_DOMAIN):
        email = customer.email  # already a stub: keep its random address
    else:  # random, so nobody can verify as the stub by guessing its address
        email = f"erased-{customer.id}-{secrets.token_hex(8)}@{ERASED_DOMAIN}"
    # an empty postcode never matches a proof
    _set(
        customer,
        counts,
        "customers_anonymised",
        first_name=ERASED,
        last_name=ERASED,
        email=email,
        phone=None,
        postcode="",
    )


def _erase_orders(records: Records, session: Session, counts: dict[str, int]) -> int:
    """Blanks the orders an invoice still needs, deletes the others; returns how many invoices are kept."""
    kept = 0
    cutoff = utcnow() - timedelta(days=365 * INVOICE_RETENTION_YEARS + INVOICE_RETENTION_YEARS // 4 + 1)
    for order in records.orders:
        if _retained(order, cutoff):
            _set(
                order,
                counts,
                "orders_kept_for_invoices",
                ship_line1=ERASED,
                ship_line2=None,
                ship_city=ERASED,
                ship_postcode="",
                cancel_reason=ERASED if order.cancel_reason else None,
            )
            if order.shipment is not None:
                _set(order.shipment, counts, "shipments_blanked", tracking_number=ERASED)
            for refund in order.refunds:
                _set(refund, counts, "refunds_blanked", reason=ERASED)
            kept += 1
            continue
        for ticket in records.tickets:
            if ticket.order_id == order.id:
                ticket.order_id = None
        children = [
            *order.items,
            *order.refunds,
            *([order.shipment] if order.shipment is not None else []),
            *([order.payment] if order.payment is not None else []),
            *([order.invoice] if order.invoice is not None else []),
        ]
        for child in children:
            session.delete(child)
        session.delete(order)
        counts["orders_deleted"] = counts.get("orders_deleted", 0) + 1
    session.flush()
    return kept


def _erase_support(records: Records, session: Session, counts: dict[str, int]) -> None:
    for ticket in records.tickets:
        conversation = ticket.conversation_id
        _set(
            ticket,
            counts,
            "tickets_blanked",
            summary=ERASED,
            conversation_id=pseudonym(conversation)
            if conversation and not conversation.startswith(PSEUDONYM_PREFIX)
            else conversation,
        )
    for escalation in records.escalations:
        conversation = escalation.conversation_id
        if not conversation.startswith(PSEUDONYM_PREFIX):
            conversation = pseudonym(conversation)
        _set(
            escalation,
            counts,
            "escalations_blanked",
            packet={"erased": True},
            summary=ERASED,
            suggested_action=ERASED if escalation.suggested_action else None,
            conversation_id=conversation,
            request_key=None,
        )
        for message in escalation.messages:
            _set(message, counts, "escalation_messages_blanked", text=ERASED)
    for request in records.data_requests:
        if request.conversation_id and not request.conversation_id.startswith(PSEUDONYM_PREFIX):
            _set(request, counts, "data_requests_pseudonymised", conversation_id=pseudonym(request.conversation_id))


def _erase_logs(
    records: Records, conversations: list[str], session: Session, settings: Settings, counts: dict[str, int]
) -> None:
    bots = {f"bot:{c}"[:100]: f"bot:{pseudonym(c)}" for c in conversations}
    for row in records.audit_log:
        _set(row, counts, "audit_rows_scrubbed", before=_scrub(row.before), after=_scrub(row.after))
    if bots:
        for row in session.execute(select(AuditLog).where(AuditLog.actor.in_(list(bots)))).scalars():
            _set(row, counts, "audit_rows_scrubbed", actor=bots[row.actor])
        for access in session.execute(select(AccessLog).where(AccessLog.actor.in_(list(bots)))).scalars():
            _set(access, counts, "access_log_pseudonymised", actor=bots[access.actor])
    proofs = _proof_keys(records, settings)
    if proofs:
        query = delete(AuditLog).where(AuditLog.entity == "proof", AuditLog.entity_id.in_(proofs))
        result = session.execute(query, execution_options={"synchronize_session": False})
        counts["audit_proof_failures_deleted"] = int(result.rowcount or 0)
    prefix = f"/api/v1/customers/{records.customer.id}"
    result = session.execute(
        delete(IdempotencyKey).where(
            or_(IdempotencyKey.scope.like(f"% {prefix}"), IdempotencyKey.scope.like(f"% {prefix}/%"))
        ),
        execution_options={"synchronize_session": False},
    )
    counts["stored_responses_deleted"] = int(result.rowcount or 0)


def _proof_keys(records: Records, settings: Settings) -> list[str]:
    """The key of failed identity checks made with the customer's e-mail. (A postcode is shared by the neighbours:
    failures keyed by it stay, and expire with their window.)"""
    email = records.customer.email
    if not email or email.endswith("@" + ERASED_DOMAIN):
        return []
    attempt = Attempt.of(
        secret=settings.grant_secret,
        order_number="",
        email=email,
        postcode=None,
        conversation_id="",
        channel="",
        client_address=None,
    )
    return [attempt.proof]


def unfinished(records: Records) -> list[str]:
    """Order numbers of orders still on their way, or with a refund in review or not yet due."""
    today = utcnow().date()
    numbers = {o.order_number for o in records.orders if o.status in OPEN_ORDER_STATUSES}
    by_id = {o.id: o.order_number for o in records.orders}
    for refund in records.refunds:
        due = refund.status == "approved" and refund.expected_by is not None and refund.expected_by >= today
        if refund.status == "pending_review" or due:
            numbers.add(by_id[refund.order_id])
    return sorted(numbers)


def erase_customer(customer_id: int, *, session: Session, settings: Settings, actor: str) -> dict[str, Any]:
    """Erases the customer from every store; returns counts per store (zeros when run again).

    The assistant's stores are changed (and committed) first, the CRM changes are left in ``session`` for the
    caller to commit: a failure on the way leaves the CRM's links to the conversations, so running it again finishes
    the job. Refused (409 ``open_orders``) while an order is on its way or a refund is in review or not yet due.
    """
    records = Records(customer_id, session=session)
    blocking = unfinished(records)
    if blocking:
        raise DomainError(
            409,
            "open_orders",
            "The customer has orders or refunds still open; they are finished first (an order's address is needed "
            "until it is delivered or cancelled).",
            {"orders": blocking},
        )
    conversations = records.conversations
    result: dict[str, Any] = {"customer_id": customer_id, "conversations": len(conversations)}
    for store in _stores(settings):
        try:
            deleted = store.erase(conversations)
        finally:
            store.close()
        result[store.name] = store.describe(events_deleted=deleted)

    if _is_sqlite(session.get_bind()):  # erased values are zeroed, not left in the file's free pages
        session.execute(sql_text("PRAGMA secure_delete=ON"))
    counts: dict[str, int] = {}
    _erase_logs(records, conversations, session, settings, counts)  # reads the proofs before the customer is blanked
    counts["addresses_deleted"] = len(records.addresses)
    for row in [*records.addresses, *records.one_time_codes]:
        session.delete(row)
    counts["one_time_codes_deleted"] = len(records.one_time_codes)
    _erase_support(records, session, counts)
    kept = _erase_orders(records, session, counts)
    _anonymise_customer(records.customer, counts)
    session.flush()
    result["crm"] = {"status": "ok", "changes": dict(sorted(counts.items())), "invoices_kept": kept}
    result["by"] = actor[:100]
    return result


# ----------------------------------------------------------------------------- data requests
def carry_out(
    request: DataRequest,
    *,
    session: Session,
    settings: Settings,
    by: str,
    resource: str,
    agent_id: int | None = None,
) -> dict[str, Any]:
    """Runs a pending request (export or erasure) by ``by`` and completes it; commits.

    Returns the export (for ``export``) or the erasure's counts (for ``erase``). An export is also a read of the
    customer's data: one ``access_log`` row with the purpose ``dsr:<reference>`` (``agent_id``: the console's agent).
    """
    if request.status != "pending":
        raise DomainError(409, "data_request_closed", f"This request is already {request.status}.")
    if request.customer_id is None:
        raise DomainError(422, "invalid_request", "This request names no customer.")
    customer_id = int(request.customer_id)
    if request.kind == "export":
        output = export_customer(customer_id, session=session, settings=settings)
        session.add(
            AccessLog(
                at=utcnow(),
                actor=by[:100],
                agent_id=agent_id,
                customer_id=customer_id,
                purpose=f"dsr:{request.reference}",
                resource=resource[:120],
                masked=False,
            )
        )
        data_requests.complete_request(request, session=session, by=by, result=output["manifest"])
        session.commit()
        return output
    output = erase_customer(customer_id, session=session, settings=settings, actor=by)
    data_requests.complete_request(request, session=session, by=by, result=output)
    session.commit()
    checkpoint(session.get_bind())
    return output


def reject(request: DataRequest, *, session: Session, by: str, reason: str) -> DataRequest:
    """Closes a pending request without carrying it out (the caller commits)."""
    return data_requests.complete_request(
        request, session=session, by=by, status="rejected", result={"reason": reason[:500]}
    )
