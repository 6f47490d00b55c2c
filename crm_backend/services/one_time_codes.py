"""One-time codes: 6 digits e-mailed to the customer's address on file, the strong proof that writes need.

A code is valid for ``ttl``, in the conversation (and channel) that asked for it, for ``max_attempts`` tries, once.
A new code for the same conversation replaces the previous one. A customer gets at most ``max_per_hour`` codes an
hour, whoever asks, so nobody can flood a mailbox through the bot. Only an HMAC of the code is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm_backend.db import Customer, OneTimeCode
from crm_backend.errors import DomainError
from crm_backend.util import utcnow

SUBJECT = "Your ShopCare verification code"


@dataclass(frozen=True)
class CodeRules:
    secret: str
    ttl: timedelta = timedelta(minutes=10)
    max_attempts: int = 3
    max_per_hour: int = 3

    @classmethod
    def from_settings(cls, settings: Any) -> CodeRules:
        return cls(
            secret=settings.grant_secret,
            ttl=timedelta(minutes=settings.otp_ttl_minutes),
            max_attempts=settings.otp_max_attempts,
            max_per_hour=settings.otp_max_per_customer_hour,
        )

    def digest(self, code_id: int, code: str) -> str:
        return hmac.new(self.secret.encode(), f"{code_id}:{code}".encode(), hashlib.sha256).hexdigest()


def mask_email(email: str) -> str:
    """'alice.martin@example.com' -> 'a•••@example.com': enough for the owner to recognise, little for anyone else."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


def mail_text(code: str, rules: CodeRules) -> str:
    minutes = int(rules.ttl.total_seconds() // 60)
    return (
        f"Your ShopCare verification code is {code}.\n\n"
        f"Type it in the chat to confirm it's you. It is valid for {minutes} minutes and can be used once.\n"
        "If you didn't ask for it, you can ignore this e-mail: nobody can use the code without access to your mailbox."
    )


def issue(
    customer: Customer, *, session: Session, rules: CodeRules, conversation_id: str, channel: str
) -> tuple[OneTimeCode, str]:
    """A new code for this conversation (the row is flushed, not committed) and its digits."""
    now = utcnow()
    sent = session.execute(
        select(func.count(OneTimeCode.id)).where(
            OneTimeCode.customer_id == customer.id, OneTimeCode.created_at >= now - timedelta(hours=1)
        )
    ).scalar_one()
    if sent >= rules.max_per_hour:
        raise DomainError(
            429,
            "too_many_codes",
            "I've already sent several codes to this address in the last hour. "
            "Please use the latest one, or a member of our team can help.",
            {"retry_after_seconds": 3600},
        )
    session.execute(  # one live code per conversation: an earlier one stops working
        update(OneTimeCode)
        .where(OneTimeCode.conversation_id == conversation_id, OneTimeCode.used_at.is_(None))
        .values(expires_at=now)
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    row = OneTimeCode(
        customer_id=customer.id,
        conversation_id=conversation_id,
        channel=channel,
        code_hash="",
        created_at=now,
        expires_at=now + rules.ttl,
        attempts=0,
    )
    session.add(row)
    session.flush()
    row.code_hash = rules.digest(row.id, code)
    return row, code


def redeem(code: str, *, session: Session, rules: CodeRules, conversation_id: str, channel: str) -> int:
    """The customer id the conversation's live code belongs to, if ``code`` is it; else DomainError 401."""
    now = utcnow()
    row = session.execute(
        select(OneTimeCode)
        .where(
            OneTimeCode.conversation_id == conversation_id,
            OneTimeCode.channel == channel,
            OneTimeCode.used_at.is_(None),
            OneTimeCode.expires_at > now,
        )
        .order_by(OneTimeCode.id.desc())
        .limit(1)
        .with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise DomainError(
            401,
            "code_expired",
            "That code isn't valid any more (codes last 10 minutes and work once). I can send a new one.",
        )
    row.attempts += 1
    given = "".join(ch for ch in code if ch.isdigit())
    if hmac.compare_digest(rules.digest(row.id, given), row.code_hash):
        row.used_at = now
        return int(row.customer_id)
    left = rules.max_attempts - row.attempts
    if left <= 0:
        row.expires_at = now
        raise DomainError(
            401, "code_expired", "That code didn't match, and it has now stopped working. I can send a new one."
        )
    raise DomainError(
        401, "code_mismatch", "That code didn't match. Please check the e-mail and try again.", {"attempts_left": left}
    )
