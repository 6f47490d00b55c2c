"""Customer value: a simple, explainable lifetime value and a segment (pure functions).

CLV = average order value x expected orders per year x expected lifetime in years x margin, where the expected
lifetime comes from the churn probability: a 90-day churn probability p is an annual churn rate
``1 - (1 - p) ** (365 / 90)`` and a lifetime of ``1 / annual rate`` years, capped at ``MAX_LIFETIME_YEARS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MARGIN = 0.30  # gross margin on an order
MAX_LIFETIME_YEARS = 5.0
DEFAULT_CHURN_PROBABILITY = 0.03  # used when no churn score is given (about the seed's 90-day base rate)
HORIZON_DAYS = 90
AT_RISK_PROBABILITY = 0.05  # about twice the seed's 90-day churn rate; the churn model's "high" band starts near it
VIP_SPEND_365D = 1000.0
VIP_CLV = 1500.0
SEGMENTS = ("vip", "loyal", "regular", "new", "at_risk")


def expected_lifetime_years(churn_probability: float, horizon_days: int = HORIZON_DAYS) -> float:
    """Expected remaining lifetime from the churn probability over ``horizon_days`` (decreasing in it)."""
    p = min(max(float(churn_probability), 0.0), 1.0)
    annual = 1.0 - (1.0 - p) ** (365.0 / horizon_days)
    return MAX_LIFETIME_YEARS if annual <= 1.0 / MAX_LIFETIME_YEARS else 1.0 / annual


def orders_per_year(orders_365d: float, tenure_days: float) -> float:
    """Orders in the last year, annualised for customers younger than a year."""
    days = min(max(float(tenure_days), 30.0), 365.0)
    return max(float(orders_365d), 0.0) * 365.0 / days


def customer_lifetime_value(
    avg_order_value: float, yearly_orders: float, churn_probability: float, margin: float = MARGIN
) -> float:
    """Expected future margin in pounds (increasing in order value and frequency, decreasing in churn risk)."""
    value = max(avg_order_value, 0.0) * max(yearly_orders, 0.0) * expected_lifetime_years(churn_probability) * margin
    return round(value, 2)


def segment(
    *,
    tenure_days: float,
    orders_total: float,
    orders_365d: float,
    spend_365d: float,
    clv: float,
    churn_probability: float | None,
) -> str:
    """One of ``SEGMENTS``: at_risk first (an agent must act), then new, vip, loyal, regular."""
    if churn_probability is not None and churn_probability >= AT_RISK_PROBABILITY and orders_total >= 1:
        return "at_risk"
    if tenure_days < 90 or orders_total < 2:
        return "new"
    if spend_365d >= VIP_SPEND_365D or clv >= VIP_CLV:
        return "vip"
    if tenure_days >= 365 and orders_365d >= 4:
        return "loyal"
    return "regular"


def customer_value(features: Mapping[str, Any], churn_probability: float | None = None) -> dict[str, Any]:
    """CLV and segment from one customer's churn features (see ``shopcare_core.ml.features``)."""
    probability = DEFAULT_CHURN_PROBABILITY if churn_probability is None else float(churn_probability)
    yearly = orders_per_year(features["orders_365d"], features["tenure_days"])
    clv = customer_lifetime_value(float(features["avg_order_value"]), yearly, probability)
    return {
        "clv": clv,
        "segment": segment(
            tenure_days=float(features["tenure_days"]),
            orders_total=float(features["orders_total"]),
            orders_365d=float(features["orders_365d"]),
            spend_365d=float(features["spend_365d"]),
            clv=clv,
            churn_probability=churn_probability,
        ),
        "expected_orders_per_year": round(yearly, 2),
        "expected_lifetime_years": round(expected_lifetime_years(probability), 2),
        "churn_probability_used": probability,
        "margin": MARGIN,
    }
