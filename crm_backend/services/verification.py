"""Limits on failed identity checks, so a sweep is stopped while a customer who mistypes is not.

A failed check counts against four keys, each with its own limit and window (``Limits``, from settings):
- the order (someone guessing the e-mail or postcode of one order from many conversations);
- the proof value: the same e-mail or postcode tried across orders (a sweep of one victim's e-mail over the
  sequential order numbers). Stored as a keyed hash, never in clear;
- the channel user (the conversation's sender on its channel);
- the client's network address, where the channel knows it.
Reaching any limit refuses checks with that key, correct details included, for the window: 429 `too_many_attempts`
with the scope in the details. A one-time code sent to the address on file still works then (it proves the mailbox,
not a guess). Failures of every kind within the order window are also a global budget: crossing it records one
`security_alert` audit row per window, which the agents' console shows.

Failures are rows of the audit log (``action="identity_verify_failed"``), so the limits need no table of their own and
hold across CRM processes sharing the database.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_backend.db import AuditLog
from crm_backend.errors import DomainError
from crm_backend.services import audit
from crm_backend.util import normalise_email, normalise_order_number, postcode_key, utcnow

FAILED = "identity_verify_failed"
ALERT = "security_alert"


@dataclass(frozen=True)
class Limits:
    per_order: int = 5
    order_window: timedelta = timedelta(minutes=15)
    per_proof: int = 5
    proof_window: timedelta = timedelta(hours=24)
    per_sender: int = 5
    per_client: int = 20
    sender_window: timedelta = timedelta(hours=1)
    global_alert: int = 100

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(
            per_order=settings.verify_max_failures_per_order,
            order_window=timedelta(minutes=settings.verify_lock_minutes),
            per_proof=settings.verify_max_failures_per_proof,
            proof_window=timedelta(minutes=settings.verify_proof_window_minutes),
            per_sender=settings.verify_max_failures_per_sender,
            per_client=settings.verify_max_failures_per_client,
            sender_window=timedelta(minutes=settings.verify_sender_window_minutes),
            global_alert=settings.verify_global_alert_failures,
        )


@dataclass(frozen=True)
class Attempt:
    """What one identity check is keyed by (see the module docstring)."""

    order_number: str
    proof: str  # keyed hash of the e-mail or postcode given
    sender: str
    client: str | None

    @classmethod
    def of(
        cls,
        *,
        secret: str,
        order_number: str,
        email: str | None,
        postcode: str | None,
        conversation_id: str,
        channel: str,
        client_address: str | None,
    ) -> Attempt:
        value = (
            f"email:{normalise_email(email)}" if email and email.strip() else f"postcode:{postcode_key(postcode or '')}"
        )
        proof = hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()[:40]
        return cls(
            order_number=normalise_order_number(order_number)[:40],
            proof=proof,
            sender=f"{channel}:{conversation_id}"[-40:],
            client=(client_address or "").strip()[:40] or None,
        )

    def keys(self, limits: Limits) -> list[tuple[str, str, int, timedelta]]:
        """(scope, key, limit, window) for each key this attempt counts against."""
        keys = [
            ("order", self.order_number, limits.per_order, limits.order_window),
            ("proof", self.proof, limits.per_proof, limits.proof_window),
            ("sender", self.sender, limits.per_sender, limits.sender_window),
        ]
        if self.client:
            keys.append(("client", self.client, limits.per_client, limits.sender_window))
        return keys


def _failures(scope: str, key: str, window: timedelta, *, session: Session) -> int:
    query = select(func.count(AuditLog.id)).where(
        AuditLog.action == FAILED,
        AuditLog.entity == scope,
        AuditLog.entity_id == key,
        AuditLog.at >= utcnow() - window,
    )
    return int(session.execute(query).scalar_one())


def recent_failures(order_number: str, *, session: Session, window: timedelta) -> int:
    return _failures("order", normalise_order_number(order_number)[:40], window, session=session)


def check_not_locked(attempt: Attempt, *, session: Session, limits: Limits) -> None:
    for scope, key, limit, window in attempt.keys(limits):
        if _failures(scope, key, window, session=session) >= limit:
            raise DomainError(
                429,
                "too_many_attempts",
                "For your security, identity checks with these details are paused after too many attempts. "
                "I can e-mail a one-time code to the address on the order, or a member of our team can help.",
                {"scope": scope, "retry_after_seconds": int(window.total_seconds()), "one_time_code": True},
            )


def record_failure(attempt: Attempt, conversation_id: str, *, session: Session, limits: Limits) -> None:
    actor = f"bot:{conversation_id}"[:100]
    for scope, key, _, _ in attempt.keys(limits):
        audit.record(session=session, actor=actor, action=FAILED, entity=scope, entity_id=key, after=None)
    session.flush()
    _alert_if_over_budget(session=session, limits=limits)


def _alert_if_over_budget(*, session: Session, limits: Limits) -> None:
    since = utcnow() - limits.order_window
    failed = session.execute(
        select(func.count(AuditLog.id)).where(
            AuditLog.action == FAILED, AuditLog.entity == "order", AuditLog.at >= since
        )
    ).scalar_one()
    if failed < limits.global_alert:
        return
    alerted = session.execute(
        select(func.count(AuditLog.id)).where(AuditLog.action == ALERT, AuditLog.at >= since)
    ).scalar_one()
    if not alerted:
        audit.record(
            session=session,
            actor="crm",
            action=ALERT,
            entity="verification",
            entity_id="failure_budget",
            after={"failures": int(failed), "window_minutes": int(limits.order_window.total_seconds() // 60)},
        )


def recent_alerts(*, session: Session, window: timedelta) -> list[AuditLog]:
    query = (
        select(AuditLog).where(AuditLog.action == ALERT, AuditLog.at >= utcnow() - window).order_by(AuditLog.at.desc())
    )
    return list(session.execute(query).scalars())
