"""Identity grants: the CRM's signed statement of who a conversation's customer is and how they proved it.

A grant is an HS256 JWT signed with ``CRM_GRANT_SECRET`` (only the CRM holds it). It names the customer, the
conversation and channel it was earned in, the strength of the proof (``postcode``, ``email``, ``one_time_code``,
``shop_login``) and when the proof was given. It lapses ``idle`` after it was issued (every customer-scoped call
issues a fresh one, so an active conversation keeps it) and never lives past ``absolute`` after the proof.

Every customer-scoped route checks one (``crm_backend/api/deps.py``): the route's customer, the caller's
conversation and channel must be the grant's, and writes need a strong proof. Nothing the bot was told (a slot, a
tracker, a sender id) can stand in for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt

from crm_backend.errors import DomainError

ALGORITHM = "HS256"
ISSUER = "shopcare-crm"
AUDIENCE = "shopcare-assistant"
STRENGTHS = ("postcode", "email", "one_time_code", "shop_login")
READ = frozenset(STRENGTHS)  # status, tracking, invoices, refund status
WRITE = frozenset({"one_time_code", "shop_login"})  # cancel, refund, address change: a postcode never suffices
MAX_TOKEN = 2000
REFRESH_AFTER_SECONDS = 60  # the idle period is restarted at most once a minute


@dataclass(frozen=True)
class Grant:
    customer_id: int
    conversation_id: str
    channel: str
    strength: str
    auth_time: int  # when the proof was given (epoch seconds)
    expires_at: int
    issued_at: int = 0  # when this token was issued (a refresh issues a new one)

    @property
    def verified_at(self) -> str:
        return datetime.fromtimestamp(self.auth_time, timezone.utc).isoformat()

    def allows_writes(self) -> bool:
        return self.strength in WRITE


def _refused(status: int, code: str, message: str) -> DomainError:
    return DomainError(status, code, message)


def grant_required() -> DomainError:
    return _refused(401, "grant_required", "Please verify your identity first.")


@dataclass(frozen=True)
class GrantPolicy:
    secret: str
    idle: timedelta
    absolute: timedelta

    @classmethod
    def from_settings(cls, settings: Any) -> GrantPolicy:
        return cls(
            secret=settings.grant_secret,
            idle=timedelta(minutes=settings.grant_idle_minutes),
            absolute=timedelta(hours=settings.grant_absolute_hours),
        )

    def issue(
        self,
        *,
        customer_id: int,
        conversation_id: str,
        channel: str,
        strength: str,
        auth_time: int | None = None,
        now: float | None = None,
    ) -> tuple[str, Grant]:
        if strength not in STRENGTHS:
            raise ValueError(f"unknown proof strength {strength!r}")
        issued = int(now if now is not None else datetime.now(timezone.utc).timestamp())
        auth = issued if auth_time is None else int(auth_time)
        expires = min(issued + int(self.idle.total_seconds()), auth + int(self.absolute.total_seconds()))
        grant = Grant(customer_id, conversation_id, channel, strength, auth, expires, issued)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(customer_id),
            "cid": conversation_id,
            "chn": channel,
            "prf": strength,
            "auth_time": auth,
            "iat": issued,
            "exp": expires,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM), grant

    def refresh_due(self, grant: Grant, now: float | None = None) -> bool:
        """Worth issuing a fresh token: this one is over a minute old (a conversation's calls within a minute share one)."""
        current = now if now is not None else datetime.now(timezone.utc).timestamp()
        return current - grant.issued_at >= REFRESH_AFTER_SECONDS

    def refresh(self, grant: Grant, now: float | None = None) -> str:
        """A fresh token for the same proof: the idle period starts again, the absolute limit stays."""
        token, _ = self.issue(
            customer_id=grant.customer_id,
            conversation_id=grant.conversation_id,
            channel=grant.channel,
            strength=grant.strength,
            auth_time=grant.auth_time,
            now=now,
        )
        return token

    def read(self, token: str | None, *, now: float | None = None, verify_expiry: bool = True) -> Grant:
        """The grant a token carries; DomainError 401 when it is missing, forged, altered or expired."""
        if not token:
            raise grant_required()
        if len(token) > MAX_TOKEN:
            raise _refused(401, "grant_invalid", "That identity check is not valid. Please verify again.")
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={
                    "require": ["exp", "iat", "sub", "auth_time"],
                    "verify_exp": False,  # checked below against `now`, so tests and the relay can choose it
                },
            )
            grant = Grant(
                customer_id=int(claims["sub"]),
                conversation_id=str(claims["cid"]),
                channel=str(claims["chn"]),
                strength=str(claims["prf"]),
                auth_time=int(claims["auth_time"]),
                expires_at=int(claims["exp"]),
                issued_at=int(claims["iat"]),
            )
        except (jwt.InvalidTokenError, KeyError, TypeError, ValueError) as exc:
            raise _refused(401, "grant_invalid", "That identity check is not valid. Please verify again.") from exc
        if grant.strength not in STRENGTHS:
            raise _refused(401, "grant_invalid", "That identity check is not valid. Please verify again.")
        current = now if now is not None else datetime.now(timezone.utc).timestamp()
        if verify_expiry and (
            current >= grant.expires_at or current >= grant.auth_time + self.absolute.total_seconds()
        ):
            raise _refused(401, "grant_expired", "For your security, please verify your identity again.")
        return grant

    def authorise(
        self,
        token: str | None,
        *,
        customer_id: int,
        conversation_id: str | None,
        channel: str | None,
        write: bool,
        now: float | None = None,
    ) -> Grant:
        """The grant, if it lets this conversation act for this customer; else DomainError 401/403."""
        grant = self.read(token, now=now)
        if grant.customer_id != customer_id:
            raise _refused(403, "grant_other_customer", "I can only help with the account you verified.")
        if conversation_id != grant.conversation_id or channel != grant.channel:
            raise _refused(403, "grant_other_conversation", "Please verify your identity in this conversation.")
        if write and not grant.allows_writes():
            raise _refused(
                403,
                "stronger_proof_required",
                "To make changes I need a one-time code sent to the e-mail address on your account.",
            )
        return grant


def vouch(
    policy: GrantPolicy, token: str | None, *, customer_id: int | None, conversation_id: str, packet: dict[str, Any]
) -> tuple[int | None, dict[str, Any]]:
    """The customer an escalation may name, and its packet with how (and when) that customer was verified.

    Only a grant the CRM signed for this customer and conversation names the customer; a claimed id without one is
    kept in the packet as ``claimed_customer_id`` for the agent, unverified. Expiry is not checked: the outbox may
    deliver an escalation after the grant lapsed, and the grant shows the customer was verified when it was raised.
    """
    identity: dict[str, Any] = {"verified": False, "verified_by": None, "verified_at": None}
    if customer_id is not None and token:
        try:
            grant = policy.read(token, verify_expiry=False)
        except DomainError:
            grant = None
        if grant is not None and (grant.customer_id, grant.conversation_id) == (customer_id, conversation_id):
            identity = {"verified": True, "verified_by": grant.strength, "verified_at": grant.verified_at}
    customer = dict(packet.get("customer") or {}) if isinstance(packet.get("customer"), dict) else {}
    if not identity["verified"] and customer_id is not None:
        customer["claimed_customer_id"] = customer_id
        customer_id = None
    customer.update(identity)
    return customer_id, {**packet, "customer": customer}
