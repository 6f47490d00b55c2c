"""Bounded sessions: a conversation's session starts again, with its slots, once it holds too many events.

Rasa replays the current session on every message, on the Rasa server's event loop: the bound keeps a turn's cost
from growing with the conversation (docs/architecture.md#long-conversations).

Rasa ends a session only after `session_expiration_time` minutes of silence. Here a message that arrives when the
current session (the events since the last `session_started`) holds more than `SHOPCARE_SESSION_MAX_EVENTS` events
(default 1,000, about 60 turns of this bot; 0 switches the bound off; read once, when the Rasa server installs the
patches) also starts a new session, through Rasa's own `action_session_start`. The domain carries the slots over
(`carry_over_slots_to_new_session: true`), so the customer stays identified and the orders in question stay known;
the customer sees nothing. Older events stay in the tracker store and in the CRM's copy of the conversation. Never
while a form is active (it would lose its place) and never while the bot is paused for an agent (a new session would
lift the pause).

A new session starts the escalation signals afresh (shopcare_core/escalation/signals.py): the decision only sees the
current session's messages. So the bound waits for a calm moment. None of the last `trend_window` customer messages
may be negative, and the last may not be a fallback. Only then can the reset lose nothing the decision would act on
at once. It waits at most until the session holds twice the bound, so a conversation cannot keep its session
unbounded by staying negative. One turn's delay remains possible: two negative messages right after the boundary
could have made a trend with the calm message before it, and now need a third.

Carrying the slots over: where Rasa's `action_session_start` copies every `SlotSet` event of the ending session, the
copies it began with included, this one carries one `SlotSet` per slot, the latest, with its metadata: applied in
order, both give the same slot values, and a new session does not start with the slot history of every session before
it (docs/architecture.md#long-conversations).

Installed with the project's other changes to Rasa by components/rasa_patches.py; tests/test_session_bound.py.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from channels.settings import DEFAULT_SESSION_MAX_EVENTS, RasaServerSettings
from components.escalation_policy import BOUNDARY_EVENTS
from shopcare_core import grant
from shopcare_core.escalation.decision import NEGATIVE_MESSAGE, Thresholds
from shopcare_core.escalation.signals import FALLBACK_INTENTS, intent_of, sentiment_of

logger = logging.getLogger(__name__)

ENV = "SHOPCARE_SESSION_MAX_EVENTS"
DEFAULT_MAX_EVENTS = DEFAULT_SESSION_MAX_EVENTS

_rasa_has_session_expired = MessageProcessor._has_session_expired
limit = DEFAULT_MAX_EVENTS  # set from the environment by configure()
calm_window = 3  # set from the escalation thresholds by configure()


def max_events() -> int:
    """The bound the Rasa server's settings ask for (``SHOPCARE_SESSION_MAX_EVENTS``); 0 = no bound."""
    return RasaServerSettings().session_max_events


def session_too_long(tracker: DialogueStateTracker, limit: int, window: int | None = None) -> bool:
    """True when the current session holds more than `limit` events and may start again now: at a calm moment (see
    `calm`), or in any case once it holds more than twice `limit`."""
    if limit <= 0 or len(tracker.events) <= limit or tracker.is_paused() or tracker.active_loop_name:
        return False
    count = 0
    for event in reversed(tracker.events):
        if isinstance(event, SessionStarted):
            break
        count += 1
        if count > 2 * limit:
            return True
    return count > limit and calm(tracker, calm_window if window is None else window)


def calm(tracker: DialogueStateTracker, window: int) -> bool:
    """No negative message among the last `window` customer messages since the signals' last boundary, and the last
    one understood. Walks back only as far as it needs: it runs on every message of a session over the bound."""
    recent: list[dict[str, Any]] = []  # newest first
    for event in reversed(tracker.events):
        if isinstance(event, BOUNDARY_EVENTS) or len(recent) >= max(window, 1):
            break
        if isinstance(event, UserUttered):
            recent.append(event.as_dict())
    if recent and intent_of(recent[0]) in FALLBACK_INTENTS:
        return False
    return all((sentiment_of(m) or 0.0) >= NEGATIVE_MESSAGE for m in recent[:window])


def _has_session_expired(self: MessageProcessor, tracker: DialogueStateTracker) -> bool:
    if _rasa_has_session_expired(self, tracker):
        return True
    if not self.domain.session_config.are_sessions_enabled():
        return False
    if session_too_long(tracker, limit):
        logger.info("Conversation %s: its session holds over %d events; starting a new one", tracker.sender_id, limit)
        return True
    return False


def latest_slot_events(tracker: DialogueStateTracker) -> list[SlotSet]:
    """The session's slot changes reduced to the latest per slot, in the order of those latest changes.

    A verified identity is carried only while its grant is live: a customer who comes back after it lapsed (the
    grant's idle period is shorter than the session's expiry) starts as a guest and verifies again.
    """
    latest: dict[str, SlotSet] = {}
    for event in tracker.applied_events():
        if isinstance(event, SlotSet):
            latest.pop(event.key, None)
            latest[event.key] = event
    grant_event = latest.get("identity_grant")
    found = grant.claims(grant_event.value if grant_event else None)
    if not found or float(found.get("exp") or 0) <= time.time():
        for name in grant.IDENTITY_SLOTS:
            latest.pop(name, None)
    return [SlotSet(key=e.key, value=e.value, metadata=e.metadata) for e in latest.values()]


def configure() -> None:
    """Read the bound from the environment and the calm window from the escalation thresholds (at install)."""
    global limit, calm_window
    limit = max_events()
    calm_window = Thresholds.load().trend_window
