"""The conversation's identity grant as the actions see it: a token the CRM signed and only the CRM can check.

The actions read its claims without the CRM's secret, for the dialogue only: is the customer still verified in this
conversation and channel, and was the proof strong enough for a change? The CRM decides again on every call.
"""

from __future__ import annotations

import time

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from shopcare_core.grant import IDENTITY_SLOTS, STRONG, claims

# the tasks that need a strong proof: changes, and the data-subject requests (a copy of the data, its erasure)
WRITE_TASKS = frozenset({"cancel_order", "get_refund", "change_shipping_address", "data_export", "data_erasure"})
EXPIRY_MARGIN_SECONDS = 10
REFUSED_CODES = frozenset(
    {"grant_required", "grant_invalid", "grant_expired", "grant_other_customer", "grant_other_conversation"}
)


def is_current(tracker: Tracker, now: float | None = None) -> bool:
    """The grant is for this conversation and channel and has not lapsed."""
    found = claims(tracker.get_slot("identity_grant"))
    if not found:
        return False
    current = time.time() if now is None else now
    return (
        float(found.get("exp") or 0) > current + EXPIRY_MARGIN_SECONDS
        and found.get("cid") == tracker.sender_id
        and found.get("chn") == (tracker.get_latest_input_channel() or "unknown")
    )


def is_strong(tracker: Tracker) -> bool:
    found = claims(tracker.get_slot("identity_grant"))
    return found is not None and found.get("prf") in STRONG


def needs_code(tracker: Tracker) -> bool:
    """A change (cancel, refund, address) or a data request is in hand and the customer proved who they are only
    with a read proof."""
    return tracker.get_slot("task") in WRITE_TASKS and not is_strong(tracker)


def cleared() -> list[EventType]:
    return [SlotSet(name, None) for name in IDENTITY_SLOTS]
