"""Customer-facing reference numbers of refunds (``RF-123456``) and support tickets (``TK-123456``): random, unique."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_backend.db import Refund, Ticket


def _new_reference(prefix: str, model: type[Refund] | type[Ticket], *, session: Session) -> str:
    for _ in range(50):
        reference = f"{prefix}-{secrets.randbelow(900000) + 100000}"
        exists = session.execute(select(model.id).where(model.reference == reference)).first()
        if exists is None:
            return reference
    raise RuntimeError(f"could not find a free {prefix} reference")


def new_refund_reference(*, session: Session) -> str:
    return _new_reference("RF", Refund, session=session)


def new_ticket_reference(*, session: Session) -> str:
    return _new_reference("TK", Ticket, session=session)
