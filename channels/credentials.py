"""Render the effective Rasa credentials file from the environment.

Rasa expands ``${VAR}`` in credentials.yml but has no defaults and fails on an unset variable, so the checked-in
credentials.yml holds what needs no secret and is safe anywhere (socket.io), and this module adds the others:

* the REST channel (development and tests) in development (``CRM_ENV=development``, said explicitly), or anywhere
  when ``REST_CHANNEL_TOKEN`` is set, which every REST request must then present (``Authorization: Bearer``);
  outside development without a token there is no REST channel, whatever the base file says;
* Slack with ``SLACK_BOT_TOKEN`` and ``SLACK_SIGNING_SECRET``, Telegram with ``TELEGRAM_BOT_TOKEN`` and
  ``TELEGRAM_WEBHOOK_SECRET``.

``scripts/stack.py`` writes the result next to the rendered endpoints file for each stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REST_CLASS = "channels.rest.GuardedRestInput"
SOCKETIO_CLASS = "channels.socketio.ShopCareSocketIOInput"
SLACK_CLASS = "channels.slack.ShopCareSlackInput"
TELEGRAM_CLASS = "channels.telegram.ShopCareTelegramInput"


def _value(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    return value or None


def development(env: Mapping[str, str]) -> bool:
    """The product-wide switch: local development only when ``CRM_ENV=development`` is said explicitly."""
    return _value(env, "CRM_ENV") == "development"


def render_credentials(base: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The REST channel where the environment allows it (see the module docstring), ``base`` (the checked-in
    channels), and Slack and Telegram where the environment enables them."""
    channels: dict[str, Any] = {}
    rest_token = _value(env, "REST_CHANNEL_TOKEN")
    if rest_token or development(env):
        channels[REST_CLASS] = {"token": rest_token} if rest_token else None
    channels.update((name, settings) for name, settings in base.items() if name != REST_CLASS)
    slack_token, slack_secret = _value(env, "SLACK_BOT_TOKEN"), _value(env, "SLACK_SIGNING_SECRET")
    if slack_token and slack_secret:
        slack: dict[str, Any] = {"slack_token": slack_token, "slack_signing_secret": slack_secret}
        for key, name in (("slack_channel", "SLACK_CHANNEL"), ("slack_api_url", "SLACK_API_URL")):
            if _value(env, name):
                slack[key] = _value(env, name)
        channels[SLACK_CLASS] = slack
    telegram_token, telegram_secret = _value(env, "TELEGRAM_BOT_TOKEN"), _value(env, "TELEGRAM_WEBHOOK_SECRET")
    if telegram_token and telegram_secret:
        telegram: dict[str, Any] = {"access_token": telegram_token, "webhook_secret": telegram_secret}
        for key, name in (("webhook_url", "TELEGRAM_WEBHOOK_URL"), ("telegram_api_url", "TELEGRAM_API_URL")):
            if _value(env, name):
                telegram[key] = _value(env, name)
        channels[TELEGRAM_CLASS] = telegram
    return channels


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a ``.env`` file (the format of .env.example: ``#`` comments, also after a value)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or key.startswith("#") or not key.strip().isidentifier():
            continue
        value = value.split(" #", 1)[0].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def enabled_channels(credentials: Mapping[str, Any]) -> list[str]:
    names = {REST_CLASS: "rest", SOCKETIO_CLASS: "socketio", SLACK_CLASS: "slack", TELEGRAM_CLASS: "telegram"}
    return [names.get(key, key) for key in credentials]


def write_credentials(base_file: Path, out_file: Path, env: Mapping[str, str]) -> Path:
    """Write the effective file (mode 600: it holds secrets) and return its path."""
    base = yaml.safe_load(base_file.read_text()) or {}
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.touch(mode=0o600, exist_ok=True)
    out_file.chmod(0o600)
    out_file.write_text(yaml.safe_dump(render_credentials(base, env), sort_keys=False))
    return out_file
