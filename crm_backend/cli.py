"""Command line: ``crm init | seed | seed-if-empty | demo-customers | demo-agents | serve | create-agent | stats | relay |
retention | rotate-keys | generate-key | export-customer | erase-customer | data-requests``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from crm_backend import cli_privacy
from crm_backend.db import Base, Order, make_engine, new_session
from crm_backend.errors import DomainError
from crm_backend.seeding.personas import ensure_personas, persona_emails
from crm_backend.services.customers import find_by_email
from crm_backend.settings import Settings, get_settings

DEFAULT_CUSTOMERS, DEFAULT_SEED = 300, 42


def _engine(settings: Settings) -> Engine:
    from crm_backend.migrate import upgrade_head

    upgrade_head(settings)
    return make_engine(settings)


def cmd_init(settings: Settings, _args: argparse.Namespace) -> int:
    from crm_backend.migrate import upgrade_head

    upgrade_head(settings)
    print(f"database ready: {settings.database_url}")
    return 0


def _run_seed(engine: Engine, customers: int, seed_value: int, today: date | None) -> None:
    from crm_backend.seeding.seed import seed

    print(f"seeding {customers} customers (seed={seed_value}, today={today or date.today()}) ...")
    added = seed(engine, customers=customers, seed=seed_value, today=today)
    print("added: " + ", ".join(f"{table}={n}" for table, n in added.items()))


def cmd_seed(settings: Settings, args: argparse.Namespace) -> int:
    from crm_backend.seeding.seed import count_customers, reset

    engine = _engine(settings)
    existing = count_customers(engine)
    if existing and not args.reset:
        print(f"database already has {existing} customers; nothing done (use --reset to wipe and re-seed)")
        return 0
    if existing:
        print(f"--reset: deleting {existing} customers and everything else ...")
        reset(engine)
    _run_seed(engine, args.customers, args.seed, args.today)
    return 0


def cmd_seed_if_empty(settings: Settings, args: argparse.Namespace) -> int:
    from crm_backend.seeding.seed import count_customers

    engine = _engine(settings)
    if count_customers(engine):
        with new_session(engine) as session:  # personas added since the database was seeded still appear
            added = ensure_personas(
                session=session, today=datetime.combine(args.today or date.today(), datetime.min.time())
            )
            session.commit()
        print("database already seeded" + (f"; added {added} new demo persona(s)" if added else ""))
        return 0
    _run_seed(engine, args.customers, args.seed, args.today)
    return 0


def demo_customers(engine: Engine) -> list[dict[str, Any]]:
    """Personas as stored: name, e-mail, postcode and the first order number per status."""
    result = []
    with new_session(engine) as session:
        for email in persona_emails():
            customer = find_by_email(email, session=session)
            if customer is None:
                continue
            orders: dict[str, str] = {}
            rows = session.execute(
                select(Order.status, Order.order_number)
                .where(Order.customer_id == customer.id)
                .order_by(Order.order_number)
            )
            for status, number in rows:
                orders.setdefault(status, number)
            result.append(
                {
                    "customer_id": customer.id,
                    "name": f"{customer.first_name} {customer.last_name}",
                    "email": customer.email,
                    "postcode": customer.postcode,
                    "orders": orders,
                }
            )
    return result


def cmd_demo_customers(settings: Settings, args: argparse.Namespace) -> int:
    personas = demo_customers(_engine(settings))
    if not personas:
        print("no demo customers yet: run `crm seed` first", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(personas, indent=2))
        return 0
    for p in personas:
        print(f"{p['name']:<14} {p['email']:<28} {p['postcode']:<9}")
        print("    " + ", ".join(f"{status} {number}" for status, number in p["orders"].items()))
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from crm_backend.app import create_app
    from shopcare_core import logmask

    logmask.install([settings.api_key, settings.rasa_token])  # no PII or secret in any log line of the CRM
    # ws="websockets": uvicorn's "auto" picks the sans-io implementation, which needs a newer
    # websockets than the one Rasa pins.
    uvicorn.run(create_app(settings), host=args.host or settings.host, port=args.port or settings.port, ws="websockets")
    return 0


def cmd_create_agent(settings: Settings, args: argparse.Namespace) -> int:
    from crm_backend.services.agents import create_agent

    engine = _engine(settings)
    with new_session(engine) as session:
        try:
            agent = create_agent(
                session=session,
                username=args.username,
                password=args.password,
                role=args.role,
                display_name=args.display_name or "",
            )
        except DomainError as error:
            print(f"error: {error.message}", file=sys.stderr)
            return 1
        session.commit()
        print(f"created {agent.role} {agent.username!r} (id {agent.id})")
    return 0


DEMO_AGENTS = (("agent", "agent", "Alex Agent"), ("supervisor", "supervisor", "Sam Supervisor"))
DEMO_AGENT_PASSWORD = "shopcare-demo"


def cmd_demo_agents(settings: Settings, args: argparse.Namespace) -> int:
    """The console logins of ``make run``: ``agent`` and ``supervisor`` (development only; existing ones are kept)."""
    from crm_backend.seeding.demo import ensure_agent

    if settings.env != "development":
        print("error: demo agents exist only when CRM_ENV=development; use create-agent", file=sys.stderr)
        return 1
    engine = _engine(settings)
    with new_session(engine) as session:
        for username, role, name in DEMO_AGENTS:
            created = ensure_agent(session, username, args.password, role, name)
            print(f"{'created' if created else 'kept'} {role} {username!r}")
        session.commit()
    return 0


def cmd_stats(settings: Settings, _args: argparse.Namespace) -> int:
    engine = _engine(settings)
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            print(f"{table.name:<22} {conn.execute(select(func.count()).select_from(table)).scalar_one():>10}")
    return 0


def cmd_relay(settings: Settings, args: argparse.Namespace) -> int:
    """Relay Rasa events (escalation requests, customer messages) without the API: once, or until Ctrl-C."""
    from crm_backend.relay.sql import EventRelay

    if not settings.rasa_events_url:
        print("CRM_RASA_EVENTS_URL is empty: the relay is disabled", file=sys.stderr)
        return 1
    relay = EventRelay.from_settings(settings, _engine(settings))
    if args.once:
        print(f"relayed {relay.run_once()} event(s); cursor at {relay.position()}")
        return 0
    relay.start(settings.relay_interval_seconds)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        relay.stop()
    return 0


def cmd_retention(settings: Settings, args: argparse.Namespace) -> int:
    """Remove or anonymise conversation data past its retention period in every store (once, now)."""
    from crm_backend.services.retention import run_retention

    with new_session(_engine(settings)) as session:
        counts = run_retention(session=session, settings=settings, dry_run=args.dry_run)
    verb = "would change" if args.dry_run else "changed"
    print(f"retention {verb}: " + ", ".join(f"{store}={n}" for store, n in counts.items()))
    return 0


def cmd_rotate_keys(settings: Settings, args: argparse.Namespace) -> int:
    """Re-encrypt every encrypted column with the first key of CRM_DATA_KEYS, one committed batch at a time."""
    from crm_backend.db.crypto import keyring_of
    from crm_backend.db.rotation import TableRotation, rotate_keys

    def report(done: TableRotation) -> None:
        line = f"{done.table:<22} {done.rows:>8} rows, {done.reencrypted:>8} re-encrypted"
        print(line + (f", {done.rehashed:>8} re-hashed" if args.rehash else ""), flush=True)

    if args.batch_size < 1:
        print("error: --batch-size must be at least 1", file=sys.stderr)
        return 1
    engine = _engine(settings)
    print(f"re-encrypting with data key {keyring_of(engine.dialect).current_id} ...")
    rotate_keys(engine, batch_size=args.batch_size, rehash=args.rehash, log=report)
    return 0


def cmd_generate_key(_settings: Settings, _args: argparse.Namespace) -> int:
    """A new random data key for CRM_DATA_KEYS."""
    from crm_backend.db.crypto import generate_key

    print(generate_key())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crm", description="CRM service of the customer-service assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create or migrate the database (alembic upgrade head)").set_defaults(func=cmd_init)
    for name, func_, helptext in (
        ("seed", cmd_seed, "personas + a simulated population (does nothing if customers exist)"),
        ("seed-if-empty", cmd_seed_if_empty, "seed only when the database has no customers"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
        p.add_argument("--seed", type=int, default=DEFAULT_SEED)
        p.add_argument("--today", type=date.fromisoformat, default=None, help="reference date YYYY-MM-DD")
        if name == "seed":
            p.add_argument(
                "--reset", "--force", action="store_true", dest="reset", help="delete all rows first, then seed"
            )
        p.set_defaults(func=func_)
    p = sub.add_parser("demo-customers", help="list the demo personas and an order number per status")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_demo_customers)
    p = sub.add_parser("serve", help="run the API with uvicorn (settings host/port)")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("create-agent", help="create a console agent")
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--role", choices=("agent", "supervisor"), default="agent")
    p.add_argument("--display-name", default=None)
    p.set_defaults(func=cmd_create_agent)
    p = sub.add_parser("demo-agents", help="console logins agent/supervisor for local development")
    p.add_argument("--password", default=DEMO_AGENT_PASSWORD)
    p.set_defaults(func=cmd_demo_agents)
    sub.add_parser("stats", help="row counts per table").set_defaults(func=cmd_stats)
    p = sub.add_parser("relay", help="relay the Rasa event-broker table (escalations, customer messages)")
    p.add_argument("--once", action="store_true", help="process what is there and exit")
    p.set_defaults(func=cmd_relay)
    p = sub.add_parser("retention", help="remove or anonymise conversation data past its retention period")
    p.add_argument("--dry-run", action="store_true", help="count what would change; change nothing")
    p.set_defaults(func=cmd_retention)
    p = sub.add_parser("rotate-keys", help="re-encrypt personal fields with the first key of CRM_DATA_KEYS")
    p.add_argument("--batch-size", type=int, default=500, help="rows per committed transaction")
    p.add_argument("--rehash", action="store_true", help="also recompute look-up hashes (new CRM_LOOKUP_KEY)")
    p.set_defaults(func=cmd_rotate_keys)
    sub.add_parser("generate-key", help="print a new random data key for CRM_DATA_KEYS").set_defaults(
        func=cmd_generate_key
    )
    cli_privacy.add_commands(sub, _engine)  # export-customer, erase-customer, data-requests
    return parser


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.func is cmd_generate_key:  # reads no settings: production settings without a key refuse to load
        return cmd_generate_key(Settings(), args)
    return int(args.func(settings or get_settings(), args))


if __name__ == "__main__":
    raise SystemExit(main())
