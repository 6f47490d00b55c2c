"""Read the escalation signals of a conversation from its Rasa events (as JSON dicts) and slots. Pure.

Only what happened since the bot last took over counts: events before the latest `resume` (an agent handed the
conversation back), `restart` or `session_started` are ignored, so an old outburst does not escalate again.
Must-escalate triggers (shopcare_core/escalation/triggers.py) are read from the latest customer message only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shopcare_core.escalation.decision import Signals
from shopcare_core.escalation.triggers import Lexicon, lexicon

BOUNDARIES = {"resume", "restart", "session_started"}
FALLBACK_INTENTS = {"nlu_fallback"}  # misunderstood: below the classifier's confidence threshold


def customer_messages(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """User events since the last boundary, oldest first."""
    messages: list[Mapping[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind in BOUNDARIES:
            messages = []
        elif kind == "user":
            messages.append(event)
    return messages


def sentiment_of(event: Mapping[str, Any]) -> float | None:
    sentiment = (event.get("parse_data") or {}).get("sentiment") or {}
    score = sentiment.get("score")
    return float(score) if isinstance(score, (int, float)) else None


def intent_of(event: Mapping[str, Any]) -> str | None:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def signals_from(
    events: Iterable[Mapping[str, Any]],
    slots: Mapping[str, Any],
    rule_hits: Iterable[str] = (),
    triggers: Lexicon | None = None,
) -> Signals:
    messages = customer_messages(events)
    scores = tuple(s for s in (sentiment_of(m) for m in messages) if s is not None)
    intents = [intent_of(m) for m in messages]
    fallbacks = 0
    for intent in reversed(intents):
        if intent not in FALLBACK_INTENTS:
            break
        fallbacks += 1
    last_intent = intents[-1] if intents else None
    drivers = slots.get("churn_drivers") or ()
    return Signals(
        sentiment=scores,
        intent=last_intent,
        explicit_request=last_intent == "contact_human_agent",
        churn_probability=_float(slots.get("churn_probability")),
        churn_drivers=tuple(drivers) if isinstance(drivers, (list, tuple)) else (str(drivers),),
        customer_value=_float(slots.get("customer_value")),
        consecutive_fallbacks=fallbacks,
        failed_identity_checks=int(_float(slots.get("verify_failures")) or 0),
        identity_locked=bool(slots.get("identity_locked")),
        rule_hits=tuple(rule_hits),
        handled=tuple(slots.get("escalated_reasons") or ()),
        triggers=(triggers or lexicon()).detect(messages[-1].get("text")) if messages else (),
    )


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None
