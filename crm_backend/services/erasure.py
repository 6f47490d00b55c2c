"""Erasure of a customer from every store (``erase_customer``): the CRM database, the assistant's tracker store and
the event-broker table. It keeps only what the law asks for (invoices for ``INVOICE_RETENTION_YEARS`` and the order
rows and amounts they rest on, with the addresses blanked), replaces free text with ``ERASED``, deletes the rest, and
leaves the customer row as an anonymised stub; running it again changes nothing. It refuses while an order or a
refund is still open (``unfinished``). SQLite files are written with ``secure_delete`` and their write-ahead log
checkpointed, so erased values do not linger in free pages.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    delete,
    or_,
    select,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from crm_backend.db import (
    AccessLog,
    AuditLog,
    Customer,
    IdempotencyKey,
    Order,
)
from crm_backend.errors import DomainError
from crm_backend.rasa_stores import assistant_stores, is_sqlite
from crm_backend.services.customer_records import PSEUDONYM_PREFIX, Records, pseudonym
from crm_backend.services.verification import Attempt
from crm_backend.settings import Settings
from crm_backend.util import utcnow

ERASED = "[erased]"
ERASED_DOMAIN = "erased.invalid"  # a reserved top-level domain: no mail is ever delivered there
INVOICE_RETENTION_YEARS = 6  # invoices, and the orders they rest on, are kept this long after issue
OPEN_ORDER_STATUSES = ("pending", "paid", "packed", "shipped")
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


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (ERASED if k in PERSONAL_KEYS and v not in (None, "") else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


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
    for store in assistant_stores(settings.rasa_tracker_url, settings.rasa_events_url):
        try:
            deleted = store.erase(conversations)
        finally:
            store.close()
        result[store.name] = store.describe(events_deleted=deleted)

    if is_sqlite(session.get_bind()):  # erased values are zeroed, not left in the file's free pages
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
