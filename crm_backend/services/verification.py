"""Rate limit on identity verification per order, across conversations.

The assistant locks a conversation after 3 failed checks; someone guessing e-mails or postcodes for one order from
many conversations is stopped here: ``max_failures`` failed checks of an order within ``window`` lock that order's
verification (correct details included) until the window has passed. Failures are rows of the audit log
(``action="identity_verify_failed"``, ``entity="order"``), so the limit needs no table of its own and holds across
CRM processes sharing the database.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_backend.db import AuditLog
from crm_backend.errors import DomainError
from crm_backend.services import audit
from crm_backend.util import normalise_order_number, utcnow

FAILED = "identity_verify_failed"


def _key(order_number: str) -> str:
    return normalise_order_number(order_number)[:40]


def recent_failures(order_number: str, *, session: Session, window: timedelta) -> int:
    since = utcnow() - window
    query = select(func.count(AuditLog.id)).where(
        AuditLog.action == FAILED,
        AuditLog.entity == "order",
        AuditLog.entity_id == _key(order_number),
        AuditLog.at >= since,
    )
    return int(session.execute(query).scalar_one())


def check_not_locked(order_number: str, *, session: Session, max_failures: int, window: timedelta) -> None:
    if recent_failures(order_number, session=session, window=window) >= max_failures:
        raise DomainError(
            429,
            "too_many_attempts",
            "For your security, identity checks for this order are paused after too many attempts. "
            "A member of our team can help you instead.",
            {"retry_after_seconds": int(window.total_seconds())},
        )


def record_failure(order_number: str, conversation_id: str, *, session: Session) -> None:
    audit.record(
        session=session,
        actor=f"bot:{conversation_id}"[:100],
        action=FAILED,
        entity="order",
        entity_id=_key(order_number),
        after={"conversation_id": conversation_id},
    )
