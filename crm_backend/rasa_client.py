"""Small synchronous client of the assistant's Rasa server: append events to a conversation's tracker.

The app keeps one instance in ``app.state.rasa_client``; tests replace it with any object that has
``post_events(conversation_id, events)`` (see ``RasaEvents``).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from crm_backend.settings import Settings

logger = logging.getLogger(__name__)


class RasaError(Exception):
    """Rasa did not accept the events."""


class RasaUnavailable(RasaError):
    """Network error, timeout or a 5xx answer: the events may be retried."""


class RasaRejected(RasaError):
    """A 4xx answer (wrong token, malformed events): retrying the same request will not help."""

    def __init__(self, status_code: int, body: str) -> None:
        super().__init__(f"Rasa answered {status_code}: {body[:200]}")
        self.status_code = status_code


class RasaEvents(Protocol):
    def post_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None: ...


class RasaClient:
    """``POST {url}/conversations/{id}/tracker/events?execute_side_effects=true&output_channel=latest&token=``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._transport = transport
        self._client: httpx.Client | None = None  # created on first use, not at construction

    @classmethod
    def from_settings(cls, settings: Settings) -> RasaClient:
        return cls(settings.rasa_url, settings.rasa_token, timeout=settings.rasa_timeout_seconds)

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, transport=self._transport)
        return self._client

    def post_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        # ":" and "@" stay as they are (REST conversations are "rest:<sender>"): Sanic does not decode path parameters
        url = f"{self.base_url}/conversations/{quote(conversation_id, safe=':@')}/tracker/events"
        params = {"execute_side_effects": "true", "output_channel": "latest", "token": self.token}
        try:
            response = self._http().post(url, params=params, json=events)
        except httpx.HTTPError as exc:
            logger.warning("Rasa unreachable posting %d event(s) to %s: %s", len(events), conversation_id, exc)
            raise RasaUnavailable(f"Rasa unreachable: {exc}") from exc
        if response.status_code >= 500:
            raise RasaUnavailable(f"Rasa answered {response.status_code}")
        if response.status_code >= 400:
            raise RasaRejected(response.status_code, response.text)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
