"""Churn features from the CRM tables, as of a point in time (pure: DataFrames in, DataFrame out).

``build_features`` is the one feature function for training and scoring: every event is filtered to what was
known strictly before ``as_of`` (a late delivery counts once its ETA has passed, a cancellation once it happened),
so features as of a past cutoff never see the future. ``build_training_set`` adds the label from after the cutoff.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)
NO_EVENT_DAYS = 730.0  # "days since" when the event never happened (capped here too)
FEATURES: list[str] = [
    "tenure_days",
    "recency_days",
    "usual_gap_days",
    "recency_ratio",
    "orders_90d",
    "orders_365d",
    "orders_total",
    "spend_365d",
    "avg_order_value",
    "late_deliveries_90d",
    "late_deliveries_365d",
    "late_share_365d",
    "late_deliveries_total",
    "late_days_total",
    "on_time_deliveries_total",
    "refunds_365d",
    "refund_amount_share_365d",
    "refunds_total",
    "cancellations_365d",
    "complaints_90d",
    "complaints_365d",
    "complaints_total",
    "days_since_last_complaint",
    "escalations_365d",
    "mean_sentiment",
    "sentiment_messages",
    "segment_premium",
]


def _dt(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_datetime(frame[column]) if column in frame else pd.Series(pd.NaT, index=frame.index)


def _table(tables: Mapping[str, pd.DataFrame], name: str, index: pd.Index) -> pd.DataFrame:
    frame = tables.get(name)
    if frame is None or frame.empty:
        return pd.DataFrame({"customer_id": pd.Series(dtype="int64")})
    return frame[frame["customer_id"].isin(index)]


def _per_customer(values: pd.Series, keys: pd.Series, how: str, index: pd.Index, fill: float = 0.0) -> pd.Series:
    if values.empty:
        return pd.Series(fill, index=index, dtype="float64")
    grouped = values.groupby(keys.to_numpy()).agg(how)
    return grouped.reindex(index).astype("float64").fillna(fill)


def _count(mask: pd.Series, keys: pd.Series, index: pd.Index) -> pd.Series:
    return _per_customer(mask.astype("float64"), keys, "sum", index)


def _timestamp(as_of: datetime) -> pd.Timestamp:
    ts = pd.Timestamp(as_of)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def build_features(tables: Mapping[str, pd.DataFrame], as_of: datetime) -> pd.DataFrame:
    """One row per customer who existed at ``as_of`` (index ``customer_id``), columns ``FEATURES``, no NaN."""
    now = _timestamp(as_of)
    customers = tables["customers"]
    created = _dt(customers, "created_at")
    known = customers[created <= now]
    index = pd.Index(known["customer_id"].astype("int64"), name="customer_id")
    # columns are collected and framed once: a DataFrame column assignment costs more than the arithmetic here
    out: dict[str, Any] = {}
    out["tenure_days"] = pd.Series(((now - created[created <= now]) / DAY).to_numpy(), index=index)
    segment = known.get("segment", pd.Series("standard", index=known.index))
    out["segment_premium"] = pd.Series((segment != "standard").to_numpy(), index=index)

    orders = _table(tables, "orders", index)
    placed = _dt(orders, "placed_at")
    orders, placed = orders[placed < now], placed[placed < now]
    keys, age = orders["customer_id"], (now - placed) / DAY
    cancelled = _dt(orders, "cancelled_at") < now
    total = pd.to_numeric(orders.get("total_pence", pd.Series(dtype="float64")), errors="coerce").fillna(0) / 100
    out["orders_90d"] = _count(age <= 90, keys, index)
    out["orders_365d"] = _count(age <= 365, keys, index)
    out["orders_total"] = _count(age >= 0, keys, index)
    out["cancellations_365d"] = _count(cancelled & (age <= 365), keys, index)
    kept = ~cancelled
    out["spend_365d"] = _per_customer(total[kept & (age <= 365)], keys[kept & (age <= 365)], "sum", index)
    out["avg_order_value"] = _per_customer(total[kept], keys[kept], "mean", index)
    last = _per_customer(age, keys, "min", index, fill=np.nan)
    first = _per_customer(age, keys, "max", index, fill=np.nan)
    out["recency_days"] = last.fillna(out["tenure_days"])
    n = out["orders_total"]
    gap = ((first - last) / (n - 1).where(n >= 2)).where(n >= 2)
    out["usual_gap_days"] = gap.fillna(out["tenure_days"]).clip(lower=1.0)
    out["recency_ratio"] = out["recency_days"] / out["usual_gap_days"]

    ships = _table(tables, "shipments", index)
    late_at = _dt(ships, "eta") + DAY  # a delivery is known to be late once its ETA day is over
    delay = pd.to_numeric(ships.get("delay_days", pd.Series(dtype="float64")), errors="coerce").fillna(0)
    delivered = _dt(ships, "delivered_at") < now
    overdue = ((now - late_at) / DAY).clip(lower=0).fillna(0).apply(np.floor) + 1
    known_delay = delay.where(delivered, np.minimum(delay, overdue))
    due = late_at <= now
    late, late_age, skeys = due & (delay > 0), (now - late_at) / DAY, ships["customer_id"]
    out["late_deliveries_90d"] = _count(late & (late_age <= 90), skeys, index)
    out["late_deliveries_365d"] = _count(late & (late_age <= 365), skeys, index)
    due_365 = _count(due & (late_age <= 365), skeys, index)
    out["late_share_365d"] = (out["late_deliveries_365d"] / due_365.where(due_365 > 0)).fillna(0.0)
    out["late_deliveries_total"] = _count(late, skeys, index)
    out["late_days_total"] = _per_customer(known_delay[late], skeys[late], "sum", index)
    out["on_time_deliveries_total"] = _count(delivered & (delay <= 0), skeys, index)

    refunds = _table(tables, "refunds", index)
    refunded_at = _dt(refunds, "created_at")
    cancelled_orders = set(orders.loc[cancelled, "order_id"]) if "order_id" in orders else set()
    quality = (refunded_at < now) & ~refunds.get("order_id", pd.Series(dtype="int64")).isin(cancelled_orders)
    r_age, rkeys = (now - refunded_at) / DAY, refunds["customer_id"]
    amount = pd.to_numeric(refunds.get("amount_pence", pd.Series(dtype="float64")), errors="coerce").fillna(0) / 100
    out["refunds_365d"] = _count(quality & (r_age <= 365), rkeys, index)
    refunded_365 = _per_customer(amount[quality & (r_age <= 365)], rkeys[quality & (r_age <= 365)], "sum", index)
    out["refund_amount_share_365d"] = (refunded_365 / out["spend_365d"].where(out["spend_365d"] > 0)).fillna(0.0)
    out["refunds_total"] = _count(quality, rkeys, index)

    tickets = _table(tables, "tickets", index)
    t_age = (now - _dt(tickets, "created_at")) / DAY
    complaint = (tickets.get("topic", pd.Series(dtype=object)) == "complaint") & (t_age > 0)
    tkeys = tickets["customer_id"]
    out["complaints_90d"] = _count(complaint & (t_age <= 90), tkeys, index)
    out["complaints_365d"] = _count(complaint & (t_age <= 365), tkeys, index)
    out["complaints_total"] = _count(complaint, tkeys, index)
    since = _per_customer(t_age[complaint], tkeys[complaint], "min", index, fill=NO_EVENT_DAYS)
    out["days_since_last_complaint"] = since.clip(upper=NO_EVENT_DAYS)

    escalations = _table(tables, "escalations", index)
    e_age = (now - _dt(escalations, "created_at")) / DAY
    out["escalations_365d"] = _count((e_age > 0) & (e_age <= 365), escalations["customer_id"], index)
    messages = _table(tables, "escalation_messages", index)
    m_age = (now - _dt(messages, "created_at")) / DAY
    sentiment = pd.to_numeric(messages.get("sentiment", pd.Series(dtype="float64")), errors="coerce")
    scored = (m_age > 0) & (m_age <= 365) & sentiment.notna()
    mkeys = messages["customer_id"]
    out["mean_sentiment"] = _per_customer(sentiment[scored], mkeys[scored], "mean", index)  # neutral 0 when none
    out["sentiment_messages"] = _count(scored, mkeys, index)
    return pd.DataFrame(out, index=index)[FEATURES].astype("float64")


def default_cutoffs(tables: Mapping[str, pd.DataFrame], horizon_days: int = 90, snapshots: int = 4) -> list[datetime]:
    """Cutoffs ``end - k*horizon`` (k = 1..snapshots), ``end`` = the day after the last order in the data."""
    end = _dt(tables["orders"], "placed_at").max().normalize() + DAY
    return [(end - timedelta(days=horizon_days * k)).to_pydatetime() for k in range(1, snapshots + 1)]


def build_training_set(
    tables: Mapping[str, pd.DataFrame], cutoffs: Sequence[datetime], horizon_days: int = 90
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Features as of each cutoff T for customers still active at T; label = ``churned_at`` in [T, T + horizon).

    Returns (X, y, groups): ``groups`` is the customer id, so cross-validation can keep a customer's snapshots together.
    """
    churned_at = _dt(tables["customers"], "churned_at")
    churned_at.index = tables["customers"]["customer_id"].astype("int64")
    frames, labels = [], []
    for cutoff in cutoffs:
        now = _timestamp(cutoff)
        features = build_features(tables, cutoff)
        when = churned_at.reindex(features.index)
        active = when.isna() | (when >= now)
        labels.append((when[active] < now + pd.Timedelta(days=horizon_days)).astype("int64"))
        frames.append(features[active])
    x = pd.concat(frames)
    groups = pd.Series(x.index.to_numpy(), name="customer_id")
    return x.reset_index(drop=True), pd.concat(labels).reset_index(drop=True).rename("churned"), groups


def _n(value: float, word: str) -> str:
    count = int(round(value))
    if count == 1:
        return f"1 {word}"
    return f"{count} {word[:-1] + 'ies' if word.endswith('ry') else word + 's'}"


DESCRIPTIONS: dict[str, Callable[[Mapping[str, float]], str]] = {
    "tenure_days": lambda r: f"customer for {int(r['tenure_days'])} days",
    "recency_days": lambda r: (
        f"no order for {int(r['recency_days'])} days (usually orders every {int(r['usual_gap_days'])})"
    ),
    "usual_gap_days": lambda r: f"usually orders only every {int(r['usual_gap_days'])} days",
    "recency_ratio": lambda r: (
        f"last order {int(r['recency_days'])} days ago, {r['recency_ratio']:.1f}x the usual "
        f"gap of {int(r['usual_gap_days'])} days"
    ),
    "orders_90d": lambda r: f"{_n(r['orders_90d'], 'order')} in the last 90 days",
    "orders_365d": lambda r: f"{_n(r['orders_365d'], 'order')} in the last 12 months",
    "orders_total": lambda r: f"{_n(r['orders_total'], 'order')} in total",
    "spend_365d": lambda r: f"spent £{r['spend_365d']:,.2f} in the last 12 months",
    "avg_order_value": lambda r: f"average order value £{r['avg_order_value']:,.2f}",
    "late_deliveries_90d": lambda r: f"{_n(r['late_deliveries_90d'], 'late delivery')} in the last 90 days",
    "late_deliveries_365d": lambda r: f"{_n(r['late_deliveries_365d'], 'late delivery')} in the last 12 months",
    "late_share_365d": lambda r: f"{r['late_share_365d']:.0%} of deliveries late in the last 12 months",
    "late_deliveries_total": lambda r: f"{_n(r['late_deliveries_total'], 'late delivery')} since joining",
    "late_days_total": lambda r: f"deliveries were {_n(r['late_days_total'], 'day')} late in total",
    "on_time_deliveries_total": lambda r: f"{_n(r['on_time_deliveries_total'], 'on-time delivery')} so far",
    "refunds_365d": lambda r: f"{_n(r['refunds_365d'], 'refund')} for a problem in the last 12 months",
    "refund_amount_share_365d": lambda r: (
        f"{r['refund_amount_share_365d']:.0%} of the last 12 months' spend was refunded"
    ),
    "refunds_total": lambda r: f"{_n(r['refunds_total'], 'refund')} for a problem since joining",
    "cancellations_365d": lambda r: f"{_n(r['cancellations_365d'], 'cancelled order')} in the last 12 months",
    "complaints_90d": lambda r: f"{_n(r['complaints_90d'], 'complaint')} in the last 90 days",
    "complaints_365d": lambda r: f"{_n(r['complaints_365d'], 'complaint')} in the last 12 months",
    "complaints_total": lambda r: f"{_n(r['complaints_total'], 'complaint')} since joining",
    "days_since_last_complaint": lambda r: (
        "no complaint on record"
        if r["days_since_last_complaint"] >= NO_EVENT_DAYS
        else f"last complaint {int(r['days_since_last_complaint'])} days ago"
    ),
    "escalations_365d": lambda r: f"{_n(r['escalations_365d'], 'escalation')} to an agent in the last 12 months",
    "mean_sentiment": lambda r: f"average sentiment {r['mean_sentiment']:+.2f} in recent conversations",
    "sentiment_messages": lambda r: f"{_n(r['sentiment_messages'], 'message')} to agents in the last 12 months",
    "segment_premium": lambda r: "premium or business customer" if r["segment_premium"] else "standard customer",
}


def describe(name: str, row: Mapping[str, Any]) -> str:
    """A sentence an agent can read about one feature of one customer."""
    template = DESCRIPTIONS.get(name)
    return template(row) if template is not None else f"{name.replace('_', ' ')} is {row[name]:g}"


# Features that say the same thing; a customer's drivers name each topic once.
TOPICS: dict[str, str] = {
    **dict.fromkeys(("recency_days", "usual_gap_days", "recency_ratio"), "recency"),
    **dict.fromkeys(("orders_90d", "orders_365d", "orders_total", "tenure_days"), "frequency"),
    **dict.fromkeys(("spend_365d", "avg_order_value"), "spend"),
    **dict.fromkeys(
        ("late_deliveries_90d", "late_deliveries_365d", "late_share_365d", "late_deliveries_total", "late_days_total"),
        "lateness",
    ),
    **dict.fromkeys(("refunds_365d", "refund_amount_share_365d", "refunds_total"), "refunds"),
    **dict.fromkeys(
        ("complaints_90d", "complaints_365d", "complaints_total", "days_since_last_complaint"), "complaints"
    ),
    **dict.fromkeys(("escalations_365d", "mean_sentiment", "sentiment_messages"), "conversations"),
}
