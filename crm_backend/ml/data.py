"""Loads the CRM tables the churn features need into pandas DataFrames (the one ``ml`` module that reads the DB).

Only the needed columns are selected, with Core ``select()``s. They are executed through SQLAlchemy and framed by
hand rather than with ``pandas.read_sql``: pandas 2.2+ only accepts SQLAlchemy 2 connectables, and Rasa pins 1.4.
``customer_ids`` narrows every query with an indexed ``customer_id IN (...)``, so one customer reads a handful of rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import pandas as pd
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select

from crm_backend.db import Customer, Escalation, EscalationMessage, Order, Refund, Shipment, Ticket

DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("created_at", "churned_at"),
    "orders": ("placed_at", "cancelled_at"),
    "shipments": ("shipped_at", "eta", "delivered_at"),
    "refunds": ("created_at",),
    "tickets": ("created_at",),
    "escalations": ("created_at",),
    "escalation_messages": ("created_at",),
}


def _queries() -> dict[str, Select]:
    return {
        "customers": select(
            Customer.id.label("customer_id"), Customer.segment, Customer.created_at, Customer.churned_at
        ),
        "orders": select(
            Order.id.label("order_id"),
            Order.customer_id,
            Order.status,
            Order.placed_at,
            Order.total_pence,
            Order.cancelled_at,
        ),
        "shipments": select(
            Shipment.order_id,
            Order.customer_id,
            Shipment.status,
            Shipment.shipped_at,
            Shipment.eta,
            Shipment.delivered_at,
            Shipment.delay_days,
        ).join(Order, Order.id == Shipment.order_id),
        "refunds": select(
            Refund.order_id, Order.customer_id, Refund.amount_pence, Refund.status, Refund.created_at
        ).join(Order, Order.id == Refund.order_id),
        "tickets": select(Ticket.customer_id, Ticket.topic, Ticket.created_at).where(Ticket.customer_id.isnot(None)),
        "escalations": select(
            Escalation.id.label("escalation_id"), Escalation.customer_id, Escalation.created_at
        ).where(Escalation.customer_id.isnot(None)),
        "escalation_messages": select(
            EscalationMessage.escalation_id,
            Escalation.customer_id,
            EscalationMessage.sentiment,
            EscalationMessage.created_at,
        )
        .join(Escalation, Escalation.id == EscalationMessage.escalation_id)
        .where(EscalationMessage.sender == "customer", Escalation.customer_id.isnot(None)),
    }


_CUSTOMER_COLUMN = {
    "customers": Customer.id,
    "orders": Order.customer_id,
    "shipments": Order.customer_id,
    "refunds": Order.customer_id,
    "tickets": Ticket.customer_id,
    "escalations": Escalation.customer_id,
    "escalation_messages": Escalation.customer_id,
}


@lru_cache(maxsize=2)
def _statements(narrowed: bool) -> dict[str, Select]:
    """The queries, built once per process (docs/architecture.md#churn-model-in-the-action-server); narrowed ones take
    the customer ids as an expanding ``:ids`` parameter."""
    queries = _queries()
    if not narrowed:
        return queries
    ids = bindparam("ids", expanding=True)
    return {name: query.where(_CUSTOMER_COLUMN[name].in_(ids)) for name, query in queries.items()}


def load_tables(engine: Engine, customer_ids: Iterable[int] | None = None) -> dict[str, pd.DataFrame]:
    """The CRM rows of ``customer_ids`` (all customers when None), one DataFrame per table."""
    ids = None if customer_ids is None else sorted({int(c) for c in customer_ids})
    tables: dict[str, pd.DataFrame] = {}
    with engine.connect() as conn:
        for name, query in _statements(ids is not None).items():
            result = conn.execute(query, {"ids": ids}) if ids is not None else conn.execute(query)
            frame = pd.DataFrame.from_records([tuple(row) for row in result], columns=list(result.keys()))
            for column in DATE_COLUMNS[name]:
                frame[column] = pd.to_datetime(frame[column])
            tables[name] = frame
    return tables
