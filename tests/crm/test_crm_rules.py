"""Business rules in the services layer, one test per rule and error code."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_backend.db import AuditLog, Refund
from crm_backend.errors import DomainError
from crm_backend.policies import Policies, parse_policies
from crm_backend.services import customers, invoices, orders, refunds, tickets
from crm_backend.services.agents import create_agent, verify_password
from crm_backend.util import normalise_postcode, pounds_to_pence
from tests.factories import make_customer, make_order, make_refund


def raises(code: str, fn: Callable[[], object]) -> DomainError:
    with pytest.raises(DomainError) as info:
        fn()
    assert info.value.code == code, info.value
    return info.value


def test_util_money_and_postcode() -> None:
    assert pounds_to_pence(49.9) == 4990 and pounds_to_pence("0.1") == 10
    assert pounds_to_pence(1.234) is None and pounds_to_pence("x") is None
    assert normalise_postcode("sw1a1aa") == "SW1A 1AA" and normalise_postcode("M1 1AE") == "M1 1AE"
    assert normalise_postcode("12345") is None


def test_policies_validate(policies: Policies) -> None:
    assert policies.refunds.window_days == 30 and policies.refunds.auto_approve_limit_pence == 10000
    assert policies.cancellation.fee_pence("packed") == 495 and policies.cancellation.fee_pence("paid") == 0
    assert "30 days" in policies.rendered_topics()["refund_policy"]["text"]
    with pytest.raises(ValueError):
        parse_policies("refunds: {}\n")


def test_verify_identity_by_email_and_postcode(session: Session) -> None:
    customer = make_customer(session, email="jo@example.com", postcode="M1 1AE")
    order = make_order(session, customer)
    found, by = customers.verify_identity(
        session=session, order_number=f" #{order.order_number}", email=" JO@Example.com "
    )
    assert (found.id, by) == (customer.id, "email")
    found, by = customers.verify_identity(session=session, order_number=order.order_number, postcode="m11ae")
    assert (found.id, by) == (customer.id, "postcode")


def test_verify_identity_unknown_and_mismatch_look_the_same(session: Session) -> None:
    order = make_order(session, make_customer(session, email="jo@example.com"))
    wrong = raises(
        "verification_failed",
        lambda: customers.verify_identity(session=session, order_number=order.order_number, email="other@example.com"),
    )
    unknown = raises(
        "verification_failed",
        lambda: customers.verify_identity(session=session, order_number="424242", email="jo@example.com"),
    )
    assert (wrong.status, wrong.message) == (unknown.status, unknown.message) == (401, unknown.message)


def test_other_customers_order_is_not_found(session: Session) -> None:
    order = make_order(session, make_customer(session))
    other = make_customer(session)
    raises("order_not_found", lambda: orders.get_order(other.id, order.order_number, session=session))


@pytest.mark.parametrize("status,fee", [("pending", 0), ("paid", 0), ("packed", 495)])
def test_cancellation_fee_by_status(session: Session, policies: Policies, status: str, fee: int) -> None:
    order = make_order(session, make_customer(session), status=status, total_pence=5000)
    quote = orders.quote_cancellation(order, policies=policies)
    assert quote.cancellable and quote.fee_pence == (fee if status != "pending" else 0)
    assert quote.refund_pence == (0 if status == "pending" else 5000 - fee)


@pytest.mark.parametrize(
    "status,code",
    [
        ("shipped", "order_already_shipped"),
        ("delivered", "order_already_shipped"),
        ("returned", "order_already_shipped"),
        ("cancelled", "order_already_cancelled"),
    ],
)
def test_cancel_refused(session: Session, policies: Policies, status: str, code: str) -> None:
    order = make_order(session, make_customer(session), status=status)
    error = raises(code, lambda: orders.cancel_order(order, session=session, policies=policies, reason="x", actor="t"))
    assert error.status == 409


def test_cancel_paid_order_refunds_minus_fee_and_audits(session: Session, policies: Policies) -> None:
    order = make_order(session, make_customer(session), status="packed", total_pence=6490, method="paypal")
    quote = orders.cancel_order(
        order, session=session, policies=policies, reason="too slow", actor="bot", idempotency_key="k1"
    )
    assert order.status == "cancelled" and quote.refund_pence == 5995
    assert "£59.95" in quote.payment_outcome and "PayPal" in quote.payment_outcome
    refund = session.execute(select(Refund).where(Refund.order_id == order.id)).scalar_one()
    assert refund.status == "approved" and refund.amount_pence == 5995 and refund.reference.startswith("RF-")
    actions = {row.action for row in session.execute(select(AuditLog)).scalars()}
    assert actions == {"order.cancel", "refund.create"}


def test_cancel_unpaid_order_charges_nothing(session: Session, policies: Policies) -> None:
    order = make_order(session, make_customer(session), status="pending")
    quote = orders.cancel_order(order, session=session, policies=policies, reason="x", actor="bot")
    assert quote.refund_pence == 0 and "haven't been charged" in quote.payment_outcome
    assert order.payment.status == "voided" and not order.refunds


def test_refund_rules(session: Session, policies: Policies) -> None:
    customer = make_customer(session)
    paid = make_order(session, customer, status="paid")
    raises(
        "refund_not_eligible_status",
        lambda: refunds.create_refund(paid, session=session, policies=policies, amount=1, reason="x", actor="t"),
    )
    old = make_order(session, customer, status="delivered", placed_days_ago=70, delivered_days_ago=60)
    error = raises(
        "refund_window_expired",
        lambda: refunds.create_refund(old, session=session, policies=policies, amount=1, reason="x", actor="t"),
    )
    assert error.status == 409
    order = make_order(session, customer, status="delivered", total_pence=14900, delivered_days_ago=5)
    for amount in (0, -5, 1.234):
        raises(
            "invalid_amount",
            lambda amount=amount: refunds.create_refund(
                order, session=session, policies=policies, amount=amount, reason="x", actor="t"
            ),
        )
    too_high = raises(
        "refund_amount_too_high",
        lambda: refunds.create_refund(order, session=session, policies=policies, amount=149.01, reason="x", actor="t"),
    )
    assert too_high.status == 422 and too_high.details["max_amount"] == 149.0


def test_refund_auto_approve_and_review(session: Session, policies: Policies) -> None:
    order = make_order(session, make_customer(session), status="delivered", total_pence=14900)
    small = refunds.create_refund(order, session=session, policies=policies, amount=100.00, reason="scratch", actor="t")
    assert small.status == "approved"
    rest = refunds.create_refund(order, session=session, policies=policies, amount=49.00, reason="x", actor="t")
    assert rest.status == "pending_review"  # the order's refunds now add up to £149, over the £100 limit
    raises(
        "nothing_left_to_refund",
        lambda: refunds.create_refund(order, session=session, policies=policies, amount=1, reason="x", actor="t"),
    )
    other = make_order(session, make_customer(session), status="returned", total_pence=14900)
    review = refunds.create_refund(other, session=session, policies=policies, amount=100.01, reason="x", actor="t")
    assert review.status == "pending_review" and review.expected_by > small.expected_by


def test_rejected_refunds_do_not_count(session: Session, policies: Policies) -> None:
    order = make_order(session, make_customer(session), status="delivered", total_pence=3000)
    make_refund(session, order, amount_pence=3000, status="rejected")
    assert refunds.refund_quote(order, policies=policies).max_pence == 3000


def test_refund_and_invoice_ownership(session: Session) -> None:
    customer, other = make_customer(session), make_customer(session)
    order = make_order(session, customer, status="delivered")
    refund = make_refund(session, order, amount_pence=100)
    assert refunds.get_refund(customer.id, refund.reference.lower(), session=session).id == refund.id
    raises("refund_not_found", lambda: refunds.get_refund(other.id, refund.reference, session=session))
    assert invoices.get_invoice(customer.id, f"INV-{order.order_number}", session=session)
    raises("invoice_not_found", lambda: invoices.get_invoice(other.id, f"INV-{order.order_number}", session=session))


@pytest.mark.parametrize("status,code", [("shipped", "order_already_shipped"), ("cancelled", "order_not_editable")])
def test_address_change_refused(session: Session, policies: Policies, status: str, code: str) -> None:
    order = make_order(session, make_customer(session), status=status)
    raises(
        code,
        lambda: orders.change_shipping_address(
            order,
            session=session,
            policies=policies,
            line1="a",
            line2=None,
            city="b",
            postcode="M1 1AE",
            country="GB",
            actor="t",
        ),
    )


def test_address_change_audited(session: Session, policies: Policies) -> None:
    order = make_order(session, make_customer(session), status="packed")
    orders.change_shipping_address(
        order,
        session=session,
        policies=policies,
        line1="2 New Road",
        line2=None,
        city="Leeds",
        postcode="LS1 4AP",
        country="GB",
        actor="bot",
    )
    row = session.execute(select(AuditLog)).scalar_one()
    assert row.action == "order.change_address" and row.after["shipping_address"]["city"] == "Leeds"
    assert row.before["shipping_address"]["city"] == "London"


def test_ticket_and_agent(session: Session) -> None:
    customer = make_customer(session)
    ticket = tickets.create_ticket(
        session=session,
        customer_id=customer.id,
        conversation_id="c",
        channel="web",
        topic="complaint",
        summary="late",
        actor="bot",
    )
    assert ticket.reference.startswith("TK-") and len(ticket.reference) == 9
    raises(
        "customer_not_found",
        lambda: tickets.create_ticket(
            session=session, customer_id=9999, conversation_id="c", channel="web", topic="x", summary="y", actor="t"
        ),
    )
    agent = create_agent(session=session, username="sam", password="longenough", role="supervisor")
    assert verify_password("longenough", agent.password_hash) and not verify_password("nope", agent.password_hash)
    raises("agent_exists", lambda: create_agent(session=session, username="sam", password="longenough"))
