"""Every endpoint of docs/crm_api.md against a fresh database holding the personas."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from crm_backend.services.grants import GrantPolicy
from crm_backend.settings import Settings
from tests.factories import grant_headers

ALICE, BEN, CHLOE = 1, 2, 3
Headers = dict[str, str]
W = Callable[[str], Headers]
As = Callable[..., Headers]  # as_customer(customer_id, key=None): API key + grant (+ write headers)


def assert_error(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and isinstance(body["message"], str) and isinstance(body["details"], dict)
    return body


def test_health_needs_no_key(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "database": "ok"}
    assert "/api/v1/policies" in client.get("/openapi.json").json()["paths"]


def test_api_key_required(client: TestClient) -> None:
    assert_error(client.get("/api/v1/policies"), 401, "invalid_api_key")
    assert_error(client.get("/api/v1/policies", headers={"X-API-Key": "wrong"}), 401, "invalid_api_key")


def test_policies(client: TestClient, headers: Headers) -> None:
    topics = client.get("/api/v1/policies", headers=headers).json()
    assert set(topics) == {
        "refund_policy",
        "cancellation_fee",
        "payment_methods",
        "delivery_options",
        "delivery_period",
        "account_help",
    }
    one = client.get("/api/v1/policies/account_help", headers=headers).json()
    assert one["topic"] == "account_help" and "https://shop.example.com/account" in one["text"]
    assert_error(client.get("/api/v1/policies/nope", headers=headers), 404, "policy_not_found")


def test_identity_verify(client: TestClient, headers: Headers, settings: Settings) -> None:
    url = "/api/v1/identity/verify"
    ok = client.post(
        url,
        headers=headers,
        json={"order_number": "10001", "email": "Alice.Martin@example.com ", "conversation_id": "c1"},
    )
    verified = ok.json()
    token, expires_at = verified.pop("grant"), verified.pop("grant_expires_at")
    assert verified == {"customer_id": ALICE, "first_name": "Alice", "verified_by": "email"}
    grant = GrantPolicy.from_settings(settings).read(token)
    bound = (grant.customer_id, grant.conversation_id, grant.channel, grant.strength)
    assert bound == (ALICE, "c1", "unknown", "email")
    assert datetime.fromisoformat(expires_at) == datetime.fromtimestamp(grant.expires_at, timezone.utc)
    by_pc = client.post(
        url, headers=headers, json={"order_number": "10011", "postcode": "m11ae", "conversation_id": "c1"}
    )
    assert by_pc.json()["verified_by"] == "postcode" and by_pc.json()["customer_id"] == BEN
    wrong = assert_error(
        client.post(
            url,
            headers=headers,
            json={"order_number": "10011", "email": "alice.martin@example.com", "conversation_id": "c1"},
        ),
        401,
        "verification_failed",
    )
    unknown = assert_error(
        client.post(
            url,
            headers=headers,
            json={"order_number": "999", "email": "alice.martin@example.com", "conversation_id": "c1"},
        ),
        401,
        "verification_failed",
    )
    assert wrong == unknown
    assert_error(
        client.post(url, headers=headers, json={"order_number": "10001", "conversation_id": "c"}),
        422,
        "invalid_request",
    )


def test_customer_and_orders(client: TestClient, as_customer: As) -> None:
    base = f"/api/v1/customers/{ALICE}"
    headers = as_customer(ALICE)
    customer = client.get(base, headers=headers).json()
    assert customer["email"] == "alice.martin@example.com" and customer["postcode"] == "SW1A 1AA"
    assert_error(client.get("/api/v1/customers/9999", headers=as_customer(9999)), 404, "customer_not_found")
    orders = client.get(f"{base}/orders", headers=headers, params={"limit": 3}).json()
    assert len(orders) == 3 and orders[0]["placed_at"] >= orders[1]["placed_at"] >= orders[2]["placed_at"]
    assert set(orders[0]) == {"order_number", "status", "placed_at", "total", "item_count"}
    assert_error(client.get(f"{base}/orders", headers=headers, params={"limit": 0}), 422, "invalid_request")
    detail = client.get(f"{base}/orders/10003", headers=headers).json()
    assert detail["status"] == "delivered" and detail["total"] == 149.0 and detail["refundable_amount"] == 149.0
    assert detail["invoice_number"] == "INV-10003" and detail["shipment"]["carrier"] == "Royal Mail"
    assert detail["items"][0]["unit_price"] == 149.0 and detail["cancellable"] is False
    packed = client.get(f"{base}/orders/10004", headers=headers).json()
    assert packed["cancellable"] is True and packed["cancellation_fee"] == 4.95 and packed["shipment"] is None


def test_other_customers_order_is_404(client: TestClient, as_customer: As) -> None:
    headers = as_customer(ALICE)
    for path in ("/orders/10011", "/orders/10011/cancellation", "/orders/10011/refund-eligibility"):
        assert_error(client.get(f"/api/v1/customers/{ALICE}{path}", headers=headers), 404, "order_not_found")
    assert_error(client.get(f"/api/v1/customers/{ALICE}/orders/555", headers=headers), 404, "order_not_found")


def test_cancellation_quote_and_cancel(client: TestClient, as_customer: As) -> None:
    base = f"/api/v1/customers/{ALICE}/orders"
    headers = as_customer(ALICE)

    def write_headers(key: str) -> Headers:
        return as_customer(ALICE, key)

    quote = client.get(f"{base}/10004/cancellation", headers=headers).json()
    assert quote == {**quote, "cancellable": True, "code": None, "fee": 4.95, "refund_amount": 59.95}
    shipped = client.get(f"{base}/10001/cancellation", headers=headers).json()
    assert shipped["cancellable"] is False and shipped["code"] == "order_already_shipped"
    done = client.post(f"{base}/10004/cancel", headers=write_headers("c-1"), json={"reason": "too late"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["order"]["status"] == "cancelled" and body["fee"] == 4.95 and body["refund_amount"] == 59.95
    assert "3-5 working days" in body["payment_outcome"]
    assert body["order"]["refunds"][0]["status"] == "approved" and body["order"]["refunds"][0]["amount"] == 59.95
    assert_error(
        client.post(f"{base}/10001/cancel", headers=write_headers("c-2"), json={"reason": "x"}),
        409,
        "order_already_shipped",
    )
    assert_error(
        client.post(f"{base}/10007/cancel", headers=write_headers("c-3"), json={"reason": "x"}),
        409,
        "order_already_cancelled",
    )
    assert_error(
        client.post(f"{base}/10011/cancel", headers=write_headers("c-4"), json={"reason": "x"}), 404, "order_not_found"
    )
    pending = client.post(f"{base}/10005/cancel", headers=write_headers("c-5"), json={"reason": "x"}).json()
    assert pending["refund_amount"] == 0 and pending["order"]["refunds"] == []


def test_refund_eligibility_and_create(client: TestClient, as_customer: As) -> None:
    base = f"/api/v1/customers/{ALICE}/orders"
    headers = as_customer(ALICE)

    def write_headers(key: str) -> Headers:
        return as_customer(ALICE, key)

    quote = client.get(f"{base}/10003/refund-eligibility", headers=headers).json()
    assert quote["eligible"] is True and quote["max_amount"] == 149.0 and quote["auto_approve_limit"] == 100.0
    assert quote["window_ends"] is not None
    expired = client.get(f"{base}/10006/refund-eligibility", headers=headers).json()
    assert expired["eligible"] is False and expired["code"] == "refund_window_expired"
    big = client.post(f"{base}/10003/refunds", headers=write_headers("r-1"), json={"amount": 120.5, "reason": "x"})
    assert big.status_code == 201, big.text
    assert big.json()["status"] == "pending_review" and big.json()["reference"].startswith("RF-")
    small = client.post(f"{base}/10008/refunds", headers=write_headers("r-2"), json={"amount": 20, "reason": "late"})
    assert small.json()["status"] == "approved" and small.json()["amount"] == 20.0
    assert_error(
        client.post(f"{base}/10003/refunds", headers=write_headers("r-3"), json={"amount": 30, "reason": "x"}),
        422,
        "refund_amount_too_high",
    )
    assert_error(
        client.post(f"{base}/10003/refunds", headers=write_headers("r-4"), json={"amount": -1, "reason": "x"}),
        422,
        "invalid_amount",
    )
    assert_error(
        client.post(f"{base}/10001/refunds", headers=write_headers("r-5"), json={"amount": 1, "reason": "x"}),
        409,
        "refund_not_eligible_status",
    )
    assert_error(
        client.post(f"{base}/10006/refunds", headers=write_headers("r-6"), json={"amount": 1, "reason": "x"}),
        409,
        "refund_window_expired",
    )
    assert_error(
        client.post(f"{base}/10003/refunds", headers=write_headers("r-7"), json={"amount": 1}), 422, "invalid_request"
    )
    chloe = f"/api/v1/customers/{CHLOE}/orders/10022/refunds"
    assert_error(
        client.post(chloe, headers=as_customer(CHLOE, "r-8"), json={"amount": 1, "reason": "x"}),
        409,
        "nothing_left_to_refund",
    )


def test_refunds_and_invoices_lists(client: TestClient, as_customer: As) -> None:
    base = f"/api/v1/customers/{ALICE}"
    headers, ben = as_customer(ALICE), as_customer(BEN)
    client.post(f"{base}/orders/10008/refunds", headers=as_customer(ALICE, "k"), json={"amount": 5, "reason": "x"})
    listed = client.get(f"{base}/refunds", headers=headers).json()
    assert [r["order_number"] for r in listed] == ["10008", "10007"]
    ref = listed[0]["reference"]
    assert client.get(f"{base}/refunds/{ref}", headers=headers).json()["amount"] == 5.0
    assert_error(client.get(f"/api/v1/customers/{BEN}/refunds/{ref}", headers=ben), 404, "refund_not_found")
    invoices = client.get(f"{base}/invoices", headers=headers).json()
    assert invoices[0]["issued_at"] >= invoices[-1]["issued_at"] and "INV-10005" not in {
        i["invoice_number"] for i in invoices
    }
    one = client.get(f"{base}/invoices/INV-10003", headers=headers).json()
    assert one["amount"] == 149.0 and one["status"] == "paid" and one["url"].endswith("INV-10003")
    assert_error(client.get(f"/api/v1/customers/{BEN}/invoices/INV-10003", headers=ben), 404, "invoice_not_found")


def test_shipping_address(client: TestClient, as_customer: As) -> None:
    base = f"/api/v1/customers/{ALICE}/orders"

    def write_headers(key: str) -> Headers:
        return as_customer(ALICE, key)

    address = {"line1": "2 New Road", "city": "Leeds", "postcode": "ls14ap", "country": "gb"}
    ok = client.put(f"{base}/10002/shipping-address", headers=write_headers("a-1"), json=address)
    assert ok.status_code == 200, ok.text
    assert ok.json()["shipping_address"] == {
        "line1": "2 New Road",
        "line2": None,
        "city": "Leeds",
        "postcode": "LS1 4AP",
        "country": "GB",
    }
    assert_error(
        client.put(f"{base}/10001/shipping-address", headers=write_headers("a-2"), json=address),
        409,
        "order_already_shipped",
    )
    assert_error(
        client.put(f"{base}/10007/shipping-address", headers=write_headers("a-3"), json=address),
        409,
        "order_not_editable",
    )
    assert_error(
        client.put(
            f"{base}/10002/shipping-address", headers=write_headers("a-4"), json={**address, "postcode": "nope"}
        ),
        422,
        "invalid_request",
    )


def test_tickets(client: TestClient, write_headers: W) -> None:
    ben = grant_headers(BEN, conversation_id="conv-9", channel="web")["X-Identity-Grant"]
    body = {
        "customer_id": BEN,
        "conversation_id": "conv-9",
        "channel": "web",
        "topic": "complaint",
        "summary": "Late again",
        "identity_grant": ben,
    }
    created = client.post("/api/v1/tickets", headers=write_headers("t-1"), json=body)
    assert created.status_code == 201 and created.json()["status"] == "open"
    assert created.json()["topic"] == "complaint" and created.json()["reference"].startswith("TK-")
    assert created.json()["complaints_in_window"] >= 1  # counted as Ben's complaint
    anonymous = client.post("/api/v1/tickets", headers=write_headers("t-2"), json={**body, "customer_id": None})
    assert anonymous.status_code == 201


@pytest.mark.parametrize(
    "claim",
    [
        {},  # no grant at all
        {"identity_grant": "forged.grant.token"},
        {"identity_grant": grant_headers(BEN, conversation_id="another-conversation")["X-Identity-Grant"]},
        {
            "identity_grant": grant_headers(BEN, conversation_id="conv-9", channel="web")["X-Identity-Grant"],
            "customer_id": 999,
        },
    ],
)
def test_a_ticket_names_a_customer_only_on_the_crms_grant(client: TestClient, write_headers: W, claim) -> None:
    """With the API key alone nobody can file complaints against a customer, read their count or probe ids."""
    body = {"customer_id": BEN, "conversation_id": "conv-9", "channel": "web", "topic": "complaint", "summary": "x"}
    answer = client.post("/api/v1/tickets", headers=write_headers(f"t-{len(str(claim))}"), json={**body, **claim})
    assert answer.status_code == 201
    assert answer.json()["complaints_in_window"] is None and answer.json()["repeat_complaint"] is False


def test_complaints_count_towards_the_repeat_rule(client: TestClient, write_headers: W) -> None:
    """Each complaint reports the customer's complaints in the window; reaching the threshold sets repeat_complaint."""
    ben = grant_headers(BEN, conversation_id="conv-r", channel="web")["X-Identity-Grant"]
    body = {
        "customer_id": BEN,
        "conversation_id": "conv-r",
        "channel": "web",
        "topic": "complaint",
        "summary": "x",
        "identity_grant": ben,
    }
    first = client.post("/api/v1/tickets", headers=write_headers("rc-0"), json=body).json()
    counts, flags = [first["complaints_in_window"]], [first["repeat_complaint"]]
    for i in range(1, 4):
        answer = client.post("/api/v1/tickets", headers=write_headers(f"rc-{i}"), json=body).json()
        counts.append(answer["complaints_in_window"])
        flags.append(answer["repeat_complaint"])
    assert counts == [counts[0] + i for i in range(4)]
    assert flags == [c >= 3 for c in counts] and flags[-1] is True
    other = client.post("/api/v1/tickets", headers=write_headers("rc-q"), json={**body, "topic": "other"}).json()
    assert other["complaints_in_window"] is None and other["repeat_complaint"] is False
