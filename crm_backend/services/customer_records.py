"""What the CRM holds about one customer: their records (``Records``), loaded once, and the conversations the CRM
linked to them (``conversations_of``): escalations, tickets, one-time codes, data requests, successful identity checks
and other audited bot actions on their records, and the bot's audited reads of their data. Used by the export and the
erasure of data-subject requests."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    inspect,
    or_,
    select,
)
from sqlalchemy.orm import Session

from crm_backend.db import (
    AccessLog,
    Address,
    AuditLog,
    Customer,
    DataRequest,
    Escalation,
    OneTimeCode,
    Order,
    Refund,
    Ticket,
)
from crm_backend.errors import not_found
from crm_backend.services.verification import FAILED

PSEUDONYM_PREFIX = "erased:"


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
