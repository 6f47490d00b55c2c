"""Data-subject requests carried out: a copy of everything the system holds about one customer (``export_customer``)
and its erasure (``crm_backend/services/erasure.py``), across the three stores that hold it: the CRM database, the
assistant's tracker store (``settings.rasa_tracker_url``) and the event-broker table (``settings.rasa_events_url``).
CRM rows are read through the ORM, so column encryption stays transparent. ``carry_out`` runs a pending data request
and completes it (audited); ``reject`` closes one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from crm_backend.db import (
    DataRequest,
    EscalationMessage,
    Invoice,
    OrderItem,
    Payment,
    Shipment,
)
from crm_backend.errors import DomainError
from crm_backend.rasa_stores import assistant_stores, checkpoint
from crm_backend.services import access, data_requests
from crm_backend.services.customer_records import Records, row_dict
from crm_backend.services.erasure import erase_customer
from crm_backend.settings import Settings
from crm_backend.util import utcnow

EXPORT_FORMAT = "shopcare-customer-export/1"


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
    for store in assistant_stores(settings.rasa_tracker_url, settings.rasa_events_url):
        try:
            events = store.read(conversations)
        finally:
            store.close()
        export[store.name] = {**store.describe(), "events": events}
        manifest[store.name] = store.describe(events=len(events))
    manifest["conversations"] = len(conversations)
    export["manifest"] = manifest
    return export


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
        access.record_read(
            session=session,
            actor=by[:100],
            agent_id=agent_id,
            customer_id=customer_id,
            purpose=f"dsr:{request.reference}",
            resource=resource[:120],
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
