"""Idempotency keys: the first response for (key, scope) is stored and replayed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_backend.db import IdempotencyKey
from crm_backend.errors import DomainError
from crm_backend.util import utcnow


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any


def request_hash(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def validate_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise DomainError(
            400,
            "idempotency_key_required",
            "This request needs an Idempotency-Key header.",
        )
    if len(key) > 200:
        raise DomainError(
            422,
            "invalid_request",
            "The Idempotency-Key header must be 1-200 characters.",
            {"field": "Idempotency-Key"},
        )
    return key


def find_replay(*, session: Session, key: str, scope: str, req_hash: str) -> StoredResponse | None:
    """The stored response for a repeated request; 422 if the key was used for a different body."""
    row = session.execute(
        select(IdempotencyKey).where(IdempotencyKey.key == key, IdempotencyKey.scope == scope)
    ).scalar_one_or_none()
    if row is None:
        return None
    if row.request_hash != req_hash:
        raise DomainError(
            422,
            "idempotency_key_reused",
            "This request key was already used for a different request.",
            {"idempotency_key": key},
        )
    return StoredResponse(row.status_code, row.response_json)


def store(*, session: Session, key: str, scope: str, req_hash: str, status_code: int, body: Any) -> None:
    """Add the response to the caller's transaction (committed together with the write)."""
    session.add(
        IdempotencyKey(
            key=key,
            scope=scope,
            request_hash=req_hash,
            status_code=status_code,
            response_json=body,
            created_at=utcnow(),
        )
    )
