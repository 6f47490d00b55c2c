"""Typed business-rule errors; the API maps them to ``{"code", "message", "details"}``."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A business rule said no. ``message`` is a sentence a bot may show to a customer."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}

    def __repr__(self) -> str:
        return f"DomainError({self.status}, {self.code!r})"


def not_found(entity: str, **details: Any) -> DomainError:
    messages = {
        "customer": "I couldn't find that customer.",
        "order": "I couldn't find that order on your account.",
        "refund": "I couldn't find that refund on your account.",
        "invoice": "I couldn't find that invoice on your account.",
        "policy": "I don't have information on that topic.",
    }
    return DomainError(404, f"{entity}_not_found", messages[entity], details)
