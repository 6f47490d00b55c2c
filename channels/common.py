"""What the Slack and Telegram connectors share: delivery de-duplication and the wording of channel-level replies."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

# Answered by the connector itself (never reaches the NLU): the model cannot read pictures, voice or files, and a
# fallback turn would count towards an escalation the customer did not ask for.
NON_TEXT_REPLY = (
    "Thanks! I can only read text messages, so I can't see stickers, photos, voice messages or files. "
    'Please tell me in a few words what you need, for example "where is my order 10001?".'
)
LOCATION_REPLY = (
    "Thanks for sharing a location. I don't need it to help you: please type your question, "
    'for example "I want to change the delivery address of order 10001".'
)
GROUP_CHAT_REPLY = "Hi! To keep your orders private I only help in a private chat. Please send me a direct message."
DIRECT_MESSAGE_NOTICE = "I'll continue in a direct message so your details stay private."


def agent_prefixed(text: str, message_kwargs: dict[str, Any]) -> str:
    """A message an agent wrote through the CRM (bot event metadata ``from_agent``) is signed with the agent's name,
    so the customer knows a person is talking, as the web widget shows it."""
    if message_kwargs.get("from_agent") and message_kwargs.get("agent"):
        return f"{message_kwargs['agent']} (ShopCare team): {text}"
    return text


class RecentIds:
    """Ids seen in the last ``ttl`` seconds, bounded in size: Slack retries an event for up to about five minutes and
    Telegram re-delivers an update until it gets a 2xx, so an hour covers both with room to spare."""

    def __init__(self, ttl: float = 3600.0, max_size: int = 20_000) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._seen: OrderedDict[str, float] = OrderedDict()

    def _expire(self, now: float) -> None:
        while self._seen and (len(self._seen) > self.max_size or next(iter(self._seen.values())) < now - self.ttl):
            self._seen.popitem(last=False)

    def add(self, key: str) -> bool:
        """Record ``key``; True when it is new (the delivery should be handled), False for a repeat."""
        now = time.monotonic()
        self._expire(now)
        if key in self._seen:
            return False
        self._seen[key] = now
        self._expire(now)
        return True

    def __contains__(self, key: str) -> bool:
        return key in self._seen
