"""Exception handlers: every error leaves as ``{"code", "message", "details"}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm_backend.errors import DomainError

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "invalid_api_key"}


async def domain_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return JSONResponse(exc.to_body(), status_code=exc.status)


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
    body = {
        "code": "invalid_request",
        "message": "Some of the details in the request are missing or not valid.",
        "details": {"errors": jsonable_encoder(errors)},
    }
    return JSONResponse(body, status_code=422)


async def http_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    body = {
        "code": _HTTP_CODES.get(exc.status_code, "http_error"),
        "message": str(exc.detail),
        "details": {},
    }
    return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def overflow_handler(_request: Request, exc: Exception) -> JSONResponse:
    """A number too large for the database (last line of defence behind the schemas' bounds): the request is bad."""
    body = {"code": "invalid_request", "message": "A number in the request is out of range.", "details": {}}
    return JSONResponse(body, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(OverflowError, overflow_handler)
    app.add_exception_handler(DomainError, domain_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
