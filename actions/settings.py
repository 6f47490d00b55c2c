"""The action server's settings: one object per process, read from the environment or a ``.env`` file.

The names are the variables `.env.example` lists under "action server" (no prefix: ``CRM_URL``, ``CRM_API_KEY``,
``ACTION_SERVER_TOKEN``, ...). Nothing else in ``actions/`` reads ``os.environ``; `get_settings()` is read once, when
the server starts (actions/server.py) and when the CRM client and the churn model are first needed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseSettings, validator

REPO_ROOT = Path(__file__).resolve().parent.parent


class ActionServerSettings(BaseSettings):
    # The CRM's REST API (actions/crm_client.py): where it is, the API key it requires (X-API-Key), how long one call
    # may take and how many more attempts a network failure, timeout or 5xx gets.
    crm_url: str = "http://127.0.0.1:8000"
    crm_api_key: str = "dev-api-key"
    crm_timeout: float = 5.0
    crm_retries: int = 2
    # The shared secret every caller but GET /health presents as X-Action-Token (actions/server.py); empty is allowed
    # only in local development on a loopback address.
    action_server_token: str = ""
    # The product-wide switch (CRM_ENV): None when unset. actions/server.py refuses the development token unless it is
    # "development" or unset, and an empty token unless it is "development".
    crm_env: str | None = None
    # The churn model (actions/risk.py), built by `make models`; a relative path is relative to the repository.
    churn_model_path: Path = REPO_ROOT / "models" / "churn.joblib"

    class Config:
        env_file = ".env"
        extra = "ignore"

    @validator("crm_url")
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @validator("churn_model_path")
    def _repo_relative(cls, value: Path) -> Path:
        return value if value.is_absolute() else REPO_ROOT / value

    def environment(self) -> dict[str, str]:
        """``CRM_ENV`` as a mapping, as actions.server.startup_error reads it (empty when it is unset)."""
        return {} if self.crm_env is None else {"CRM_ENV": self.crm_env}


@lru_cache(maxsize=1)
def get_settings() -> ActionServerSettings:
    """The process-wide settings object."""
    return ActionServerSettings()
