"""Reading an identity grant: a token the CRM signed and only the CRM can check.

The Rasa server and the action server read its claims without the CRM's secret, for the dialogue only (is the
customer verified in this conversation, was the proof strong enough for a change); the CRM decides again on every call.
"""

from __future__ import annotations

from typing import Any

import jwt

STRONG = frozenset({"one_time_code", "shop_login"})
# What belongs to a verified customer: cleared together when the grant lapses or is refused.
IDENTITY_SLOTS = (
    "customer_id",
    "customer_name",
    "identity_grant",
    "identity_proof",
    "one_time_code",
    "otp_sent_at",
    "churn_probability",
    "churn_drivers",
    "customer_value",
    "customer_segment",
)


def claims(token: Any) -> dict[str, Any] | None:
    if not isinstance(token, str) or not token:
        return None
    try:
        return dict(jwt.decode(token, options={"verify_signature": False}))
    except jwt.InvalidTokenError:
        return None
