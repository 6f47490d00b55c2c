"""Need-to-know access to customers' personal data, and the read audit.

``may_see_personal_data`` is the one rule deciding whether an agent sees a customer's personal data through an
escalation: supervisors always; an agent while the escalation is open in the queue, or when it is assigned to them
(whatever its status). Any other agent sees the escalation with personal details masked. The rule is a list of
named grounds (``GROUNDS``): allowing another case means adding one ground.

``record_read`` writes one ``access_log`` row per read of a customer's personal data (console page, API route), in
the caller's transaction, as a single INSERT; ``commit_read`` commits a request whose only write is that row, without
waiting for PostgreSQL to flush its log to disk (a crash of the database server may lose the last fraction of a
second of read rows; never a change). ``list_reads`` is the supervisors' review of those rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from crm_backend.db import AccessLog, Agent, Escalation
from crm_backend.util import utcnow

Ground = Callable[[Agent, Escalation], bool]


def _supervisor(agent: Agent, escalation: Escalation) -> bool:
    return agent.role == "supervisor"


def _open_in_queue(agent: Agent, escalation: Escalation) -> bool:
    return escalation.status == "open"


def _assigned_to_agent(agent: Agent, escalation: Escalation) -> bool:
    return escalation.agent_id is not None and escalation.agent_id == agent.id


# (name, condition): an agent may see the personal data of an escalation's customer when any condition holds
GROUNDS: tuple[tuple[str, Ground], ...] = (
    ("supervisor", _supervisor),
    ("open_in_queue", _open_in_queue),
    ("assigned_to_agent", _assigned_to_agent),
)


def may_see_personal_data(agent: Agent, escalation: Escalation) -> bool:
    """Whether ``agent`` may see the personal data of ``escalation``'s customer (the packet, the transcript)."""
    return any(condition(agent, escalation) for _name, condition in GROUNDS)


def escalation_purpose(escalation_id: int) -> str:
    return f"escalation:{escalation_id}"


def grant_purpose(strength: str) -> str:
    return f"grant:{strength}"


# One statement object for every row, its values as parameters: an ``insert().values(...)`` built per call pays
# for building the statement and its cache key every time, several times the cost of the INSERT itself.
_INSERT = insert(AccessLog)


def record_read(
    *,
    session: Session,
    actor: str,
    customer_id: int | None,
    purpose: str,
    resource: str,
    agent_id: int | None = None,
    escalation_id: int | None = None,
    masked: bool = False,
) -> None:
    """Add one ``access_log`` row to the caller's transaction (the caller commits)."""
    session.execute(
        _INSERT,
        {
            "at": utcnow(),
            "actor": actor[:100],
            "agent_id": agent_id,
            "customer_id": customer_id,
            "escalation_id": escalation_id,
            "purpose": purpose[:200],
            "resource": resource[:120],
            "masked": masked,
        },
    )


def commit_read(*, session: Session) -> None:
    """Commit a read-only request's transaction and its access-log row. On PostgreSQL the commit does not wait for
    the write-ahead log's flush (``synchronous_commit`` off for this transaction only): the wait costs more than the
    look-up itself. SQLite in WAL mode with ``synchronous=NORMAL`` (the CRM's engine) already commits that way."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    session.commit()


@dataclass
class Read:
    """One audited read, with the agent's username and name when an agent made it."""

    id: int
    at: datetime
    actor: str
    agent_id: int | None
    agent_username: str | None
    agent_name: str | None
    customer_id: int | None
    escalation_id: int | None
    purpose: str
    resource: str
    masked: bool


def list_reads(
    *,
    session: Session,
    customer_id: int | None = None,
    agent_id: int | None = None,
    escalation_id: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[Read]:
    """Audited reads, newest first, filtered by customer, agent and escalation; ``before_id`` pages to older rows."""
    query = select(AccessLog, Agent.username, Agent.display_name).outerjoin(Agent, Agent.id == AccessLog.agent_id)
    if customer_id is not None:
        query = query.where(AccessLog.customer_id == customer_id)
    if agent_id is not None:
        query = query.where(AccessLog.agent_id == agent_id)
    if escalation_id is not None:
        query = query.where(AccessLog.escalation_id == escalation_id)
    if before_id is not None:
        query = query.where(AccessLog.id < before_id)
    rows = session.execute(query.order_by(AccessLog.id.desc()).limit(limit))
    return [
        Read(
            id=row.id,
            at=row.at,
            actor=row.actor,
            agent_id=row.agent_id,
            agent_username=username,
            agent_name=name,
            customer_id=row.customer_id,
            escalation_id=row.escalation_id,
            purpose=row.purpose,
            resource=row.resource,
            masked=bool(row.masked),
        )
        for row, username, name in rows
    ]
