"""Rasa's REST channel with its request body checked first (credentials.yml names it; same URL, /webhooks/rest/).

Rasa's own `RestInput` reads ``request.json.get(...)`` unchecked: an empty body, a JSON array, ``null`` or a number
made it answer 500 (found by tests/hostile/). Here a body that is not ``{"sender": str, "message": str,
"metadata"?: object}`` gets a 400 that says what is expected, and a sender id longer than the tracker store's column
(255) is refused instead of failing in the database.
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.rest import RestInput
from sanic.exceptions import SanicException
from sanic.request import Request

MAX_SENDER = 255
EXPECTED = 'The body must be a JSON object: {"sender": "<id>", "message": "<text>", "metadata": {...}}.'


def _body(request: Request) -> dict[str, Any]:
    body = request.json  # Sanic answers 400 itself for a body that is not JSON at all
    if not isinstance(body, dict):
        raise SanicException(EXPECTED, status_code=400)
    sender, message, metadata = body.get("sender"), body.get("message"), body.get("metadata")
    if sender is not None and (not isinstance(sender, str) or not 0 < len(sender) <= MAX_SENDER):
        raise SanicException(f"'sender' must be a string of 1-{MAX_SENDER} characters. {EXPECTED}", status_code=400)
    if not isinstance(message, str):
        raise SanicException(f"'message' must be a string. {EXPECTED}", status_code=400)
    if metadata is not None and not isinstance(metadata, dict):
        raise SanicException(f"'metadata' must be an object. {EXPECTED}", status_code=400)
    return body


class GuardedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    async def _extract_sender(self, req: Request) -> str | None:
        return _body(req).get("sender")

    def _extract_message(self, req: Request) -> str | None:
        return _body(req).get("message")

    def _extract_input_channel(self, req: Request) -> str:
        value = _body(req).get("input_channel")
        return value if isinstance(value, str) and value else self.name()

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        return _body(request).get("metadata")
