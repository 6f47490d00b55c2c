"""Process settings, read from the environment (prefix ``CRM_``) or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseSettings, validator

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_API_KEY = "dev-api-key"
DEFAULT_RASA_TOKEN = "dev-rasa-token"
DEFAULT_GRANT_SECRET = "dev-grant-secret-not-for-production"
DEFAULT_SHOP_LOGIN_SECRET = "dev-shop-login-secret-not-for-production"
DEFAULT_DATA_KEY = "ZGV2LWRhdGEta2V5LW5vdC1mb3ItcHJvZHVjdGlvbiE="  # base64 of "dev-data-key-not-for-production!"
DEFAULT_LOOKUP_KEY = "dev-lookup-key-not-for-production"
DEVELOPMENT = "development"


class Settings(BaseSettings):
    database_url: str = "sqlite:///var/crm.db"
    api_key: str = DEFAULT_API_KEY
    env: str = "production"  # anything but "development" (said explicitly) refuses every development default
    host: str = "127.0.0.1"
    port: int = 8000
    policy_file: str = "crm_backend/policies.yml"
    echo_sql: bool = False
    # Escalations: the assistant's Rasa server (agent replies, hand-back) and its SQL event-broker table (the relay).
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str = DEFAULT_RASA_TOKEN
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
    # Identity grants (crm_backend/services/grants.py): signed by this secret, valid for idle_minutes after the last
    # customer-scoped call and never beyond absolute_hours after the proof
    grant_secret: str = DEFAULT_GRANT_SECRET
    grant_idle_minutes: int = 30
    grant_absolute_hours: int = 8
    # Shop logins: the shop signs an identity token (HS256 JWT with the customer's e-mail and an expiry) with this
    shop_login_secret: str = DEFAULT_SHOP_LOGIN_SECRET
    shop_login_max_lifetime_minutes: int = 120  # a token whose exp lies further ahead than this is refused
    # Failed identity checks (crm_backend/services/verification.py): each limit is failures within its window;
    # reaching it refuses further checks of that order / proof value / channel user / client address for the window
    verify_max_failures_per_order: int = 5
    verify_lock_minutes: int = 15
    verify_max_failures_per_proof: int = 5
    verify_proof_window_minutes: int = 1440
    verify_max_failures_per_sender: int = 5
    verify_max_failures_per_client: int = 20
    verify_sender_window_minutes: int = 60
    verify_global_alert_failures: int = 100  # failures of all kinds within verify_lock_minutes: agents are alerted
    # One-time codes e-mailed to the address on file (strong proof, needed for writes)
    otp_ttl_minutes: int = 10
    otp_max_attempts: int = 3
    otp_max_per_customer_hour: int = 3
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
    # Privacy (docs/security.md): the assistant's tracker store, which data-subject requests and retention reach
    # ("" = none), and how long conversation data is kept.
    rasa_tracker_url: str = "sqlite:///var/rasa_tracker.db"
    retention_transcript_days: int = 730  # escalation transcripts and messages, tickets' customer words
    retention_tracker_days: int = 730  # conversation events in the assistant's tracker store
    retention_events_days: int = 30  # the event-broker table (read by the relay within seconds)
    # one-time codes, stored answers of writes (idempotency), failed console logins and failed identity checks: rows
    # that serve minutes-long limits and retries, but name customers, conversations and client addresses
    retention_operational_days: int = 30
    retention_access_log_days: int = 730  # the read audit (access_log)
    retention_interval_hours: float = 24.0  # how often the CRM runs the retention job; 0 disables the schedule
    # Encryption at rest (crm_backend/db/crypto.py): AES-256-GCM data keys, URL-safe base64 of 32 bytes, comma-separated;
    # the first encrypts, every one decrypts (rotation: `crm rotate-keys`). The look-up key (32+ characters) keys the
    # HMAC-SHA256 hashes that e-mail and postcode look-ups compare.
    data_keys: str = DEFAULT_DATA_KEY
    lookup_key: str = DEFAULT_LOOKUP_KEY

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

    @validator("rasa_events_url", "rasa_tracker_url")
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

    @property
    def development(self) -> bool:
        return self.env == DEVELOPMENT

    def check(self) -> Settings:
        """Fail fast on a default or empty secret outside local development (CRM_ENV=development)."""
        if self.development:
            return self
        defaults = {
            "CRM_API_KEY": (self.api_key, DEFAULT_API_KEY),
            "CRM_RASA_TOKEN": (self.rasa_token, DEFAULT_RASA_TOKEN),
            "CRM_GRANT_SECRET": (self.grant_secret, DEFAULT_GRANT_SECRET),
            "CRM_SHOP_LOGIN_SECRET": (self.shop_login_secret, DEFAULT_SHOP_LOGIN_SECRET),
            "CRM_LOOKUP_KEY": (self.lookup_key, DEFAULT_LOOKUP_KEY),
        }
        weak = [name for name, (value, default) in defaults.items() if value in ("", default)]
        if DEFAULT_DATA_KEY in [key.strip() for key in self.data_keys.split(",")]:
            weak.append("CRM_DATA_KEYS")
        long_ones = ("CRM_GRANT_SECRET", "CRM_SHOP_LOGIN_SECRET", "CRM_LOOKUP_KEY")
        short = [n for n in long_ones if n not in weak and len(defaults[n][0]) < 32]
        if "CRM_DATA_KEYS" not in weak and not self._data_keys_valid():
            short.append("CRM_DATA_KEYS")
        if weak or short:
            raise RuntimeError(
                f"CRM_ENV={self.env!r} is not 'development': set "
                + ", ".join(weak + short)
                + " to non-default secrets (grant, shop-login and look-up secrets: at least 32 characters; data keys:"
                " comma-separated URL-safe base64 of 32 bytes each, `crm generate-key`)"
            )
        return self

    def _data_keys_valid(self) -> bool:
        from crm_backend.db.crypto import KeyringError, parse_data_keys

        try:
            parse_data_keys(self.data_keys)
        except KeyringError:
            return False
        return True


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings object (validated)."""
    return Settings().check()
