"""Declarative base, engine factory and session helpers (nothing is created at import time)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, declarative_base
from sqlalchemy.pool import QueuePool

from crm_backend.db.crypto import Keyring, attach_keyring
from crm_backend.settings import Settings

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Base = declarative_base(metadata=MetaData(naming_convention=NAMING))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(settings: Settings) -> Engine:
    """One engine per process, carrying the keyring of the encrypted columns (settings' data and look-up keys).
    Creates the SQLite file's folder on demand."""
    url = settings.database_url
    kwargs: dict = {"future": True, "echo": settings.echo_sql}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False}
        path = settings.sqlite_path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # a pool, not SQLAlchemy 1.4's NullPool for a SQLite file (docs/architecture.md#crm-request-path); safe:
            # WAL, one connection per thread at a time, sessions are short.
            kwargs.update(poolclass=QueuePool, pool_size=5, max_overflow=10)
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return attach_keyring(engine, Keyring.from_settings(settings))  # the encrypted columns' keys


def new_session(engine: Engine) -> Session:
    """A short-lived unit-of-work session; use as ``with new_session(engine) as s:``."""
    return Session(engine, future=True, expire_on_commit=False)
