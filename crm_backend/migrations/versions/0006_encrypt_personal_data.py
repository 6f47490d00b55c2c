"""encryption at rest: customers' personal fields as ciphertext, keyed hashes for look-ups

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 10:30:00.000000

Hand-written. Upgrade widens the encrypted columns to TEXT, adds customers.email_hash (unique index, replacing the
unique index on email), customers.postcode_hash (index) and orders.ship_postcode_hash, then encrypts every existing
value and computes the hashes in batches with the keyring of the settings Alembic runs with (crm_backend/db/crypto.py).
Downgrade decrypts every value and restores the clear columns and their indexes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from crm_backend.db.crypto import Keyring, keyring_of

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 1000

# table -> {column: (type before this revision, nullable)}
ENCRYPTED: dict[str, dict[str, tuple[Any, bool]]] = {
    "customers": {
        "first_name": (sa.String(length=80), False),
        "last_name": (sa.String(length=80), False),
        "email": (sa.String(length=254), False),
        "phone": (sa.String(length=32), True),
        "postcode": (sa.String(length=10), False),
    },
    "addresses": {
        "line1": (sa.String(length=120), False),
        "line2": (sa.String(length=120), True),
        "city": (sa.String(length=80), False),
        "postcode": (sa.String(length=10), False),
    },
    "orders": {
        "ship_line1": (sa.String(length=120), False),
        "ship_line2": (sa.String(length=120), True),
        "ship_city": (sa.String(length=80), False),
        "ship_postcode": (sa.String(length=10), False),
        "cancel_reason": (sa.String(length=200), True),
    },
    "refunds": {"reason": (sa.String(length=500), False)},
    "tickets": {"summary": (sa.Text(), False)},
    "escalations": {"packet": (sa.JSON(), False), "summary": (sa.Text(), True)},
    "escalation_messages": {"text": (sa.Text(), False)},
    "audit_log": {"before": (sa.JSON(), True), "after": (sa.JSON(), True)},
    "idempotency_keys": {"response_json": (sa.JSON(), True)},
}
# table -> {hash column: (clear column, kind)}
HASHES: dict[str, dict[str, tuple[str, str]]] = {
    "customers": {"email_hash": ("email", "email"), "postcode_hash": ("postcode", "postcode")},
    "orders": {"ship_postcode_hash": ("ship_postcode", "postcode")},
}


def _keyring() -> Keyring:
    return keyring_of(op.get_bind().dialect)


def _rewrite(table: str, change: Callable[[str], str], hashes: dict[str, tuple[str, str]] | None = None) -> int:
    """Applies ``change`` to every non-null value of the table's encrypted columns, batch by batch (and fills
    ``hashes`` from the clear values); returns the rows rewritten."""
    bind, keyring = op.get_bind(), _keyring()
    columns = list(ENCRYPTED[table])
    hashes = hashes or {}
    t = sa.table(table, sa.column("id"), *(sa.column(c) for c in [*columns, *hashes]))
    statement = (
        t.update()
        .where(t.c.id == sa.bindparam("row_id"))
        .values({c: sa.bindparam(f"new_{c}") for c in [*columns, *hashes]})
    )
    last, done = 0, 0
    while True:
        rows = bind.execute(
            sa.select(t.c.id, *(t.c[c] for c in columns)).where(t.c.id > last).order_by(t.c.id).limit(BATCH)
        ).all()
        if not rows:
            return done
        params = []
        for row in rows:
            values = row._mapping
            new: dict[str, Any] = {"row_id": values["id"]}
            for c in columns:
                new[f"new_{c}"] = None if values[c] is None else change(values[c])
            for column, (source, kind) in hashes.items():
                clear = values[source]
                new[f"new_{column}"] = keyring.hash_of(kind, clear)
            params.append(new)
        bind.execute(statement, params)
        last, done = rows[-1].id, done + len(rows)


def _to_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_email")
        batch_op.drop_index("ix_customers_postcode")
        batch_op.add_column(sa.Column("email_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("postcode_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ship_postcode_hash", sa.String(length=64), nullable=True))
    for table, columns in ENCRYPTED.items():
        widen = {c: old for c, (old, _) in columns.items() if not isinstance(old, sa.Text)}
        if not widen:
            continue
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, old in widen.items():
                using: dict[str, Any] = {"postgresql_using": f'"{column}"::text'} if postgres else {}
                batch_op.alter_column(column, existing_type=old, type_=sa.Text(), **using)

    keyring = _keyring()
    for table in ENCRYPTED:
        _rewrite(table, lambda clear: keyring.encrypt(_to_text(clear)), HASHES.get(table))

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.alter_column("email_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("postcode_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index(batch_op.f("ix_customers_email_hash"), ["email_hash"], unique=True)
        batch_op.create_index(batch_op.f("ix_customers_postcode_hash"), ["postcode_hash"], unique=False)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.alter_column("ship_postcode_hash", existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    keyring = _keyring()
    for table in ENCRYPTED:
        _rewrite(table, keyring.decrypt)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("ship_postcode_hash")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_postcode_hash"))
        batch_op.drop_index(batch_op.f("ix_customers_email_hash"))
        batch_op.drop_column("postcode_hash")
        batch_op.drop_column("email_hash")
    for table, columns in ENCRYPTED.items():
        narrow = {c: old for c, (old, _) in columns.items() if not isinstance(old, sa.Text)}
        if not narrow:
            continue
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, old in narrow.items():
                cast = "json" if isinstance(old, sa.JSON) else f"varchar({old.length})"
                using: dict[str, Any] = {"postgresql_using": f'"{column}"::{cast}'} if postgres else {}
                batch_op.alter_column(column, existing_type=sa.Text(), type_=old, **using)
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_email"), ["email"], unique=True)
        batch_op.create_index(batch_op.f("ix_customers_postcode"), ["postcode"], unique=False)
