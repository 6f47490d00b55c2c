"""Identity grants through the real app: every customer-scoped route checks one, the proofs that earn one, the limits
that stop a sweep, one-time codes, shop logins, escalations naming a customer, the secrets' settings and migration 0004.

The app's mailer is replaced by ``Outbox``, which stands in for the SMTP server (the SMTP mailer has its own tests).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select, text, update
from sqlalchemy.engine import Engine

from crm_backend.app import create_app
from crm_backend.cli import main
from crm_backend.db import AuditLog, IdempotencyKey, OneTimeCode, Order, Refund, make_engine, new_session
from crm_backend.migrate import alembic_config
from crm_backend.services.grants import GrantPolicy
from crm_backend.settings import (
    DEFAULT_API_KEY,
    DEFAULT_DATA_KEY,
    DEFAULT_GRANT_SECRET,
    DEFAULT_LOOKUP_KEY,
    DEFAULT_RASA_TOKEN,
    DEFAULT_SHOP_LOGIN_SECRET,
    Settings,
)
from crm_backend.util import utcnow
from tests.crm.conftest import API_KEY
from tests.factories import make_customer, make_order

ALICE, BEN = 1, 2
ALICE_EMAIL, BEN_EMAIL = "alice.martin@example.com", "ben.okafor@example.com"
CONVERSATION, CHANNEL = "conv-granted", "rest"
API = {"X-API-Key": API_KEY}
VERIFY = "/api/v1/identity/verify"
SEND_CODE = "/api/v1/identity/one-time-code"
REDEEM_CODE = "/api/v1/identity/one-time-code/verify"
SHOP_LOGIN = "/api/v1/identity/shop-login"
ADDRESS = {"line1": "2 New Road", "city": "Leeds", "postcode": "LS1 4AP", "country": "GB"}


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str


class Outbox:
    """The app's mailer in these tests: records what would have gone to the SMTP server."""

    def __init__(self) -> None:
        self.sent: list[Mail] = []

    def send(self, to: str, subject: str, text: str) -> None:
        self.sent.append(Mail(to, subject, text))

    def last_code(self) -> str:
        match = re.search(r"verification code is (\S+)\.", self.sent[-1].text)
        assert match, self.sent[-1].text
        return match.group(1)


@pytest.fixture
def outbox(client: TestClient) -> Outbox:
    outbox = Outbox()
    client.app.state.mailer = outbox  # type: ignore[attr-defined]
    return outbox


@pytest.fixture
def policy(settings: Settings) -> GrantPolicy:
    """The CRM's own grant policy (same secret and periods as the app under test)."""
    return GrantPolicy.from_settings(settings)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and isinstance(body["message"], str) and isinstance(body["details"], dict)
    return body


def issue(
    policy: GrantPolicy,
    customer_id: int = ALICE,
    *,
    conversation_id: str = CONVERSATION,
    channel: str = CHANNEL,
    strength: str = "one_time_code",
    **kwargs: Any,
) -> str:
    token, _ = policy.issue(
        customer_id=customer_id, conversation_id=conversation_id, channel=channel, strength=strength, **kwargs
    )
    return token


def call(token: str | None, *, conversation_id: str = CONVERSATION, channel: str = CHANNEL) -> dict[str, str]:
    """Headers of a customer-scoped call from ``conversation_id`` on ``channel`` carrying ``token``."""
    headers = {**API, "X-Conversation-Id": conversation_id, "X-Channel": channel}
    return headers if token is None else {**headers, "X-Identity-Grant": token}


def altered(token: str) -> str:
    """The token with one character of its payload changed."""
    header, payload, signature = token.split(".")
    i = len(payload) // 2
    changed = payload[:i] + ("A" if payload[i] != "A" else "B") + payload[i + 1 :]
    return f"{header}.{changed}.{signature}"


# --- every customer-scoped route checks the grant


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    url: str
    body: dict[str, Any] | None

    @property
    def write(self) -> bool:
        return self.method != "GET"

    def send(self, client: TestClient, headers: dict[str, str], key: str) -> httpx.Response:
        if self.write:
            headers = {**headers, "Idempotency-Key": key, "X-Actor": "test"}
        return client.request(self.method, self.url, headers=headers, json=self.body)


# Alice's (customer 1) order each write succeeds on, and its body; reads look at delivered order 10003
WRITES: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("POST", "/orders/{order_number}/cancel"): ("10004", {"reason": "changed my mind"}),
    ("POST", "/orders/{order_number}/refunds"): ("10008", {"amount": 5, "reason": "scratched"}),
    ("PUT", "/orders/{order_number}/shipping-address"): ("10002", ADDRESS),
    ("POST", "/data-requests"): ("10003", {"kind": "export"}),
}
CREATED = {"refunds", "data-requests"}  # the writes that answer 201 when they create


def customer_operations(client: TestClient, engine: Engine) -> list[Operation]:
    """Every operation of the OpenAPI spec on a path under /customers/{customer_id}, with Alice's ids filled in."""
    with new_session(engine) as session:
        reference = session.execute(
            select(Refund.reference).join(Order).where(Order.order_number == "10007")
        ).scalar_one()
    spec = client.get("/openapi.json").json()
    operations = []
    for template, methods in spec["paths"].items():
        if "/customers/{customer_id}" not in template:
            continue
        for method in methods:
            method = method.upper()
            suffix = template.split("/customers/{customer_id}", 1)[1]
            order_number, body = WRITES.get((method, suffix), ("10003", None))
            url = template.format(
                customer_id=ALICE, order_number=order_number, reference=reference, invoice_number="INV-10003"
            )
            operations.append(Operation(method, template, url, body))
    writes = {(op.method, op.template.split("/customers/{customer_id}", 1)[1]) for op in operations if op.write}
    assert writes == set(WRITES), "a customer-scoped write the tests do not know: add it to WRITES"
    return operations


def test_every_customer_scoped_operation_needs_this_conversations_grant(
    client: TestClient, engine: Engine, policy: GrantPolicy
) -> None:
    operations = customer_operations(client, engine)
    assert len(operations) >= 14
    past = time.time() - 3600
    refused = {
        "no grant": (call(None), 401, "grant_required"),
        "no grant, no conversation": (API, 401, "grant_required"),
        "another secret": (call(issue(GrantPolicy("x" * 32, policy.idle, policy.absolute))), 401, "grant_invalid"),
        "altered payload": (call(altered(issue(policy))), 401, "grant_invalid"),
        "expired": (call(issue(policy, now=past)), 401, "grant_expired"),
        "another customer": (call(issue(policy, BEN)), 403, "grant_other_customer"),
        "another conversation": (call(issue(policy, conversation_id="conv-other")), 403, "grant_other_conversation"),
        "another channel": (call(issue(policy, channel="telegram")), 403, "grant_other_conversation"),
        "conversation headers missing": (
            {**API, "X-Identity-Grant": issue(policy)},
            403,
            "grant_other_conversation",
        ),
    }
    for op in operations:
        for case, (headers, status, code) in refused.items():
            response = op.send(client, headers, key=f"{op.url}:{case}")
            assert response.status_code == status, (op.method, op.url, case, response.text)
            assert response.json()["code"] == code, (op.method, op.url, case)
            assert "x-identity-grant" not in response.headers
        minute_old = issue(policy, now=time.time() - 61)  # due for a refresh
        good = op.send(client, call(minute_old), key=f"{op.url}:good")
        expected = 201 if op.method == "POST" and op.url.rsplit("/", 1)[-1] in CREATED else 200
        assert good.status_code == expected, (op.method, op.url, good.text)
        assert good.headers["x-identity-grant"]
    with new_session(engine) as session:  # only the four granted writes changed anything
        changes = Counter(session.execute(select(AuditLog.action)).scalars())
        keys = session.execute(select(func.count(IdempotencyKey.id))).scalar_one()
    expected_changes = {
        "order.cancel": 1,
        "refund.create": 2,
        "order.change_address": 1,
        "data_request.export.create": 1,
    }
    assert changes == expected_changes and keys == 4


# for each write: Alice's order a one-time-code grant changes, and the one a shop-login grant changes
STRONG_TARGETS = {
    "cancel": ("10004", "10005"),
    "refunds": ("10008", "10003"),
    "shipping-address": ("10002", "10004"),
    "data-requests": ("", ""),  # not an order's: the second answers with the pending request the first created
}


@pytest.mark.parametrize(("method", "suffix"), sorted(WRITES))
def test_writes_need_a_strong_proof(client: TestClient, policy: GrantPolicy, method: str, suffix: str) -> None:
    body = WRITES[(method, suffix)][1]
    by_code, by_shop_login = STRONG_TARGETS[suffix.rsplit("/", 1)[-1]]

    def send(order_number: str, strength: str) -> httpx.Response:
        url = f"/api/v1/customers/{ALICE}" + suffix.format(order_number=order_number)
        headers = {**call(issue(policy, strength=strength)), "Idempotency-Key": f"{strength}-{order_number}"}
        return client.request(method, url, headers=headers, json=body)

    for weak in ("postcode", "email"):
        assert_error(send(by_code, weak), 403, "stronger_proof_required")
    for order_number, strong in ((by_code, "one_time_code"), (by_shop_login, "shop_login")):
        response = send(order_number, strong)
        created = suffix.endswith("refunds") or (suffix.endswith("data-requests") and strong == "one_time_code")
        assert response.status_code == (201 if created else 200), (strong, response.text)
    # a weak grant still reads
    assert client.get(f"/api/v1/customers/{ALICE}", headers=call(issue(policy, strength="postcode"))).status_code == 200


def test_a_call_refreshes_the_grant_within_the_absolute_limit(
    client: TestClient, policy: GrantPolicy, settings: Settings
) -> None:
    now = time.time()
    token, original = policy.issue(
        customer_id=ALICE, conversation_id=CONVERSATION, channel=CHANNEL, strength="email", now=now - 600
    )
    response = client.get(f"/api/v1/customers/{ALICE}/orders", headers=call(token))
    assert response.status_code == 200
    refreshed = policy.read(response.headers["x-identity-grant"])
    assert refreshed.expires_at > original.expires_at
    same = ("customer_id", "conversation_id", "channel", "strength", "auth_time")
    assert [getattr(refreshed, f) for f in same] == [getattr(original, f) for f in same]

    absolute = settings.grant_absolute_hours * 3600
    auth_time = int(now) - absolute + 120  # proven almost grant_absolute_hours ago
    token = issue(policy, strength="email", auth_time=auth_time, now=now - 60)
    for _ in range(3):  # each refresh (due once a minute) keeps the limit where it was
        response = client.get(f"/api/v1/customers/{ALICE}", headers=call(token))
        assert response.status_code == 200
        grant = policy.read(response.headers["x-identity-grant"])
        assert grant.auth_time == auth_time and grant.expires_at == auth_time + absolute
        token = issue(policy, strength="email", auth_time=auth_time, now=now - 61)
    fresh = issue(policy, strength="email")  # issued this minute: used as it is, no new token
    answer = client.get(f"/api/v1/customers/{ALICE}", headers=call(fresh))
    assert answer.status_code == 200 and "x-identity-grant" not in answer.headers
    stale = issue(policy, strength="email", auth_time=int(now) - absolute - 10, now=now - 5)
    assert_error(client.get(f"/api/v1/customers/{ALICE}", headers=call(stale)), 401, "grant_expired")

    missing = client.get(f"/api/v1/customers/{ALICE}/orders/555", headers=call(issue(policy)))
    assert missing.status_code == 404 and "x-identity-grant" not in missing.headers


# --- the limits on failed identity checks


def verify(client: TestClient, order_number: str, conversation_id: str, **proof: str) -> httpx.Response:
    body = {"order_number": order_number, "conversation_id": conversation_id, "channel": CHANNEL, **proof}
    return client.post(VERIFY, headers=API, json=body)


def send_code(
    client: TestClient, conversation_id: str, *, order_number: str | None = "10001", grant: str | None = None
) -> httpx.Response:
    headers = {**API, "X-Identity-Grant": grant} if grant else API
    body: dict[str, Any] = {"conversation_id": conversation_id, "channel": CHANNEL}
    if order_number is not None:
        body["order_number"] = order_number
    return client.post(SEND_CODE, headers=headers, json=body)


def redeem(client: TestClient, code: str, conversation_id: str, channel: str = CHANNEL) -> httpx.Response:
    return client.post(
        REDEEM_CODE, headers=API, json={"code": code, "conversation_id": conversation_id, "channel": channel}
    )


def outcome(response: httpx.Response) -> tuple[int, str, str | None]:
    body = response.json()
    return response.status_code, body.get("code", "ok"), (body.get("details") or {}).get("scope")


def test_a_sweep_of_one_email_over_many_orders_is_stopped_and_the_owner_gets_in_by_code(
    client: TestClient, engine: Engine, outbox: Outbox, policy: GrantPolicy
) -> None:
    with new_session(engine) as session:
        others = [make_order(session, make_customer(session)) for _ in range(40)]
        other_orders = [order.order_number for order in others]
        other_emails = {order.customer.email for order in others}
        session.commit()
    outcomes = [
        outcome(verify(client, number, f"sweep-{i}", email=ALICE_EMAIL)) for i, number in enumerate(other_orders)
    ]
    stopped = outcomes.index((429, "too_many_attempts", "proof"))
    assert stopped <= 5
    assert outcomes[:stopped] == [(401, "verification_failed", None)] * stopped
    assert outcomes[stopped:] == [(429, "too_many_attempts", "proof")] * (40 - stopped)

    own = assert_error(verify(client, "10001", "victim", email=ALICE_EMAIL), 429, "too_many_attempts")
    assert own["details"]["scope"] == "proof" and own["details"]["one_time_code"] is True

    sent = send_code(client, "victim", order_number="10001")
    assert sent.status_code == 202 and sent.json()["sent_to"] is None
    assert [mail.to for mail in outbox.sent] == [ALICE_EMAIL]
    redeemed = redeem(client, outbox.last_code(), "victim")
    assert redeemed.status_code == 200, redeemed.text
    assert redeemed.json()["verified_by"] == "one_time_code" and redeemed.json()["customer_id"] == ALICE
    grant = policy.read(redeemed.json()["grant"])
    assert (grant.customer_id, grant.conversation_id, grant.strength) == (ALICE, "victim", "one_time_code")
    assert not other_emails & {mail.to for mail in outbox.sent}

    with new_session(engine) as session:
        audit = list(session.execute(select(AuditLog)).scalars())
    failed = [row for row in audit if row.action == "identity_verify_failed"]
    assert len(failed) == 3 * stopped  # order, proof and sender of each refused guess
    assert {row.entity for row in failed} == {"order", "proof", "sender"}
    assert len({row.entity_id for row in failed if row.entity == "proof"}) == 1  # one e-mail, one keyed hash
    for row in audit:
        assert "@" not in row.entity_id and "alice" not in row.entity_id.lower(), row.entity_id
        assert ALICE_EMAIL not in json.dumps([row.before, row.after])


def test_one_sender_is_stopped_and_others_are_not(client: TestClient, settings: Settings) -> None:
    limit = settings.verify_max_failures_per_sender
    outcomes = [
        outcome(verify(client, f"9{i:05d}", "conv-guesser", email=f"guess{i}@example.com")) for i in range(limit + 1)
    ]
    assert outcomes == [(401, "verification_failed", None)] * limit + [(429, "too_many_attempts", "sender")]
    right = verify(client, "10001", "conv-guesser", email=ALICE_EMAIL)  # correct details, same sender: refused too
    assert outcome(right) == (429, "too_many_attempts", "sender")
    other_channel = client.post(
        VERIFY,
        headers=API,
        json={"order_number": "10001", "email": ALICE_EMAIL, "conversation_id": "conv-guesser", "channel": "telegram"},
    )
    assert other_channel.status_code == 200, other_channel.text
    assert verify(client, "10001", "conv-someone-else", email=ALICE_EMAIL).status_code == 200


def test_one_client_address_is_stopped_and_others_are_not(client: TestClient, settings: Settings) -> None:
    limit = settings.verify_max_failures_per_client

    def attempt(i: int, address: str, order_number: str, email: str) -> httpx.Response:
        body = {"order_number": order_number, "email": email, "conversation_id": f"conv-{address}-{i}",
                "channel": CHANNEL, "client_address": address}  # fmt: skip
        return client.post(VERIFY, headers=API, json=body)

    outcomes = [outcome(attempt(i, "203.0.113.7", f"8{i:05d}", f"guess{i}@example.com")) for i in range(limit + 1)]
    assert outcomes == [(401, "verification_failed", None)] * limit + [(429, "too_many_attempts", "client")]
    assert outcome(attempt(99, "203.0.113.7", "10001", ALICE_EMAIL)) == (429, "too_many_attempts", "client")
    assert attempt(99, "198.51.100.2", "10001", ALICE_EMAIL).status_code == 200


@pytest.fixture
def alerting_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """A client of the app whose global failure budget is 3 failures."""
    with TestClient(create_app(settings.copy(update={"verify_global_alert_failures": 3}))) as client:
        yield client


def test_the_global_failure_budget_raises_one_alert_per_window(
    alerting_client: TestClient, engine: Engine, settings: Settings
) -> None:
    client = alerting_client

    def fail(i: int) -> None:
        assert verify(client, f"7{i:05d}", f"conv-alert-{i}", email=f"guess{i}@example.com").status_code == 401

    def alerts() -> list[AuditLog]:
        with new_session(engine) as session:
            query = select(AuditLog).where(AuditLog.action == "security_alert").order_by(AuditLog.id)
            return list(session.execute(query).scalars())

    fail(0)
    fail(1)
    assert alerts() == []
    fail(2)
    (alert,) = alerts()
    assert (alert.actor, alert.entity, alert.entity_id) == ("crm", "verification", "failure_budget")
    assert alert.after == {"failures": 3, "window_minutes": settings.verify_lock_minutes}
    for i in range(3, 10):
        fail(i)
    assert len(alerts()) == 1
    with new_session(engine) as session:  # that alert's window has passed; the failures have not
        earlier = utcnow() - timedelta(minutes=settings.verify_lock_minutes + 1)
        session.execute(update(AuditLog).where(AuditLog.id == alert.id).values(at=earlier))
        session.commit()
    fail(10)
    fail(11)
    assert len(alerts()) == 2


# --- one-time codes


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_code_is_six_digits_sent_to_the_granted_customer_and_stored_as_an_hmac(
    client: TestClient, engine: Engine, outbox: Outbox, policy: GrantPolicy, settings: Settings
) -> None:
    grant = issue(policy, strength="email")
    # with a grant the code goes to the granted customer, whatever order number the body names
    sent = send_code(client, CONVERSATION, order_number="10011", grant=grant)
    assert sent.status_code == 202
    assert sent.json() == {
        "sent": True,
        "sent_to": "a•••@example.com",
        "expires_in_seconds": 60 * settings.otp_ttl_minutes,
    }
    (mail,) = outbox.sent
    code = outbox.last_code()
    assert mail.to == ALICE_EMAIL and re.fullmatch(r"\d{6}", code)
    with new_session(engine) as session:
        row = session.execute(select(OneTimeCode)).scalar_one()
        stored = session.execute(text("SELECT * FROM one_time_codes")).one()
    assert all(code not in str(value) for value in stored)
    expected = hmac.new(settings.grant_secret.encode(), f"{row.id}:{code}".encode(), hashlib.sha256).hexdigest()
    assert row.code_hash == expected and row.customer_id == ALICE
    other_conversation = send_code(client, "conv-other", grant=grant)
    assert_error(other_conversation, 403, "grant_other_conversation")
    assert len(outbox.sent) == 1


def test_without_a_grant_the_answer_reveals_nothing(client: TestClient, outbox: Outbox) -> None:
    known = send_code(client, "conv-a", order_number="10011")
    unknown = send_code(client, "conv-b", order_number="99999")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json() and known.json()["sent_to"] is None
    assert [mail.to for mail in outbox.sent] == [BEN_EMAIL]
    assert_error(send_code(client, "conv-c", order_number=None), 422, "invalid_request")


def test_three_wrong_codes_kill_it(client: TestClient, outbox: Outbox) -> None:
    assert send_code(client, "conv-otp").status_code == 202
    code = outbox.last_code()
    wrong = other_code(code)
    assert assert_error(redeem(client, wrong, "conv-otp"), 401, "code_mismatch")["details"]["attempts_left"] == 2
    assert assert_error(redeem(client, wrong, "conv-otp"), 401, "code_mismatch")["details"]["attempts_left"] == 1
    assert_error(redeem(client, wrong, "conv-otp"), 401, "code_expired")
    assert_error(redeem(client, code, "conv-otp"), 401, "code_expired")


def test_a_code_works_once_and_only_in_its_conversation(client: TestClient, outbox: Outbox) -> None:
    send_code(client, "conv-otp")
    code = outbox.last_code()
    assert_error(redeem(client, code, "conv-elsewhere"), 401, "code_expired")
    assert_error(redeem(client, code, "conv-otp", channel="telegram"), 401, "code_expired")
    used = redeem(client, code, "conv-otp")
    assert used.status_code == 200 and used.json()["verified_by"] == "one_time_code"
    assert_error(redeem(client, code, "conv-otp"), 401, "code_expired")


def test_an_expired_code_is_refused(client: TestClient, engine: Engine, outbox: Outbox) -> None:
    send_code(client, "conv-otp")
    with new_session(engine) as session:
        session.execute(update(OneTimeCode).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert_error(redeem(client, outbox.last_code(), "conv-otp"), 401, "code_expired")


def test_codes_per_customer_and_hour_are_limited(
    client: TestClient, outbox: Outbox, policy: GrantPolicy, settings: Settings
) -> None:
    limit = settings.otp_max_per_customer_hour
    for i in range(limit):
        assert send_code(client, f"conv-{i}").status_code == 202
    # without a grant the limit answers like an unknown order (202, nothing sent): no oracle for which orders exist
    more = send_code(client, "conv-more")
    unknown = send_code(client, "conv-unknown", order_number="99999")
    assert (more.status_code, more.json()) == (unknown.status_code, unknown.json()) == (202, more.json())
    granted = send_code(client, CONVERSATION, order_number=None, grant=issue(policy, strength="email"))
    assert_error(granted, 429, "too_many_codes")  # whoever asks
    assert [mail.to for mail in outbox.sent] == [ALICE_EMAIL] * limit


# --- shop login


def shop_token(claims: dict[str, Any], secret: str) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


def unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def test_shop_login(client: TestClient, settings: Settings, policy: GrantPolicy) -> None:
    now = int(time.time())
    secret = settings.shop_login_secret

    def login(token: str) -> httpx.Response:
        return client.post(
            SHOP_LOGIN, headers=API, json={"token": token, "conversation_id": CONVERSATION, "channel": CHANNEL}
        )

    good = login(shop_token({"email": ALICE_EMAIL, "exp": now + 600}, secret))
    assert good.status_code == 200, good.text
    assert good.json()["verified_by"] == "shop_login" and good.json()["customer_id"] == ALICE
    grant = policy.read(good.json()["grant"])
    assert (grant.customer_id, grant.conversation_id, grant.channel, grant.strength) == (
        ALICE, CONVERSATION, CHANNEL, "shop_login",
    )  # fmt: skip
    cancel = client.post(
        f"/api/v1/customers/{ALICE}/orders/10004/cancel",
        headers={**call(good.json()["grant"]), "Idempotency-Key": "shop-cancel"},
        json={"reason": "x"},
    )
    assert cancel.status_code == 200, cancel.text

    too_far = now + (settings.shop_login_max_lifetime_minutes + 5) * 60
    bad = {
        "wrong secret": shop_token({"email": ALICE_EMAIL, "exp": now + 600}, "another-shop-secret-0123456789abcdef"),
        "expired": shop_token({"email": ALICE_EMAIL, "exp": now - 60}, secret),
        "lives too long": shop_token({"email": ALICE_EMAIL, "exp": too_far}, secret),
        "unknown e-mail": shop_token({"email": "nobody@example.com", "exp": now + 600}, secret),
        "no e-mail": shop_token({"exp": now + 600}, secret),
        "alg none": unsigned({"email": ALICE_EMAIL, "exp": now + 600}),
    }
    for case, token in bad.items():
        response = login(token)
        assert response.status_code == 401 and response.json()["code"] == "shop_login_invalid", (case, response.text)


# --- escalations name a customer only with that customer's grant


def test_an_escalation_keeps_the_customer_only_with_their_grant(
    client: TestClient, policy: GrantPolicy, write_headers: Callable[[str], dict[str, str]]
) -> None:
    def escalate(conversation_id: str, grant: str | None) -> dict[str, Any]:
        body = {
            "conversation_id": conversation_id, "channel": CHANNEL, "customer_id": ALICE, "priority": 50,
            "reason_codes": ["explicit_request"], "summary": "Wants a person.", "packet": {"orders": ["10001"]},
            "identity_grant": grant,
        }  # fmt: skip
        created = client.post("/api/v1/escalations", json=body, headers=write_headers(f"esc-{conversation_id}"))
        assert created.status_code == 201, created.text
        return client.get(f"/api/v1/escalations/{created.json()['id']}", headers=API).json()

    forged = issue(GrantPolicy("f" * 32, policy.idle, policy.absolute), conversation_id="e-forged")
    unverified = {
        "e-none": None,
        "e-forged": forged,
        "e-altered": altered(issue(policy, conversation_id="e-altered")),
        "e-other-conversation": issue(policy, conversation_id="conv-other"),
    }
    for conversation_id, grant in unverified.items():
        detail = escalate(conversation_id, grant)
        assert detail["customer_id"] is None, conversation_id
        assert detail["packet"]["customer"] == {
            "claimed_customer_id": ALICE, "verified": False, "verified_by": None, "verified_at": None,
        }, conversation_id  # fmt: skip
        assert detail["packet"]["orders"] == ["10001"]

    token, proof = policy.issue(customer_id=ALICE, conversation_id="e-granted", channel=CHANNEL, strength="email")
    detail = escalate("e-granted", token)
    assert detail["customer_id"] == ALICE
    assert detail["packet"]["customer"] == {"verified": True, "verified_by": "email", "verified_at": proof.verified_at}


# --- settings refuse development secrets outside development

GOOD_SECRETS: dict[str, Any] = {
    "api_key": "x" * 32,
    "rasa_token": "r" * 24,
    "grant_secret": "g" * 32,
    "shop_login_secret": "s" * 32,
    "data_keys": "a2V5LWZvci10aGUtc2V0dGluZ3MtdGVzdC0wMDAwMDA=",  # 32 bytes, URL-safe base64
    "lookup_key": "l" * 32,
}
DEFAULTS = {
    "api_key": DEFAULT_API_KEY,
    "rasa_token": DEFAULT_RASA_TOKEN,
    "grant_secret": DEFAULT_GRANT_SECRET,
    "shop_login_secret": DEFAULT_SHOP_LOGIN_SECRET,
    "data_keys": DEFAULT_DATA_KEY,
    "lookup_key": DEFAULT_LOOKUP_KEY,
}


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CRM_* variable and no .env file decide the settings below."""
    for name in [n for n in os.environ if n.upper().startswith("CRM_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_settings_refuse_every_development_default_outside_development(no_env: None) -> None:
    assert Settings(env="production", **GOOD_SECRETS).check().grant_secret == "g" * 32
    for name, default in DEFAULTS.items():
        for weak in (default, ""):
            with pytest.raises(RuntimeError, match=f"CRM_{name.upper()}"):
                Settings(env="production", **{**GOOD_SECRETS, name: weak}).check()
    for name in ("grant_secret", "shop_login_secret"):
        with pytest.raises(RuntimeError, match=f"CRM_{name.upper()}"):
            Settings(env="production", **{**GOOD_SECRETS, name: "y" * 31}).check()

    unset = Settings()
    assert unset.env == "production"
    with pytest.raises(RuntimeError):
        unset.check()
    with pytest.raises(RuntimeError):
        create_app(Settings(database_url="sqlite:///:memory:"))
    assert Settings(env="development").check().grant_secret == DEFAULT_GRANT_SECRET


# --- migration 0004


def test_migration_0004_adds_one_time_codes_and_the_audit_index(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'migrated.db'}")
    assert main(["init"], settings=settings) == 0
    engine = make_engine(settings)

    def schema() -> tuple[set[str], set[str], str]:
        with engine.connect() as conn:
            found = inspect(conn)
            indexes = {ix["name"] for ix in found.get_indexes("audit_log")}
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            return set(found.get_table_names()), indexes, version

    head = ScriptDirectory.from_config(alembic_config(settings)).get_current_head()
    tables, indexes, version = schema()
    assert "one_time_codes" in tables and "ix_audit_log_action_entity" in indexes and version == head
    command.downgrade(alembic_config(settings), "0003")
    tables, indexes, version = schema()
    assert "one_time_codes" not in tables and "ix_audit_log_action_entity" not in indexes and version == "0003"
    assert "audit_log" in tables
    engine.dispose()
