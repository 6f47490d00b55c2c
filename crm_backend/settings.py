"""Process settings, read from the environment (prefix ``CRM_``) or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseSettings, validator

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_API_KEY = "dev-api-key"


class Settings(BaseSettings):
    database_url: str = "sqlite:///var/crm.db"
    api_key: str = DEFAULT_API_KEY
    env: str = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    policy_file: str = "crm_backend/policies.yml"
    echo_sql: bool = False
    # Escalations: the assistant's Rasa server (agent replies, hand-back) and its SQL event-broker table (the relay).
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = "dev-rasa-token"
    rasa_timeout_seconds: float = 5.0
    rasa_events_url: str = "sqlite:///var/rasa_events.db"  # SQLAlchemy URL, or amqp:// (RabbitMQ); "" disables
    # With an amqp:// URL (the scaled profile): the queue and fanout exchange of Rasa's pika event broker.
    rasa_events_queue: str = "rasa_core_events"
    rasa_events_exchange: str = "rasa-exchange"
    relay_enabled: bool = True
    relay_interval_seconds: float = 0.5
    escalation_minutes_per_case: int = 4
    # Web chat widget and demo storefront (/shop): the Rasa URL as the customer's browser reaches it ("" = rasa_url)
    # and the folder holding the built widget (make widget).
    widget_socket_url: str = ""
    widget_dir: str = "widget/dist"
    # Agents' console (crm_backend/console): sessions, login rate limit, notifications of urgent escalations.
    console_session_hours: float = 8.0
    console_secure_cookie: bool = False  # set true behind HTTPS
    login_max_failures: int = 5  # failed logins per username (or per client address) within the window
    login_window_minutes: int = 15
    notify_priority: int = 70  # escalations at or above this priority are announced to agents
    agent_slack_webhook_url: str = ""  # Slack incoming webhook of the agents' channel; "" disables it
    notify_interval_seconds: float = 2.0
    public_url: str = ""  # how agents reach this CRM (links in Slack); default http://host:port
    # Identity verification: this many failed checks of one order within the window lock its verification
    verify_max_failures_per_order: int = 5
    verify_lock_minutes: int = 15
    # Outgoing mail (crm_backend/mailer.py), e.g. one-time codes: an SMTP relay, with STARTTLS and a login when set.
    # In development the mail sink (python -m crm_backend.mailsink) receives it into dev_mail_store, which
    # GET /dev/outbox and the console's Dev outbox page read (both exist only when env is "development").
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_user: str = ""  # "" sends without logging in
    smtp_password: str = ""
    smtp_from: str = "ShopCare <no-reply@shopcare.example>"
    smtp_starttls: bool = False  # required for a login to any host but loopback
    smtp_timeout_seconds: float = 10.0
    dev_mail_store: str = "var/dev_mail.jsonl"

    class Config:
        env_prefix = "CRM_"
        env_file = ".env"
        extra = "ignore"

    @validator("database_url")
    def _absolute_sqlite_path(cls, value: str) -> str:
        """A relative SQLite path is relative to the repo root, not to the working directory."""
        prefix = "sqlite:///"
        if value.startswith(prefix) and not value.startswith("sqlite:////"):
            rest = value[len(prefix) :]
            if rest and rest != ":memory:" and not Path(rest).is_absolute():
                return prefix + str(REPO_ROOT / rest)
        return value

    @validator("rasa_events_url")
    def _absolute_events_path(cls, value: str) -> str:
        return str(cls._absolute_sqlite_path(value))

    @validator("policy_file", "widget_dir", "dev_mail_store")
    def _absolute_repo_path(cls, value: str) -> str:
        path = Path(value)
        return str(path if path.is_absolute() else REPO_ROOT / path)

    @property
    def sqlite_path(self) -> Path | None:
        if self.database_url.startswith("sqlite:///"):
            rest = self.database_url[len("sqlite:///") :]
            return None if rest in ("", ":memory:") else Path(rest)
        return None

    def check(self) -> Settings:
        """Fail fast on a default or empty secret outside local development."""
        if self.env != "development" and self.api_key in ("", DEFAULT_API_KEY):
            raise RuntimeError(f"CRM_API_KEY must be set to a non-default value when CRM_ENV={self.env!r}")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings object (validated)."""
    return Settings().check()
