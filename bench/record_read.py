#!/usr/bin/env python
"""What the read audit costs the assistant's order look-up: one access_log INSERT and a commit per read.

  python bench/record_read.py                                   # SQLite, and PostgreSQL when it answers
  python bench/record_read.py --backends sqlite --reads 5000 --prefill 200000

On a fresh CRM schema with the demo personas and ``--prefill`` access_log rows already there (its indexes are not
empty), three kinds of request are measured, interleaved one for one so they see the same load, each in a fresh
session of the CRM's own engine:
- look-up: what ``GET /customers/{id}/orders/{number}`` does in the CRM without the audit (``orders.get_order`` and
  the order-detail view);
- look-up + audit: the same, then ``access.record_read`` and ``access.commit_read``, as the route does;
- look-up + audit, durable: the same with a plain commit (on PostgreSQL it waits for the log's flush to disk);
- audit alone: ``access.record_read`` and ``access.commit_read``.
Prints p50/p95/p99 of the wall time and the median CPU time of this process (the CRM's side of the work, which a
loaded machine does not inflate; on PostgreSQL the server's work is not in it), in milliseconds, and the differences.
The PostgreSQL database is temporary (dropped after).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.stats import percentile  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from scaled_config import drop_database, ensure_database  # noqa: E402

from crm_backend.api import views  # noqa: E402
from crm_backend.db import AccessLog, Base, new_session  # noqa: E402
from crm_backend.db.base import make_engine  # noqa: E402
from crm_backend.policies import load_policies  # noqa: E402
from crm_backend.seeding.personas import ensure_personas  # noqa: E402
from crm_backend.services import access  # noqa: E402
from crm_backend.services import orders as order_service  # noqa: E402
from crm_backend.settings import Settings  # noqa: E402

ALICE, ORDER = 1, "10001"
ROUTE = "GET /api/v1/customers/{customer_id}/orders/{order_number}"


def run(url: str, reads: int, prefill: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    settings = Settings(database_url=url, relay_enabled=False, env="development")
    engine = make_engine(settings)
    policies = load_policies(settings.policy_file)
    try:
        Base.metadata.create_all(engine)
        with new_session(engine) as session:
            ensure_personas(session=session, today=datetime.utcnow())
            rows = [
                {
                    "at": datetime.utcnow(),
                    "actor": f"bot:conv-{i}",
                    "customer_id": i % 5000 + 1,
                    "purpose": "grant:email",
                    "resource": ROUTE,
                    "masked": False,
                }
                for i in range(prefill)
            ]
            for start in range(0, len(rows), 10_000):
                session.execute(insert(AccessLog), rows[start : start + 10_000])
            session.commit()

        def lookup(audit: bool, durable: bool = False) -> None:
            with new_session(engine) as session:
                order = order_service.get_order(ALICE, ORDER, session=session)
                views.order_detail(order, policies)
                if audit:
                    access.record_read(
                        session=session,
                        actor="bot:conv-bench",
                        customer_id=ALICE,
                        purpose="grant:email",
                        resource=ROUTE,
                    )
                    if durable:
                        session.commit()
                    else:
                        access.commit_read(session=session)

        def audit_only() -> None:
            with new_session(engine) as session:
                access.record_read(
                    session=session, actor="bot:conv-bench", customer_id=ALICE, purpose="grant:email", resource=ROUTE
                )
                access.commit_read(session=session)

        kinds: dict[str, Callable[[], None]] = {
            "look-up": lambda: lookup(False),
            "look-up + audit": lambda: lookup(True),
            "look-up + audit, durable": lambda: lookup(True, durable=True),
            "audit alone": audit_only,
        }
        timings: dict[str, list[float]] = {name: [] for name in kinds}
        cpu: dict[str, list[float]] = {name: [] for name in kinds}
        for _ in range(50):  # warm the pool and the caches
            for call in kinds.values():
                call()
        for _ in range(reads):
            for name, call in kinds.items():
                started, started_cpu = time.perf_counter(), time.process_time()
                call()
                timings[name].append((time.perf_counter() - started) * 1000)
                cpu[name].append((time.process_time() - started_cpu) * 1000)
        return timings, cpu
    finally:
        engine.dispose()


def report(backend: str, measured: tuple[dict[str, list[float]], dict[str, list[float]]]) -> None:
    timings, cpu = measured
    print(f"\n{backend}: {len(next(iter(timings.values())))} reads of each kind (ms)")
    for name, values in timings.items():
        p50, p95, p99 = (percentile(values, q) for q in (50, 95, 99))
        print(f"  {name:<25} p50 {p50:6.3f}  p95 {p95:6.3f}  p99 {p99:6.3f}  cpu p50 {percentile(cpu[name], 50):6.3f}")
    base, audited = percentile(timings["look-up"], 95), percentile(timings["look-up + audit"], 95)
    print(f"  p95 added by the audit: {audited - base:+.3f} ms ({(audited / base - 1) * 100:+.0f} %)")
    base_cpu, audited_cpu = percentile(cpu["look-up"], 50), percentile(cpu["look-up + audit"], 50)
    print(f"  CPU (p50) added by the audit: {audited_cpu - base_cpu:+.3f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--prefill", type=int, default=100_000)
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as folder:
            report("SQLite (WAL)", run(f"sqlite:///{Path(folder) / 'crm.db'}", args.reads, args.prefill))
    if "postgresql" in backends:
        server = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
        url = f"{server}/bench_access_{uuid.uuid4().hex[:8]}"
        try:
            ensure_database(url)
        except Exception as exc:  # noqa: BLE001 - no server: say so and go on
            print(f"\nPostgreSQL: skipped ({type(exc).__name__}: {exc})")
            return 0
        try:
            report("PostgreSQL", run(url, args.reads, args.prefill))
        finally:
            drop_database(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
