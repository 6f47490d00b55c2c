"""Retention of conversation data: how long the CRM and the assistant's conversation stores keep what customers said.

``run_retention`` applies the periods of the settings (docs/security.md, "Retention"):

* escalation messages older than ``retention_transcript_days``: the text becomes ``REMOVED``; the row, its sender,
  time, sentiment and agent stay (the dashboard counts them);
* escalations closed more than ``retention_transcript_days`` ago: the summary and the packet's transcript texts and
  personal parts go; priority, reasons, scores, verdict, CSAT and each transcript line's sender, time, intent and
  sentiment stay (``anonymised_packet``);
* tickets older than ``retention_transcript_days``: the summary (the customer's words) becomes ``REMOVED``;
* the tracker store's events older than ``retention_tracker_days``, except those of a conversation's current session
  while the conversation is still going (Rasa loads the current session whole);
* the event-broker table's rows older than ``retention_events_days`` that the relay has read (``relay_cursor``);
* operational rows older than ``retention_operational_days`` (and past every limit's window): one-time codes no longer
  valid, stored answers of writes, failed console logins, failed identity checks;
* the read audit (``access_log``) older than ``retention_access_log_days``.

A run is idempotent (a second run, or two CRM processes at once, changes nothing more) and commits in batches of
``batch_size`` rows, so no table is locked for long. Every run but a dry run writes one audit row with its counts.
``RetentionSchedule`` runs it in the CRM process every ``retention_interval_hours`` (0: never).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from crm_backend.db import (
    AccessLog,
    AuditLog,
    Escalation,
    EscalationMessage,
    IdempotencyKey,
    LoginAttempt,
    OneTimeCode,
    Ticket,
    new_session,
)
from crm_backend.db.support import RelayCursor
from crm_backend.rasa_stores import AMQP_SCHEMES, BATCH_SIZE, purge_broker, purge_tracker
from crm_backend.relay.sql import cursor_source
from crm_backend.relay.worker import PeriodicWorker
from crm_backend.services import audit
from crm_backend.services.escalations import ACTIVE
from crm_backend.services.verification import FAILED
from crm_backend.settings import Settings
from crm_backend.util import utcnow

logger = logging.getLogger(__name__)

REMOVED = "[removed after the retention period]"
AUDIT_ACTION = "retention.run"
STORES = (
    "escalation_messages",
    "escalations",
    "tickets",
    "tracker_events",
    "broker_events",
    "one_time_codes",
    "idempotency_keys",
    "login_attempts",
    "failed_identity_checks",
    "access_log",
)
# What an anonymised packet keeps: how the customer was verified and their segment and language (no name, no ids),
# the decision without the words that triggered it, the scores, the task, and when it was raised.
KEPT_CUSTOMER = ("verified", "verified_by", "segment", "language", "identity_locked", "failed_verifications")
KEPT_DECISION = ("reasons", "priority", "suggested_action", "offer_retention")
KEPT_PARTS = ("task", "churn", "value", "escalated_at")
KEPT_LINE = ("sender", "at", "intent", "sentiment")


def run_retention(
    *,
    session: Session,
    settings: Settings,
    now: datetime | None = None,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
) -> dict[str, int]:
    """Removes or anonymises what is past its period in every store; returns how many rows each store changed
    (would change, with ``dry_run``, which writes nothing). Commits ``session`` after each batch."""
    now = now or utcnow()
    transcript_cutoff = now - timedelta(days=settings.retention_transcript_days)
    counts = {
        "escalation_messages": _messages(session, transcript_cutoff, dry_run, batch_size),
        "escalations": _escalations(session, transcript_cutoff, now, dry_run, batch_size),
        "tickets": _tickets(session, transcript_cutoff, dry_run, batch_size),
        "tracker_events": purge_tracker(
            settings.rasa_tracker_url,
            cutoff=_epoch(now - timedelta(days=settings.retention_tracker_days)),
            dry_run=dry_run,
            batch_size=batch_size,
        ),
        "broker_events": purge_broker(
            settings.rasa_events_url,
            cutoff=_epoch(now - timedelta(days=settings.retention_events_days)),
            position=_relay_position(session, settings.rasa_events_url),
            dry_run=dry_run,
            batch_size=batch_size,
        ),
        **_operational(session, settings, now, dry_run, batch_size),
    }
    if not dry_run:
        audit.record(
            session=session,
            actor="retention",
            action=AUDIT_ACTION,
            entity="retention",
            entity_id=now.isoformat(timespec="seconds"),
            after={
                "counts": counts,
                "days": {
                    "transcript": settings.retention_transcript_days,
                    "tracker": settings.retention_tracker_days,
                    "events": settings.retention_events_days,
                    "operational": settings.retention_operational_days,
                    "access_log": settings.retention_access_log_days,
                },
            },
        )
        session.commit()
    logger.info("retention%s: %s", " (dry run)" if dry_run else "", counts)
    return counts


def last_run(*, session: Session) -> datetime | None:
    """When the last retention run (not a dry run) finished, from the audit log."""
    return session.execute(select(func.max(AuditLog.at)).where(AuditLog.action == AUDIT_ACTION)).scalar_one_or_none()


def _epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=timezone.utc).timestamp()


# --- the CRM's own tables (encrypted columns cannot be compared in SQL: rows are checked as they are read)
def _in_batches(session: Session, query: Any, id_column: Any, batch_size: int) -> Iterator[list[Any]]:
    """The rows of ``query`` in id order, ``batch_size`` at a time (the caller may commit between batches)."""
    last = 0
    while True:
        rows = list(session.execute(query.where(id_column > last).order_by(id_column).limit(batch_size)).scalars())
        if not rows:
            return
        yield rows
        last = rows[-1].id
        if len(rows) < batch_size:
            return


def _messages(session: Session, cutoff: datetime, dry_run: bool, batch_size: int) -> int:
    changed = 0
    query = select(EscalationMessage).where(EscalationMessage.created_at < cutoff)
    for batch in _in_batches(session, query, EscalationMessage.id, batch_size):
        for message in batch:
            if message.text != REMOVED:
                changed += 1
                if not dry_run:
                    message.text = REMOVED
        _end_batch(session, dry_run)
    return changed


def _escalations(session: Session, cutoff: datetime, now: datetime, dry_run: bool, batch_size: int) -> int:
    """Escalations closed (resolved or handed back) before ``cutoff``: no longer active, and every time they carry
    (raised, resolved, handed back) before it."""
    changed = 0
    query = select(Escalation).where(
        Escalation.status.notin_(ACTIVE),
        Escalation.created_at < cutoff,
        or_(Escalation.resolved_at.is_(None), Escalation.resolved_at < cutoff),
        or_(Escalation.handed_back_at.is_(None), Escalation.handed_back_at < cutoff),
    )
    for batch in _in_batches(session, query, Escalation.id, batch_size):
        for escalation in batch:
            packet = escalation.packet if isinstance(escalation.packet, dict) else {}
            if "retention" in packet and escalation.summary in (None, REMOVED):
                continue
            changed += 1
            if not dry_run:
                escalation.packet = anonymised_packet(packet, removed_at=now)
                escalation.summary = REMOVED
        _end_batch(session, dry_run)
    return changed


def _tickets(session: Session, cutoff: datetime, dry_run: bool, batch_size: int) -> int:
    changed = 0
    for batch in _in_batches(session, select(Ticket).where(Ticket.created_at < cutoff), Ticket.id, batch_size):
        for ticket in batch:
            if ticket.summary != REMOVED:
                changed += 1
                if not dry_run:
                    ticket.summary = REMOVED
        _end_batch(session, dry_run)
    return changed


def _operational(session: Session, settings: Settings, now: datetime, dry_run: bool, batch_size: int) -> dict[str, int]:
    """Deletes the rows that only serve limits and retries once past ``retention_operational_days``, and never
    within the longest window a limit counts over; and the read audit past ``retention_access_log_days``."""
    longest_window = timedelta(
        minutes=max(
            settings.verify_lock_minutes,
            settings.verify_proof_window_minutes,
            settings.verify_sender_window_minutes,
            settings.login_window_minutes,
            60,  # one-time codes sent to a customer within the hour
        )
    )
    cutoff = min(now - timedelta(days=settings.retention_operational_days), now - longest_window)
    return {
        "one_time_codes": _delete_older(
            session, OneTimeCode, OneTimeCode.created_at < cutoff, dry_run, batch_size, OneTimeCode.expires_at < now
        ),
        "idempotency_keys": _delete_older(
            session, IdempotencyKey, IdempotencyKey.created_at < cutoff, dry_run, batch_size
        ),
        "login_attempts": _delete_older(session, LoginAttempt, LoginAttempt.at < cutoff, dry_run, batch_size),
        "failed_identity_checks": _delete_older(
            session, AuditLog, AuditLog.at < cutoff, dry_run, batch_size, AuditLog.action == FAILED
        ),
        "access_log": _delete_older(
            session,
            AccessLog,
            AccessLog.at < now - timedelta(days=settings.retention_access_log_days),
            dry_run,
            batch_size,
        ),
    }


def _delete_older(session: Session, model: Any, old: Any, dry_run: bool, batch_size: int, *also: Any) -> int:
    """Deletes ``model``'s rows matching ``old`` and ``also``, ``batch_size`` at a time, each batch committed."""
    if dry_run:
        return int(session.execute(select(func.count()).select_from(model).where(old, *also)).scalar_one())
    deleted = 0
    while True:
        ids = list(session.execute(select(model.id).where(old, *also).order_by(model.id).limit(batch_size)).scalars())
        if not ids:
            return deleted
        session.execute(delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False))
        session.commit()
        deleted += len(ids)


def _end_batch(session: Session, dry_run: bool) -> None:
    if dry_run:
        session.expire_all()  # nothing was changed; read the next batch afresh
    else:
        session.commit()


def anonymised_packet(packet: dict[str, Any], *, removed_at: datetime) -> dict[str, Any]:
    """What an escalation packet keeps after its period: what the dashboard and the statistics read, nothing that
    names the customer or repeats their words (module docstring)."""

    def part(name: str) -> dict[str, Any]:
        value = packet.get(name)
        return value if isinstance(value, dict) else {}

    customer, decision = part("customer"), part("decision")
    kept: dict[str, Any] = {name: packet[name] for name in KEPT_PARTS if name in packet}
    kept["customer"] = {name: customer[name] for name in KEPT_CUSTOMER if name in customer}
    kept["decision"] = {name: decision[name] for name in KEPT_DECISION if name in decision}
    triggers = decision.get("triggers")
    if isinstance(triggers, list):  # the reason and its kind, without the customer's words
        kept["decision"]["triggers"] = [
            {k: t[k] for k in ("reason", "kind") if k in t} for t in triggers if isinstance(t, dict)
        ]
    lines = packet.get("transcript")
    kept["transcript"] = [
        {**{k: line[k] for k in KEPT_LINE if k in line}, "text": REMOVED}
        for line in (lines if isinstance(lines, list) else [])
        if isinstance(line, dict)
    ]
    kept["retention"] = {"removed_at": removed_at.isoformat(timespec="seconds")}
    return kept


def _relay_position(session: Session, events_url: str) -> int:
    """How far the relay has read the event-broker table (0: not at all, or no such table)."""
    if not events_url or events_url.startswith(AMQP_SCHEMES):
        return 0
    cursor = session.get(RelayCursor, cursor_source(events_url))
    return int(cursor.position) if cursor is not None else 0


# --- the schedule
class RetentionSchedule(PeriodicWorker):
    """Runs ``run_retention`` in the CRM process once every ``retention_interval_hours``.

    Each check reads when the last run finished from the audit log, so a restarted process, or several CRM
    processes, do not run it more often (two that happen to run at once change nothing twice).
    """

    thread_name = "crm-retention"

    def __init__(self, settings: Settings, engine: Engine) -> None:
        super().__init__()
        self.settings = settings
        self.engine = engine
        self.interval = timedelta(hours=settings.retention_interval_hours)
        # checked every interval, at least hourly; a failing run is tried again at the next check
        self.check_seconds = min(self.interval.total_seconds(), 3600.0)
        self.max_backoff = max(PeriodicWorker.max_backoff, self.check_seconds)

    def run_once(self) -> dict[str, int] | None:
        with new_session(self.engine) as session:
            previous = last_run(session=session)
            if previous is not None and utcnow() - previous < self.interval:
                return None
            return run_retention(session=session, settings=self.settings)

    def start(self, interval: float | None = None) -> None:
        super().start(self.check_seconds if interval is None else interval)
