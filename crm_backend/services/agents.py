"""Console agents: password hashing (argon2id through argon2-cffi) and creation.

Hashes written before the console existed are stdlib scrypt (``scrypt$n$r$p$salt$digest``); they still verify, and
``needs_rehash`` tells the login to replace them with argon2id once the password is known to be right.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_backend.db import Agent
from crm_backend.errors import DomainError
from crm_backend.services import audit
from crm_backend.util import utcnow

ROLES = ("agent", "supervisor")
_HASHER = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) defaults


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        _scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


def verify_password(password: str, stored: str) -> bool:
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True for a legacy scrypt hash or an argon2 hash made with weaker parameters than today's."""
    if stored.startswith("scrypt$"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def find_agent(username: str, *, session: Session) -> Agent | None:
    return session.execute(select(Agent).where(Agent.username == username)).scalar_one_or_none()


def list_agents(*, session: Session) -> list[Agent]:
    return list(session.execute(select(Agent).order_by(Agent.display_name, Agent.username)).scalars())


def create_agent(
    *,
    session: Session,
    username: str,
    password: str,
    role: str = "agent",
    display_name: str = "",
    actor: str = "cli",
) -> Agent:
    if role not in ROLES:
        raise DomainError(422, "invalid_role", f"Role must be one of {', '.join(ROLES)}.")
    if len(password) < 8:
        raise DomainError(422, "weak_password", "The password must have at least 8 characters.")
    if session.execute(select(Agent.id).where(Agent.username == username)).first():
        raise DomainError(409, "agent_exists", f"An agent called {username!r} already exists.")
    agent = Agent(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        created_at=utcnow(),
    )
    session.add(agent)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="agent.create",
        entity="agent",
        entity_id=agent.id,
        after={"username": username, "role": role},
    )
    return agent
