"""Helpers shared by the suites that run a real stack (e2e, channels, browser): polling and the CRM's API."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from crm_backend.rasa_client import RasaUnavailable
from tests.factories import grant_headers

CODE_RE = re.compile(r"\b(\d{6})\b")


def wait_until(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll ``check`` until it returns something truthy (returned) or ``timeout`` seconds pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


CUSTOMER_PATH = re.compile(r"/api/v1/customers/(\d+)(/|$)")


def _as_the_customer(request: httpx.Request) -> None:
    """A test reading a customer's data reads it as a conversation verified as that customer would."""
    found = CUSTOMER_PATH.search(request.url.path)
    if found and "x-identity-grant" not in request.headers:
        request.headers.update(as_customer(int(found.group(1))))


def api_client(crm_url: str, api_key: str, timeout: float = 10) -> httpx.Client:
    """The CRM's API with the stack's key; customer-scoped calls carry a grant for the customer in the path (the
    stacks run with the development grant secret)."""
    return httpx.Client(
        base_url=f"{crm_url}/api/v1",
        headers={"X-API-Key": api_key},
        timeout=timeout,
        event_hooks={"request": [_as_the_customer]},
    )


def crm_client(crm_url: str, api_key: str) -> Iterator[httpx.Client]:
    """``api_client`` as a fixture body: ``yield from crm_client(...)``."""
    with api_client(crm_url, api_key) as client:
        yield client


def as_customer(customer_id: int) -> dict[str, str]:
    """Headers of a test that reads the CRM as a conversation verified as this customer (the stacks run with the
    development grant secret)."""
    return grant_headers(customer_id, conversation_id="test-check", channel="test")


def one_time_code(crm_url: str, email: str, after: float = 0.0, timeout: float = 15.0) -> str:
    """The newest one-time code the CRM e-mailed to ``email`` (sent after ``after``), read from the development outbox
    the way a person would read their mailbox."""

    def newest() -> str | None:
        mails = httpx.get(f"{crm_url}/dev/outbox", params={"to": email}, timeout=10).json()
        for mail in mails:  # newest first
            sent = mail.get("sent_at") or ""
            if after and sent and _epoch(sent) < after:
                return None
            found = CODE_RE.search(mail.get("text") or "")
            if found:
                return found.group(1)
        return None

    return str(wait_until(newest, timeout))


def _epoch(iso: str) -> float:
    from datetime import datetime, timezone

    value = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()


def crm_write(crm_api: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    """A write with a fresh Idempotency-Key (every CRM write needs one)."""
    return crm_api.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})


def escalation_of(crm_api: httpx.Client, conversation_id: str) -> dict[str, Any] | None:
    """The conversation's escalation in any state, in full, or None while the CRM has none."""
    every = {"status": "open,claimed,resolved,handed_back", "limit": 500}  # a whole suite's escalations, not a page
    for item in crm_api.get("/escalations", params=every).json():
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
