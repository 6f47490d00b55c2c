"""Customer look-ups and identity verification."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_backend.db import Customer, Order
from crm_backend.errors import DomainError, not_found
from crm_backend.util import normalise_email, normalise_order_number, postcode_key


def _verification_failed() -> DomainError:
    return DomainError(
        401,
        "verification_failed",
        "Sorry, I couldn't match those details. Please check the order number and the e-mail or postcode.",
    )


def get_customer(customer_id: int, *, session: Session) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise not_found("customer", customer_id=customer_id)
    return customer


def find_by_email(email: str, *, session: Session) -> Customer | None:
    return session.execute(select(Customer).where(Customer.email == normalise_email(email))).scalar_one_or_none()


def verify_identity(
    *, session: Session, order_number: str, email: str | None = None, postcode: str | None = None
) -> tuple[Customer, str]:
    """(customer, "email" | "postcode"). Unknown order and mismatch fail the same way."""
    if not (email and email.strip()) and not (postcode and postcode.strip()):
        raise DomainError(
            422,
            "invalid_request",
            "Please give the e-mail address or the postcode on the order.",
            {"fields": ["email", "postcode"]},
        )
    order = session.execute(
        select(Order).where(Order.order_number == normalise_order_number(order_number))
    ).scalar_one_or_none()
    if order is None:
        raise _verification_failed()
    customer = order.customer
    if email and email.strip():
        if normalise_email(email) == customer.email:
            return customer, "email"
        raise _verification_failed()
    key = postcode_key(postcode or "")
    if key in (postcode_key(customer.postcode), postcode_key(order.ship_postcode)):
        return customer, "postcode"
    raise _verification_failed()
