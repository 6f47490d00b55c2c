"""Console authentication: server-side sessions in the database, CSRF tokens, roles and a login rate limit.

The session cookie holds a random token; the database keeps only its SHA-256 (``console_sessions.token_hash``), so a
leaked table does not hand out live sessions. Every POST form carries the session's CSRF token; the login form, which
has no session yet, uses a double-submit cookie. Failed logins are counted per username and per client address in
``login_attempts``; past the limit, logins are refused until the window has passed.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote

from fastapi import Depends, Request
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crm_backend.api.deps import get_session
from crm_backend.db import Agent, ConsoleSession, LoginAttempt
from crm_backend.services.agents import find_agent, hash_password, needs_rehash, verify_password
from crm_backend.settings import Settings

SESSION_COOKIE = "shopcare_console"
LOGIN_CSRF_COOKIE = "shopcare_console_login"
MAX_FORM_BYTES = 64 * 1024


class LoginRequired(Exception):
    """No valid session: pages redirect to the login page, the JSON endpoint answers 401."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class Forbidden(Exception):
    """Logged in, but the page needs another role (supervisor)."""


class CsrfRejected(Exception):
    """A POST without the right CSRF token."""


@dataclass
class Auth:
    """The logged-in agent and their session (for the CSRF token)."""

    agent: Agent
    session_row: ConsoleSession

    @property
    def csrf_token(self) -> str:
        return str(self.session_row.csrf_token)

    @property
    def is_supervisor(self) -> bool:
        return self.agent.role == "supervisor"


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verifying against this keeps a login for an unknown username as slow as one for a known username."""
    return hash_password(secrets.token_urlsafe(16))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.utcnow()


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def client_address(request: Request) -> str:
    return (request.client.host if request.client else "unknown")[:64]


# --- sessions
def open_session(agent: Agent, settings: Settings, *, session: Session) -> str:
    """Create a session row; returns the cookie token (only its digest is stored)."""
    token = secrets.token_urlsafe(32)
    now = _now()
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))  # housekeeping
    session.add(
        ConsoleSession(
            token_hash=_digest(token),
            agent_id=agent.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + timedelta(hours=settings.console_session_hours),
        )
    )
    session.flush()
    return token


def close_session(token: str | None, *, session: Session) -> None:
    if token:
        session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _digest(token)))


def find_session(token: str | None, *, session: Session) -> ConsoleSession | None:
    if not token:
        return None
    row = session.execute(
        select(ConsoleSession).where(ConsoleSession.token_hash == _digest(token))
    ).scalar_one_or_none()
    if row is None or row.expires_at <= _now():
        return None
    return row


def _next_path(request: Request) -> str:
    path = request.url.path
    return path + (f"?{request.url.query}" if request.url.query else "")


def current_auth(request: Request, session: Session = Depends(get_session)) -> Auth:
    row = find_session(request.cookies.get(SESSION_COOKIE), session=session)
    if row is None or row.agent is None:
        raise LoginRequired(_next_path(request))
    return Auth(agent=row.agent, session_row=row)


def supervisor_auth(auth: Auth = Depends(current_auth)) -> Auth:
    if not auth.is_supervisor:
        raise Forbidden()
    return auth


def login_url(next_path: str) -> str:
    return "/console/login" + (f"?next={quote(next_path, safe='')}" if next_path else "")


def safe_next(value: str | None) -> str:
    """Only a path inside the console (no open redirect to another site)."""
    if value and value.startswith("/console") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console/queue"


# --- forms and CSRF
async def form_data(request: Request) -> dict[str, str]:
    """The urlencoded body of a console form (the pages post nothing else)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return {}


def tokens_match(sent: str | None, expected: str | None) -> bool:
    return bool(sent) and bool(expected) and hmac.compare_digest(str(sent).encode(), str(expected).encode())


def checked_form(auth: Auth = Depends(current_auth), form: dict[str, str] = Depends(form_data)) -> dict[str, str]:
    """The form of a logged-in POST, refused without the session's CSRF token."""
    if not tokens_match(form.get("csrf_token"), auth.csrf_token):
        raise CsrfRejected()
    return form


# --- login with a rate limit
def _recent_failures(username: str, client: str, settings: Settings, *, session: Session) -> int:
    since = _now() - timedelta(minutes=settings.login_window_minutes)
    by_user = session.execute(
        select(func.count(LoginAttempt.id)).where(LoginAttempt.at >= since, LoginAttempt.username == username)
    ).scalar_one()
    by_client = session.execute(
        select(func.count(LoginAttempt.id)).where(LoginAttempt.at >= since, LoginAttempt.client == client)
    ).scalar_one()
    return int(max(by_user, by_client))


def authenticate(username: str, password: str, client: str, settings: Settings, *, session: Session) -> Agent | None:
    """The agent when the password is right and the limit not reached; None otherwise (and the failure counted).

    Raises ``RateLimited`` while too many recent failures stand against the username or the client address.
    """
    username = username.strip()[:60]
    if _recent_failures(username, client, settings, session=session) >= settings.login_max_failures:
        raise RateLimited(settings.login_window_minutes)
    agent = find_agent(username, session=session) if username else None
    ok = verify_password(password, agent.password_hash if agent else _dummy_hash()) and agent is not None
    if not ok or agent is None:
        session.add(LoginAttempt(username=username or "-", client=client, at=_now()))
        session.commit()
        return None
    if needs_rehash(agent.password_hash):  # legacy scrypt (or weaker argon2) -> argon2id now that we know it
        agent.password_hash = hash_password(password)
    session.execute(delete(LoginAttempt).where(LoginAttempt.username == username))
    return agent


class RateLimited(Exception):
    def __init__(self, minutes: int) -> None:
        super().__init__(f"too many failed logins; try again in {minutes} minutes")
        self.minutes = minutes
