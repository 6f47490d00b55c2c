"""Key rotation: re-encrypt every encrypted column with the keyring's first key, batch by batch.

Each batch is its own committed transaction, so the CRM keeps serving while it runs (readers decrypt with any key of
the ring). A row changed by the service between the read and the write of its batch is left as the service wrote it
(already under the first key). Running it again changes nothing. With ``rehash`` the look-up hashes are recomputed
too (after a change of CRM_LOOKUP_KEY).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_backend.db.base import Base
from crm_backend.db.crypto import EncryptedType, Keyring, keyring_of
from crm_backend.db.models import HASHED


@dataclass
class TableRotation:
    table: str
    rows: int = 0  # rows read
    reencrypted: int = 0  # rows written with the first key
    rehashed: int = 0  # rows whose look-up hashes changed


def encrypted_columns() -> dict[str, list[str]]:
    """Every table with encrypted columns, and those columns, in dependency order."""
    found: dict[str, list[str]] = {}
    for table in Base.metadata.sorted_tables:
        columns = [c.name for c in table.columns if isinstance(c.type, EncryptedType)]
        if columns:
            found[table.name] = columns
    return found


def _hash_columns(table: str) -> dict[str, tuple[str, str]]:
    """hash column -> (encrypted source column, kind) of a table."""
    return {h: (s, k) for model, s, h, k in HASHED if model.__table__.name == table}  # type: ignore[attr-defined]


def rotate_table(
    engine: Engine, table: str, columns: list[str], *, batch_size: int, rehash: bool = False
) -> TableRotation:
    keyring = keyring_of(engine.dialect)
    hashes = _hash_columns(table) if rehash else {}
    t = sa.table(table, sa.column("id"), *(sa.column(c) for c in [*columns, *hashes]))  # untyped: raw ciphertext
    result = TableRotation(table)
    last = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                sa.select(t.c.id, *(t.c[c] for c in [*columns, *hashes]))
                .where(t.c.id > last)
                .order_by(t.c.id)
                .limit(batch_size)
            ).all()
            if not rows:
                return result
            groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[dict[str, Any]]] = {}
            for row in rows:
                values = row._mapping
                new = {c: keyring.encrypt(keyring.decrypt(values[c])) for c in columns if _stale(keyring, values[c])}
                for column, (source, kind) in hashes.items():
                    digest = keyring.hash_of(kind, keyring.decrypt(values[source]))
                    if digest != values[column]:
                        new[column] = digest
                if not new:
                    continue
                guard = tuple(sorted({c for c in new if c in columns} | {hashes[h][0] for h in new if h in hashes}))
                params = {"row_id": values["id"], **{f"new_{c}": v for c, v in new.items()}}
                params.update({f"old_{c}": values[c] for c in guard})
                groups.setdefault((tuple(sorted(new)), guard), []).append(params)
                result.reencrypted += any(c in columns for c in new)
                result.rehashed += any(c in hashes for c in new)
            for (changed, guard), params_list in groups.items():
                statement = (
                    t.update()
                    .where(t.c.id == sa.bindparam("row_id"), *(t.c[c] == sa.bindparam(f"old_{c}") for c in guard))
                    .values({c: sa.bindparam(f"new_{c}") for c in changed})
                )
                conn.execute(statement, params_list)
        result.rows += len(rows)
        last = rows[-1].id


def _stale(keyring: Keyring, value: Any) -> bool:
    return value is not None and not keyring.is_current(value)


def rotate_keys(
    engine: Engine, *, batch_size: int = 500, rehash: bool = False, log: Callable[[TableRotation], None] | None = None
) -> list[TableRotation]:
    """Re-encrypts every table's encrypted columns (and with ``rehash`` recomputes look-up hashes)."""
    done = []
    for table, columns in encrypted_columns().items():
        result = rotate_table(engine, table, columns, batch_size=batch_size, rehash=rehash)
        if log is not None:
            log(result)
        done.append(result)
    return done
