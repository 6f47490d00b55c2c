"""Pydantic (v1) schemas of the public API, one family per entity."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, root_validator, validator

from crm_backend.util import normalise_postcode


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, object] = {}


class Health(BaseModel):
    status: str
    database: str


class PolicyTopic(BaseModel):
    title: str
    text: str


class PolicyPublic(PolicyTopic):
    topic: str


class ConversationRef(BaseModel):
    """Where the customer is talking: the grant is bound to this conversation and channel."""

    conversation_id: str = Field(..., min_length=1, max_length=100)
    channel: str = Field("unknown", min_length=1, max_length=40)
    client_address: str | None = Field(None, max_length=64, description="the customer's network address, if known")


class IdentityVerify(ConversationRef):
    order_number: str = Field(..., min_length=1, max_length=20)
    email: str | None = Field(None, max_length=254)
    postcode: str | None = Field(None, max_length=10)

    @root_validator(skip_on_failure=True)
    def _email_or_postcode(cls, values: dict) -> dict:
        if not (values.get("email") or "").strip() and not (values.get("postcode") or "").strip():
            raise ValueError("give either email or postcode")
        return values


class IdentityVerified(BaseModel):
    customer_id: int
    first_name: str
    verified_by: str
    grant: str = Field(..., description="send as X-Identity-Grant with every customer-scoped call")
    grant_expires_at: datetime


class OneTimeCodeRequest(ConversationRef):
    order_number: str | None = Field(
        None, min_length=1, max_length=20, description="without a grant: the code goes to the e-mail on this order"
    )


class OneTimeCodeSent(BaseModel):
    sent: bool
    sent_to: str | None = Field(None, description="the masked address, only to a caller holding a grant")
    expires_in_seconds: int


class OneTimeCodeVerify(ConversationRef):
    code: str = Field(..., min_length=1, max_length=20)


class ShopLogin(ConversationRef):
    token: str = Field(..., min_length=1, max_length=2000)


class CustomerPublic(BaseModel):
    id: int
    first_name: str
    last_name: str
    email: str
    postcode: str
    segment: str
    created_at: datetime


class OrderItemPublic(BaseModel):
    sku: str
    name: str
    quantity: int
    unit_price: float


class AddressPublic(BaseModel):
    line1: str
    line2: str | None = None
    city: str
    postcode: str
    country: str


class AddressUpdate(BaseModel):
    line1: str = Field(..., min_length=1, max_length=120)
    line2: str | None = Field(None, max_length=120)
    city: str = Field(..., min_length=1, max_length=80)
    postcode: str = Field(..., min_length=2, max_length=10)
    country: str = Field(..., min_length=2, max_length=2, description="ISO 3166-1 alpha-2, e.g. GB")

    @validator("country")
    def _upper_country(cls, value: str) -> str:
        return value.upper()

    @root_validator(skip_on_failure=True)
    def _uk_postcode(cls, values: dict) -> dict:
        if values["country"] == "GB":
            normalised = normalise_postcode(values["postcode"])
            if normalised is None:
                raise ValueError("postcode is not a valid UK postcode")
            values["postcode"] = normalised
        return values


class ShipmentPublic(BaseModel):
    carrier: str
    tracking_number: str
    status: str
    shipped_at: datetime
    eta: date
    delivered_at: datetime | None
    delay_days: int


class PaymentPublic(BaseModel):
    method: str
    status: str
    amount: float
    paid_at: datetime | None


class RefundPublic(BaseModel):
    reference: str
    order_number: str
    amount: float
    reason: str
    status: str
    created_at: datetime
    expected_by: date | None


class RefundCreate(BaseModel):
    amount: float
    reason: str = Field(..., min_length=1, max_length=500)


class OrderSummary(BaseModel):
    order_number: str
    status: str
    placed_at: datetime
    total: float
    item_count: int


class OrderDetail(OrderSummary):
    items: list[OrderItemPublic]
    shipping_address: AddressPublic
    shipment: ShipmentPublic | None
    payment: PaymentPublic | None
    refunds: list[RefundPublic]
    refunded_total: float
    refundable_amount: float
    invoice_number: str | None
    cancellable: bool
    cancellation_fee: float
    delivery_option: str
    shipping_cost: float


class CancellationQuotePublic(BaseModel):
    cancellable: bool
    code: str | None
    message: str
    fee: float
    refund_amount: float
    payment_outcome: str


class CancelRequest(BaseModel):
    reason: str = Field(..., min_length=1, max_length=200)


class CancelResult(BaseModel):
    order: OrderDetail
    fee: float
    refund_amount: float
    payment_outcome: str


class RefundQuotePublic(BaseModel):
    eligible: bool
    code: str | None
    message: str
    max_amount: float
    window_ends: date | None
    auto_approve_limit: float


class InvoicePublic(BaseModel):
    invoice_number: str
    order_number: str
    issued_at: datetime
    amount: float
    status: str
    url: str


class TicketCreate(BaseModel):
    customer_id: int | None = Field(None, ge=1, le=2_147_483_647)
    conversation_id: str = Field(..., min_length=1, max_length=100)
    channel: str = Field(..., min_length=1, max_length=20)
    topic: str = Field(..., min_length=1, max_length=40)
    summary: str = Field(..., min_length=1, max_length=4000)
    identity_grant: str | None = Field(
        None, max_length=2000, description="the conversation's identity grant: without it customer_id is not kept"
    )


class TicketPublic(BaseModel):
    reference: str
    status: str
    topic: str
    # Complaints only: the customer's complaints in the policy window (this one included) and whether that reaches
    # the repeat-complaint rule (policies.yml complaints.repeat_threshold), which hands the customer to a person.
    complaints_in_window: int | None = None
    repeat_complaint: bool = False


class DataRequestCreate(BaseModel):
    """A customer's data-subject request: a copy of their data (export) or its erasure (erase)."""

    kind: Literal["export", "erase"]


class DataRequestPublic(BaseModel):
    reference: str
    kind: str
    status: str
    created: bool = Field(..., description="false when the customer's pending request of this kind already existed")
