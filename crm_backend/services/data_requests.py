"""Data-subject requests: a customer's request for a copy of their data (``export``) or its erasure (``erase``).

The assistant and the console only create requests; a supervisor carries them out (console or ``crm`` command,
``crm_backend/services/privacy.py``). Every change is a row of the audit log.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_backend.db import DataRequest
from crm_backend.errors import DomainError
from crm_backend.services import audit
from crm_backend.util import utcnow

KINDS = ("export", "erase")
STATUSES = ("pending", "done", "rejected")
SOURCES = ("assistant", "console", "cli")


def _new_reference(*, session: Session) -> str:
    for _ in range(50):
        reference = f"DR-{secrets.randbelow(900000) + 100000}"
        if session.execute(select(DataRequest.id).where(DataRequest.reference == reference)).first() is None:
            return reference
    raise RuntimeError("could not find a free DR reference")


def _pending(session: Session, customer_id: int, kind: str) -> DataRequest | None:
    query = select(DataRequest).where(
        DataRequest.customer_id == customer_id, DataRequest.kind == kind, DataRequest.status == "pending"
    )
    return session.execute(query).scalar_one_or_none()


def create_request(
    *,
    session: Session,
    customer_id: int,
    kind: str,
    source: str,
    requested_by: str,
    conversation_id: str | None = None,
    proof: str | None = None,
) -> tuple[DataRequest, bool]:
    """(request, created). A pending request of the same customer and kind is returned instead of a second one."""
    if kind not in KINDS:
        raise DomainError(422, "invalid_request", "A data request is an export or an erasure.", {"kinds": KINDS})
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    pending = _pending(session, customer_id, kind)
    if pending is not None:
        return pending, False
    request = DataRequest(
        reference=_new_reference(session=session),
        customer_id=customer_id,
        kind=kind,
        status="pending",
        source=source,
        conversation_id=conversation_id,
        proof=proof,
        requested_by=requested_by[:100],
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():  # another process may have created the pending one a moment ago
            session.add(request)
            session.flush()
    except IntegrityError:
        raced = _pending(session, customer_id, kind)
        if raced is None:
            raise
        return raced, False
    audit.record(
        session=session,
        actor=requested_by[:100],
        action=f"data_request.{kind}.create",
        entity="data_request",
        entity_id=request.reference,
        after={"customer_id": customer_id, "source": source, "proof": proof},
    )
    return request, True


def get_request(reference: str, *, session: Session) -> DataRequest:
    request = session.execute(select(DataRequest).where(DataRequest.reference == reference)).scalar_one_or_none()
    if request is None:
        raise DomainError(404, "data_request_not_found", "There is no data request with that reference.")
    return request


def list_requests(*, session: Session, statuses: tuple[str, ...] = STATUSES, limit: int = 200) -> list[DataRequest]:
    query = (
        select(DataRequest)
        .where(DataRequest.status.in_(statuses))
        .order_by(DataRequest.created_at.desc(), DataRequest.id.desc())
        .limit(limit)
    )
    return list(session.execute(query).scalars())


def complete_request(
    request: DataRequest, *, session: Session, by: str, status: str = "done", result: dict[str, Any] | None = None
) -> DataRequest:
    """Marks a pending request done (or rejected) by ``by``, with what was exported or erased per store."""
    if request.status != "pending":
        raise DomainError(409, "data_request_closed", f"This request is already {request.status}.")
    if status not in ("done", "rejected"):
        raise ValueError(f"unknown status {status!r}")
    request.status, request.completed_at, request.completed_by = status, utcnow(), by[:100]
    request.result = result
    audit.record(
        session=session,
        actor=by[:100],
        action=f"data_request.{request.kind}.{status}",
        entity="data_request",
        entity_id=request.reference,
        before={"status": "pending"},
        after={"status": status, "result": result},
    )
    return request
