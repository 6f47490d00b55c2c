"""Loader and validator for ``policies.yml`` (business rules + customer-facing texts)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import ClassVar

import yaml
from pydantic import BaseModel, Field, validator

from crm_backend.util import pounds_to_pence

TOPICS = (
    "refund_policy",
    "cancellation_fee",
    "payment_methods",
    "delivery_options",
    "delivery_period",
    "account_help",
)


class RefundRules(BaseModel):
    window_days: int
    auto_approve_limit: float  # per order: everything asked for on it, this refund included
    auto_approve_customer_30d: float  # per customer: everything asked for on their orders in the last 30 days
    eligible_statuses: list[str]
    processing_working_days: int
    review_working_days: int

    customer_window: ClassVar[timedelta] = timedelta(days=30)

    @property
    def auto_approve_limit_pence(self) -> int:
        return pounds_to_pence(self.auto_approve_limit) or 0

    @property
    def auto_approve_customer_30d_pence(self) -> int:
        return pounds_to_pence(self.auto_approve_customer_30d) or 0


class CancellationRules(BaseModel):
    cancellable_statuses: list[str]
    fee_by_status: dict[str, float]
    refund_working_days: str

    @validator("fee_by_status")
    def _fees_for_every_status(cls, value: dict[str, float], values: dict) -> dict[str, float]:
        missing = set(values.get("cancellable_statuses", [])) - set(value)
        if missing:
            raise ValueError(f"no cancellation fee for statuses {sorted(missing)}")
        return value

    def fee_pence(self, status: str) -> int:
        return pounds_to_pence(self.fee_by_status.get(status, 0.0)) or 0


class ComplaintRules(BaseModel):
    window_days: int
    repeat_threshold: int


class EscalationRules(BaseModel):
    late_after_minutes: int = Field(5, ge=1)  # the console shows an open escalation waiting longer than this as late


class AddressRules(BaseModel):
    editable_statuses: list[str]


class PaymentMethod(BaseModel):
    code: str
    name: str


class DeliveryOption(BaseModel):
    code: str
    name: str
    days: str
    price: float
    free_over: float | None = None


class Topic(BaseModel):
    title: str
    text: str


class Policies(BaseModel):
    refunds: RefundRules
    cancellation: CancellationRules
    complaints: ComplaintRules
    escalations: EscalationRules = EscalationRules(late_after_minutes=5)
    shipping_address: AddressRules
    payment_methods: list[PaymentMethod]
    delivery_options: list[DeliveryOption]
    invoice_url: str
    account_url: str
    topics: dict[str, Topic]

    @validator("topics")
    def _all_topics(cls, value: dict[str, Topic]) -> dict[str, Topic]:
        missing = set(TOPICS) - set(value)
        if missing:
            raise ValueError(f"policy topics missing: {sorted(missing)}")
        return value

    def method_name(self, code: str) -> str:
        for method in self.payment_methods:
            if method.code == code:
                return method.name
        return code

    def rendered_topics(self) -> dict[str, dict[str, str]]:
        """Topic texts with their {placeholders} filled from the rule values."""
        names = [m.name for m in self.payment_methods]
        values = {
            "refund_window_days": self.refunds.window_days,
            "auto_approve_limit": f"{self.refunds.auto_approve_limit:.2f}",
            "auto_approve_customer_30d": f"{self.refunds.auto_approve_customer_30d:.2f}",
            "refund_processing_working_days": self.refunds.processing_working_days,
            "packed_fee": f"{self.cancellation.fee_by_status.get('packed', 0):.2f}",
            "cancel_refund_days": self.cancellation.refund_working_days,
            "payment_method_list": ", ".join(names[:-1]) + " and " + names[-1],
            "account_url": self.account_url,
        }
        for option in self.delivery_options:
            values[f"{option.code}_days"] = option.days
            values[f"{option.code}_price"] = f"{option.price:.2f}"
            if option.free_over is not None:
                values[f"{option.code}_free_over"] = f"{option.free_over:.0f}"
        return {
            name: {"title": topic.title, "text": topic.text.format(**values)} for name, topic in self.topics.items()
        }


def parse_policies(text: str) -> Policies:
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError("policy file must be a mapping")
    policies = Policies.parse_obj(data)
    policies.rendered_topics()  # fail fast on an unknown placeholder
    return policies


@lru_cache(maxsize=8)
def load_policies(path: str) -> Policies:
    with open(path, encoding="utf-8") as handle:
        return parse_policies(handle.read())
