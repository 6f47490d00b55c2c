"""Identity: the proofs a customer can give, and the grants the CRM issues for them (docs/crm_api.md).

- ``POST /identity/verify``: order number + the e-mail or postcode on it (a read grant), within the failure limits;
- ``POST /identity/one-time-code``: e-mails a code to the address on file (of the granted customer, or of an order);
- ``POST /identity/one-time-code/verify``: the code, from the conversation that asked for it (a write grant);
- ``POST /identity/shop-login``: a token the shop signed for a logged-in customer (a write grant).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import jwt
from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_backend.api import schemas as s
from crm_backend.api.deps import SessionDep, route_of
from crm_backend.db import Customer, Order
from crm_backend.errors import DomainError
from crm_backend.mailer import MailError
from crm_backend.services import access, audit, customers, one_time_codes, verification
from crm_backend.services.grants import GrantPolicy
from crm_backend.util import normalise_order_number

router = APIRouter(prefix="/identity", tags=["identity"])


def _granted(
    request: Request, session: Session, customer: Customer, body: s.ConversationRef, strength: str
) -> s.IdentityVerified:
    policy: GrantPolicy = request.app.state.grants
    token, grant = policy.issue(
        customer_id=customer.id, conversation_id=body.conversation_id, channel=body.channel, strength=strength
    )
    audit.record(
        session=session,
        actor=f"bot:{body.conversation_id}"[:100],
        action="identity_verified",
        entity="customer",
        entity_id=customer.id,
        after={"strength": strength, "channel": body.channel},
    )
    # the answer names the customer: a read of their personal data, by the conversation that proved who they are
    access.record_read(
        session=session,
        actor=f"bot:{body.conversation_id}"[:100],
        customer_id=customer.id,
        purpose=access.grant_purpose(strength),
        resource=route_of(request),
    )
    session.commit()
    return s.IdentityVerified(
        customer_id=customer.id,
        first_name=customer.first_name,
        verified_by=strength,
        grant=token,
        grant_expires_at=datetime.fromtimestamp(grant.expires_at, timezone.utc),
    )


@router.post("/verify", response_model=s.IdentityVerified)
def verify_identity(body: s.IdentityVerify, request: Request, session: SessionDep) -> s.IdentityVerified:
    settings = request.app.state.settings
    limits = verification.Limits.from_settings(settings)
    attempt = verification.Attempt.of(
        secret=settings.grant_secret,
        order_number=body.order_number,
        email=body.email,
        postcode=body.postcode,
        conversation_id=body.conversation_id,
        channel=body.channel,
        client_address=body.client_address,
    )
    verification.check_not_locked(attempt, session=session, limits=limits)
    try:
        customer, verified_by = customers.verify_identity(
            session=session, order_number=body.order_number, email=body.email, postcode=body.postcode
        )
    except DomainError as error:
        if error.code == "verification_failed":  # counted towards every limit, across conversations
            verification.record_failure(attempt, body.conversation_id, session=session, limits=limits)
            session.commit()
        raise
    return _granted(request, session, customer, body, verified_by)


def _code_owner(request: Request, session: Session, body: s.OneTimeCodeRequest) -> tuple[Customer | None, bool]:
    """(whose address the code goes to, whether the caller may see that address masked)."""
    token = request.headers.get("x-identity-grant")
    if token:
        policy: GrantPolicy = request.app.state.grants
        grant = policy.read(token)
        if (grant.conversation_id, grant.channel) != (body.conversation_id, body.channel):
            raise DomainError(403, "grant_other_conversation", "Please verify your identity in this conversation.")
        return session.get(Customer, grant.customer_id), True
    if not body.order_number:
        raise DomainError(422, "invalid_request", "Give an order number, or send the identity grant.")
    order = session.execute(
        select(Order).where(Order.order_number == normalise_order_number(body.order_number))
    ).scalar_one_or_none()
    return (order.customer if order is not None else None), False


@router.post("/one-time-code", response_model=s.OneTimeCodeSent, status_code=202)
def send_one_time_code(body: s.OneTimeCodeRequest, request: Request, session: SessionDep) -> s.OneTimeCodeSent:
    """E-mails a code to the address on file. Without a grant the answer is the same whether the order exists or not."""
    rules = one_time_codes.CodeRules.from_settings(request.app.state.settings)
    customer, show_address = _code_owner(request, session, body)
    expires_in = int(rules.ttl.total_seconds())
    if customer is None:
        return s.OneTimeCodeSent(sent=True, sent_to=None, expires_in_seconds=expires_in)
    try:
        _, code = one_time_codes.issue(
            customer, session=session, rules=rules, conversation_id=body.conversation_id, channel=body.channel
        )
    except DomainError as error:
        if show_address or error.code != "too_many_codes":
            raise
        # without a grant, a limited address answers like an unknown order: nothing tells whether the order exists
        return s.OneTimeCodeSent(sent=True, sent_to=None, expires_in_seconds=expires_in)
    try:
        request.app.state.mailer.send(customer.email, one_time_codes.SUBJECT, one_time_codes.mail_text(code, rules))
    except MailError as exc:  # nothing is kept; the bot offers a person
        session.rollback()
        raise DomainError(
            503, "mail_unavailable", "I couldn't send the code just now. A member of our team can help instead."
        ) from exc
    session.commit()
    return s.OneTimeCodeSent(
        sent=True,
        sent_to=one_time_codes.mask_email(customer.email) if show_address else None,
        expires_in_seconds=expires_in,
    )


@router.post("/one-time-code/verify", response_model=s.IdentityVerified)
def verify_one_time_code(body: s.OneTimeCodeVerify, request: Request, session: SessionDep) -> s.IdentityVerified:
    rules = one_time_codes.CodeRules.from_settings(request.app.state.settings)
    try:
        customer_id = one_time_codes.redeem(
            body.code, session=session, rules=rules, conversation_id=body.conversation_id, channel=body.channel
        )
    except DomainError:
        session.commit()  # the attempt counts
        raise
    return _granted(request, session, customers.get_customer(customer_id, session=session), body, "one_time_code")


def _shop_claims(token: str, settings: Any) -> dict[str, Any]:
    invalid = DomainError(401, "shop_login_invalid", "That shop login is not valid.")
    try:
        claims = jwt.decode(
            token, settings.shop_login_secret, algorithms=["HS256"], options={"require": ["exp", "email"]}
        )
    except jwt.InvalidTokenError as exc:
        raise invalid from exc
    lifetime = float(claims["exp"]) - datetime.now(timezone.utc).timestamp()
    if lifetime > settings.shop_login_max_lifetime_minutes * 60 or not isinstance(claims.get("email"), str):
        raise invalid
    return claims


@router.post("/shop-login", response_model=s.IdentityVerified)
def shop_login(body: s.ShopLogin, request: Request, session: SessionDep) -> s.IdentityVerified:
    """A customer logged in on the shop: the shop signed their e-mail and an expiry (HS256, CRM_SHOP_LOGIN_SECRET)."""
    claims = _shop_claims(body.token, request.app.state.settings)
    customer = customers.find_by_email(claims["email"][:254], session=session)
    if customer is None:
        raise DomainError(401, "shop_login_invalid", "That shop login is not valid.")
    return _granted(request, session, customer, body, "shop_login")
