"""Helpers shared by the suites that run a real stack (e2e, channels, browser): polling and the CRM's API."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from crm_backend.rasa_client import RasaUnavailable


def wait_until(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy (returned) or ``timeout`` seconds pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


def crm_client(crm_url: str, api_key: str) -> Iterator[httpx.Client]:
    """The CRM's API with the stack's key (a fixture body: ``yield from crm_client(...)``)."""
    with httpx.Client(base_url=f"{crm_url}/api/v1", headers={"X-API-Key": api_key}, timeout=10) as client:
        yield client


def crm_write(crm_api: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    """A write with a fresh Idempotency-Key (every CRM write needs one)."""
    return crm_api.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})


def escalation_of(crm_api: httpx.Client, conversation_id: str) -> dict[str, Any] | None:
    """The conversation's escalation in any state, in full, or None while the CRM has none."""
    for item in crm_api.get("/escalations", params={"status": "open,claimed,resolved,handed_back"}).json():
        if item["conversation_id"] == conversation_id:
            return crm_api.get(f"/escalations/{item['id']}").json()
    return None


class FakeRasa:
    """Stands in for the CRM's ``RasaClient``: records the events posted to a customer's conversation; ``down`` makes
    it fail like an unreachable Rasa."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []
        self.down = False

    def post_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        if self.down:
            raise RasaUnavailable("connection refused")
        self.calls.append((conversation_id, events))
