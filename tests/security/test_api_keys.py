"""Every CRM API route refuses a missing or wrong API key: walked from the CRM's own OpenAPI spec."""

from __future__ import annotations

import re

import httpx
import pytest

PUBLIC = {"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
DEVELOPMENT_ONLY = {"/dev/outbox"}  # the mail the CRM sent; 404 outside CRM_ENV=development (tests/crm/test_mailer.py)


@pytest.fixture(scope="module")
def operations(stack) -> list[tuple[str, str]]:
    spec = httpx.get(f"{stack.crm_url}/openapi.json", timeout=10).json()
    return [(method.upper(), path) for path, item in spec["paths"].items() for method in item]


def test_only_health_and_docs_are_outside_the_keyed_api(operations):
    assert len(operations) >= 20
    assert {path for _, path in operations if not path.startswith("/api/v1/")} <= PUBLIC | DEVELOPMENT_ONLY


@pytest.mark.parametrize("key", [None, "", "wrong-key", "E2E-API-KEY", "e2e-api-ke"])
def test_every_route_refuses_a_missing_or_wrong_key(stack, operations, key):
    headers = {} if key is None else {"X-API-Key": key}
    refused = {}
    for method, path in operations:
        if not path.startswith("/api/v1/"):
            continue
        url = stack.crm_url + re.sub(r"\{[^}]+\}", "1", path)
        response = httpx.request(
            method, url, headers={**headers, "Idempotency-Key": "k1"}, json={} if method != "GET" else None, timeout=10
        )
        refused[(method, path)] = (response.status_code, response.json().get("code"))
    assert {op: r for op, r in refused.items() if r != (401, "invalid_api_key")} == {}


def test_the_right_key_is_accepted(stack):
    response = httpx.get(f"{stack.crm_url}/api/v1/policies", headers={"X-API-Key": stack.api_key}, timeout=10)
    assert response.status_code == 200
