"""The automatic-approval limits apply to totals: the order's refunds, and the customer's over the last 30 days."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from crm_backend.db import Order, Refund
from crm_backend.policies import Policies
from crm_backend.services import refunds
from crm_backend.util import utcnow
from tests.factories import grant_headers, make_customer, make_order, make_refund


def ask(order: Order, amount: float, *, session: Session, policies: Policies) -> Refund:
    return refunds.create_refund(order, session=session, policies=policies, amount=amount, reason="x", actor="t")


def headroom(order: Order, policies: Policies) -> float:
    return refunds.refund_quote(order, policies=policies).auto_approve_limit_pence / 100


def test_policy_values(policies: Policies) -> None:
    assert policies.refunds.auto_approve_limit_pence == 10000
    assert policies.refunds.auto_approve_customer_30d_pence == 25000
    text = policies.rendered_topics()["refund_policy"]["text"]
    assert "£100.00 for one order and £250.00 across your orders in any 30 days" in text


def test_split_refunds_reach_review_when_the_order_total_crosses(session: Session, policies: Policies) -> None:
    order = make_order(session, make_customer(session), status="delivered", total_pence=14900)
    assert headroom(order, policies) == 100.0
    first = ask(order, 48.85, session=session, policies=policies)
    assert headroom(order, policies) == 51.15
    second = ask(order, 48.85, session=session, policies=policies)
    assert headroom(order, policies) == 2.30
    third = ask(order, 48.85, session=session, policies=policies)
    assert [r.status for r in (first, second, third)] == ["approved", "approved", "pending_review"]
    assert third.expected_by > second.expected_by  # the review's working days, as for one large refund
    assert headroom(order, policies) == 0.0


def test_one_refund_up_to_the_limit_is_still_approved(session: Session, policies: Policies) -> None:
    order = make_order(session, make_customer(session), status="delivered", total_pence=14900)
    assert ask(order, 100.00, session=session, policies=policies).status == "approved"
    assert ask(order, 0.01, session=session, policies=policies).status == "pending_review"


def test_pending_refunds_count_towards_the_order_total(session: Session, policies: Policies) -> None:
    order = make_order(session, make_customer(session), status="delivered", total_pence=14900)
    make_refund(session, order, amount_pence=9000, status="pending_review")
    assert headroom(order, policies) == 10.0
    assert ask(order, 20.00, session=session, policies=policies).status == "pending_review"


def test_rejected_refunds_count_towards_the_limits_but_not_the_refundable_amount(
    session: Session, policies: Policies
) -> None:
    """A claim a reviewer turned down must not come back approved at once in smaller pieces."""
    order = make_order(session, make_customer(session), status="delivered", total_pence=14900)
    make_refund(session, order, amount_pence=14655, status="rejected")
    quote = refunds.refund_quote(order, policies=policies)
    assert quote.max_pence == 14900 and quote.auto_approve_limit_pence == 0
    assert ask(order, 48.85, session=session, policies=policies).status == "pending_review"


def test_customer_total_over_30_days_across_orders(session: Session, policies: Policies) -> None:
    customer = make_customer(session)
    orders = [make_order(session, customer, status="delivered", total_pence=9900) for _ in range(4)]
    made = [ask(order, 90.00, session=session, policies=policies) for order in orders[:2]]
    assert [r.status for r in made] == ["approved", "approved"]
    assert headroom(orders[2], policies) == 70.0  # £250 - £180, below the order's own £100
    assert ask(orders[2], 80.00, session=session, policies=policies).status == "pending_review"  # £260
    assert headroom(orders[3], policies) == 0.0  # the one in review counts too
    assert ask(orders[3], 5.00, session=session, policies=policies).status == "pending_review"
    other = make_order(session, make_customer(session), status="delivered", total_pence=9900)
    assert ask(other, 90.00, session=session, policies=policies).status == "approved"  # another customer's total


def test_refunds_older_than_30_days_do_not_count(session: Session, policies: Policies) -> None:
    customer = make_customer(session)
    old = make_order(
        session, customer, status="delivered", total_pence=30000, placed_days_ago=60, delivered_days_ago=58
    )
    for days_ago in (31, 45):
        refund = make_refund(session, old, amount_pence=9900, status="approved")
        refund.created_at = utcnow() - timedelta(days=days_ago)
    recent = make_refund(session, old, amount_pence=5000, status="approved")
    recent.created_at = utcnow() - timedelta(days=29)
    session.flush()
    order = make_order(session, customer, status="delivered", total_pence=25000)
    assert headroom(order, policies) == 100.0  # £250 - £50: the order's £100 is the smaller room
    assert ask(order, 100.00, session=session, policies=policies).status == "approved"


def test_refunds_of_cancelled_orders_do_not_count(session: Session, policies: Policies) -> None:
    customer = make_customer(session)
    cancelled = make_order(session, customer, status="cancelled", total_pence=30000)
    make_refund(session, cancelled, amount_pence=30000, status="approved")
    order = make_order(session, customer, status="delivered", total_pence=9000)
    assert ask(order, 90.00, session=session, policies=policies).status == "approved"


def test_over_http_the_quote_shows_the_room_left_and_the_crossing_refund_goes_to_review(
    client: TestClient, headers: dict[str, str]
) -> None:
    """Alice (customer 1) splits a refund of her £149 order 10003 into three; the bot's quote follows the total."""
    order = "/api/v1/customers/1/orders/10003"
    read = {**headers, **grant_headers(1)}
    limits, statuses = [], []
    for n in range(3):
        quote = client.get(f"{order}/refund-eligibility", headers=read)
        assert quote.status_code == 200, quote.text
        limits.append(quote.json()["auto_approve_limit"])
        write = {**read, "Idempotency-Key": f"split-{n}", "X-Actor": "test"}
        created = client.post(f"{order}/refunds", json={"amount": 48.85, "reason": "split"}, headers=write)
        assert created.status_code == 201, created.text
        statuses.append(created.json()["status"])
    assert limits == [100.0, 51.15, 2.3]
    assert statuses == ["approved", "approved", "pending_review"]
    assert client.get(f"{order}/refund-eligibility", headers=read).json()["auto_approve_limit"] == 0.0
