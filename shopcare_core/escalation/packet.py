"""The escalation request (the body of the CRM's POST /escalations) built from a conversation, and the response that
opens an escalation raised by a must-escalate trigger.

Shared by the action server (`action_escalate`) and the Rasa server's policies (the escalation policy utters the
first reply; the action-outage policy records the request itself when the action server is down), so both build the
same packet. `tracker` is anything with rasa-sdk's tracker shape: `sender_id`, `slots`, `events` (as dicts) and
`get_latest_input_channel()`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from shopcare_core.escalation.decision import TRIGGER_REASONS, Decision
from shopcare_core.escalation.signals import customer_messages, intent_of, sentiment_of

TRANSCRIPT_LIMIT = 60

# a must-escalate trigger is answered first by its own response in domain.yml (safety advice, a compassionate word),
# uttered by the escalation policy itself just before action_escalate, so it needs no action server
FIRST_REPLY = {reason: f"utter_escalation_{reason}" for reason in TRIGGER_REASONS}
FIRST_REPLY_BY_KIND = {
    ("vulnerable_customer", kind): f"utter_escalation_vulnerable_customer_{kind}"
    for kind in ("bereavement", "medical", "crisis")
}


def first_reply(decision: Decision) -> str | None:
    """The response that opens an escalation whose main reason is a must-escalate trigger (None for the others)."""
    if decision.main_reason not in FIRST_REPLY:
        return None
    kinds = [t["kind"] for t in decision.details.get("triggers", ()) if t["reason"] == decision.main_reason]
    return FIRST_REPLY_BY_KIND.get((decision.main_reason, kinds[0] if kinds else ""), FIRST_REPLY[decision.main_reason])


def transcript(tracker: Any) -> list[dict[str, Any]]:
    lines = []
    for event in tracker.events:
        kind = event.get("event")
        if kind == "user":
            lines.append(
                {
                    "sender": "customer",
                    "text": event.get("text"),
                    "intent": intent_of(event),
                    "sentiment": sentiment_of(event),
                    "at": event.get("timestamp"),
                }
            )
        elif kind == "bot" and event.get("text"):
            lines.append({"sender": "bot", "text": event.get("text"), "at": event.get("timestamp")})
    return lines[-TRANSCRIPT_LIMIT:]


def build_request(tracker: Any, decision: Decision) -> dict[str, Any]:
    """The body of POST /escalations: everything an agent needs without asking the customer again."""
    slots = tracker.slots
    scores = [s for s in (sentiment_of(m) for m in customer_messages(tracker.events)) if s is not None]
    customer_id = slots.get("customer_id")
    packet = {
        "customer": {
            "customer_id": customer_id,
            "name": slots.get("customer_name"),
            "verified": bool(customer_id),
            "failed_verifications": int(slots.get("verify_failures") or 0),
            "identity_locked": bool(slots.get("identity_locked")),
            "segment": slots.get("customer_segment"),
            # the language the customer wrote in when it was not English (components/language.py), else English
            "language": slots.get("language") or "en",
        },
        "orders_in_question": sorted({str(v) for v in [slots.get("order_id")] if v}),
        "task": slots.get("task"),
        "crm_calls": list(slots.get("crm_calls") or []),
        "transcript": transcript(tracker),
        "churn": {"probability": slots.get("churn_probability"), "drivers": list(slots.get("churn_drivers") or [])},
        "value": {"clv": slots.get("customer_value"), "segment": slots.get("customer_segment")},
        "decision": {
            "reasons": list(decision.reasons),
            "priority": decision.priority,
            "summary": decision.summary,
            "suggested_action": decision.suggested_action,
            "offer_retention": decision.offer_retention,
            "triggers": decision.details.get("triggers", []),  # must-escalate triggers: reason, kind, the words
        },
        "escalated_at": datetime.now(timezone.utc).isoformat(),
    }
    return {
        "conversation_id": tracker.sender_id,
        "channel": tracker.get_latest_input_channel() or "unknown",
        "customer_id": int(customer_id) if customer_id else None,
        "priority": decision.priority,
        "reason_codes": list(decision.reasons),
        "summary": decision.summary,
        "suggested_action": decision.suggested_action,
        "scores": {
            "sentiment_last": scores[-1] if scores else None,
            "sentiment_mean": round(sum(scores) / len(scores), 3) if scores else None,
            "churn_probability": slots.get("churn_probability"),
            "customer_value": slots.get("customer_value"),
        },
        "packet": packet,
        "identity_grant": slots.get("identity_grant"),  # the CRM keeps customer_id only with its own grant
    }
