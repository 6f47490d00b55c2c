"""Rasa's REST channel for development and tests, with its own conversations (URL /webhooks/rest/webhook; the
rendered credentials file names it when the environment allows it, channels/credentials.py).

* The body must be ``{"sender": "<id>", "message": "<text>", "metadata"?: {...}}`` with a sender of 1-64 characters of
  ``A-Z a-z 0-9 . _ @ -``; anything else gets a 400 that says what is expected (Rasa's own ``RestInput`` answers 500
  to an empty body, a JSON array, ``null`` or a number).
* Its senders live in their own namespace: the conversation (tracker) id is ``rest:<sender>``, which no other channel
  produces, so a REST caller can never read or continue a Slack, Telegram or web-widget conversation. The answer's
  ``recipient_id`` is that conversation id; the CRM stores it (at most 69 characters) like any other.
* The conversation is always recorded as channel ``rest`` (a body's ``input_channel`` is not read). Its caller is a
  server acting for many customers (an integration, a test), so no client address is recorded for the identity
  limits: ``metadata["shopcare_client"]`` says ``{"channel": "rest", "address": null}``, whatever the body sent.
* With a token (credentials key ``token``, from ``REST_CHANNEL_TOKEN``) every request needs
  ``Authorization: Bearer <token>`` (compared in constant time), 401 otherwise. Outside development the channel is
  enabled only with a token.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.identity import stamp_client

NAMESPACE = "rest:"
SENDER = re.compile(r"[A-Za-z0-9._@-]{1,64}")
EXPECTED = (
    'The body must be a JSON object: {"sender": "<1-64 characters of A-Z a-z 0-9 . _ @ ->", "message": "<text>", '
    '"metadata": {...}}.'
)


def conversation_id(sender: str) -> str:
    """The tracker's sender id of a REST caller's ``sender``."""
    return NAMESPACE + sender


def _body(request: Request) -> dict[str, Any]:
    body = request.json  # Sanic answers 400 itself for a body that is not JSON at all
    if not isinstance(body, dict):
        raise SanicException(EXPECTED, status_code=400)
    sender, message, metadata = body.get("sender"), body.get("message"), body.get("metadata")
    if not isinstance(sender, str) or not SENDER.fullmatch(sender):
        raise SanicException(f"'sender' is missing or not allowed. {EXPECTED}", status_code=400)
    if not isinstance(message, str):
        raise SanicException(f"'message' must be a string. {EXPECTED}", status_code=400)
    if metadata is not None and not isinstance(metadata, dict):
        raise SanicException(f"'metadata' must be an object. {EXPECTED}", status_code=400)
    return body


class GuardedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(token=str((credentials or {}).get("token") or "") or None)

    def __init__(self, token: str | None = None) -> None:
        self.token = token

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        if self.token:
            expected = self.token.encode()

            @blueprint.middleware("request")
            async def authenticate(request: Request) -> HTTPResponse | None:
                scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
                if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected):
                    return None
                body = {"error": "unauthorized", "message": "Authorization: Bearer <REST channel token> is required."}
                return response.json(body, status=401, headers={"WWW-Authenticate": "Bearer"})

        return blueprint

    async def _extract_sender(self, req: Request) -> str | None:
        return conversation_id(_body(req)["sender"])

    def _extract_message(self, req: Request) -> str | None:
        return _body(req)["message"]

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        return stamp_client(_body(request).get("metadata"), self.name(), None)
