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
    AccessLog,
    Agent,
    AuditLog,
    ConsoleSession,
    DataRequest,
    Escalation,
    EscalationMessage,
    IdempotencyKey,
    LoginAttempt,
    OneTimeCode,
    Ticket,
)

__all__ = [
    "AccessLog",
    "Address",
    "Agent",
    "AuditLog",
    "Base",
    "ConsoleSession",
    "Customer",
    "DataRequest",
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
