"""The ``crm`` commands of data-subject requests, for a supervisor at the CRM's machine:

- ``crm export-customer (--customer-id N | --email E | --request DR-xxxxxx) --out FILE.json|FILE.zip``
- ``crm erase-customer (--customer-id N | --request DR-xxxxxx) [--yes]``: without ``--yes`` it prints what would be
  erased and changes nothing
- ``crm data-requests [--all]``: the pending requests (all of them with ``--all``)

With ``--request`` that request is carried out and completed; otherwise a request (source ``cli``) is created and
completed, so the audit log always holds one.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from crm_backend.db import DataRequest, new_session
from crm_backend.errors import DomainError
from crm_backend.services import customer_records, data_requests, erasure, privacy
from crm_backend.services.customers import find_by_email
from crm_backend.settings import Settings


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _request(args: argparse.Namespace, kind: str, *, session: Session) -> DataRequest:
    """The request to carry out: the one named, or a new one (source ``cli``) for the customer named."""
    if args.request:
        request = data_requests.get_request(args.request.strip().upper(), session=session)
        if request.kind != kind:
            raise DomainError(409, "wrong_kind", f"{request.reference} is an {request.kind} request, not {kind}.")
        return request
    customer_id = args.customer_id
    if getattr(args, "email", None):
        customer = find_by_email(args.email, session=session)
        if customer is None:
            raise DomainError(404, "customer_not_found", "No customer has that e-mail address.")
        customer_id = customer.id
    request, _created = data_requests.create_request(
        session=session, customer_id=int(customer_id), kind=kind, source="cli", requested_by=_actor()
    )
    return request


def write_export(export: dict[str, Any], out: Path) -> None:
    """``.zip``: one JSON file per store plus the manifest; anything else: one JSON document."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() != ".zip":
        out.write_text(json.dumps(export, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        return
    parts = {
        "manifest.json": {k: v for k, v in export.items() if k not in ("crm", "tracker_store", "event_broker")},
        "crm.json": export["crm"],
        "tracker_store.json": export["tracker_store"],
        "event_broker.json": export["event_broker"],
    }
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, json.dumps(content, indent=2, ensure_ascii=False, default=str))


def _fail(error: DomainError) -> int:
    print(f"error: {error.message}" + (f" {error.details}" if error.details else ""), file=sys.stderr)
    return 1


def cmd_export_customer(settings: Settings, engine: Engine, args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:  # before the request is completed: an export nobody could save would still count as given
        out.parent.mkdir(parents=True, exist_ok=True)
        out.touch()
    except OSError as error:
        print(f"error: cannot write {out}: {error}", file=sys.stderr)
        return 1
    with new_session(engine) as session:
        try:
            request = _request(args, "export", session=session)
            reference = request.reference
            export = privacy.carry_out(request, session=session, settings=settings, by=_actor(), resource="crm cli")
        except DomainError as error:
            session.rollback()
            return _fail(error)
    write_export(export, out)
    counts = export["manifest"]
    crm_rows = sum(counts["crm"].values())
    print(
        f"{reference}: customer {export['customer_id']} exported to {args.out}: {crm_rows} CRM rows, "
        f"{len(export['conversations'])} conversations, tracker store {_store(counts['tracker_store'])}, "
        f"event broker {_store(counts['event_broker'])}"
    )
    return 0


def _store(summary: dict[str, Any]) -> str:
    if summary["status"] != "ok":
        return f"{summary['status']}" + (f" ({summary['note']})" if summary.get("note") else "")
    counts = {k: v for k, v in summary.items() if isinstance(v, int)}
    return ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())


def cmd_erase_customer(settings: Settings, engine: Engine, args: argparse.Namespace) -> int:
    with new_session(engine) as session:
        try:
            if not args.yes:
                return _preview(settings, args, session=session)
            request = _request(args, "erase", session=session)
            reference = request.reference
            result = privacy.carry_out(request, session=session, settings=settings, by=_actor(), resource="crm cli")
        except DomainError as error:
            session.rollback()
            return _fail(error)
    print(f"{reference}: customer {result['customer_id']} erased ({result['conversations']} conversations)")
    print(f"  crm: {json.dumps(result['crm'], sort_keys=True)}")
    for store in ("tracker_store", "event_broker"):
        print(f"  {store.replace('_', ' ')}: {_store(result[store])}")
    return 0


def _preview(settings: Settings, args: argparse.Namespace, *, session: Session) -> int:
    """What an erasure would take, from the export of the same customer; nothing is written."""
    customer_id = args.customer_id
    if args.request:
        customer_id = data_requests.get_request(args.request.strip().upper(), session=session).customer_id
    export = privacy.export_customer(int(customer_id), session=session, settings=settings)
    session.rollback()
    manifest = export["manifest"]
    print(f"customer {customer_id}: would be erased (nothing done; add --yes to erase):")
    for table, count in manifest["crm"].items():
        if count:
            print(f"  crm {table}: {count}")
    print(f"  conversations: {manifest['conversations']}")
    print(f"  tracker store: {_store(manifest['tracker_store'])}")
    print(f"  event broker: {_store(manifest['event_broker'])}")
    years = erasure.INVOICE_RETENTION_YEARS
    print(f"invoices younger than {years} years stay, with the orders they rest on (addresses blanked)")
    blocking = erasure.unfinished(customer_records.Records(int(customer_id), session=session))
    if blocking:
        print(f"refused for now: orders or refunds still open on {', '.join(blocking)}")
    return 0


def cmd_data_requests(_settings: Settings, engine: Engine, args: argparse.Namespace) -> int:
    statuses = data_requests.STATUSES if args.all else ("pending",)
    with new_session(engine) as session:
        rows = data_requests.list_requests(session=session, statuses=statuses)
    if not rows:
        print("no pending data requests" if not args.all else "no data requests")
        return 0
    for r in rows:
        print(
            f"{r.reference}  {r.kind:<6}  customer {r.customer_id!s:<8} {r.status:<8} {r.source:<9} "
            f"{r.created_at:%Y-%m-%d %H:%M}  by {r.requested_by}"
            + (f"  done {r.completed_at:%Y-%m-%d %H:%M} by {r.completed_by}" if r.completed_at else "")
        )
    return 0


def add_commands(sub: Any, engine_of: Any) -> None:
    """Registers the commands on ``crm``'s subparsers; ``engine_of(settings)`` gives the migrated engine."""

    def run(command: Any) -> Any:
        return lambda settings, args: command(settings, engine_of(settings), args)

    p = sub.add_parser("export-customer", help="export everything held about a customer (a data request)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer-id", type=int)
    who.add_argument("--email")
    who.add_argument("--request", help="a pending export request, DR-123456")
    p.add_argument("--out", required=True, help="FILE.json, or FILE.zip (one file per store)")
    p.set_defaults(func=run(cmd_export_customer))
    p = sub.add_parser("erase-customer", help="erase a customer from every store (a data request)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer-id", type=int)
    who.add_argument("--request", help="a pending erasure request, DR-123456")
    p.add_argument("--yes", action="store_true", help="erase; without it, print what would be erased")
    p.set_defaults(func=run(cmd_erase_customer))
    p = sub.add_parser("data-requests", help="list pending data-subject requests")
    p.add_argument("--all", action="store_true", help="done and rejected ones too")
    p.set_defaults(func=run(cmd_data_requests))
