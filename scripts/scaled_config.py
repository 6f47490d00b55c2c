"""Configuration of the scaled profile from the environment, and the services' housekeeping (PostgreSQL databases,
Redis keys, RabbitMQ queues) for `make run-scaled`, tests/scaled/ and `bench/latency.py --profiles scaled`."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def new_action_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class ScaledConfig:
    """Everything the scaled profile needs to know, from the environment (defaults: this project's machines)."""

    replicas: int = 2
    action_replicas: int = 2
    port: int = 5080  # nginx, public: the channels' webhooks, socket.io and the CRM's customer pages
    api_port: int = 5081  # nginx, internal: Rasa's HTTP API, for the CRM (agent replies, hand-backs)
    smtp_port: int = 8025  # the development mail sink the CRM sends its mail to (one-time codes)
    action_lb_port: int = 5085  # nginx, internal: the action servers, for the Rasa replicas
    crm_port: int = 8000
    rasa_port: int = 5005  # replica i listens on rasa_port + i
    action_port: int = 5055  # action server i on action_port + i
    crm_database_url: str = "postgresql://postgres@127.0.0.1:5432/shopcare_crm"
    tracker_database_url: str = "postgresql://postgres@127.0.0.1:5432/shopcare_tracker"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_key_prefix: str = "shopcare"
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    rabbitmq_queue: str = "shopcare_events"
    rabbitmq_exchange: str = "shopcare_events"
    # X-Action-Token between the replicas and the action servers: ACTION_SERVER_TOKEN, else a new one per run
    action_token: str = field(default_factory=new_action_token, repr=False)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ScaledConfig:
        env = dict(os.environ if env is None else env)
        default = cls()
        replicas = int(env.get("SCALED_REPLICAS", default.replicas))
        return cls(
            replicas=replicas,
            action_replicas=int(env.get("SCALED_ACTION_REPLICAS", replicas)),
            port=int(env.get("SCALED_PORT", default.port)),
            api_port=int(env.get("SCALED_API_PORT", default.api_port)),
            smtp_port=int(env.get("CRM_SMTP_PORT", default.smtp_port)),
            action_lb_port=int(env.get("SCALED_ACTION_LB_PORT", default.action_lb_port)),
            crm_port=int(env.get("CRM_PORT", default.crm_port)),
            rasa_port=int(env.get("RASA_PORT", default.rasa_port)),
            action_port=int(env.get("ACTION_PORT", default.action_port)),
            crm_database_url=env.get("CRM_DATABASE_URL", default.crm_database_url),
            tracker_database_url=env.get("TRACKER_DATABASE_URL", default.tracker_database_url),
            redis_url=env.get("REDIS_URL", default.redis_url),
            redis_key_prefix=env.get("REDIS_KEY_PREFIX", default.redis_key_prefix),
            rabbitmq_url=env.get("RABBITMQ_URL", default.rabbitmq_url),
            rabbitmq_queue=env.get("RABBITMQ_QUEUE", default.rabbitmq_queue),
            rabbitmq_exchange=env.get("RABBITMQ_EXCHANGE", default.rabbitmq_exchange),
            action_token=env.get("ACTION_SERVER_TOKEN") or default.action_token,
        )

    def rasa_env(self, action_endpoint: str) -> dict[str, str]:
        """The variables endpoints.scaled.yml reads, derived from the URLs (and the action servers' token)."""
        tracker, redis, amqp = (
            urlsplit(self.tracker_database_url),
            urlsplit(self.redis_url),
            urlsplit(self.rabbitmq_url),
        )
        return {
            "ACTION_ENDPOINT_URL": action_endpoint,
            "ACTION_SERVER_TOKEN": self.action_token,
            "TRACKER_DB_HOST": tracker.hostname or "127.0.0.1",
            "TRACKER_DB_PORT": str(tracker.port or 5432),
            "TRACKER_DB_NAME": tracker.path.lstrip("/"),
            "TRACKER_DB_USER": unquote(tracker.username or ""),
            "TRACKER_DB_PASSWORD": unquote(tracker.password or ""),
            "REDIS_HOST": redis.hostname or "127.0.0.1",
            "REDIS_PORT": str(redis.port or 6379),
            "REDIS_DB": redis.path.lstrip("/") or "0",
            "REDIS_KEY_PREFIX": self.redis_key_prefix,
            "RABBITMQ_URL": self.rabbitmq_url,
            "RABBITMQ_USERNAME": unquote(amqp.username or "guest"),
            "RABBITMQ_PASSWORD": unquote(amqp.password or "guest"),
            "RABBITMQ_QUEUE": self.rabbitmq_queue,
            "RABBITMQ_EXCHANGE": self.rabbitmq_exchange,
            # socket.io rooms shared by the replicas (channels/socketio.py): an agent's reply reaches the customer's
            # socket whichever replica the CRM's call lands on
            "SOCKETIO_REDIS_URL": self.redis_url,
            "SOCKETIO_REDIS_CHANNEL": f"{self.redis_key_prefix}socketio",
        }

    def missing(self) -> list[str]:
        """What this machine lacks for the profile, as readable reasons (empty when everything is there)."""
        reasons = []
        for name, url, port in (
            ("PostgreSQL", self.tracker_database_url, 5432),
            ("Redis", self.redis_url, 6379),
            ("RabbitMQ", self.rabbitmq_url, 5672),
        ):
            parts = urlsplit(url)
            with socket.socket() as sock:
                sock.settimeout(2)
                if sock.connect_ex((parts.hostname or "127.0.0.1", parts.port or port)) != 0:
                    reasons.append(f"{name} is not reachable at {parts.hostname}:{parts.port or port}")
        if not Path(NGINX).exists():
            reasons.append("nginx is not installed (Debian: apt-get install nginx)")
        return reasons


# ----------------------------------------------------------------------------- PostgreSQL databases
def _admin_engine(url: str):  # noqa: ANN202 - a SQLAlchemy engine on the server's maintenance database
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT", future=True)


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database of `url` unless it exists; True when it was created."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    engine = _admin_engine(url)
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                return False
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            return True
    finally:
        engine.dispose()


def drop_database(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    engine = _admin_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    finally:
        engine.dispose()


def temporary_config(run_id: str, free_port: Callable[[], int]) -> ScaledConfig:
    """A throw-away configuration (tests, benchmarks): its own databases on the configured PostgreSQL server, Redis
    key prefix and RabbitMQ queue/exchange, free ports; `cleanup_services` removes what it created."""
    defaults = ScaledConfig.from_env()
    server = defaults.tracker_database_url.rsplit("/", 1)[0]
    return ScaledConfig(
        replicas=defaults.replicas,
        action_replicas=defaults.action_replicas,
        port=free_port(),
        api_port=free_port(),
        smtp_port=free_port(),
        action_lb_port=free_port(),
        crm_port=free_port(),
        crm_database_url=f"{server}/sc_crm_{run_id}",
        tracker_database_url=f"{server}/sc_tracker_{run_id}",
        redis_url=defaults.redis_url,
        redis_key_prefix=f"sc{run_id}",
        rabbitmq_url=defaults.rabbitmq_url,
        rabbitmq_queue=f"sc_events_{run_id}",
        rabbitmq_exchange=f"sc_events_{run_id}",
    )


def cleanup_services(config: ScaledConfig) -> None:
    """Drop what a temporary configuration created: its databases, its lock keys, its queue and exchange."""
    import aio_pika
    import redis

    for url in (config.crm_database_url, config.tracker_database_url):
        drop_database(url)
    client = redis.Redis.from_url(config.redis_url)
    for key in client.scan_iter(f"{config.redis_key_prefix}:*", count=500):
        client.delete(key)
    client.close()

    async def drop_queue() -> None:
        connection = await aio_pika.connect(config.rabbitmq_url, timeout=10)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(config.rabbitmq_queue)
            await channel.exchange_delete(config.rabbitmq_exchange)

    asyncio.run(drop_queue())
