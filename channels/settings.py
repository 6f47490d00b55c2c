"""The Rasa server's own settings (its channels and components), read from the environment or a ``.env`` file.

The names are the variables `.env.example` lists under "the Rasa server" and "REST and socket.io channels". Nothing
else in ``components/`` or ``channels/`` reads ``os.environ``: each part reads these once, where it starts (the
socket.io channel when Rasa builds its blueprint, the session bound when it is installed). The Slack, Telegram and
REST channels take theirs from the credentials file scripts/stack.py renders (channels/credentials.py). Here rather
than in ``components/``: importing this must not install the components' patches or change the training fingerprint.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseSettings, validator

logger = logging.getLogger(__name__)

DEFAULT_SESSION_MAX_EVENTS = 1000
DEFAULT_SOCKETIO_REDIS_CHANNEL = "shopcare-socketio"


class RasaServerSettings(BaseSettings):
    # components/session_bound.py: a session over this many events starts again, slots kept; 0 = never
    session_max_events: int = DEFAULT_SESSION_MAX_EVENTS  # from SHOPCARE_SESSION_MAX_EVENTS
    # channels/socketio.py: proxies whose X-Forwarded-For names the client (comma list; None: loopback,
    # channels/identity.py), and the Redis through which the replicas share socket.io rooms ("" = none)
    socketio_trusted_proxies: str | None = None
    socketio_redis_url: str = ""
    socketio_redis_channel: str = DEFAULT_SOCKETIO_REDIS_CHANNEL

    class Config:
        env_file = ".env"
        extra = "ignore"
        fields = {"session_max_events": {"env": "SHOPCARE_SESSION_MAX_EVENTS"}}

    @validator("session_max_events", pre=True)
    def _whole_number(cls, value: Any) -> int:
        """Negative means 0 (no bound); a value that is no whole number is reported and the default used."""
        raw = str(value).strip() if value is not None else ""
        if not raw:
            return DEFAULT_SESSION_MAX_EVENTS
        try:
            return max(int(raw), 0)
        except ValueError:
            logger.warning(
                "SHOPCARE_SESSION_MAX_EVENTS=%r is not a whole number; using %d", raw, DEFAULT_SESSION_MAX_EVENTS
            )
            return DEFAULT_SESSION_MAX_EVENTS

    @validator("socketio_redis_url")
    def _stripped(cls, value: str) -> str:
        return value.strip()

    @validator("socketio_redis_channel")
    def _channel_or_default(cls, value: str) -> str:
        return value or DEFAULT_SOCKETIO_REDIS_CHANNEL
