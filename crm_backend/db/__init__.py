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
    Escalation,
    EscalationMessage,
    IdempotencyKey,
    Ticket,
)

__all__ = [
    "Address",
    "Agent",
    "AuditLog",
    "Base",
    "Customer",
    "Escalation",
    "EscalationMessage",
    "IdempotencyKey",
    "Invoice",
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
