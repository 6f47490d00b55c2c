"""Customers of the seeded population (not the demo personas, which other suites use) as attackers and victims."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support import api_client


@dataclass(frozen=True)
class Person:
    id: int
    first_name: str
    last_name: str
    email: str
    postcode: str
    orders: list[dict[str, Any]]  # order details as the CRM holds them

    def secrets(self) -> set[str]:
        """What must never reach anybody else: identity, address, order contents and amounts."""
        found = {self.last_name, self.email, self.postcode}
        for order in self.orders:
            found |= {
                order["shipping_address"]["line1"],
                order["shipping_address"]["postcode"],
                f"{order['total']:,.2f}",
            }
            found |= {item["name"] for item in order["items"] if len(item["name"]) > 12}
            if order.get("shipment") and order["shipment"].get("tracking_number"):
                found.add(order["shipment"]["tracking_number"])
        return {s for s in found if s and len(s) >= 4}


def load_person(crm_api: httpx.Client, customer_id: int) -> Person:
    customer = crm_api.get(f"/customers/{customer_id}").json()
    numbers = [o["order_number"] for o in crm_api.get(f"/customers/{customer_id}/orders").json()]
    orders = [crm_api.get(f"/customers/{customer_id}/orders/{n}").json() for n in numbers]
    return Person(
        customer_id, customer["first_name"], customer["last_name"], customer["email"], customer["postcode"], orders
    )


@pytest.fixture(scope="session")
def population(stack) -> Callable[[int], Person]:
    client = api_client(stack.crm_url, stack.api_key)
    cache: dict[int, Person] = {}

    def person(customer_id: int) -> Person:
        if customer_id not in cache:
            cache[customer_id] = load_person(client, customer_id)
        return cache[customer_id]

    return person


class Conversation:
    """One customer conversation on the REST channel; keeps everything the bot said."""

    def __init__(self, rasa_url: str, prefix: str = "sec") -> None:
        self.url = f"{rasa_url}/webhooks/rest/webhook"
        self.sender = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.answers: list[str] = []

    @property
    def conversation_id(self) -> str:
        """The tracker's (and the CRM's) id of this conversation: the REST channel keys it by ``rest:<sender>``."""
        return f"rest:{self.sender}"

    def say(self, text: str, metadata: dict[str, Any] | None = None) -> str:
        body: dict[str, Any] = {"sender": self.sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        response = httpx.post(self.url, json=body, timeout=60)
        assert response.status_code == 200, response.text
        answer = " ".join(m.get("text", "") for m in response.json())
        self.answers.append(answer)
        return answer


@pytest.fixture
def conversation(stack) -> Callable[[], Conversation]:
    return lambda: Conversation(stack.rasa_url)
