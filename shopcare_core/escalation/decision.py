"""Should this conversation go to a person now? One pure function, thresholds from thresholds.yml.

decide(signals, thresholds) -> Decision(escalate, priority 0-100, reason codes, a sentence for the agent,
suggested next action, whether to offer the retention path, whether to ask the customer's consent first). No I/O: it
is called by the Rasa escalation policy on every user turn, by the action that raises the escalation, and by
bench/escalation_replay.py over recorded conversations, always with the same result for the same signals.

Must-escalate triggers (a legal, regulatory, chargeback or press/social-media threat, a safety incident, a vulnerable
customer: shopcare_core/escalation/triggers.py) escalate on the message that carries them, whatever its intent.
Misunderstood messages (`nlu_fallback`) in a row (`max_consecutive_fallbacks`) hand over at once when the customer is upset (one of
them scored at or below `fallback_calm_above`); a calm customer is asked first (`ask_consent`), and one more
misunderstood message after that question hands over.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shopcare_core.escalation.triggers import Trigger

THRESHOLDS_FILE = Path(__file__).with_name("thresholds.yml")
NEGATIVE_MESSAGE = -0.2  # a message scored below this counts as negative in a trend

PERSISTENT = {"identity_locked", "at_risk_customer", "refund_review", "repeat_complaint"}
TRIGGER_REASONS = ("safety_issue", "vulnerable_customer", "legal_threat", "chargeback_threat", "media_threat")
REASON_TEXT = {
    "safety_issue": "reported a safety incident with a product",
    "vulnerable_customer": "may be in a vulnerable situation",
    "legal_threat": "mentioned legal or regulatory action",
    "chargeback_threat": "mentioned a chargeback or a payment dispute",
    "media_threat": "threatened to go public (press, social media or reviews)",
    "explicit_request": "asked for a person",
    "strong_negative": "sent a strongly negative message",
    "negative_trend": "has grown more and more negative",
    "at_risk_customer": "is a valuable customer at risk of leaving",
    "repeated_fallback": "was misunderstood by the assistant several times in a row",
    "identity_locked": "failed identity verification three times",
    "refund_review": "asked for a refund above the automatic limit",
    "repeat_complaint": "has complained three or more times this month",
}
SUGGESTED = {
    "safety_issue": (
        "Check that nobody is hurt and the product is switched off and no longer used; record a product-safety "
        "incident (product, order, what happened); arrange collection and a full refund or replacement, and do not "
        "ask the customer to post it back."
    ),
    "vulnerable_customer": (
        "Take over with care and without time pressure; follow the vulnerable-customer guidance (bereavement: close or "
        "transfer the account without asking for documents in chat; a medical emergency or crisis: make sure they "
        "know to call 999, or Samaritans on 116 123)."
    ),
    "legal_threat": (
        "Acknowledge without admitting liability; resolve what can be resolved now, and refer the case to the "
        "complaints team with this transcript."
    ),
    "chargeback_threat": (
        "Check the payment and the order now; if a refund is due, make it and give the reference, so that no bank "
        "dispute is needed; flag the order to the payments team."
    ),
    "media_threat": (
        "Resolve the complaint in this conversation and involve a team lead; do not ask the customer to remove or "
        "withhold a post or review."
    ),
    "at_risk_customer": "Offer the retention path (goodwill credit or free express delivery) before processing the request.",
    "identity_locked": "Verify the customer by phone or e-mail before discussing any order.",
    "refund_review": "Review the refund request and decide on it in the conversation.",
    "strong_negative": "Apologise, acknowledge the problem and resolve it in this conversation.",
    "negative_trend": "Apologise, acknowledge the problem and resolve it in this conversation.",
    "repeat_complaint": "Look at the earlier complaints and offer a concrete remedy.",
    "repeated_fallback": "Find out what the customer needs; the assistant could not.",
    "explicit_request": "Greet the customer and take over the request.",
}


@dataclass(frozen=True)
class Thresholds:
    strong_negative: float
    trend_window: int
    trend_negative_mean: float
    trend_min_negative: int
    churn_high: float
    value_high: float
    at_risk_intents: tuple[str, ...]
    max_consecutive_fallbacks: int
    fallback_calm_above: float
    weights: dict[str, int]
    boost_per_reason: int
    value_boost_max: int
    churn_boost_max: int

    @classmethod
    def load(cls, path: Path | str = THRESHOLDS_FILE, **overrides: Any) -> Thresholds:
        values = {**yaml.safe_load(Path(path).read_text()), **overrides}
        values["at_risk_intents"] = tuple(values["at_risk_intents"])
        return cls(**values)


@dataclass(frozen=True)
class Signals:
    """What is known about the conversation at this turn."""

    sentiment: tuple[float, ...] = ()  # customer messages since the bot last (re)started, oldest first
    intent: str | None = None
    explicit_request: bool = False
    churn_probability: float | None = None
    churn_drivers: tuple[str, ...] = ()
    customer_value: float | None = None
    consecutive_fallbacks: int = 0
    failed_identity_checks: int = 0
    identity_locked: bool = False
    rule_hits: tuple[str, ...] = ()  # business rules: refund_review, repeat_complaint
    handled: tuple[str, ...] = ()  # reasons of an escalation already raised in this conversation
    triggers: tuple[Trigger, ...] = ()  # must-escalate triggers in the latest customer message


@dataclass(frozen=True)
class Decision:
    escalate: bool
    priority: int = 0
    reasons: tuple[str, ...] = ()
    main_reason: str = ""  # the reason of the highest weight: what the customer is told first
    summary: str = ""
    suggested_action: str = ""
    offer_retention: bool = False
    ask_consent: bool = False  # not yet: ask the customer whether they want a person (calm and misunderstood)
    details: dict[str, Any] = field(default_factory=dict)


def _misunderstood(s: Signals, t: Thresholds) -> str | None:
    """ "escalate", "ask" (a calm customer is asked first) or None, for misunderstood messages in a row."""
    if s.consecutive_fallbacks < t.max_consecutive_fallbacks:
        return None
    stretch = s.sentiment[-min(s.consecutive_fallbacks, len(s.sentiment)) :] if s.sentiment else ()
    upset = any(score <= t.fallback_calm_above for score in stretch)
    return "escalate" if upset or s.consecutive_fallbacks > t.max_consecutive_fallbacks else "ask"


def _reasons(s: Signals, t: Thresholds) -> list[str]:
    reasons = [trigger.reason for trigger in s.triggers]
    if s.explicit_request:
        reasons.append("explicit_request")
    if s.sentiment and s.sentiment[-1] <= t.strong_negative:
        reasons.append("strong_negative")
    window = s.sentiment[-t.trend_window :]
    if (
        len(window) >= t.trend_window
        and sum(window) / len(window) <= t.trend_negative_mean
        and sum(1 for x in window if x < NEGATIVE_MESSAGE) >= t.trend_min_negative
    ):
        reasons.append("negative_trend")
    at_risk = (s.churn_probability or 0.0) >= t.churn_high and (s.customer_value or 0.0) >= t.value_high
    if at_risk and s.intent in t.at_risk_intents:
        reasons.append("at_risk_customer")
    if _misunderstood(s, t) == "escalate":
        reasons.append("repeated_fallback")
    if s.identity_locked:
        reasons.append("identity_locked")
    reasons += [hit for hit in ("refund_review", "repeat_complaint") if hit in s.rule_hits]
    # states that persist (a locked identity, a risky customer) escalate once; what the customer says
    # (a request, anger, confusion) is judged afresh after every hand-back
    return [r for r in reasons if r not in s.handled or r not in PERSISTENT]


def decide(signals: Signals, thresholds: Thresholds) -> Decision:
    reasons = _reasons(signals, thresholds)
    if not reasons:
        if _misunderstood(signals, thresholds) == "ask":
            return Decision(escalate=False, reasons=("repeated_fallback",), ask_consent=True)
        return Decision(escalate=False)
    weights = thresholds.weights
    priority = max(weights[r] for r in reasons) + thresholds.boost_per_reason * (len(reasons) - 1)
    if signals.customer_value:
        share = min(signals.customer_value / (3 * thresholds.value_high), 1.0)
        priority += round(thresholds.value_boost_max * share)
    if signals.churn_probability:
        priority += round(thresholds.churn_boost_max * signals.churn_probability)
    main = max(reasons, key=lambda r: weights[r])
    said = {trigger.reason: trigger.phrase for trigger in signals.triggers}
    parts = [REASON_TEXT[r] + (f' ("{said[r]}")' if r in said else "") for r in reasons]
    summary = "The customer " + ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] + "."
    if signals.sentiment:
        summary += f" Last message sentiment {signals.sentiment[-1]:+.2f}."
    if signals.churn_probability is not None:
        summary += f" Churn risk {signals.churn_probability:.0%}"
        summary += f" ({'; '.join(signals.churn_drivers[:2])})." if signals.churn_drivers else "."
    return Decision(
        escalate=True,
        priority=min(100, priority),
        reasons=tuple(reasons),
        main_reason=main,
        summary=summary,
        suggested_action=SUGGESTED["at_risk_customer" if "at_risk_customer" in reasons else main],
        offer_retention="at_risk_customer" in reasons,
        details={"triggers": [asdict(trigger) for trigger in signals.triggers]} if signals.triggers else {},
    )
