"""Deterministic seed generator: personas first, then a simulated customer population.

The population (``crm_backend.seeding.population``) carries a latent satisfaction that drives order rate and a
churn hazard, so the churn label is learnable from behaviour (recency, frequency, lateness, complaints,
refunds), not from one column.
Rows are bulk-inserted with Core ``insert()`` executemany, one transaction per chunk of customers.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, cast, func, insert, select, text
from sqlalchemy.engine import Engine

from crm_backend.db import (
    Address,
    Base,
    Customer,
    Escalation,
    EscalationMessage,
    Invoice,
    Order,
    OrderItem,
    Payment,
    Product,
    Refund,
    Shipment,
    Ticket,
    new_session,
)
from crm_backend.seeding.personas import ensure_personas
from crm_backend.seeding.population import FIRST_ORDER_NUMBER, TABLES, Population

MODELS: dict[str, Any] = {
    "customers": Customer,
    "addresses": Address,
    "orders": Order,
    "order_items": OrderItem,
    "shipments": Shipment,
    "payments": Payment,
    "invoices": Invoice,
    "refunds": Refund,
    "tickets": Ticket,
    "escalations": Escalation,
    "escalation_messages": EscalationMessage,
}
CHUNK = 2000


def _flush(engine: Engine, rows: dict[str, list[dict[str, Any]]]) -> None:
    with engine.begin() as conn:
        for table in TABLES:
            if rows[table]:
                conn.execute(insert(MODELS[table].__table__), rows[table])
                rows[table].clear()


def count_customers(engine: Engine) -> int:
    with new_session(engine) as session:
        return int(session.execute(select(func.count(Customer.id))).scalar_one())


def reset(engine: Engine) -> None:
    """Delete every row (children first); the schema stays."""
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


def seed(
    engine: Engine, *, customers: int, seed: int, today: date | None = None, log: Callable[[str], None] = print
) -> dict[str, int]:
    """Personas (idempotent) then ``customers`` simulated customers. Returns rows added per table."""
    ref_date = today or date.today()
    ref = datetime(ref_date.year, ref_date.month, ref_date.day)
    started = time.monotonic()
    with new_session(engine) as session:
        ensure_personas(session=session, today=ref)
        session.commit()
        products = [
            tuple(r)
            for r in session.execute(
                select(Product.id, Product.sku, Product.name, Product.price_pence).order_by(Product.id)
            )
        ]
        ids = {t: int(session.execute(select(func.coalesce(func.max(MODELS[t].id), 0))).scalar_one()) for t in TABLES}
        highest = session.execute(select(func.max(cast(Order.order_number, Integer)))).scalar_one() or 0
        order_seq = max(int(highest) + 1 - FIRST_ORDER_NUMBER, 0)
    start_ids = dict(ids)
    pop = Population(random.Random(seed), ref, products, ids)
    pop.order_seq = order_seq
    step = max(customers // 10, 1)
    for index in range(customers):
        pop.customer()
        if (index + 1) % CHUNK == 0:
            _flush(engine, pop.rows)
        if (index + 1) % step == 0 or index + 1 == customers:
            log(
                f"  {index + 1}/{customers} customers, {pop.ids['orders'] - start_ids['orders']} orders "
                f"({time.monotonic() - started:.1f}s)"
            )
    _flush(engine, pop.rows)
    advance_sequences(engine)
    return {t: pop.ids[t] - start_ids[t] for t in TABLES}


def advance_sequences(engine: Engine) -> None:
    """PostgreSQL: move every id sequence past the ids the seed wrote itself; otherwise the first row the API
    inserts collides with a seeded one (found by tests/faults/test_postgres_restart.py: a 500 on the first refund)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            column = table.c.get("id")
            if column is None or not column.primary_key or not isinstance(column.type, Integer):
                continue
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false) "
                    f"WHERE pg_get_serial_sequence('{table.name}', 'id') IS NOT NULL"
                )
            )
