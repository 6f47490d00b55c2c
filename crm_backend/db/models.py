"""Commerce tables: customers, addresses, products, orders, items, shipments, payments, refunds, invoices."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    event,
    inspect,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, relationship

from crm_backend.db.base import Base
from crm_backend.db.crypto import EncryptedText, hash_default, keyring_of
from crm_backend.util import utcnow


class Customer(Base):
    __tablename__ = "customers"
    id = Column(Integer, primary_key=True)
    first_name = Column(EncryptedText, nullable=False)
    last_name = Column(EncryptedText, nullable=False)
    email = Column(EncryptedText, nullable=False)  # stored lower case
    phone = Column(EncryptedText)
    postcode = Column(EncryptedText, nullable=False)  # normalised "SW1A 1AA"
    # keyed hashes of the normalised e-mail and postcode: look-ups compare these (crm_backend/db/crypto.py)
    email_hash = Column(String(64), nullable=False, unique=True, index=True, default=hash_default("email", "email"))
    postcode_hash = Column(String(64), nullable=False, index=True, default=hash_default("postcode", "postcode"))
    segment = Column(String(20), nullable=False, default="standard")
    created_at = Column(DateTime, nullable=False, default=utcnow)
    churned_at = Column(DateTime, nullable=True)

    orders = relationship("Order", back_populates="customer")
    addresses = relationship("Address", back_populates="customer")


class Address(Base):
    __tablename__ = "addresses"
    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False, index=True)
    line1 = Column(EncryptedText, nullable=False)
    line2 = Column(EncryptedText)
    city = Column(EncryptedText, nullable=False)
    postcode = Column(EncryptedText, nullable=False)
    country = Column(String(2), nullable=False, default="GB")
    is_default = Column(Integer, nullable=False, default=1)

    customer = relationship("Customer", back_populates="addresses")


class Product(Base):
    __tablename__ = "products"
    id = Column(Integer, primary_key=True)
    sku = Column(String(32), nullable=False, unique=True, index=True)
    name = Column(String(120), nullable=False)
    category = Column(String(40), nullable=False, index=True)
    price_pence = Column(Integer, nullable=False)


class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    order_number = Column(String(20), nullable=False, unique=True, index=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False, index=True)
    status = Column(String(20), nullable=False, index=True)
    placed_at = Column(DateTime, nullable=False, index=True)
    total_pence = Column(Integer, nullable=False)
    shipping_pence = Column(Integer, nullable=False, default=0)
    delivery_option = Column(String(20), nullable=False, default="standard")
    ship_line1 = Column(EncryptedText, nullable=False)
    ship_line2 = Column(EncryptedText)
    ship_city = Column(EncryptedText, nullable=False)
    ship_postcode = Column(EncryptedText, nullable=False)
    ship_postcode_hash = Column(String(64), nullable=False, default=hash_default("ship_postcode", "postcode"))
    ship_country = Column(String(2), nullable=False, default="GB")
    cancelled_at = Column(DateTime)
    cancel_reason = Column(EncryptedText)  # the customer's words

    customer = relationship("Customer", back_populates="orders")
    items = relationship("OrderItem", back_populates="order", order_by="OrderItem.id")
    shipment = relationship("Shipment", back_populates="order", uselist=False)
    payment = relationship("Payment", back_populates="order", uselist=False)
    refunds = relationship("Refund", back_populates="order", order_by="Refund.id")
    invoice = relationship("Invoice", back_populates="order", uselist=False)

    __table_args__ = (Index("ix_orders_customer_placed", "customer_id", "placed_at"),)


class OrderItem(Base):
    __tablename__ = "order_items"
    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("orders.id"), nullable=False, index=True)
    product_id = Column(Integer, ForeignKey("products.id"), nullable=False, index=True)
    sku = Column(String(32), nullable=False)
    name = Column(String(120), nullable=False)
    quantity = Column(Integer, nullable=False)
    unit_price_pence = Column(Integer, nullable=False)

    order = relationship("Order", back_populates="items")


class Shipment(Base):
    __tablename__ = "shipments"
    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("orders.id"), nullable=False, unique=True, index=True)
    carrier = Column(String(30), nullable=False)
    tracking_number = Column(String(40), nullable=False, index=True)
    status = Column(String(20), nullable=False)  # in_transit / delivered / returned
    shipped_at = Column(DateTime, nullable=False)
    eta = Column(Date, nullable=False)
    delivered_at = Column(DateTime)
    delay_days = Column(Integer, nullable=False, default=0)

    order = relationship("Order", back_populates="shipment")


class Payment(Base):
    __tablename__ = "payments"
    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("orders.id"), nullable=False, unique=True, index=True)
    method = Column(String(20), nullable=False)  # card / paypal / klarna / gift_card
    status = Column(String(20), nullable=False)  # pending / captured / refunded / partially_refunded
    amount_pence = Column(Integer, nullable=False)
    paid_at = Column(DateTime)

    order = relationship("Order", back_populates="payment")


class Refund(Base):
    __tablename__ = "refunds"
    id = Column(Integer, primary_key=True)
    reference = Column(String(9), nullable=False, unique=True, index=True)  # RF-123456
    order_id = Column(Integer, ForeignKey("orders.id"), nullable=False, index=True)
    amount_pence = Column(Integer, nullable=False)
    reason = Column(EncryptedText, nullable=False)
    status = Column(String(20), nullable=False)  # approved / pending_review / paid / rejected
    created_at = Column(DateTime, nullable=False, default=utcnow, index=True)
    expected_by = Column(Date)

    order = relationship("Order", back_populates="refunds")


class Invoice(Base):
    __tablename__ = "invoices"
    id = Column(Integer, primary_key=True)
    invoice_number = Column(String(20), nullable=False, unique=True, index=True)
    order_id = Column(Integer, ForeignKey("orders.id"), nullable=False, index=True)
    amount_pence = Column(Integer, nullable=False)
    status = Column(String(10), nullable=False)  # paid / open / void
    issued_at = Column(DateTime, nullable=False)

    order = relationship("Order", back_populates="invoice")


# (model, encrypted attribute, its hash attribute, kind of value): the hash follows every ORM write of the attribute
HASHED: tuple[tuple[type, str, str, str], ...] = (
    (Customer, "email", "email_hash", "email"),
    (Customer, "postcode", "postcode_hash", "postcode"),
    (Order, "ship_postcode", "ship_postcode_hash", "postcode"),
)


def _fill_hashes(target: object, connection: Connection, *, changed_only: bool) -> None:
    keyring = keyring_of(connection.dialect)
    state = inspect(target)
    for model, source, column, kind in HASHED:
        if not isinstance(target, model) or (changed_only and not state.attrs[source].history.has_changes()):
            continue
        value = getattr(target, source)
        setattr(target, column, None if value is None else keyring.hash_of(kind, value))


def _before_insert(_mapper: Mapper, connection: Connection, target: object) -> None:
    _fill_hashes(target, connection, changed_only=False)


def _before_update(_mapper: Mapper, connection: Connection, target: object) -> None:
    _fill_hashes(target, connection, changed_only=True)


for _model in (Customer, Order):
    event.listen(_model, "before_insert", _before_insert)
    event.listen(_model, "before_update", _before_update)


__all__ = [
    "HASHED",
    "Address",
    "Customer",
    "Invoice",
    "Order",
    "OrderItem",
    "Payment",
    "Product",
    "Refund",
    "Shipment",
]
