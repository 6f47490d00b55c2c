"""The action server as the Rasa servers reach it: rasa-sdk's app for this package, behind a shared secret.

Every request except ``GET /health`` must carry the header ``X-Action-Token`` equal to ``ACTION_SERVER_TOKEN``;
anything else is answered 401 and runs nothing. Rasa sends the header from its endpoints file
(``action_endpoint: headers:``). Every log record is masked (``shopcare_core/logmask.py``) before anything logs::

    python -m actions.server --port 5055 [--host 127.0.0.1]

Without a token it refuses to start, unless ``CRM_ENV=development`` and the address is a loopback one (then every
request is served, as by ``rasa run actions``). Like the CRM with its API key, it refuses the development token
(``dev-action-token``) when ``CRM_ENV`` names another environment.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import sys
from collections.abc import Mapping

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.settings import get_settings
from shopcare_core.net import is_loopback

TOKEN_ENV = "ACTION_SERVER_TOKEN"
TOKEN_HEADER = "X-Action-Token"
DEV_TOKEN = "dev-action-token"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5055

logger = logging.getLogger("actions.server")


def startup_error(token: str, host: str, env: Mapping[str, str]) -> str | None:
    """Why the server must not start with this token on this address (None: it may)."""
    if token == DEV_TOKEN and env.get("CRM_ENV", "development") != "development":
        return f"{TOKEN_ENV} is the development token: set a secret value when CRM_ENV={env.get('CRM_ENV')!r}."
    if token:
        return None
    if env.get("CRM_ENV") == "development" and is_loopback(host):
        return None
    return (
        f"{TOKEN_ENV} is empty: every Rasa server calling this action server must send it as {TOKEN_HEADER}. "
        "Only local development (CRM_ENV=development) on a loopback address may run without it."
    )


def token_matches(given: str | None, token: str) -> bool:
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("utf-8", "surrogateescape"))


def require_token(app: Sanic, token: str) -> None:
    """Answer 401 to every request but ``GET /health`` that lacks the token; an empty token lets everything in."""

    async def check(request: Request) -> HTTPResponse | None:
        if not token or (request.method == "GET" and request.path == "/health"):
            return None
        if token_matches(request.headers.get(TOKEN_HEADER), token):
            return None
        return response.json({"error": f"missing or wrong {TOKEN_HEADER} header"}, status=401)

    app.register_middleware(check, "request")


def create_app(token: str, package: str = "actions") -> Sanic:
    """rasa-sdk's Sanic app with every action of ``package`` registered, behind the token. No CORS: browsers never
    call the action server."""
    from rasa_sdk.endpoint import create_app as sdk_app
    from rasa_sdk.plugin import plugin_manager

    app = sdk_app(package, cors_origins=None)
    require_token(app, token)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    return app


def parser() -> argparse.ArgumentParser:
    from rasa_sdk import utils

    args = argparse.ArgumentParser(description="Run the action server behind the shared token (ACTION_SERVER_TOKEN).")
    args.add_argument("--port", "-p", type=int, default=DEFAULT_PORT)
    args.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default: loopback only)")
    args.add_argument("--actions", default="actions", help="package whose actions are served")
    utils.add_logging_level_option_arguments(args)
    return args


def main(argv: list[str] | None = None) -> int:
    from shopcare_core import logmask

    settings = get_settings()
    token = settings.action_server_token
    logmask.install([token])  # first: nothing may log before the masking is in place
    args = parser().parse_args(argv)
    problem = startup_error(token, args.host, settings.environment())
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    from rasa_sdk import utils

    utils.configure_colored_logging(args.loglevel)
    utils.update_sanic_log_level()
    if not token:
        logger.warning("%s is empty: serving every request (local development on %s)", TOKEN_ENV, args.host)
    app = create_app(token, args.actions)
    logger.info("Action server on http://%s:%s (calls need %s)", args.host, args.port, TOKEN_HEADER)
    app.run(args.host, args.port, workers=utils.number_of_sanic_workers())
    return 0


if __name__ == "__main__":
    sys.exit(main())
