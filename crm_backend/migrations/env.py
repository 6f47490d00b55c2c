"""Alembic environment: the settings the caller passed (``crm_backend.migrate``), else CRM settings from the
environment with the caller's sqlalchemy.url. The engine carries those settings' keyring (data migrations encrypt)."""

from __future__ import annotations

from alembic import context

from crm_backend.db import Base, make_engine
from crm_backend.settings import Settings

config = context.config
target_metadata = Base.metadata


def _settings() -> Settings:
    given = config.attributes.get("settings")
    if isinstance(given, Settings):
        return given
    url = config.get_main_option("sqlalchemy.url")
    return Settings(database_url=url) if url else Settings()


def run_migrations_offline() -> None:
    context.configure(
        url=_settings().database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_settings())
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # a batch migration recreates a table: dropping a referenced one must not cascade or fail
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
            if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                raise RuntimeError("the migration left rows whose foreign keys point nowhere: rolled back")
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
