"""The relay the CRM's settings ask for: none, the SQL event-table reader (default) or the RabbitMQ consumer."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from crm_backend.rasa_stores import AMQP_SCHEMES
from crm_backend.relay.rabbitmq import PikaEventRelay
from crm_backend.relay.sql import EventRelay
from crm_backend.services.grants import GrantPolicy
from crm_backend.settings import Settings


def make_relay(settings: Settings, engine: Engine) -> EventRelay | None:
    """The relay the settings ask for: none, the SQL table reader (default) or the RabbitMQ consumer."""
    url = settings.rasa_events_url
    if not settings.relay_enabled or not url:
        return None
    if url.startswith(AMQP_SCHEMES):
        return PikaEventRelay(
            engine,
            url,
            grants=GrantPolicy.from_settings(settings),
            queue=settings.rasa_events_queue,
            exchange=settings.rasa_events_exchange,
        )
    return EventRelay.from_settings(settings, engine)
