"""Support history for the seed: tickets, and past escalations (a resolved conversation with an agent whose
customer messages carry sentiment).

population.py decides *when* a customer contacted support and how satisfied they were; this module writes what that
contact looked like.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from crm_backend.seeding import seed_data as W
from crm_backend.util import clip, scrambled_number

ESCALATE_FROM = 0.6  # 5% of complaints go to an agent, more (1.5 per satisfaction point) below this satisfaction
SENTIMENT_NOISE = 0.3  # spread of the customer's sentiment around its expected value


def support_ticket(
    rng: random.Random,
    ref: datetime,
    rows: dict[str, list[dict[str, Any]]],
    next_id: Callable[[str], int],
    reference_index: int,
    *,
    customer_id: int,
    order_id: int | None,
    created: datetime,
    topic: str,
    summary: str,
    sat: float | None,
    expected_sentiment: float | None,
) -> None:
    """A support ticket; a complaint (rarely an inquiry) may have gone to an agent when ``sat`` is low."""
    cid = customer_id
    if created >= ref:
        created = ref - timedelta(minutes=10)
    status = "resolved" if (ref - created).days > 5 else "open"
    reference = f"TK-{scrambled_number(reference_index, 1)}"
    channel = rng.choice(W.CHANNELS)
    conversation = None
    if sat is not None and expected_sentiment is not None:
        chance = clip(1.5 * (ESCALATE_FROM - sat), 0.05, 0.85) if topic == "complaint" else 0.02
        if rng.random() < chance:
            conversation, channel = f"seed-{reference}", "chat"
            past_escalation(
                rng, ref, rows, next_id,
                customer_id=cid, conversation=conversation, created=created, topic=topic, summary=summary, sat=sat,
                expected_sentiment=expected_sentiment, sentiment_noise=SENTIMENT_NOISE,
            )  # fmt: skip
    rows["tickets"].append(
        {
            "id": next_id("tickets"),
            "reference": reference,
            "customer_id": cid,
            "order_id": order_id,
            "conversation_id": conversation,
            "channel": channel,
            "topic": topic,
            "summary": summary,
            "status": status,
            "created_at": created,
        }
    )


def past_escalation(
    rng: random.Random,
    ref: datetime,
    rows: dict[str, list[dict[str, Any]]],
    next_id: Callable[[str], int],
    *,
    customer_id: int,
    conversation: str,
    created: datetime,
    topic: str,
    summary: str,
    sat: float,
    expected_sentiment: float,
    sentiment_noise: float,
) -> None:
    """A past (resolved) escalation with its thread, appended to ``rows``; an agent replies to each message."""
    cid = customer_id
    created = min(created, ref - timedelta(hours=3))
    eid = next_id("escalations")
    at, sentiments, claimed = created, [], created
    messages = rows["escalation_messages"]
    for turn in range(rng.randint(2, 4)):
        sentiment = round(clip(rng.gauss(expected_sentiment, sentiment_noise), -1.0, 1.0), 3)
        sentiments.append(sentiment)
        pool = W.CUSTOMER_NEGATIVE if sentiment < -0.3 else W.CUSTOMER_POSITIVE if sentiment > 0.3 else W.CUSTOMER_MIXED
        at += timedelta(minutes=rng.uniform(0.5, 4))
        messages.append(_message(next_id, eid, "customer", rng.choice(pool), sentiment, at))
        if turn == 0:  # waits in the queue until an agent claims it
            claimed = at + timedelta(minutes=rng.uniform(1, 25))
            at = claimed + timedelta(minutes=rng.uniform(0.5, 3))
        else:
            at += timedelta(minutes=rng.uniform(0.5, 4))
        messages.append(_message(next_id, eid, "agent", rng.choice(W.AGENT_REPLIES), None, at))
    mean = sum(sentiments) / len(sentiments)
    reason = "strong_negative" if min(sentiments) <= -0.6 else rng.choice(W.ESCALATION_REASONS[1:])
    resolved = at + timedelta(minutes=rng.uniform(1, 20))
    rows["escalations"].append(
        {
            "id": eid,
            "conversation_id": conversation,
            "customer_id": cid,
            "channel": "chat",
            "request_key": None,
            "status": "resolved",
            "priority": int(clip(50 - 40 * mean + rng.uniform(-10, 10), 0, 100)),
            "reason_codes": [reason],
            "scores": {"sentiment": round(mean, 3)},
            "packet": {"customer_id": cid, "topic": topic},
            "summary": summary,
            "suggested_action": None,
            "agent_id": None,
            "verdict": rng.choices(("justified", "unnecessary", "too_late"), (0.7, 0.2, 0.1))[0],
            "created_at": created,
            "claimed_at": claimed,
            "resolved_at": min(resolved, ref - timedelta(minutes=1)),
            "handed_back_at": None,
            "csat": int(round(clip(1 + 4 * sat + rng.gauss(0, 0.8), 1, 5))),
        }
    )


def _message(
    next_id: Callable[[str], int], eid: int, sender: str, text: str, sentiment: float | None, at: datetime
) -> dict[str, Any]:
    return {
        "id": next_id("escalation_messages"),
        "escalation_id": eid,
        "sender": sender,
        "text": text,
        "sentiment": sentiment,
        "agent_id": None,
        "event_key": None,
        "delivered": True,
        "created_at": at,
    }
