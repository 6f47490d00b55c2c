"""Seed generator, personas, CLI commands, Alembic migration and settings."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from crm_backend.cli import main
from crm_backend.db import Base, Customer, Order, make_engine, new_session
from crm_backend.db.crypto import generate_key
from crm_backend.migrate import alembic_config
from crm_backend.seeding.personas import persona_emails
from crm_backend.seeding.seed import seed
from crm_backend.settings import DEFAULT_DATA_KEY, DEFAULT_LOOKUP_KEY, Settings

TODAY = date(2024, 6, 3)
ALL_STATUSES = {"pending", "paid", "packed", "shipped", "delivered", "cancelled", "returned"}


def dump(engine: Engine) -> dict:
    """Every row as the application reads it (encrypted columns decrypted: their ciphertext differs on each write)."""
    tables = Base.metadata.tables
    with engine.connect() as conn:
        return {
            name: conn.execute(select(tables[name]).order_by(tables[name].c.id)).all()
            for name in ("customers", "orders", "order_items", "shipments", "payments", "refunds", "tickets")
        }


def fresh_engine(tmp_path: Path, name: str) -> Engine:
    engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path / name}"))
    Base.metadata.create_all(engine)
    return engine


def test_seed_is_deterministic(tmp_path: Path) -> None:
    a, b = fresh_engine(tmp_path, "a.db"), fresh_engine(tmp_path, "b.db")
    seed(a, customers=60, seed=5, today=TODAY, log=lambda _: None)
    seed(b, customers=60, seed=5, today=TODAY, log=lambda _: None)
    assert dump(a) == dump(b)
    c = fresh_engine(tmp_path, "c.db")
    seed(c, customers=60, seed=6, today=TODAY, log=lambda _: None)
    assert dump(a)["orders"] != dump(c)["orders"]


def test_population_has_every_status_and_churn(tmp_path: Path) -> None:
    engine = fresh_engine(tmp_path, "p.db")
    added = seed(engine, customers=400, seed=42, today=TODAY, log=lambda _: None)
    assert added["customers"] == 400 and added["orders"] > 1500
    with new_session(engine) as session:
        statuses = set(
            session.execute(select(Order.status).where(func.length(Order.order_number) == 6).distinct()).scalars()
        )
        first = session.execute(select(func.min(Order.order_number)).where(Order.customer_id > 3)).scalar()
        churned = session.execute(select(func.count(Customer.id)).where(Customer.churned_at.isnot(None))).scalar()
        active = session.execute(select(func.count(Customer.id)).where(Customer.churned_at.is_(None))).scalar()
        carriers = set(session.execute(text("SELECT DISTINCT carrier FROM shipments")).scalars())
        refund_statuses = set(session.execute(text("SELECT DISTINCT status FROM refunds")).scalars())
        topics = set(session.execute(text("SELECT DISTINCT topic FROM tickets")).scalars())
    assert statuses == ALL_STATUSES and first == "100001"
    assert 0 < churned < active
    assert carriers == {"Royal Mail", "DPD", "Evri", "DHL"}
    assert {"paid", "rejected"} <= refund_statuses and {"complaint", "inquiry"} <= topics


def test_churn_is_visible_in_behaviour(tmp_path: Path) -> None:
    """Churned customers had more late deliveries and complaints per order than those who stayed."""
    engine = fresh_engine(tmp_path, "c.db")
    seed(engine, customers=1500, seed=3, today=TODAY, log=lambda _: None)
    query = text("""
        SELECT c.churned_at IS NOT NULL AS churned,
               AVG((SELECT COUNT(*) FROM tickets t WHERE t.customer_id = c.id AND t.topic = 'complaint')
                   * 1.0 / (SELECT COUNT(*) FROM orders o WHERE o.customer_id = c.id))
        FROM customers c WHERE c.id > 3 AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)
        GROUP BY churned ORDER BY churned""")
    with engine.connect() as conn:
        (_, stayed), (_, churned) = conn.execute(query).all()
    assert churned > stayed * 1.3


def run(capsys: pytest.CaptureFixture, settings: Settings, *argv: str) -> str:
    assert main(list(argv), settings=settings) == 0
    return capsys.readouterr().out


def test_cli_flow(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}")
    assert "database ready" in run(capsys, settings, "init")  # alembic upgrade head
    run(capsys, settings, "init")  # idempotent
    out = run(capsys, settings, "seed", "--customers", "30", "--seed", "1", "--today", "2024-06-03")
    assert "30/30 customers" in out
    assert "nothing done" in run(capsys, settings, "seed", "--customers", "30")
    assert "already seeded" in run(capsys, settings, "seed-if-empty")
    personas = json.loads(run(capsys, settings, "demo-customers", "--json"))
    alice = personas[0]
    assert (alice["name"], alice["email"], alice["postcode"]) == (
        "Alice Martin",
        "alice.martin@example.com",
        "SW1A 1AA",
    )
    assert alice["orders"] == {
        "shipped": "10001",
        "paid": "10002",
        "delivered": "10003",
        "packed": "10004",
        "pending": "10005",
        "cancelled": "10007",
    }
    assert personas[1]["orders"] == {"shipped": "10011", "delivered": "10012", "paid": "10013"}
    assert personas[2]["orders"] == {"delivered": "10021", "returned": "10022"}
    assert "Ben Okafor" in run(capsys, settings, "demo-customers")
    assert "created supervisor" in run(
        capsys, settings, "create-agent", "--username", "sam", "--password", "password1", "--role", "supervisor"
    )
    stats = run(capsys, settings, "stats")
    personas_count = len(persona_emails())
    assert "customers" in stats and str(30 + personas_count) in stats
    out = run(capsys, settings, "seed", "--customers", "10", "--reset")
    assert "10/10 customers" in out
    engine = make_engine(settings)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM customers")).scalar() == 10 + personas_count
        head = ScriptDirectory.from_config(alembic_config(settings)).get_current_head()
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    engine.dispose()


def test_migration_matches_models(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from crm_backend.migrate import upgrade_head

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}")
    upgrade_head(settings)
    engine = make_engine(settings)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    engine.dispose()


def test_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_PORT", "9001")
    settings = Settings()
    assert settings.port == 9001 and settings.host == "127.0.0.1"
    assert settings.database_url.endswith("/var/crm.db") and Path(settings.database_url[10:]).is_absolute()
    secrets: dict[str, Any] = {
        "api_key": "s3cret",
        "rasa_token": "t0ken",
        "grant_secret": "g" * 32,
        "shop_login_secret": "s" * 32,
        "data_keys": f"{generate_key()}, {generate_key()}",
        "lookup_key": "l" * 32,
    }
    with pytest.raises(RuntimeError):
        Settings(env="production").check()
    with pytest.raises(RuntimeError):
        Settings(env="production", **{**secrets, "api_key": ""}).check()
    assert Settings(env="production", **secrets).check().api_key == "s3cret"
    # the development data key anywhere in the ring, a malformed key, a short look-up key: refused, each by name
    for name, weak in (
        ("CRM_DATA_KEYS", f"{generate_key()},{DEFAULT_DATA_KEY}"),
        ("CRM_DATA_KEYS", "not-base64!"),
        ("CRM_DATA_KEYS", generate_key()[:40]),
        ("CRM_DATA_KEYS", ""),
        ("CRM_LOOKUP_KEY", DEFAULT_LOOKUP_KEY),
        ("CRM_LOOKUP_KEY", "l" * 31),
    ):
        field = "data_keys" if name == "CRM_DATA_KEYS" else "lookup_key"
        with pytest.raises(RuntimeError, match=name):
            Settings(env="production", **{**secrets, field: weak}).check()
    assert Settings(env="development", data_keys=DEFAULT_DATA_KEY).check().data_keys == DEFAULT_DATA_KEY
