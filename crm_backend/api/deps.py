"""Request dependencies: session per request, API key, policies, and the one idempotent-write helper."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_backend.db import new_session
from crm_backend.errors import DomainError
from crm_backend.policies import Policies
from crm_backend.services import idempotency
from crm_backend.services.grants import Grant, GrantPolicy

# Ids are 32-bit integers in every database the CRM runs on (PostgreSQL INTEGER); a larger number is a bad request,
# not a server error.
ID_MAX = 2_147_483_647
CustomerId = Annotated[int, Path(ge=1, le=ID_MAX)]
EscalationId = Annotated[int, Path(ge=1, le=ID_MAX)]


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session per request. Must stay a coroutine (creating a session is no I/O: it connects on first use):
    docs/architecture.md#crm-request-path."""
    session = new_session(request.app.state.engine)
    try:
        yield session
    finally:
        if session.in_transaction():  # it holds a connection: giving it back (a rollback) is I/O
            await run_in_threadpool(session.close)
        else:
            session.close()


def route_of(request: Request) -> str:
    """The route that serves a request, without its path values: "GET /api/v1/customers/{customer_id}"."""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


def model_response(content: BaseModel | list[BaseModel], status_code: int = 200) -> Response:
    """A response model serialised once, by pydantic, in the endpoint's own thread.

    The route keeps its ``response_model`` for the OpenAPI document; returning a Response skips FastAPI's second
    validation of the model and ``jsonable_encoder`` (docs/architecture.md#crm-request-path).
    """
    if isinstance(content, list):
        body = "[" + ",".join(item.json() for item in content) + "]"
    else:
        body = content.json()
    return Response(body, status_code=status_code, media_type="application/json")


# The dependencies below do no I/O and must stay coroutines (FastAPI runs a plain `def` dependency in its thread pool):
# docs/architecture.md#crm-request-path.
async def get_policies(request: Request) -> Policies:
    return request.app.state.policies


async def require_api_key(request: Request, x_api_key: str | None = Header(None, alias="X-API-Key")) -> None:
    expected: str = request.app.state.settings.api_key
    if not x_api_key or not hmac.compare_digest(x_api_key.encode(), expected.encode()):
        raise DomainError(401, "invalid_api_key", "A valid X-API-Key header is required.")


def _grant(request: Request, customer_id: int, write: bool) -> Grant:
    headers = request.headers
    policy: GrantPolicy = request.app.state.grants
    grant = policy.authorise(
        headers.get("x-identity-grant"),
        customer_id=customer_id,
        conversation_id=headers.get("x-conversation-id"),
        channel=headers.get("x-channel"),
        write=write,
    )
    if policy.refresh_due(grant):  # sent back by GrantRefresh: the idle period starts again
        request.state.grant_refresh = policy.refresh(grant)
    return grant


async def read_grant(request: Request, customer_id: CustomerId) -> Grant:
    """A customer-scoped read needs the CRM's grant for that customer, this conversation and channel (any proof)."""
    return _grant(request, customer_id, write=False)


async def write_grant(request: Request, customer_id: CustomerId) -> Grant:
    """A customer-scoped write needs a grant earned with a strong proof (one-time code or shop login)."""
    return _grant(request, customer_id, write=True)


class GrantRefresh:
    """ASGI middleware: a successful response to a granted call carries the refreshed grant (X-Identity-Grant)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_grant(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                token = scope.get("state", {}).get("grant_refresh")
                if token:
                    message = {
                        **message,
                        "headers": [*message.get("headers", []), (b"x-identity-grant", token.encode())],
                    }
            await send(message)

        await self.app(scope, receive, send_with_grant)


async def get_actor(x_actor: str | None = Header(None, alias="X-Actor")) -> str:
    """Who makes the change (e.g. "bot:<conversation_id>"); defaults to "api"."""
    return (x_actor or "api")[:100]


class Writer:
    """Runs a write once per Idempotency-Key and replays the stored response afterwards."""

    def __init__(self, request: Request, session: Session, policies: Policies, actor: str, key: str | None):
        self.request, self.session, self.policies, self.actor = request, session, policies, actor
        self.raw_key = key
        self.key = ""

    def run(
        self,
        body: Any,
        status_code: int,
        action: Callable[[], Any],
        status_of: Callable[[Any], int] | None = None,
    ) -> JSONResponse:
        """``status_of`` picks the success status from the action's result (e.g. 201 created, 200 already there)."""
        self.key = idempotency.validate_key(self.raw_key)
        scope = f"{self.request.method} {self.request.url.path}"
        req_hash = idempotency.request_hash(jsonable_encoder(body))
        replay = idempotency.find_replay(session=self.session, key=self.key, scope=scope, req_hash=req_hash)
        if replay is not None:
            return JSONResponse(replay.body, status_code=replay.status_code, headers={"Idempotent-Replayed": "true"})
        try:
            value = action()
            result: tuple[int, Any] = (status_of(value) if status_of else status_code, jsonable_encoder(value))
        except DomainError as error:
            self.session.rollback()
            result = (error.status, error.to_body())
        idempotency.store(
            session=self.session,
            key=self.key,
            scope=scope,
            req_hash=req_hash,
            status_code=result[0],
            body=result[1],
        )
        try:
            self.session.commit()
        except IntegrityError:  # a concurrent request with the same key won the race
            self.session.rollback()
            replay = idempotency.find_replay(session=self.session, key=self.key, scope=scope, req_hash=req_hash)
            if replay is None:
                raise
            return JSONResponse(replay.body, status_code=replay.status_code, headers={"Idempotent-Replayed": "true"})
        return JSONResponse(result[1], status_code=result[0])


def get_writer(
    request: Request,
    session: Session = Depends(get_session),
    policies: Policies = Depends(get_policies),
    actor: str = Depends(get_actor),
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> Writer:
    return Writer(request, session, policies, actor, idempotency_key)


# Dependency aliases: a route declares `session: SessionDep` instead of repeating `Depends(...)`.
SessionDep = Annotated[Session, Depends(get_session)]
PoliciesDep = Annotated[Policies, Depends(get_policies)]
WriterDep = Annotated[Writer, Depends(get_writer)]
