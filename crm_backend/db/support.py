"""Support and operations tables: tickets, escalations, agents, audit log, idempotency keys, relay cursor."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import relationship

from crm_backend.db.base import Base
from crm_backend.db.crypto import EncryptedJSON, EncryptedText
from crm_backend.util import utcnow


class Ticket(Base):
    __tablename__ = "tickets"
    id = Column(Integer, primary_key=True)
    reference = Column(String(9), nullable=False, unique=True, index=True)  # TK-123456
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=True, index=True)
    order_id = Column(Integer, ForeignKey("orders.id"), nullable=True, index=True)
    conversation_id = Column(String(100), index=True)
    channel = Column(String(20), nullable=False)
    topic = Column(String(40), nullable=False)  # complaint / inquiry / account / ...
    summary = Column(EncryptedText, nullable=False)
    status = Column(String(20), nullable=False, default="open")
    created_at = Column(DateTime, nullable=False, default=utcnow, index=True)


class Escalation(Base):
    __tablename__ = "escalations"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(100), nullable=False, index=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=True, index=True)
    channel = Column(String(30))
    # Idempotency key of the request that raised it (API fast path and event relay share it): one escalation per key.
    request_key = Column(String(200), nullable=True, unique=True, index=True)
    status = Column(String(20), nullable=False, default="open", index=True)  # open / claimed / resolved / handed_back
    priority = Column(Integer, nullable=False, default=0)
    reason_codes = Column(JSON, nullable=False, default=list)
    scores = Column(JSON, nullable=False, default=dict)
    packet = Column(EncryptedJSON, nullable=False, default=dict)
    summary = Column(EncryptedText)
    suggested_action = Column(Text)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=True, index=True)
    verdict = Column(String(40))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    claimed_at = Column(DateTime)
    resolved_at = Column(DateTime)
    handed_back_at = Column(DateTime)
    csat = Column(Integer)
    # When agents were told about it (Slack webhook / console banner): a high-priority escalation is announced once.
    notified_at = Column(DateTime)

    messages = relationship("EscalationMessage", back_populates="escalation", order_by="EscalationMessage.id")
    agent = relationship("Agent")


class EscalationMessage(Base):
    __tablename__ = "escalation_messages"
    id = Column(Integer, primary_key=True)
    escalation_id = Column(Integer, ForeignKey("escalations.id"), nullable=False, index=True)
    sender = Column(String(10), nullable=False)  # customer / agent / bot / note
    text = Column(EncryptedText, nullable=False)
    sentiment = Column(Float)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=True, index=True)
    # "<event source>:<event id>" of a relayed Rasa event: re-processing the event never adds the message twice.
    event_key = Column(String(100), nullable=True, unique=True, index=True)
    delivered = Column(Boolean, nullable=False, default=True, server_default="1")
    created_at = Column(DateTime, nullable=False, default=utcnow)

    escalation = relationship("Escalation", back_populates="messages")
    agent = relationship("Agent")


class Agent(Base):
    __tablename__ = "agents"
    id = Column(Integer, primary_key=True)
    username = Column(String(60), nullable=False, unique=True, index=True)
    display_name = Column(String(120), nullable=False)
    password_hash = Column(String(255), nullable=False)
    role = Column(String(20), nullable=False, default="agent")  # agent / supervisor
    created_at = Column(DateTime, nullable=False, default=utcnow)


class ConsoleSession(Base):
    """A logged-in console session. The cookie carries a random token; only its SHA-256 is stored, so a database
    read does not hand out live sessions."""

    __tablename__ = "console_sessions"
    id = Column(Integer, primary_key=True)
    token_hash = Column(String(64), nullable=False, unique=True, index=True)
    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    expires_at = Column(DateTime, nullable=False, index=True)

    agent = relationship("Agent")


class LoginAttempt(Base):
    """Failed console logins, counted per username and per client address to rate-limit guessing."""

    __tablename__ = "login_attempts"
    id = Column(Integer, primary_key=True)
    username = Column(String(60), nullable=False, index=True)
    client = Column(String(64), nullable=False, index=True)
    at = Column(DateTime, nullable=False, default=utcnow, index=True)


class AuditLog(Base):
    __tablename__ = "audit_log"
    # the identity-check limits count rows by (action, entity, entity_id) within a window
    __table_args__ = (Index("ix_audit_log_action_entity", "action", "entity", "entity_id", "at"),)
    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, default=utcnow, index=True)
    actor = Column(String(100), nullable=False)
    action = Column(String(60), nullable=False)
    entity = Column(String(40), nullable=False)
    entity_id = Column(String(40), nullable=False)
    before = Column(EncryptedJSON)  # may hold personal data (a shipping address)
    after = Column(EncryptedJSON)
    idempotency_key = Column(String(200))


class OneTimeCode(Base):
    """A one-time code e-mailed to a customer's address on file, usable once, from the conversation that asked."""

    __tablename__ = "one_time_codes"
    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True)
    conversation_id = Column(String(100), nullable=False, index=True)
    channel = Column(String(40), nullable=False)
    code_hash = Column(String(64), nullable=False)  # HMAC of the code with the grant secret; the code is not stored
    created_at = Column(DateTime, nullable=False, default=utcnow, index=True)
    expires_at = Column(DateTime, nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    used_at = Column(DateTime, nullable=True)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    id = Column(Integer, primary_key=True)
    key = Column(String(200), nullable=False)
    scope = Column(String(300), nullable=False)
    request_hash = Column(String(64), nullable=False)
    status_code = Column(Integer, nullable=False)
    response_json = Column(EncryptedJSON)  # a replayed answer may hold personal data (an address, a name)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (UniqueConstraint("key", "scope"),)


class RelayCursor(Base):
    """How far the event relay has read an event source (the Rasa event-broker table)."""

    __tablename__ = "relay_cursor"
    source = Column(String(200), primary_key=True)
    position = Column(Integer, nullable=False, default=0)


class AccessLog(Base):
    """One row per read of a customer's personal data: who read whose data, through which route or page, and why
    (the escalation or conversation it came from). Supervisors review it in the console."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_customer_at", "customer_id", "at"),)
    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, default=utcnow, index=True)
    actor = Column(String(100), nullable=False)  # "agent:<username>", "bot:<conversation>", "api", "cli"
    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="SET NULL"), nullable=True, index=True)
    customer_id = Column(Integer, nullable=True)  # no foreign key: the row outlives an erasure
    escalation_id = Column(Integer, nullable=True, index=True)
    purpose = Column(String(200), nullable=False)  # e.g. "escalation:12", "grant:conversation-id", "dsr:DR-123456"
    resource = Column(String(120), nullable=False)  # the route or page that served the data
    masked = Column(Boolean, nullable=False, default=False, server_default="0")  # shown with personal fields masked


class DataRequest(Base):
    """A data-subject request (export or erasure of everything held about a customer). The assistant and the
    console create them; only a supervisor (console or ``crm`` command) carries one out."""

    __tablename__ = "data_requests"
    # at most one pending request per customer and kind, whichever process creates it
    __table_args__ = (
        Index(
            "uq_data_requests_pending",
            "customer_id",
            "kind",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )
    id = Column(Integer, primary_key=True)
    reference = Column(String(9), nullable=False, unique=True, index=True)  # DR-123456
    customer_id = Column(Integer, nullable=True, index=True)  # no foreign key: the request outlives an erasure
    kind = Column(String(10), nullable=False)  # export / erase
    status = Column(String(20), nullable=False, default="pending", index=True)  # pending / done / rejected
    source = Column(String(20), nullable=False)  # assistant / console / cli
    conversation_id = Column(String(100), nullable=True)
    proof = Column(String(20), nullable=True)  # strength of the identity proof the assistant had (grant strength)
    requested_by = Column(String(100), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow, index=True)
    completed_at = Column(DateTime, nullable=True)
    completed_by = Column(String(100), nullable=True)
    result = Column(JSON, nullable=True)  # counts per store of what was exported or erased
