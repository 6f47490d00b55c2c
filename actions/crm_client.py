"""The one client the actions use to reach the CRM's REST API (docs/crm_api.md).

Timeouts, retries and the mapping of HTTP answers to Python exceptions live here and nowhere else:
- a business-rule refusal (4xx with a machine-readable `code`) raises `CRMRefused`;
- a network failure, timeout or 5xx raises `CRMUnavailable` after `retries` more attempts. Writes are retried too:
  every write carries an idempotency key, so a retry can never apply a change twice.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from actions.settings import ActionServerSettings, get_settings

logger = logging.getLogger(__name__)


@dataclass
class CallContext:
    """One action run's dealings with the CRM: the calls it made (method, path, status, code), shown to agents in the
    escalation packet, and the conversation's identity grant, sent with every call and refreshed by the CRM."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    conversation_id: str = ""
    channel: str = ""
    grant: str | None = None
    grant_changed: bool = False

    def use_grant(self, token: str | None) -> None:
        if token != self.grant:
            self.grant, self.grant_changed = token, True


_context: contextvars.ContextVar[CallContext | None] = contextvars.ContextVar("crm_call_context", default=None)


def start_call_log(tracker: Any = None) -> CallContext:
    """A fresh context for this action run, for the tracker's conversation (its sender, channel and grant)."""
    context = CallContext()
    if tracker is not None:
        context.conversation_id = str(tracker.sender_id)
        context.channel = str(tracker.get_latest_input_channel() or "unknown")
        context.grant = tracker.get_slot("identity_grant") or None
    _context.set(context)
    return context


def current_context() -> CallContext | None:
    return _context.get()


def context_for(tracker: Any) -> CallContext:
    """The running action's context if it is this conversation's, else a fresh one for it."""
    context = _context.get()
    if context is None or context.conversation_id != str(tracker.sender_id):
        context = start_call_log(tracker)
    return context


def _record(method: str, path: str, status: Any, code: str | None = None) -> None:
    context = _context.get()
    if context is not None:
        context.calls.append({"call": f"{method} {path}", "status": status, **({"code": code} if code else {})})


def _identity_headers() -> dict[str, str]:
    context = _context.get()
    if context is None or not context.grant:
        return {}
    return {
        "X-Identity-Grant": context.grant,
        "X-Conversation-Id": context.conversation_id,
        "X-Channel": context.channel,
    }


class CRMError(Exception):
    """Base class of everything the CRM client raises."""


class CRMUnavailable(CRMError):
    """The CRM could not be reached or failed (network, timeout, 5xx)."""


class CRMRefused(CRMError):
    """The CRM answered with a 4xx: a business rule, a missing record or a bad request."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


@dataclass(frozen=True)
class CRMSettings:
    base_url: str = "http://127.0.0.1:8000"
    api_key: str = "dev-api-key"
    timeout: float = 5.0
    retries: int = 2

    @classmethod
    def from_settings(cls, settings: ActionServerSettings) -> CRMSettings:
        return cls(
            base_url=settings.crm_url,
            api_key=settings.crm_api_key,
            timeout=settings.crm_timeout,
            retries=settings.crm_retries,
        )


class CRMClient:
    """Async client for the CRM API. One instance per process; an `httpx.AsyncClient` per event loop."""

    def __init__(self, settings: CRMSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self._transport = transport
        self._clients: dict[int, httpx.AsyncClient] = {}

    def _http(self) -> httpx.AsyncClient:
        loop_id = id(asyncio.get_running_loop())
        client = self._clients.get(loop_id)
        if client is None:
            client = httpx.AsyncClient(
                base_url=self.settings.base_url,
                headers={"X-API-Key": self.settings.api_key},
                timeout=self.settings.timeout,
                transport=self._transport,
            )
            self._clients[loop_id] = client
        return client

    async def request(
        self, method: str, path: str, json: dict[str, Any] | None = None, idempotency_key: str | None = None
    ) -> Any:
        headers = _identity_headers()
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        last_error: Exception | None = None
        for attempt in range(self.settings.retries + 1):
            if attempt:
                await asyncio.sleep(0.2 * attempt)
            try:
                response = await self._http().request(method, f"/api/v1{path}", json=json, headers=headers)
            except httpx.HTTPError as exc:  # connect errors, timeouts, protocol errors
                last_error = exc
                _record(method, path, "unreachable")
                logger.warning("CRM %s %s failed (attempt %d): %s", method, path, attempt + 1, exc)
                continue
            if response.status_code >= 500:
                _record(method, path, response.status_code)
                last_error = CRMUnavailable(f"CRM answered {response.status_code}")
                logger.warning("CRM %s %s answered %d", method, path, response.status_code)
                continue
            if response.status_code >= 400:
                refusal = _refusal(response)
                _record(method, path, response.status_code, refusal.code)
                raise refusal
            _record(method, path, response.status_code)
            refreshed = response.headers.get("x-identity-grant")
            context = _context.get()
            if refreshed and context is not None and context.grant:
                context.use_grant(refreshed)  # the CRM extended the grant's idle period
            return response.json()
        raise CRMUnavailable(str(last_error)) from last_error

    # --- identity (the conversation and channel come from the action's call context)
    def _where(self, **extra: Any) -> dict[str, Any]:
        context = _context.get() or CallContext()
        body = {"conversation_id": context.conversation_id, "channel": context.channel, **extra}
        return {k: v for k, v in body.items() if v is not None}

    async def verify_identity(
        self,
        order_number: str,
        email: str | None = None,
        postcode: str | None = None,
        client_address: str | None = None,
    ) -> dict[str, Any]:
        body = self._where(order_number=order_number, email=email, postcode=postcode, client_address=client_address)
        return await self.request("POST", "/identity/verify", json=body)

    async def send_one_time_code(self, order_number: str | None = None) -> dict[str, Any]:
        """To the granted customer's address (when the context holds a grant), else to the order's."""
        return await self.request("POST", "/identity/one-time-code", json=self._where(order_number=order_number))

    async def verify_one_time_code(self, code: str) -> dict[str, Any]:
        return await self.request("POST", "/identity/one-time-code/verify", json=self._where(code=code))

    async def shop_login(self, token: str) -> dict[str, Any]:
        return await self.request("POST", "/identity/shop-login", json=self._where(token=token))

    async def list_orders(self, customer_id: str, limit: int = 5) -> Any:
        return await self.request("GET", f"/customers/{customer_id}/orders?limit={limit}")

    # --- orders
    async def get_order(self, customer_id: str, order_number: str) -> dict[str, Any]:
        return await self.request("GET", f"/customers/{customer_id}/orders/{order_number}")

    async def cancellation_quote(self, customer_id: str, order_number: str) -> dict[str, Any]:
        return await self.request("GET", f"/customers/{customer_id}/orders/{order_number}/cancellation")

    async def cancel_order(self, customer_id: str, order_number: str, reason: str, key: str) -> dict[str, Any]:
        path = f"/customers/{customer_id}/orders/{order_number}/cancel"
        return await self.request("POST", path, json={"reason": reason}, idempotency_key=key)

    async def change_address(
        self, customer_id: str, order_number: str, address: dict[str, str], key: str
    ) -> dict[str, Any]:
        path = f"/customers/{customer_id}/orders/{order_number}/shipping-address"
        return await self.request("PUT", path, json=address, idempotency_key=key)

    # --- refunds
    async def refund_eligibility(self, customer_id: str, order_number: str) -> dict[str, Any]:
        return await self.request("GET", f"/customers/{customer_id}/orders/{order_number}/refund-eligibility")

    async def create_refund(
        self, customer_id: str, order_number: str, amount: float, reason: str, key: str
    ) -> dict[str, Any]:
        path = f"/customers/{customer_id}/orders/{order_number}/refunds"
        return await self.request("POST", path, json={"amount": amount, "reason": reason}, idempotency_key=key)

    async def list_refunds(self, customer_id: str) -> Any:
        return await self.request("GET", f"/customers/{customer_id}/refunds")

    # --- invoices
    async def get_invoice(self, customer_id: str, invoice_number: str) -> dict[str, Any]:
        return await self.request("GET", f"/customers/{customer_id}/invoices/{invoice_number}")

    # --- data-subject requests (a supervisor carries them out; the CRM takes the proof from the grant)
    async def create_data_request(self, customer_id: str, kind: str, key: str) -> dict[str, Any]:
        """{"reference", "kind", "status", "created"}: `created` is false when a pending one already existed."""
        path = f"/customers/{customer_id}/data-requests"
        return await self.request("POST", path, json={"kind": kind}, idempotency_key=key)

    # --- policies and tickets
    async def get_policy(self, topic: str) -> dict[str, Any]:
        return await self.request("GET", f"/policies/{topic}")

    async def create_ticket(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        return await self.request("POST", "/tickets", json=body, idempotency_key=key)

    # --- risk and escalation
    async def customer_features(self, customer_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/customers/{customer_id}/features")

    async def create_escalation(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        return await self.request("POST", "/escalations", json=body, idempotency_key=key)

    async def record_csat(self, conversation_id: str, score: int, key: str) -> dict[str, Any]:
        body = {"conversation_id": conversation_id, "score": score}
        return await self.request("POST", "/escalations/csat", json=body, idempotency_key=key)


def _refusal(response: httpx.Response) -> CRMRefused:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return CRMRefused(
        response.status_code,
        str(body.get("code", f"http_{response.status_code}")),
        str(body.get("message", "")),
        body.get("details") if isinstance(body.get("details"), dict) else None,
    )


_client: CRMClient | None = None


def get_client() -> CRMClient:
    """The process's client, built from the action server's settings on first use."""
    global _client
    if _client is None:
        _client = CRMClient(CRMSettings.from_settings(get_settings()))
    return _client


def use_client(client: CRMClient | None) -> None:
    """Install a client (tests give one whose transport is a real CRM app); None resets to the settings' one."""
    global _client
    _client = client
