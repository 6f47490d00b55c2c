"""Risk inputs for one customer: churn features (the action server scores them) and a value estimate."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from crm_backend.api.deps import CustomerId, read_grant
from crm_backend.errors import not_found
from crm_backend.ml.data import load_tables
from crm_backend.util import utcnow
from shopcare_core.ml.features import build_features
from shopcare_core.ml.value import customer_value

router = APIRouter(prefix="/customers/{customer_id}", tags=["risk"], dependencies=[Depends(read_grant)])


class CustomerFeatures(BaseModel):
    customer_id: int
    as_of: datetime
    features: dict[str, float]


class CustomerValue(BaseModel):
    customer_id: int
    as_of: datetime
    clv: float
    segment: str
    expected_orders_per_year: float
    expected_lifetime_years: float
    churn_probability_used: float
    margin: float


def _features(request: Request, customer_id: int) -> tuple[datetime, dict[str, float]]:
    as_of = utcnow()
    frame = build_features(load_tables(request.app.state.engine, [customer_id]), as_of)
    if customer_id not in frame.index:
        raise not_found("customer", customer_id=customer_id)
    return as_of, {name: float(value) for name, value in frame.loc[customer_id].items()}


@router.get("/features", response_model=CustomerFeatures)
def get_features(customer_id: CustomerId, request: Request) -> CustomerFeatures:
    """The churn model's features as of now, computed by the same code as in training."""
    as_of, features = _features(request, customer_id)
    return CustomerFeatures(customer_id=customer_id, as_of=as_of, features=features)


@router.get("/value", response_model=CustomerValue)
def get_value(
    customer_id: CustomerId,
    request: Request,
    churn_probability: float | None = Query(None, ge=0.0, le=1.0, description="90-day churn probability, if scored"),
) -> CustomerValue:
    """Lifetime value and segment; without ``churn_probability`` a neutral base rate is assumed (no at_risk)."""
    as_of, features = _features(request, customer_id)
    return CustomerValue(customer_id=customer_id, as_of=as_of, **customer_value(features, churn_probability))
