"""The attacks of the trust review, replayed against the real stack (REST channel, Rasa, action server, CRM), and
what stops each: docs/security.md, "Threat model". Channel, action-server and deployment attacks have their own files
(test_channel_identity.py, test_action_server_auth.py, test_deploy_files.py)."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy.orm import Session

from crm_backend.db import make_engine
from crm_backend.services.grants import GrantPolicy
from crm_backend.settings import Settings
from tests.factories import make_customer, make_order
from tests.security.conftest import Conversation
from tests.support import api_client, escalation_of, one_time_code, wait_until

# seeded customers the other security suites use (test_cross_customer.py, test_pii_masking.py, the sweep here)
USED_ELSEWHERE = {*range(10, 18), 20, 30}
CANDIDATES = [cid for cid in range(5, 45) if cid not in USED_ELSEWHERE]
PAUSED = "identity checks with those details are paused"


def test_a_sweep_of_one_email_over_40_orders_is_stopped_within_5_misses(stack, population):
    victim = population(30)
    others = [o["order_number"] for cid in range(31, 45) for o in population(cid).orders][:40]
    assert len(others) == 40
    started = time.time()
    answers = []
    for number in others:  # one try each, each from a fresh conversation, as the attack did
        chat = Conversation(stack.rasa_url, prefix="sweep")
        chat.say(f"where is my order {number}?")
        answers.append(chat.say(victim.email))
    misses = [a for a in answers if "doesn't match" in a]
    assert len(misses) <= 5, misses
    assert all(PAUSED in a for a in answers[5:]), answers[5:7]
    assert not any("verified" in a for a in answers)
    assert _mails_to(stack, [p.email for cid in range(31, 45) for p in [population(cid)]]) == 0  # nobody was mailed
    assert time.time() - started < 120

    # the victim's own order with the victim's own e-mail no longer answers "you're verified" to anyone...
    owner = Conversation(stack.rasa_url, prefix="owner")
    own = victim.orders[0]
    owner.say(f"where is my order {own['order_number']}?")
    asked = time.time()
    answer = owner.say(victim.email)
    assert "you're verified" not in answer and PAUSED in answer
    # ...but the real owner is not at a dead end: a code to the address on file, or a person, is offered
    assert "one-time code" in answer and "talk to a person" in answer
    assert "e-mailed a one-time code" in owner.say("yes")
    answer = owner.say(one_time_code(stack.crm_url, victim.email, after=asked - 1))
    assert "you're verified" in answer and own["order_number"] in answer
    assert not [a for a in owner.answers[:-1] if victim.postcode in a or victim.last_name in a]


def test_split_refunds_go_to_review_once_the_order_total_passes_the_automatic_limit(stack):
    """The review's case: three refunds of £48.85 on one £149 order, each under the £100 automatic limit."""
    crm = api_client(stack.crm_url, stack.api_key)
    customer_id, email, order = _customer_with_a_delivered_order(stack, total_pence=14900)
    chat = Conversation(stack.rasa_url, prefix="split")
    reasons = ["it arrived damaged", "the box was crushed", "one part is missing"]
    for round_, reason in enumerate(reasons):
        chat.say(f"I want a refund for order {order}")
        if round_ == 0:
            chat.say(email)
        chat.say(reason)
        asked = time.time()
        answer = chat.say("£48.85")
        if round_ == 0:  # a refund is a change: the code, once per conversation
            assert "arrange a refund" in answer
            answer = chat.say(one_time_code(stack.crm_url, email, after=asked - 1))
        assert "£48.85" in answer
        chat.say("yes")
    refunds = [r for r in crm.get(f"/customers/{customer_id}/refunds").json() if r["order_number"] == order]
    statuses = sorted(r["status"] for r in refunds)
    assert statuses == ["approved", "approved", "pending_review"], "\n".join(chat.answers)
    assert "member of our team" in chat.answers[-1]  # the third went to review, and to a person
    escalation = wait_until(lambda: escalation_of(crm, chat.conversation_id))
    assert "refund_review" in escalation["reason_codes"]


def test_an_expired_grant_gets_nothing_and_the_customer_verifies_again(stack, population):
    customer = population(33)
    first, second = customer.orders[0]["order_number"], customer.orders[-1]["order_number"]
    chat = Conversation(stack.rasa_url, prefix="lapsed")
    chat.say(f"where is my order {first}?")
    assert "you're verified" in chat.say(customer.email)
    # the conversation's grant as it would be 31 minutes later: signed by the CRM, but lapsed
    policy = GrantPolicy("dev-grant-secret-not-for-production", idle=timedelta(minutes=30), absolute=timedelta(hours=8))
    old = datetime.now(timezone.utc).timestamp() - 31 * 60
    lapsed, _ = policy.issue(
        customer_id=customer.id, conversation_id=f"rest:{chat.sender}", channel="rest", strength="email", now=old
    )
    events = [{"event": "slot", "name": "identity_grant", "value": lapsed}]
    url = f"{stack.rasa_url}/conversations/rest:{chat.sender}/tracker/events?token={stack.rasa_token}"
    assert httpx.post(url, json=events, timeout=30).status_code == 200
    answer = chat.say(f"and where is order {second}?")
    assert "verification has lapsed" in answer and "postcode" in answer
    order = customer.orders[-1]
    assert (
        not (order.get("shipment") or {}).get("tracking_number") or order["shipment"]["tracking_number"] not in answer
    )
    assert "you're verified" in chat.say(customer.email)


def test_a_postcode_never_authorises_a_change(stack, population):
    crm = api_client(stack.crm_url, stack.api_key)
    customer, order = _cancellable(crm, population)
    chat = Conversation(stack.rasa_url, prefix="postcode")
    chat.say(f"please cancel order {order}")
    answer = chat.say(customer.postcode)
    assert "you're verified" in answer and "6-digit code" in answer and "Shall I cancel" not in answer
    for attempt in ("yes", "/affirm", "123456", "cancel it now please"):
        assert "is cancelled" not in chat.say(attempt)
    assert crm.get(f"/customers/{customer.id}/orders/{order}").json()["status"] not in ("cancelled",)


def _mails_to(stack, addresses: list[str]) -> int:
    return sum(len(httpx.get(f"{stack.crm_url}/dev/outbox", params={"to": a}, timeout=10).json()) for a in addresses)


def _customer_with_a_delivered_order(stack, total_pence: int) -> tuple[int, str, str]:
    """A customer of this test alone with one order delivered two days ago: (customer id, e-mail, order number)."""
    engine = make_engine(Settings(database_url=stack.database_url))  # the stack's CRM keys (env / .env)
    try:
        with Session(engine) as session:
            tag = uuid.uuid4().hex[:8]
            customer = make_customer(session, email=f"split-{tag}@example.com", last_name="Splitter")
            order = make_order(
                session,
                customer,
                status="delivered",
                total_pence=total_pence,
                order_number=str(7_000_000 + int(tag, 16) % 999_999),
            )
            session.commit()
            return int(customer.id), str(customer.email), str(order.order_number)
    finally:
        engine.dispose()


def _cancellable(crm: httpx.Client, population):
    for cid in CANDIDATES:
        person = population(cid)
        for order in person.orders:
            if crm.get(f"/customers/{cid}/orders/{order['order_number']}/cancellation").json().get("cancellable"):
                return person, order["order_number"]
    raise AssertionError("the seeded population has no cancellable order")
