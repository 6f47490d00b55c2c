"""Mounting the agents' console on the CRM app: ``install(app)`` adds the routes, the static files (CSS and a little
JS, served by the CRM: nothing from a CDN), the error pages of the console (login redirect, 403) and the security
headers of its pages."""

from __future__ import annotations

from pathlib import Path

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_backend.console.auth import CsrfRejected, Forbidden, LoginRequired, login_url

HERE = Path(__file__).resolve().parent
# Scripts and styles only from this server: an injected <script> or inline handler would not run even if it slipped
# past the escaping.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


PAGE_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class ConsoleHeaders:
    """Security headers on every console response (and no caching of its pages).

    A plain ASGI middleware, not Starlette's ``@app.middleware("http")`` (which wraps every request of the whole app,
    the API's too): docs/architecture.md#crm-request-path.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/console"):
            await self.app(scope, receive, send)
            return
        extra = PAGE_HEADERS if path.startswith("/console/static") else [*PAGE_HEADERS, (b"cache-control", b"no-store")]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,  # every page escapes what it shows: a transcript is customer input
        undefined=jinja2.StrictUndefined,
    )
    env.globals["dev_outbox"] = False  # install() links the Dev outbox page in development
    return Jinja2Templates(env=env)


def _error_page(request: Request, status: int, title: str, text: str) -> Response:
    page = request.app.state.console_templates.TemplateResponse(
        request, "error.html", {"title": title, "text": text, "auth": None}, status_code=status
    )
    return page


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if request.url.path.endswith(".json"):
        return JSONResponse({"code": "login_required", "message": "Please log in again.", "details": {}}, 401)
    return RedirectResponse(login_url(exc.next_path), status_code=303)


async def _forbidden(request: Request, _exc: Exception) -> Response:
    return _error_page(request, 403, "Supervisors only", "This page is for supervisors. Ask a supervisor for access.")


async def _csrf(request: Request, _exc: Exception) -> Response:
    text = "The form was out of date or did not come from this console. Go back, reload the page and try again."
    return _error_page(request, 403, "Form refused", text)


def install(app: FastAPI) -> None:
    from crm_backend.console import privacy, routes, supervisor

    app.state.console_templates = templates()
    app.include_router(routes.router)
    app.include_router(supervisor.router)
    app.include_router(privacy.router)
    if app.state.settings.development:  # the Dev outbox page and its nav link; 404 in any other env
        from crm_backend.console import dev_outbox

        app.include_router(dev_outbox.router)
        app.state.console_templates.env.globals["dev_outbox"] = True
    app.mount("/console/static", StaticFiles(directory=str(HERE / "static")), name="console-static")
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(CsrfRejected, _csrf)

    app.add_middleware(ConsoleHeaders)
