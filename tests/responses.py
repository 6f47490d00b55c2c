"""What the customer reads of an action's messages: domain responses filled as Rasa fills them."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from rasa.core.nlg.interpolator import interpolate_text
from rasa_sdk.executor import CollectingDispatcher

ROOT = Path(__file__).resolve().parent.parent
# keys of a rasa-sdk message that are not variables of the response
MESSAGE_KEYS = {"text", "buttons", "elements", "custom", "template", "response", "image", "attachment"}


@lru_cache(maxsize=1)
def _responses() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "domain.yml").read_text())["responses"]


def rendered(message: dict[str, Any]) -> str:
    """The message's text, or its domain response's first variation filled with the message's variables."""
    if message.get("text") or not message.get("response"):
        return message.get("text") or ""
    variables = {key: value for key, value in message.items() if key not in MESSAGE_KEYS}
    return interpolate_text(_responses()[message["response"]][0]["text"], variables)


def spoken(dispatcher: CollectingDispatcher) -> list[str]:
    return [rendered(message) for message in dispatcher.messages]


def buttons_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The message's buttons, or its domain response's."""
    if message.get("buttons") or not message.get("response"):
        return message.get("buttons") or []
    return _responses()[message["response"]][0].get("buttons") or []
