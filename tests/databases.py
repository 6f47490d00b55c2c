"""Databases for tests: CRM databases built once per test session and copied per test, and throwaway PostgreSQL
databases.

Building a database (the schema, the demo personas, agents with argon2 password hashes) is most of the set-up of a CRM
or console test. ``database_copy`` builds each distinct database once in a session folder and gives every test its own
copy of the file, so tests stay isolated from each other.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from crm_backend.db import Base, make_engine, new_session
from crm_backend.seeding import demo
from crm_backend.seeding.personas import ensure_personas
from crm_backend.settings import Settings

Agent = tuple[str, str, str, str]  # username, password, role, display name


class DatabaseTemplates:
    """Template SQLite files in ``folder``, one per (personas, agents) combination."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.built: dict[tuple[bool, tuple[Agent, ...]], Path] = {}

    def _build(self, personas: bool, agents: tuple[Agent, ...]) -> Path:
        path = self.folder / f"template-{len(self.built)}.db"
        engine = make_engine(Settings(database_url=f"sqlite:///{path}", env="development"))
        Base.metadata.create_all(engine)
        with new_session(engine) as session:
            if personas:
                ensure_personas(session=session, today=datetime.utcnow())
            for username, password, role, name in agents:
                demo.ensure_agent(session, username, password, role, name)
            session.commit()
        engine.dispose()  # the last connection checkpoints the write-ahead log into the file
        return path

    def copy_to(self, target: Path, *, personas: bool = True, agents: tuple[Agent, ...] = ()) -> None:
        key = (personas, agents)
        if key not in self.built:
            self.built[key] = self._build(personas, agents)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.built[key], target)


POSTGRES = "postgresql://postgres@127.0.0.1:5432"  # the machine's PostgreSQL (trust auth)


@contextmanager
def throwaway_postgres(*prefixes: str) -> Iterator[list[str]]:
    """URLs of new empty PostgreSQL databases, one per prefix, dropped afterwards (even when connections are left).
    Skips the test, saying why, when the machine's PostgreSQL is not reachable."""
    names = [f"{prefix}_{uuid.uuid4().hex[:12]}" for prefix in prefixes]
    admin = create_engine(f"{POSTGRES}/test", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f"CREATE DATABASE {name}"))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES} is not reachable: {exc.orig}")
    try:
        yield [f"{POSTGRES}/{name}" for name in names]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
