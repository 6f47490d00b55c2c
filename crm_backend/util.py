"""Small pure helpers: money, postcodes, e-mails, dates, reference numbers."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

_POSTCODE_RE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][A-Z]{2})$")


def clip(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def pence_to_pounds(pence: int | None) -> float:
    return round((pence or 0) / 100, 2)


def pounds_to_pence(amount: float | int | str | Decimal) -> int | None:
    """Exact conversion; None when the amount has more than two decimals or is not a number."""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite():
        return None
    pence = value * 100
    if pence != pence.to_integral_value():
        return None
    return int(pence)


def normalise_postcode(raw: str) -> str | None:
    """'sw1a1aa' -> 'SW1A 1AA'; None if it is not a UK postcode."""
    match = _POSTCODE_RE.match(raw.strip().upper().replace(" ", ""))
    if not match:
        return None
    return f"{match.group(1)} {match.group(2)}"


def postcode_key(raw: str) -> str:
    """Comparison key: upper case without spaces."""
    return re.sub(r"\s+", "", raw or "").upper()


def normalise_email(raw: str) -> str:
    return (raw or "").strip().lower()


def normalise_order_number(raw: str) -> str:
    return (raw or "").strip().lstrip("#").strip()


def add_working_days(start: date | datetime, days: int) -> date:
    current = start.date() if isinstance(start, datetime) else start
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current


def scrambled_number(n: int, salt: int = 0) -> int:
    """A bijection of n in [0, 900000) onto 6-digit numbers that looks random (for seed references)."""
    return (n * 7919 + 123457 + salt * 104729) % 900000 + 100000


def utcnow() -> datetime:
    return datetime.utcnow().replace(microsecond=0)
