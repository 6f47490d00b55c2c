"""Console agents: stdlib password hashing (scrypt) and creation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_backend.db import Agent
from crm_backend.errors import DomainError
from crm_backend.services import audit
from crm_backend.util import utcnow

ROLES = ("agent", "supervisor")
_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=base64.b64decode(salt_b64), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


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
