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


def _timestamp(as_of: datetime) -> pd.Timestamp:
    ts = pd.Timestamp(as_of)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


class _Rows:
    """One table's rows of the customers in ``index``, as numpy columns, aggregated per customer with ``bincount``.

    The same arithmetic serves one customer (scoring) and all of them (training); docs/architecture.md, "Churn model
    in the action server", says why it is not a pandas ``groupby``.
    """

    def __init__(self, frame: pd.DataFrame | None, index: pd.Index, now: np.datetime64) -> None:
        frame = frame if frame is not None else pd.DataFrame({"customer_id": pd.Series(dtype="int64")})
        positions = index.get_indexer(frame["customer_id"].to_numpy()) if len(frame) else np.empty(0, np.intp)
        keep = positions >= 0
        self.columns = {str(name): frame[name].to_numpy()[keep] for name in frame.columns}
        self.positions, self.size, self.now = positions[keep], len(index), now

    def subset(self, mask: np.ndarray) -> _Rows:
        rows = _Rows.__new__(_Rows)
        rows.columns = {name: values[mask] for name, values in self.columns.items()}
        rows.positions, rows.size, rows.now = self.positions[mask], self.size, self.now
        return rows

    def __len__(self) -> int:
        return len(self.positions)

    def values(self, column: str) -> np.ndarray:
        """A column as it is (None where the table has no such column)."""
        return self.columns.get(column, np.full(len(self), None, dtype=object))

    def number(self, column: str) -> np.ndarray:
        """A numeric column, 0 where missing or not a number."""
        values = self.values(column)
        if values.dtype.kind not in "iuf":
            values = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float64")
        return np.nan_to_num(values.astype("float64"), nan=0.0)

    def age(self, column: str, shift_days: int = 0) -> np.ndarray:
        """Days from the column's time (plus ``shift_days``) until now; NaN where there is no time."""
        values = self.values(column)
        if values.dtype.kind != "M":  # load_tables gives datetime64 already; hand-built frames may not
            times = pd.to_datetime(pd.Series(values))
            if times.dt.tz is not None:
                times = times.dt.tz_convert("UTC").dt.tz_localize(None)
            values = times.to_numpy(dtype="datetime64[ns]")
        elapsed: np.ndarray = self.now - (values.astype("datetime64[ns]") + np.timedelta64(shift_days, "D"))
        return elapsed / np.timedelta64(1, "D")

    def count(self, mask: np.ndarray) -> np.ndarray:
        return np.bincount(self.positions[mask], minlength=self.size).astype("float64")

    def sum(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.bincount(self.positions[mask], weights=values[mask], minlength=self.size).astype("float64")

    def mean(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Per-customer mean; 0 for a customer without rows."""
        n = self.count(mask)
        return np.divide(self.sum(values, mask), n, out=np.zeros(self.size), where=n > 0)

    def extreme(self, how: str, values: np.ndarray, mask: np.ndarray, fill: float) -> np.ndarray:
        """Per-customer ``min`` or ``max``; ``fill`` for a customer without rows."""
        ufunc, start = (np.minimum, np.inf) if how == "min" else (np.maximum, -np.inf)
        out = np.full(self.size, start)
        ufunc.at(out, self.positions[mask], values[mask])
        out[self.count(mask) == 0] = fill
        return out


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is not positive."""
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)


def build_features(tables: Mapping[str, pd.DataFrame], as_of: datetime) -> pd.DataFrame:
    """One row per customer who existed at ``as_of`` (index ``customer_id``), columns ``FEATURES``, no NaN."""
    now = _timestamp(as_of).to_datetime64().astype("datetime64[ns]")
    customers = tables["customers"]
    everyone = _Rows(customers, pd.Index(customers["customer_id"].astype("int64")), now)
    tenure = everyone.age("created_at")
    existed = tenure >= 0  # created at or before as_of
    known = customers[existed]
    index = pd.Index(known["customer_id"].astype("int64"), name="customer_id")
    out: dict[str, np.ndarray] = {"tenure_days": tenure[existed]}
    segment = known["segment"].to_numpy() if "segment" in known else np.full(len(known), "standard", dtype=object)
    out["segment_premium"] = (segment != "standard").astype("float64")

    orders = _Rows(tables.get("orders"), index, now)
    orders = orders.subset(orders.age("placed_at") > 0)  # placed before as_of
    age, total = orders.age("placed_at"), orders.number("total_pence") / 100
    cancelled = orders.age("cancelled_at") > 0
    kept = ~cancelled
    out["orders_90d"] = orders.count(age <= 90)
    out["orders_365d"] = orders.count(age <= 365)
    out["orders_total"] = n = orders.count(age >= 0)
    out["cancellations_365d"] = orders.count(cancelled & (age <= 365))
    out["spend_365d"] = spend = orders.sum(total, kept & (age <= 365))
    out["avg_order_value"] = orders.mean(total, kept)
    everything = np.ones(len(age), dtype=bool)
    last = orders.extreme("min", age, everything, fill=np.nan)
    first = orders.extreme("max", age, everything, fill=np.nan)
    out["recency_days"] = recency = np.where(np.isnan(last), out["tenure_days"], last)
    several = n >= 2
    gap = np.divide(first - last, n - 1, out=np.full(len(n), np.nan), where=several)
    out["usual_gap_days"] = usual = np.maximum(np.where(np.isnan(gap), out["tenure_days"], gap), 1.0)
    out["recency_ratio"] = recency / usual

    ships = _Rows(tables.get("shipments"), index, now)
    late_age = ships.age("eta", shift_days=1)  # a delivery is known to be late once its ETA day is over
    delay = ships.number("delay_days")
    delivered = ships.age("delivered_at") > 0
    overdue = np.floor(np.where(np.isnan(late_age), 0.0, np.maximum(late_age, 0.0))) + 1
    known_delay = np.where(delivered, delay, np.minimum(delay, overdue))
    due = late_age >= 0
    late = due & (delay > 0)
    out["late_deliveries_90d"] = ships.count(late & (late_age <= 90))
    out["late_deliveries_365d"] = late_365 = ships.count(late & (late_age <= 365))
    out["late_share_365d"] = _ratio(late_365, ships.count(due & (late_age <= 365)))
    out["late_deliveries_total"] = ships.count(late)
    out["late_days_total"] = ships.sum(known_delay, late)
    out["on_time_deliveries_total"] = ships.count(delivered & (delay <= 0))

    refunds = _Rows(tables.get("refunds"), index, now)
    r_age = refunds.age("created_at")
    for_cancelled = np.isin(refunds.values("order_id"), orders.values("order_id")[cancelled])
    quality = (r_age > 0) & ~for_cancelled  # a refund of a cancelled order says nothing about quality
    amount = refunds.number("amount_pence") / 100
    out["refunds_365d"] = refunds.count(quality & (r_age <= 365))
    out["refund_amount_share_365d"] = _ratio(refunds.sum(amount, quality & (r_age <= 365)), spend)
    out["refunds_total"] = refunds.count(quality)

    tickets = _Rows(tables.get("tickets"), index, now)
    t_age = tickets.age("created_at")
    complaint = (tickets.values("topic") == "complaint") & (t_age > 0)
    out["complaints_90d"] = tickets.count(complaint & (t_age <= 90))
    out["complaints_365d"] = tickets.count(complaint & (t_age <= 365))
    out["complaints_total"] = tickets.count(complaint)
    since = tickets.extreme("min", t_age, complaint, fill=NO_EVENT_DAYS)
    out["days_since_last_complaint"] = np.minimum(since, NO_EVENT_DAYS)

    escalations = _Rows(tables.get("escalations"), index, now)
    e_age = escalations.age("created_at")
    out["escalations_365d"] = escalations.count((e_age > 0) & (e_age <= 365))
    messages = _Rows(tables.get("escalation_messages"), index, now)
    m_age = messages.age("created_at")
    sentiment = pd.to_numeric(pd.Series(messages.values("sentiment")), errors="coerce").to_numpy(dtype="float64")
    scored = (m_age > 0) & (m_age <= 365) & ~np.isnan(sentiment)
    out["mean_sentiment"] = messages.mean(np.nan_to_num(sentiment), scored)  # neutral 0 when none
    out["sentiment_messages"] = messages.count(scored)
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
