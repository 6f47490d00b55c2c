"""Programmatic Alembic: ``upgrade_head(settings)`` is what ``crm init`` runs."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from crm_backend.settings import REPO_ROOT, Settings


def alembic_config(settings: Settings) -> Config:
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "crm_backend" / "migrations"))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    config.attributes["settings"] = settings  # the migrations encrypt with these settings' keys
    return config


def upgrade_head(settings: Settings) -> None:
    command.upgrade(alembic_config(settings), "head")
