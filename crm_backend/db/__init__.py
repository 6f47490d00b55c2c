"""Database layer: declarative models and the engine factory."""

from crm_backend.db.base import Base, make_engine, new_session
from crm_backend.db.models import (
    Address,
    Customer,
    Invoice,
    Order,
    OrderItem,
    Payment,
    Product,
    Refund,
    Shipment,
)
from crm_backend.db.support import (
    Agent,
    AuditLog,
    ConsoleSession,
    Escalation,
    EscalationMessage,
    IdempotencyKey,
    LoginAttempt,
    OneTimeCode,
    Ticket,
)

__all__ = [
    "Address",
    "Agent",
    "AuditLog",
    "Base",
    "ConsoleSession",
    "Customer",
    "Escalation",
    "EscalationMessage",
    "IdempotencyKey",
    "Invoice",
    "LoginAttempt",
    "OneTimeCode",
    "Order",
    "OrderItem",
    "Payment",
    "Product",
    "Refund",
    "Shipment",
    "Ticket",
    "make_engine",
    "new_session",
]
