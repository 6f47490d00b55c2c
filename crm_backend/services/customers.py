"""Customer look-ups and identity verification: e-mails and postcodes are compared by their keyed hashes."""

from __future__ import annotations

import hmac

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_backend.db import Customer, Order
from crm_backend.db.crypto import session_keyring
from crm_backend.errors import DomainError, not_found
from crm_backend.util import normalise_order_number


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
    """The customer whose e-mail is ``email`` (any case, surrounding spaces ignored): one probe of the hash index."""
    digest = session_keyring(session).email_hash(email)
    return session.execute(select(Customer).where(Customer.email_hash == digest)).scalar_one_or_none()


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
    row = session.execute(
        select(Order.customer_id, Order.ship_postcode_hash, Customer.email_hash, Customer.postcode_hash)
        .join(Customer, Customer.id == Order.customer_id)
        .where(Order.order_number == normalise_order_number(order_number))
    ).one_or_none()
    if row is None:
        raise _verification_failed()
    customer_id, ship_postcode_hash, email_hash, postcode_hash = row
    keyring = session_keyring(session)
    if email and email.strip():
        if hmac.compare_digest(keyring.email_hash(email), email_hash):
            return get_customer(customer_id, session=session), "email"
        raise _verification_failed()
    given = keyring.postcode_hash(postcode or "")
    if hmac.compare_digest(given, postcode_hash) or hmac.compare_digest(given, ship_postcode_hash):
        return get_customer(customer_id, session=session), "postcode"
    raise _verification_failed()
