"""Encryption at rest: no personal field in clear in the database file (SQLite) or the tables (PostgreSQL) after
seeding and API use, look-ups by keyed hash, migration 0006 over clear rows, key rotation, wrong keys failing loudly."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import JSON, create_engine, select, text

from crm_backend.app import create_app
from crm_backend.cli import main
from crm_backend.db import Base, Customer, Order, make_engine, new_session
from crm_backend.db.crypto import DecryptionError, EncryptedJSON, Keyring, KeyringError, generate_key
from crm_backend.db.rotation import encrypted_columns
from crm_backend.migrate import alembic_config
from crm_backend.services.agents import create_agent
from crm_backend.services.customers import find_by_email, verify_identity
from crm_backend.settings import Settings
from tests.databases import throwaway_postgres
from tests.factories import grant_headers

API_KEY = "test-key"
KEY_A, KEY_B = generate_key(), generate_key()
LOOKUP = "lookup-key-of-the-encryption-tests-0123"
# what the personas and the API calls below write: none of it may be found in clear in the database
CLEAR = [
    "alice.martin@example.com",
    "ben.okafor@example.com",
    "chloe.nguyen@example.com",
    "Martin",
    "Okafor",
    "Nguyen",
    "SW1A 1AA",
    "M1 1AE",
    "EH1 1YZ",
    "Parliament Street",
    "Deansgate",
    "Royal Mile",
    "9 Privacy Lane",
    "Tunbridge Wells",
    "TN1 1AA",
    "parcel is soaking wet",
    "Refund agreed by phone",
]


def settings_for(url: str, keys: str = KEY_A, lookup: str = LOOKUP) -> Settings:
    return Settings(
        database_url=url, api_key=API_KEY, env="development", relay_enabled=False, data_keys=keys, lookup_key=lookup
    )


def use_the_api(settings: Settings) -> None:
    """What a conversation does: verify by e-mail and by postcode, a shop login, an address change, an escalation
    with a transcript and an agent's note."""
    headers = {"X-API-Key": API_KEY}
    with TestClient(create_app(settings)) as client:
        verify = "/api/v1/identity/verify"
        by_email = client.post(
            verify, headers=headers, json={"order_number": "10002", "email": " ALICE.Martin@example.com"}
            | {"conversation_id": "c1"},
        )  # fmt: skip
        assert by_email.status_code == 200, by_email.text
        assert (by_email.json()["customer_id"], by_email.json()["verified_by"]) == (1, "email")
        by_postcode = client.post(
            verify, headers=headers, json={"order_number": "10011", "postcode": "m11ae", "conversation_id": "c2"}
        )
        assert (by_postcode.json()["customer_id"], by_postcode.json()["verified_by"]) == (2, "postcode")
        wrong = client.post(
            verify, headers=headers, json={"order_number": "10011", "postcode": "SW1A 1AA", "conversation_id": "c3"}
        )
        assert wrong.status_code == 401 and wrong.json()["code"] == "verification_failed"
        token = jwt.encode(
            {"email": "chloe.nguyen@example.com", "exp": int(time.time()) + 600},
            settings.shop_login_secret,
            algorithm="HS256",
        )
        shop = client.post(
            "/api/v1/identity/shop-login", headers=headers, json={"token": token, "conversation_id": "c4"}
        )
        assert shop.status_code == 200 and shop.json()["customer_id"] == 3, shop.text  # found by its e-mail hash
        address = {"line1": "9 Privacy Lane", "city": "Tunbridge Wells", "postcode": "tn11aa", "country": "gb"}
        changed = client.put(
            "/api/v1/customers/1/orders/10002/shipping-address",
            headers={**headers, "Idempotency-Key": "addr-1", "X-Actor": "test", **grant_headers(1)},
            json=address,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["shipping_address"]["postcode"] == "TN1 1AA"
        # the new shipping postcode verifies the order, through its hash
        again = client.post(
            verify, headers=headers, json={"order_number": "10002", "postcode": "TN1 1AA", "conversation_id": "c5"}
        )
        assert again.status_code == 200, again.text
        escalation = client.post(
            "/api/v1/escalations",
            headers={**headers, "Idempotency-Key": "esc-1", "X-Actor": "test"},
            json={
                "conversation_id": "c6",
                "channel": "rest",
                "customer_id": None,
                "priority": 60,
                "reason_codes": ["strong_negative"],
                "summary": "Customer says the parcel is soaking wet.",
                "scores": {"sentiment_last": -0.8},
                "packet": {"transcript": [{"sender": "customer", "text": "my parcel is soaking wet, 9 Privacy Lane"}]},
            },
        )
        assert escalation.status_code == 201, escalation.text
        note = client.post(
            f"/api/v1/escalations/{escalation.json()['id']}/notes",
            headers={**headers, "Idempotency-Key": "note-1", "X-Actor": "test"},
            json={"agent": "test", "text": "Refund agreed by phone with Alice Martin"},
        )
        assert note.status_code == 201, note.text


def raw_values(query: Callable[[str], list[Any]]) -> dict[str, list[Any]]:
    """Every stored value of every encrypted column, read by raw SQL (``query``: SQL text -> rows)."""
    found: dict[str, list[Any]] = {}
    for table, columns in encrypted_columns().items():
        for column in columns:
            rows = query(f'SELECT "{column}" FROM {table}')
            found[f"{table}.{column}"] = [row[0] for row in rows if row[0] is not None]
    return found


def assert_all_ciphertext(values: dict[str, list[Any]]) -> None:
    assert values["customers.email"] and values["orders.ship_postcode"] and values["escalation_messages.text"]
    for name, stored in values.items():
        clear = [v for v in stored if not str(v).startswith("e1.")]
        assert not clear, f"{name} holds clear values: {clear[:3]}"


def assert_no_clear_text(blob: str) -> None:
    leaked = [value for value in CLEAR if value.lower() in blob.lower()]
    assert not leaked, leaked


def seed_and_use(settings: Settings) -> None:
    assert main(["init"], settings=settings) == 0
    assert main(["seed", "--customers", "25", "--seed", "3", "--today", "2026-11-30"], settings=settings) == 0
    engine = make_engine(settings)
    with new_session(engine) as session:  # an agent for the note
        create_agent(session=session, username="test", password="password-1", role="agent", display_name="T")
        session.commit()
    engine.dispose()
    use_the_api(settings)


def population_values(settings: Settings) -> list[str]:
    """A few seeded (simulated) customers' personal values, as the application reads them."""
    engine = make_engine(settings)
    with new_session(engine) as session:
        customers = session.execute(select(Customer).where(Customer.id > 4).limit(5)).scalars().all()
        values = [v for c in customers for v in (c.email, c.phone, c.addresses[0].line1)]
    engine.dispose()
    return values


def test_sqlite_file_holds_no_personal_data_in_clear(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "crm.db"
    settings = settings_for(f"sqlite:///{path}")
    seed_and_use(settings)
    seeded = population_values(settings)
    capsys.readouterr()
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("crm.db*")).decode("latin-1")  # the file and its WAL
    assert_no_clear_text(blob)
    leaked = [value for value in seeded if value in blob]
    assert not leaked, leaked
    with sqlite3.connect(path) as conn:
        assert_all_ciphertext(raw_values(lambda sql: conn.execute(sql).fetchall()))
        hashes = conn.execute("SELECT email_hash, postcode_hash FROM customers").fetchall()
        assert all(len(h) == 64 and int(h, 16) >= 0 for row in hashes for h in row)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with throwaway_postgres("encryption") as (url,):
        yield url


def test_postgresql_tables_hold_no_personal_data_in_clear(postgres_url: str, capsys: pytest.CaptureFixture) -> None:
    settings = settings_for(postgres_url)
    seed_and_use(settings)
    seeded = population_values(settings)
    capsys.readouterr()
    raw = create_engine(postgres_url)  # no keyring: raw SQL sees what is stored
    try:
        with raw.connect() as conn:
            values = raw_values(lambda sql: conn.execute(text(sql)).fetchall())
            assert_all_ciphertext(values)
            dump = " ".join(
                str(v)
                for table in Base.metadata.sorted_tables
                for row in conn.execute(text(f"SELECT * FROM {table.name}")).fetchall()
                for v in row
            )
    finally:
        raw.dispose()
    assert_no_clear_text(dump)
    assert not [value for value in seeded if value in dump]


def test_lookups_compare_keyed_hashes(tmp_path: Path) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'crm.db'}")
    assert main(["init"], settings=settings) == 0
    assert main(["seed", "--customers", "0", "--today", "2026-11-30"], settings=settings) == 0
    engine = make_engine(settings)
    with new_session(engine) as session:
        alice = find_by_email("  Alice.MARTIN@example.com", session=session)
        assert alice is not None and (alice.id, alice.last_name, alice.email) == (
            1,
            "Martin",
            "alice.martin@example.com",
        )
        assert find_by_email("alice.martin@example.org", session=session) is None
        assert verify_identity(session=session, order_number="#10001", postcode="sw1a 1aa")[1] == "postcode"
        # the hash follows an ORM change of the e-mail and postcode
        alice.email, alice.postcode = "alice@example.net", "EH1 1YZ"
        session.commit()
        assert find_by_email("ALICE@example.net", session=session) is alice
        assert find_by_email("alice.martin@example.com", session=session) is None
        assert verify_identity(session=session, order_number="10005", postcode="EH11YZ")[0] is alice
        with pytest.raises(TypeError, match="hash"):
            select(Customer).where(Customer.email == "alice@example.net")
        with pytest.raises(TypeError, match="hash"):
            select(Order).where(Order.ship_postcode.in_(["SW1A 1AA"]))
        assert session.execute(select(Customer.id).where(Customer.phone.is_(None))).first() is None
    engine.dispose()
    other_lookup = make_engine(settings_for(settings.database_url, lookup="another-lookup-key-0123456789abcdef"))
    with new_session(other_lookup) as session:
        assert find_by_email("alice@example.net", session=session) is None  # the hashes are keyed
    other_lookup.dispose()


def test_keyring_rotation_order_and_loud_failures() -> None:
    ring_a = Keyring.from_strings(KEY_A, LOOKUP)
    token = ring_a.encrypt("alice.martin@example.com")
    assert token.startswith(f"e1.{ring_a.current_id}.") and "alice" not in token
    assert ring_a.encrypt("same") != ring_a.encrypt("same")  # a fresh nonce each time
    both = Keyring.from_strings(f"{KEY_B}, {KEY_A}", LOOKUP)
    assert both.decrypt(token) == "alice.martin@example.com" and not both.is_current(token)
    assert both.is_current(both.encrypt("x")) and both.current_id != ring_a.current_id
    only_b = Keyring.from_strings(KEY_B, LOOKUP)
    with pytest.raises(DecryptionError, match=f"{ring_a.current_id}.*not in CRM_DATA_KEYS"):
        only_b.decrypt(token)
    prefix, kid, body = token.split(".")
    tampered = f"{prefix}.{kid}.{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}"
    with pytest.raises(DecryptionError, match="failed authentication"):
        ring_a.decrypt(tampered)
    with pytest.raises(DecryptionError, match="not ciphertext"):
        ring_a.decrypt("alice.martin@example.com")
    for bad in ("", "not-base64!", KEY_A[:40], f"{KEY_A},short"):
        with pytest.raises(KeyringError):
            Keyring.from_strings(bad, LOOKUP)
    with pytest.raises(KeyringError):
        Keyring.from_strings(KEY_A, "short")
    assert ring_a.email_hash(" Alice.Martin@Example.com") == ring_a.email_hash("alice.martin@example.com")
    assert ring_a.postcode_hash("sw1a1aa") == ring_a.postcode_hash("SW1A 1AA") != ring_a.email_hash("SW1A 1AA")


def test_rotate_keys_reencrypts_everything_with_the_first_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    with_a = settings_for(url, KEY_A)
    seed_and_use(with_a)

    def everything(settings: Settings) -> dict[str, list[Any]]:
        engine = make_engine(settings)
        try:
            with engine.connect() as conn:
                return {
                    table: conn.execute(select(Base.metadata.tables[table]).order_by(text("id"))).all()
                    for table in encrypted_columns()
                }
        finally:
            engine.dispose()

    before = everything(with_a)
    capsys.readouterr()
    assert main(["rotate-keys", "--batch-size", "7"], settings=settings_for(url, f"{KEY_B},{KEY_A}")) == 0
    counts = {words[0]: words[1:] for words in map(str.split, capsys.readouterr().out.splitlines()[1:])}
    assert set(counts) == set(encrypted_columns())
    for table, rows in before.items():  # every row holding a value re-encrypted ("n rows, m re-encrypted")
        holding = [r for r in rows if any(r._mapping[c] is not None for c in encrypted_columns()[table])]
        assert counts[table] == [str(len(rows)), "rows,", str(len(holding)), "re-encrypted"], table
    assert main(["rotate-keys"], settings=settings_for(url, f"{KEY_B},{KEY_A}")) == 0
    again = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert again and all(words[3] == "0" for words in again)  # idempotent: nothing left to re-encrypt
    assert everything(settings_for(url, KEY_B)) == before  # key A can leave the ring
    with pytest.raises(DecryptionError, match="not in CRM_DATA_KEYS"):
        everything(settings_for(url, KEY_A))
    with TestClient(create_app(settings_for(url, KEY_A)), raise_server_exceptions=False) as client:
        profile = client.get("/api/v1/customers/1", headers={"X-API-Key": API_KEY, **grant_headers(1)})
    assert profile.status_code == 500 and "Martin" not in profile.text and "e1." not in profile.text
    # a new look-up key: e-mails are found again once the hashes are recomputed
    new_lookup = settings_for(url, KEY_B, lookup="a-new-lookup-key-after-rotation-0123456")
    assert main(["rotate-keys", "--rehash"], settings=new_lookup) == 0
    engine = make_engine(new_lookup)
    with new_session(engine) as session:
        alice = find_by_email("alice.martin@example.com", session=session)
        assert alice is not None and alice.id == 1
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


OLD_ROWS = {  # clear rows as a CRM at migration 0005 held them, in SQL both back-ends take
    "customers": "INSERT INTO customers (id, first_name, last_name, email, phone, postcode, segment, created_at) "
    "VALUES (1, 'Olga', 'Oldrow', 'olga.oldrow@example.com', '07700900123', 'LS1 4AP', 'standard', "
    "'2025-01-01 00:00:00'), (2, 'Piet', 'Prior', 'piet.prior@example.com', NULL, 'M1 1AE', 'premium', "
    "'2025-02-01 00:00:00')",
    "addresses": "INSERT INTO addresses (id, customer_id, line1, line2, city, postcode, country, is_default) "
    "VALUES (1, 1, '7 Oldrow Yard', 'Flat 2', 'Leeds', 'LS1 4AP', 'GB', 1)",
    "orders": "INSERT INTO orders (id, order_number, customer_id, status, placed_at, total_pence, shipping_pence, "
    "delivery_option, ship_line1, ship_line2, ship_city, ship_postcode, ship_country, cancel_reason) VALUES (1, "
    "'70001', 1, 'cancelled', '2026-11-01 10:00:00', 4990, 399, 'standard', '7 Oldrow Yard', NULL, 'Leeds', "
    "'LS2 7HY', 'GB', 'Olga moved house')",
    "refunds": "INSERT INTO refunds (id, reference, order_id, amount_pence, reason, status, created_at) VALUES "
    "(1, 'RF-000001', 1, 100, 'Olga says it broke', 'paid', '2026-11-02 10:00:00')",
    "tickets": "INSERT INTO tickets (id, reference, customer_id, channel, topic, summary, status, created_at) "
    "VALUES (1, 'TK-000001', 1, 'email', 'complaint', 'Olga Oldrow complains', 'open', '2026-11-02 10:00:00')",
    "escalations": "INSERT INTO escalations (id, conversation_id, customer_id, status, priority, reason_codes, "
    "scores, packet, summary, created_at) VALUES (1, 'old-1', 1, 'open', 50, '[\"x\"]', '{}', "
    '\'{"transcript": [{"text": "olga.oldrow@example.com here"}]}\', \'Olga is upset\', '
    "'2026-11-02 10:00:00')",
    "escalation_messages": "INSERT INTO escalation_messages (id, escalation_id, sender, text, delivered, "
    "created_at) VALUES (1, 1, 'customer', 'I am Olga Oldrow', TRUE, '2026-11-02 10:00:00')",
    "audit_log": "INSERT INTO audit_log (id, at, actor, action, entity, entity_id, before, after) VALUES "
    "(1, '2026-11-02 10:00:00', 'test', 'order.address', 'order', '1', '{\"line1\": \"7 Oldrow Yard\"}', "
    "NULL)",
    "idempotency_keys": "INSERT INTO idempotency_keys (id, key, scope, request_hash, status_code, response_json, "
    "created_at) VALUES (1, 'k1', 'PUT /x', 'h', 200, '{\"line1\": \"7 Oldrow Yard\"}', '2026-11-02 10:00:00')",
}
OLD_CLEAR = ("olga.oldrow@example.com", "Oldrow", "LS2 7HY", "I am Olga", "07700900123", "moved house")


def test_migration_0006_encrypts_existing_rows_and_downgrade_restores_them(empty_database: str) -> None:
    settings = settings_for(empty_database)
    config = alembic_config(settings)
    command.upgrade(config, "0005")
    raw = create_engine(empty_database)  # no keyring: raw SQL
    with raw.begin() as conn:
        for statement in OLD_ROWS.values():
            conn.execute(text(statement))
        originals = {table: conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).all() for table in OLD_ROWS}

    command.upgrade(config, "head")
    engine = make_engine(settings)
    with engine.connect() as conn:
        for table, expected in originals.items():
            t = Base.metadata.tables[table]
            names = list(conn.execute(text(f"SELECT * FROM {table} LIMIT 0")).keys())
            read = conn.execute(select(t).order_by(t.c.id)).mappings().all()
            for want, got in zip(expected, read, strict=True):
                for name, value in zip(names, want):
                    if name.endswith("_hash"):
                        continue
                    stored = got[name]
                    if isinstance(value, str) and isinstance(t.c[name].type, (EncryptedJSON, JSON)):
                        value = json.loads(value)  # SQLite hands JSON back as text, PostgreSQL parsed
                    elif isinstance(value, str) and hasattr(stored, "isoformat"):
                        value = type(stored).fromisoformat(value)
                    assert stored == value, (table, name)
    with new_session(engine) as session:
        olga = find_by_email("OLGA.OLDROW@example.com", session=session)
        assert olga is not None and olga.first_name == "Olga"
        assert verify_identity(session=session, order_number="70001", postcode="ls27hy")[0] is olga
        assert verify_identity(session=session, order_number="70001", postcode="LS1 4AP")[0] is olga
    engine.dispose()
    with raw.connect() as conn:
        assert_all_ciphertext(raw_values(lambda sql: conn.execute(text(sql)).fetchall()))
        dump = " ".join(
            str(v) for table in OLD_ROWS for row in conn.execute(text(f"SELECT * FROM {table}")) for v in row
        )
    assert not [clear for clear in OLD_CLEAR if clear in dump]
    if empty_database.startswith("sqlite:///"):
        path = Path(empty_database[len("sqlite:///") :])
        blob = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*")).decode("latin-1")
        assert not [clear for clear in OLD_CLEAR if clear in blob]

    command.downgrade(config, "0005")
    with raw.connect() as conn:
        for table, expected in originals.items():
            assert conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).all() == expected, table
    raw.dispose()
