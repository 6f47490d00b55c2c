"""FastAPI app factory: ``create_app(settings)`` builds the engine, policies and routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from crm_backend.api import handlers
from crm_backend.api.deps import GrantRefresh, require_api_key
from crm_backend.api.routes import customers as routes_customers
from crm_backend.api.routes import escalations as routes_escalations
from crm_backend.api.routes import identity as routes_identity
from crm_backend.api.routes import public as routes_public
from crm_backend.api.routes import risk as routes_risk
from crm_backend.api.schemas import Health
from crm_backend.console.install import install as install_console
from crm_backend.db import make_engine
from crm_backend.mailer import Mailer
from crm_backend.policies import load_policies
from crm_backend.rasa_client import RasaClient
from crm_backend.relay.factory import make_relay
from crm_backend.services.grants import GrantPolicy
from crm_backend.settings import Settings, get_settings
from crm_backend.storefront import router as storefront_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = (settings or get_settings()).check()
    engine = make_engine(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        relay = make_relay(settings, engine)  # the SQL event table, or RabbitMQ in the scaled profile
        if relay is not None:
            relay.start(settings.relay_interval_seconds)
        _app.state.relay = relay
        notifier = None
        if settings.agent_slack_webhook_url:  # urgent escalations to the agents' Slack channel (console/notify.py)
            from crm_backend.console.notify import SlackNotifier

            notifier = SlackNotifier.from_settings(settings, engine)
            notifier.start(settings.notify_interval_seconds)
        retention = None
        if settings.retention_interval_hours > 0:  # the retention job (services/retention.py); 0: `crm retention` only
            from crm_backend.services.retention import RetentionSchedule

            retention = RetentionSchedule(settings, engine)
            retention.start()
        _app.state.retention = retention
        yield
        if retention is not None:
            retention.stop()
        if notifier is not None:
            notifier.stop()
        if relay is not None:
            relay.stop()
        close = getattr(_app.state.rasa_client, "close", None)
        if callable(close):
            close()
        engine.dispose()

    app = FastAPI(
        title="CRM API",
        version="1.0.0",
        lifespan=lifespan,
        description="CRM of the customer-service assistant (contract: docs/crm_api.md).",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.policies = load_policies(settings.policy_file)
    app.state.rasa_client = RasaClient.from_settings(settings)  # tests may replace it with a fake
    app.state.mailer = Mailer.from_settings(settings)  # tests may replace it
    app.state.relay = None
    app.state.retention = None
    app.state.grants = GrantPolicy.from_settings(settings)
    app.add_middleware(GrantRefresh)
    handlers.install(app)

    @app.get("/health", response_model=Health, tags=["health"])
    def health(request: Request) -> JSONResponse:
        try:
            with request.app.state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    api = APIRouter(prefix="/api/v1", dependencies=[Depends(require_api_key)])
    api.include_router(routes_public.router)
    api.include_router(routes_identity.router)
    api.include_router(routes_customers.router)
    api.include_router(routes_escalations.router)
    api.include_router(routes_risk.router)
    app.include_router(api)
    app.include_router(storefront_router)  # /shop and /widget/shopcare-widget.js: no API key, public pages
    if settings.development:  # /dev/outbox: the development mail sink's mail; absent (404) in any other env
        from crm_backend.api.routes import dev as routes_dev

        app.include_router(routes_dev.router)
    install_console(app)  # the agents' console under /console
    return app
