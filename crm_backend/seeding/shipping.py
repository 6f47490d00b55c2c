"""The shipping fee of a seeded order: standard delivery is free from £50 of items, express always costs its fee."""

from __future__ import annotations

STANDARD_PENCE = 395
EXPRESS_PENCE = 795
FREE_OVER_PENCE = 5000


def shipping_fee(items_total_pence: int, express: bool = False) -> int:
    """The fee in pence for an order whose items cost ``items_total_pence``."""
    if express:
        return EXPRESS_PENCE
    return 0 if items_total_pence >= FREE_OVER_PENCE else STANDARD_PENCE
