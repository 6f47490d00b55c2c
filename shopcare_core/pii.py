"""Masking of personal data and secrets in text that leaves the request path: log lines and the event-broker stream.

What is masked (docs/security.md): e-mail addresses, phone numbers, card-like digit runs (13-19 digits), UK
postcodes, street addresses ("12 High Street"), and secrets (``token=``/``api_key=`` query parameters,
``X-API-Key``/``Authorization``/``X-Action-Token`` headers, ``password`` fields, passwords in URLs, Telegram and Slack
tokens by their shape, and the literal values of the secrets named in ``SECRET_ENV``).
Order numbers (5-8 digits) and customer ids stay readable: operators need them and they disclose nothing alone.

The escalation packet is *not* masked here: agents need the customer's details and the CRM serves it only behind
its API key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

# Every repetition is bounded (RFC 5321's limits: 64 before the @, 63 per label), so a long run of letters or digits
# without an @ costs linear time (docs/architecture.md, "Hostile input").
EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}", re.UNICODE)
# 13-19 digits, optionally grouped by spaces or dashes: card numbers and the like
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
# international or national phone numbers: at least 10 digits, optional +, spaces, dashes, brackets
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(?\d{2,5}\)?[ .-]?){2,4}\d{3,4}(?!\w)")
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
STREET = re.compile(
    r"\b\d{1,4}[a-z]?,?\s+(?:[A-Z][\w'-]*\s+){1,4}"
    r"(?:street|st|road|rd|avenue|ave|lane|ln|close|drive|dr|way|court|ct|place|pl|square|sq|gardens|terrace|crescent|row|hill|grove|park)\b\.?",
    re.IGNORECASE,
)
SECRET_PARAM = re.compile(
    r"(?i)((?:token|api[_-]?key|auth[_-]?token|password|passwd|secret|access_token)[\"']?\s*[=:]\s*[\"']?)([^\s&\"',}]+)"
)
SECRET_HEADER = re.compile(
    r"(?i)((?:x-api-key|x-action-token|authorization)[\"']?\s*[:=]\s*[\"']?(?:bearer\s+|basic\s+)?)([^\s\"',}]+)"
)
# the password of a URL's user part: postgresql://user:secret@host, amqp://user:secret@host
URL_PASSWORD = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]{0,20}://[^\s:/@]{0,256}:)([^\s/@]{1,256})(?=@)")
# a Telegram bot token (digits, a colon, 35 characters), in an API URL (/bot<token>/sendMessage) or alone
TELEGRAM_TOKEN = re.compile(r"(?:(?<=/bot)|(?<![A-Za-z0-9_-]))\d{5,15}:[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])")
# Slack tokens (xoxb-..., xoxp-..., xapp-...) and the secret path of an incoming webhook
SLACK_TOKEN = re.compile(r"(?<![A-Za-z0-9])(?:xox[abposr]|xapp)-[A-Za-z0-9-]{10,250}")
SLACK_WEBHOOK = re.compile(r"(?i)(hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_-]{1,250}")

# Every variable that holds a secret, in any process of the project (.env.example, deploy/docker-compose.yml): their
# values are masked wherever they appear. Values shorter than 6 characters are not (they would mask ordinary words).
SECRET_ENV = (
    "CRM_API_KEY",
    "CRM_RASA_TOKEN",
    "RASA_TOKEN",
    "ACTION_SERVER_TOKEN",
    "REST_CHANNEL_TOKEN",
    "CRM_GRANT_SECRET",
    "CRM_SHOP_LOGIN_SECRET",
    "CRM_DATA_KEYS",
    "CRM_LOOKUP_KEY",
    "CRM_SMTP_PASSWORD",
    "CRM_AGENT_SLACK_WEBHOOK_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET",
    "POSTGRES_PASSWORD",
    "TRACKER_DB_PASSWORD",
    "RABBITMQ_PASSWORD",
)
MASK = "[redacted]"


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _phone(match: re.Match[str]) -> str:
    return "[phone]" if 10 <= _digits(match.group(0)) <= 15 else match.group(0)


class Masker:
    """Masks PII and secrets in strings; ``secrets`` are literal values (API keys, tokens) masked wherever seen."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # short values would mask ordinary words; real secrets are long
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    @classmethod
    def from_env(cls, extra: Iterable[str] = ()) -> Masker:
        values = [os.environ.get(name, "") for name in SECRET_ENV]
        keys = os.environ.get("CRM_DATA_KEYS", "").split(",")  # a ring of keys: each one is a secret on its own
        return cls(values + [key.strip() for key in keys] + list(extra))

    def text(self, value: str) -> str:
        if not value:
            return value
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        value = SECRET_HEADER.sub(lambda m: m.group(1) + MASK, value)
        value = SECRET_PARAM.sub(lambda m: m.group(1) + MASK, value)
        value = URL_PASSWORD.sub(lambda m: m.group(1) + MASK, value)
        value = TELEGRAM_TOKEN.sub(MASK, value)
        value = SLACK_TOKEN.sub(MASK, value)
        value = SLACK_WEBHOOK.sub(lambda m: m.group(1) + MASK, value)
        value = EMAIL.sub("[email]", value)
        value = CARD.sub("[card]", value)
        value = PHONE.sub(_phone, value)
        value = STREET.sub("[address]", value)
        return POSTCODE.sub("[postcode]", value)

    def value(self, value: Any) -> Any:
        """Mask every string inside a JSON-like value (dicts, lists)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value


# Slots whose value the broker stream may carry unmasked: the escalation outbox (the packet agents need, read by the
# CRM's relay and served only behind the API key) and the CSAT outbox (a score and its key).
UNMASKED_SLOTS = frozenset({"escalation_request", "csat_request"})
# Slots whose value the stream never carries: the CRM's identity grant is a bearer credential no consumer reads.
REDACTED_SLOTS = frozenset({"identity_grant"})


def mask_event(event: dict[str, Any], masker: Masker) -> dict[str, Any]:
    """A copy of a Rasa event with the customer's words, entity values, bot texts and slot values masked."""
    kind = event.get("event")
    masked = dict(event)
    if kind in ("user", "bot") and isinstance(masked.get("text"), str):
        masked["text"] = masker.text(masked["text"])
    if kind == "user" and isinstance(masked.get("parse_data"), dict):
        parse = dict(masked["parse_data"])
        if isinstance(parse.get("text"), str):
            parse["text"] = masker.text(parse["text"])
        if isinstance(parse.get("entities"), list):
            parse["entities"] = [
                {**e, "value": masker.value(e.get("value"))} if isinstance(e, dict) else e for e in parse["entities"]
            ]
        masked["parse_data"] = parse
    if kind == "user" and isinstance(masked.get("metadata"), dict):
        masked["metadata"] = masker.value(masked["metadata"])
    if kind == "bot" and isinstance(masked.get("data"), dict):
        masked["data"] = masker.value(masked["data"])
    if kind == "slot" and masked.get("name") in REDACTED_SLOTS:
        masked["value"] = None if masked.get("value") is None else MASK
    elif kind == "slot" and masked.get("name") not in UNMASKED_SLOTS:
        masked["value"] = masker.value(masked.get("value"))
    return masked
