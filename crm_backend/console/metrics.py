"""Supervisor dashboard figures, computed from plain records (pure: no database, no HTTP; unit-tested).

``crm_backend/console/dashboard.py`` reads the records from the CRM database and the Rasa event stream and hands them
here, so every definition below can be checked on a table of cases.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

AT_RISK_REASON = "at_risk_customer"


@dataclass(frozen=True)
class EscalationRecord:
    """What the dashboard needs of one escalation."""

    id: int
    created_at: datetime
    reason_codes: tuple[str, ...] = ()
    status: str = "open"
    verdict: str | None = None
    first_agent_reply_at: datetime | None = None
    csat: int | None = None
    # customer messages of the conversation: (when, sentiment score in [-1, 1])
    sentiments: tuple[tuple[datetime, float], ...] = ()
    customer_id: int | None = None
    # the customer churned or cancelled an order after the escalation was raised
    customer_lost_after: bool = False


@dataclass(frozen=True)
class Summary:
    escalations: int
    resolved_with_verdict: int
    false_escalation_rate: float | None
    too_late_rate: float | None
    median_first_reply_seconds: float | None
    csat_average: float | None
    csat_distribution: dict[int, int]
    at_risk_escalations: int
    at_risk_saved: int
    containment_rate: float | None
    conversations: int | None
    by_day_reason: dict[date, dict[str, int]] = field(default_factory=dict)
    sentiment_by_day: dict[date, float] = field(default_factory=dict)


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide (an empty dashboard is not a 0 % one)."""
    return part / whole if whole else None


def false_escalation_rate(records: Iterable[EscalationRecord]) -> float | None:
    """Escalations an agent judged unnecessary, among those that got a verdict."""
    verdicts = [r.verdict for r in records if r.verdict]
    return rate(sum(v == "unnecessary" for v in verdicts), len(verdicts))


def too_late_rate(records: Iterable[EscalationRecord]) -> float | None:
    verdicts = [r.verdict for r in records if r.verdict]
    return rate(sum(v == "too_late" for v in verdicts), len(verdicts))


def median_first_reply_seconds(records: Iterable[EscalationRecord]) -> float | None:
    """Median time from the escalation to the first message an agent sent to the customer (escalations with one)."""
    waits = [(r.first_agent_reply_at - r.created_at).total_seconds() for r in records if r.first_agent_reply_at]
    return float(statistics.median(waits)) if waits else None


def csat(records: Iterable[EscalationRecord]) -> tuple[float | None, dict[int, int]]:
    """(average, {score: count} for 1..5) over the escalations whose customer answered."""
    scores = [r.csat for r in records if r.csat is not None and 1 <= r.csat <= 5]
    distribution = {score: 0 for score in range(1, 6)}
    distribution.update(Counter(scores))
    return (sum(scores) / len(scores) if scores else None), distribution


def at_risk_saved(records: Iterable[EscalationRecord]) -> tuple[int, int]:
    """(at-risk escalations, saved): saved = raised for churn risk, judged justified, and the customer did not churn
    or cancel afterwards."""
    at_risk = [r for r in records if AT_RISK_REASON in r.reason_codes]
    saved = [r for r in at_risk if r.verdict == "justified" and not r.customer_lost_after]
    return len(at_risk), len(saved)


def containment_rate(conversations: int | None, escalated_conversations: int) -> float | None:
    """Conversations the assistant handled without a person / all conversations (None without the event stream)."""
    if conversations is None or conversations <= 0:
        return None
    return max(0.0, 1.0 - min(escalated_conversations, conversations) / conversations)


def days(end: date, count: int) -> list[date]:
    """The ``count`` days ending with ``end``, oldest first."""
    return [end - timedelta(days=offset) for offset in range(count - 1, -1, -1)]


def by_day_reason(records: Iterable[EscalationRecord], window: Sequence[date]) -> dict[date, dict[str, int]]:
    """Escalations per day (of the window) and reason; an escalation with several reasons counts for each."""
    table: dict[date, dict[str, int]] = {day: {} for day in window}
    for record in records:
        day = record.created_at.date()
        if day not in table:
            continue
        for reason in record.reason_codes or ("unspecified",):
            table[day][reason] = table[day].get(reason, 0) + 1
    return table


def sentiment_by_day(records: Iterable[EscalationRecord], window: Sequence[date]) -> dict[date, float]:
    """Mean sentiment of escalated customers' messages per day (days without messages are left out)."""
    sums: dict[date, list[float]] = {}
    wanted = set(window)
    for record in records:
        for at, score in record.sentiments:
            if at.date() in wanted:
                sums.setdefault(at.date(), []).append(score)
    return {day: sum(v) / len(v) for day, v in sorted(sums.items())}


def summarise(
    records: Sequence[EscalationRecord],
    *,
    today: date,
    window_days: int = 14,
    conversations: int | None = None,
    escalated_conversations: int = 0,
) -> Summary:
    window = days(today, window_days)
    average, distribution = csat(records)
    at_risk, saved = at_risk_saved(records)
    return Summary(
        escalations=len(records),
        resolved_with_verdict=sum(1 for r in records if r.verdict),
        false_escalation_rate=false_escalation_rate(records),
        too_late_rate=too_late_rate(records),
        median_first_reply_seconds=median_first_reply_seconds(records),
        csat_average=average,
        csat_distribution=distribution,
        at_risk_escalations=at_risk,
        at_risk_saved=saved,
        containment_rate=containment_rate(conversations, escalated_conversations),
        conversations=conversations,
        by_day_reason=by_day_reason(records, window),
        sentiment_by_day=sentiment_by_day(records, window),
    )
