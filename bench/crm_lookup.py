#!/usr/bin/env python
"""CRM order look-up latency at one million orders, on SQLite and on PostgreSQL.

  python bench/crm_lookup.py                              # both back-ends, 1,000,000 orders, 2,000 look-ups each
  python bench/crm_lookup.py --backends sqlite --orders 200000
  python bench/crm_lookup.py --backends sqlite --orders 2000 --lookups 100   # a quick check that it runs

The schema is the CRM's own (`crm init`, Alembic), with the demo personas and catalogue; then synthetic customers (one
per 6.5 orders, like the seed) and orders, each with an item, a payment and, once shipped, a shipment, are generated
inside the database (INSERT ... SELECT over a number series: a million orders in seconds, not the seed's minutes).
Personal fields are stored as the CRM stores them, encrypted with the settings' keys (crm_backend/db/crypto.py): names,
addresses and postcodes come from a pool of POOL values encrypted once in Python and picked by id modulo in SQL; each
customer's e-mail (unique, with its look-up hash) is encrypted in Python.
The SQLite file is cached in var/bench/ for the next run; the PostgreSQL database is temporary (dropped after).

Measured per back-end, on random (customer, order) pairs of the generated data, one at a time:
- service: what a request does inside the CRM (`orders.get_order` with the ownership check + the order-detail view
  with items, shipment, payment, invoice, refunds) in a fresh session;
- HTTP: `GET /api/v1/customers/{id}/orders/{number}` against a real `crm serve` (uvicorn) on loopback, which is what
  the action server calls, with the customer's identity grant (checked, and refreshed in the answer, by the CRM);
- verify e-mail / verify postcode: the identity check of the order with its customer's e-mail or postcode
  (`customers.verify_identity`: the order-number probe, then the keyed hashes compared) in a fresh session.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.stats import percentile  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from scaled_config import drop_database, ensure_database  # noqa: E402
from stack import Stack  # noqa: E402

from crm_backend.api import views  # noqa: E402
from crm_backend.db import Order, new_session  # noqa: E402
from crm_backend.db.base import make_engine  # noqa: E402
from crm_backend.db.crypto import Keyring, keyring_of  # noqa: E402
from crm_backend.migrate import alembic_config  # noqa: E402
from crm_backend.policies import load_policies  # noqa: E402
from crm_backend.services import customers as customer_service  # noqa: E402
from crm_backend.services import orders as order_service  # noqa: E402
from crm_backend.services.grants import GrantPolicy  # noqa: E402
from crm_backend.settings import Settings  # noqa: E402

CACHE = ROOT / "var" / "bench"
ORDERS_PER_CUSTOMER = 6.5
BASE_CUSTOMER, BASE_ORDER, FIRST_NUMBER = 1_000_000, 1_000_000, 50_000_000
POOL = 256  # distinct encrypted names, addresses and postcodes


def series(dialect: str, n: int) -> str:
    """A CTE `g(i)` of 1..n in this dialect."""
    if dialect == "postgresql":
        return f"WITH g(i) AS (SELECT generate_series(1, {n}))"
    return f"WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {n})"


def pool_postcode(k: int) -> str:
    return f"LS{k % 28 + 1} {k % 10}{'ABDEFGHJ'[k % 8]}P"


def identity_of(customer_id: int) -> tuple[str, str]:
    """(e-mail, postcode) on file of a generated customer."""
    i = customer_id - BASE_CUSTOMER
    return f"bench{i}@example.com", pool_postcode(i % POOL)


def pool_rows(keyring: Keyring) -> list[dict[str, object]]:
    """POOL rows of encrypted personal fields (and postcode hashes) for the generated customers and orders."""
    rows: list[dict[str, object]] = []
    for k in range(POOL):
        postcode = pool_postcode(k)
        rows.append(
            {
                "k": k,
                "first_name": keyring.encrypt("Bench"),
                "last_name": keyring.encrypt(f"Customer {k}"),
                "line1": keyring.encrypt(f"{k + 1} Bench Street"),
                "city": keyring.encrypt("Leeds"),
                "postcode": keyring.encrypt(postcode),
                "postcode_hash": keyring.postcode_hash(postcode),
            }
        )
    return rows


def insert_customers(engine: Engine, customers: int, chunk: int = 20_000) -> None:
    """Customers BASE_CUSTOMER + 1 .. + customers: e-mails encrypted one by one, the rest from the pool table."""
    keyring = keyring_of(engine.dialect)
    emails = sa.table("bench_email", sa.column("i"), sa.column("email"), sa.column("email_hash"))
    for start in range(1, customers + 1, chunk):
        rows = []
        for i in range(start, min(start + chunk, customers + 1)):
            email = f"bench{i}@example.com"
            rows.append({"i": i, "email": keyring.encrypt(email), "email_hash": keyring.email_hash(email)})
        with engine.begin() as conn:
            conn.execute(emails.insert(), rows)


def generate(engine: Engine, orders: int) -> float:
    """Add `orders` synthetic orders (and their customers, items, payments, shipments); returns seconds taken."""
    dialect = engine.dialect.name
    customers = max(int(orders / ORDERS_PER_CUSTOMER), 1)
    started = time.monotonic()
    with engine.begin() as conn:
        for table in ("bench_pool", "bench_email"):
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        conn.execute(
            text(
                "CREATE TABLE bench_pool (k INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, line1 TEXT, "
                "city TEXT, postcode TEXT, postcode_hash TEXT)"
            )
        )
        conn.execute(text("CREATE TABLE bench_email (i INTEGER PRIMARY KEY, email TEXT, email_hash TEXT)"))
        rows = pool_rows(keyring_of(engine.dialect))
        conn.execute(sa.table("bench_pool", *(sa.column(c) for c in rows[0])).insert(), rows)
    insert_customers(engine, customers)

    def ts(value: str) -> str:  # a typed literal on PostgreSQL; SQLAlchemy's SQLite types store ISO text
        kind = "DATE" if len(value) == 10 else "TIMESTAMP"
        return f"{kind} '{value}'" if dialect == "postgresql" else f"'{value}'"

    c, o = BASE_CUSTOMER, BASE_ORDER
    statements = [
        f"""INSERT INTO customers (id, first_name, last_name, email, email_hash, phone, postcode, postcode_hash,
               segment, created_at)
        SELECT {c} + e.i, p.first_name, p.last_name, e.email, e.email_hash, NULL, p.postcode, p.postcode_hash,
               'standard', {ts("2025-01-01 00:00:00")} FROM bench_email e JOIN bench_pool p ON p.k = e.i % {POOL}""",
        f"""INSERT INTO orders (id, order_number, customer_id, status, placed_at, total_pence, shipping_pence,
               delivery_option, ship_line1, ship_line2, ship_city, ship_postcode, ship_postcode_hash, ship_country)
        {series(dialect, orders)}
        SELECT {o} + i, CAST({FIRST_NUMBER} + i AS TEXT), {c} + 1 + (i % {customers}),
               CASE i % 5 WHEN 0 THEN 'paid' WHEN 1 THEN 'shipped' ELSE 'delivered' END,
               {ts("2026-10-01 10:00:00")}, 4990, 399, 'standard', p.line1, NULL, p.city, p.postcode, p.postcode_hash,
               'GB' FROM g JOIN bench_pool p ON p.k = (1 + (i % {customers})) % {POOL}""",
        f"""INSERT INTO order_items (id, order_id, product_id, sku, name, quantity, unit_price_pence)
        {series(dialect, orders)}
        SELECT {o} + i, {o} + i, p.id, p.sku, p.name, 1, 4591 FROM g, (SELECT id, sku, name FROM products
               ORDER BY id LIMIT 1) p""",
        f"""INSERT INTO payments (id, order_id, method, status, amount_pence, paid_at)
        {series(dialect, orders)}
        SELECT {o} + i, {o} + i, 'card', 'captured', 4990, {ts("2026-10-01 10:00:00")} FROM g""",
        f"""INSERT INTO shipments (id, order_id, carrier, tracking_number, status, shipped_at, eta, delivered_at,
               delay_days)
        {series(dialect, orders)}
        SELECT {o} + i, {o} + i, 'DPD', 'BT' || CAST(i AS TEXT),
               CASE i % 5 WHEN 1 THEN 'in_transit' ELSE 'delivered' END, {ts("2026-10-02 09:00:00")}, {ts("2026-10-04")},
               CASE i % 5 WHEN 1 THEN NULL ELSE {ts("2026-10-04 12:00:00")} END, 0 FROM g WHERE i % 5 <> 0""",
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
        for table in ("bench_pool", "bench_email"):
            conn.execute(text(f"DROP TABLE {table}"))
    if dialect == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return time.monotonic() - started


def count_orders(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Order)).scalar_one())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sample(orders: int, lookups: int, seed: int = 7) -> list[tuple[int, str]]:
    rng = random.Random(seed)
    customers = max(int(orders / ORDERS_PER_CUSTOMER), 1)
    picks = [rng.randint(1, orders) for _ in range(lookups)]
    return [(BASE_CUSTOMER + 1 + (i % customers), str(FIRST_NUMBER + i)) for i in picks]


def measure_service(url: str, pairs: list[tuple[int, str]]) -> list[float]:
    settings = Settings(database_url=url, relay_enabled=False)
    engine = make_engine(settings)  # the CRM's own engine (its pool, its SQLite pragmas)
    policies = load_policies(settings.policy_file)
    timings = []
    try:
        for customer_id, number in pairs:
            started = time.perf_counter()
            with new_session(engine) as session:
                detail = views.order_detail(order_service.get_order(customer_id, number, session=session), policies)
            timings.append((time.perf_counter() - started) * 1000)
            assert detail.order_number == number
    finally:
        engine.dispose()
    return timings


def measure_verify(url: str, pairs: list[tuple[int, str]], proof: str) -> list[float]:
    """``verify_identity`` of each order with its customer's e-mail or postcode, in a fresh session."""
    engine = make_engine(Settings(database_url=url, relay_enabled=False))
    timings = []
    try:
        for customer_id, number in pairs:
            email, postcode = identity_of(customer_id)
            given = {"email": email} if proof == "email" else {"postcode": postcode.lower().replace(" ", "")}
            started = time.perf_counter()
            with new_session(engine) as session:
                customer, how = customer_service.verify_identity(session=session, order_number=number, **given)
                found = customer.id
            timings.append((time.perf_counter() - started) * 1000)
            assert found == customer_id and how == proof
    finally:
        engine.dispose()
    return timings


def measure_http(url: str, pairs: list[tuple[int, str]], log_dir: Path) -> list[float]:
    stack = Stack(crm_port=free_port(), database_url=url, api_key="bench-key", log_dir=log_dir)
    stack.rasa_port = stack.crm_port  # names the log file
    timings = []
    try:
        stack.start_crm()
        # each look-up carries the identity grant of a conversation verified as that customer, as the actions send it
        grants = GrantPolicy(stack.grant_secret, idle=timedelta(minutes=30), absolute=timedelta(hours=8))
        headers = {}
        for customer_id, _ in pairs:
            token, _grant = grants.issue(
                customer_id=customer_id, conversation_id="bench", channel="rest", strength="email"
            )
            headers[customer_id] = {"X-Identity-Grant": token, "X-Conversation-Id": "bench", "X-Channel": "rest"}
        with httpx.Client(base_url=f"{stack.crm_url}/api/v1", headers={"X-API-Key": "bench-key"}) as client:
            for customer_id, number in pairs[:50]:  # warm-up: connections, imports, caches
                client.get(f"/customers/{customer_id}/orders/{number}", headers=headers[customer_id]).raise_for_status()
            for customer_id, number in pairs:
                started = time.perf_counter()
                response = client.get(f"/customers/{customer_id}/orders/{number}", headers=headers[customer_id])
                timings.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                assert response.json()["order_number"] == number
    finally:
        stack.stop()
    return timings


def prepare(backend: str, orders: int) -> tuple[str, str, bool]:
    """(database URL, how it was prepared, temporary?) with `orders` generated orders in it."""
    if backend == "sqlite":
        head = ScriptDirectory.from_config(alembic_config(Settings())).get_current_head()
        path = CACHE / f"crm_lookup_{orders}_{head}.db"  # a file of an older schema is not reused
        url = f"sqlite:///{path}"
        if path.exists() and count_orders(create_engine(url)) >= orders:
            return url, f"cached {path.relative_to(ROOT)}", False
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        temporary = False
    else:
        server = os.environ.get("TRACKER_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/x").rsplit("/", 1)[0]
        url = f"{server}/crm_lookup_{uuid.uuid4().hex[:8]}"
        ensure_database(url)
        temporary = True
    env = {**os.environ, "CRM_ENV": "development", "CRM_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    for args in (["init"], ["seed-if-empty", "--customers", "0"]):
        subprocess.run([sys.executable, "-m", "crm_backend", *args], cwd=ROOT, env=env, check=True, capture_output=True)
    engine = make_engine(Settings(database_url=url))  # the settings' keys, as the CRM processes read them
    seconds = generate(engine, orders)
    total = count_orders(engine)
    engine.dispose()
    return url, f"generated {orders:,} orders in {seconds:.0f} s ({total:,} in all)", temporary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args(argv)
    pairs = sample(args.orders, args.lookups)
    rows, failed = [], False
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        print(f"[{backend}] preparing {args.orders:,} orders ...", flush=True)
        url, how, temporary = prepare(backend, args.orders)
        try:
            print(f"[{backend}] {how}; measuring ...", flush=True)
            for kind, timings in (
                ("service", measure_service(url, pairs)),
                ("HTTP", measure_http(url, pairs, CACHE / "log")),
                ("verify e-mail", measure_verify(url, pairs, "email")),
                ("verify postcode", measure_verify(url, pairs, "postcode")),
            ):
                p50, p95, p99 = (percentile(timings, q) for q in (50, 95, 99))
                failed |= p95 > 5.0
                rows.append(f"| {backend} | {kind} | {len(timings)} | {p50:.2f} | {p95:.2f} | {p99:.2f} | {how} |")
        finally:
            if temporary:
                drop_database(url)
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "unknown"
    )
    print(
        f"\n# CRM order look-up ({datetime.now().astimezone():%Y-%m-%d %H:%M %Z})\n\n"
        f"- machine: {os.cpu_count()} CPUs, {cpu}; Python {platform.python_version()}; load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}\n"
        f"- `python bench/crm_lookup.py --backends {args.backends} --orders {args.orders} --lookups {args.lookups}`\n\n"
        "| back-end | path | look-ups | p50 ms | p95 ms | p99 ms | data |\n|---|---|---:|---:|---:|---:|---|\n"
        + "\n".join(rows)
    )
    print("\ngoal p95 <= 5 ms: " + ("NOT met" if failed else "met"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
