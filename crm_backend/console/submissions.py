"""One-time tokens of the console's reply and note forms: a double click or a resent form runs the action once.

The token is rendered into the page; ``claim`` records it in ``idempotency_keys`` before the action runs (the unique
key decides between two concurrent posts) and ``release`` removes it when the action failed, so the agent can send
the same form again.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_backend.db import IdempotencyKey


def of(form: dict[str, str], agent_id: int) -> tuple[int, str] | None:
    """(agent id, token) of a posted form; None for a page rendered without a token (run as before)."""
    token = form.get("submission", "").strip()
    return (agent_id, token[:100]) if token else None


def claim(session: Session, submission: tuple[int, str], scope: str) -> IdempotencyKey | bool:
    """The recorded claim, or False when this token was already used for ``scope``."""
    agent_id, token = submission
    row = IdempotencyKey(
        key=f"console:{agent_id}:{token}", scope=scope, request_hash="", status_code=303, response_json=None
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return row


def release(session: Session, claimed: IdempotencyKey | bool | None) -> None:
    """The action failed: the same form may be sent again."""
    if isinstance(claimed, IdempotencyKey):
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == claimed.id))
        session.commit()
