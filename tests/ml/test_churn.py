"""Churn features, training without leakage, the model's scores and drivers, value functions, risk endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from crm_backend.app import create_app
from crm_backend.db import Base, make_engine, new_session
from crm_backend.ml.data import load_tables
from crm_backend.seeding.personas import ensure_personas
from crm_backend.seeding.seed import seed
from crm_backend.services.customers import find_by_email
from crm_backend.settings import Settings
from shopcare_core.ml.churn import CALIBRATIONS, ChurnModel, CVResult, fit_calibrated
from shopcare_core.ml.features import FEATURES, build_features, build_training_set, default_cutoffs
from shopcare_core.ml.value import customer_lifetime_value, customer_value, expected_lifetime_years, segment
from tests.factories import grant_headers

ROOT = Path(__file__).resolve().parents[2]
AS_OF = datetime(2025, 3, 1)
API_KEY = "ml-test-key"


def ago(days: float) -> datetime:
    return AS_OF - timedelta(days=days)


def hand_built() -> dict[str, pd.DataFrame]:
    """Customer 1: 3 orders (40, 100, 200 days ago), one late delivery and a complaint in the last 90 days.
    Customer 2: no orders, one unhappy escalation message."""
    return {
        "customers": pd.DataFrame(
            {
                "customer_id": [1, 2],
                "segment": ["standard", "premium"],
                "created_at": [ago(400), ago(30)],
                "churned_at": [None, None],
            }
        ),
        "orders": pd.DataFrame(
            {
                "order_id": [10, 11, 12],
                "customer_id": [1, 1, 1],
                "status": ["delivered", "cancelled", "delivered"],
                "placed_at": [ago(200), ago(100), ago(40)],
                "total_pence": [5000, 3000, 7000],
                "cancelled_at": [None, ago(99.5), None],
            }
        ),
        "shipments": pd.DataFrame(
            {
                "order_id": [10, 12],
                "customer_id": [1, 1],
                "status": ["delivered", "delivered"],
                "shipped_at": [ago(199), ago(39)],
                "eta": [ago(196), ago(36)],
                "delivered_at": [ago(196), ago(33)],
                "delay_days": [0, 3],
            }
        ),
        "refunds": pd.DataFrame(
            {
                "order_id": [11, 12],
                "customer_id": [1, 1],
                "amount_pence": [3000, 1400],
                "status": ["paid", "paid"],
                "created_at": [ago(99), ago(30)],
            }
        ),
        "tickets": pd.DataFrame(
            {"customer_id": [1, 1], "topic": ["complaint", "inquiry"], "created_at": [ago(32), ago(20)]}
        ),
        "escalations": pd.DataFrame({"escalation_id": [5], "customer_id": [2], "created_at": [ago(3)]}),
        "escalation_messages": pd.DataFrame(
            {"escalation_id": [5, 5], "customer_id": [2, 2], "sentiment": [-0.8, -0.2], "created_at": [ago(3), ago(3)]}
        ),
    }


def with_future_events(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The same history plus events after AS_OF (a later order, late delivery, complaint, refund, churn)."""
    later = AS_OF + timedelta(days=5)
    t = {name: frame.copy() for name, frame in tables.items()}
    t["customers"].loc[0, "churned_at"] = later
    t["orders"] = pd.concat(
        [
            t["orders"],
            pd.DataFrame(
                {
                    "order_id": [13],
                    "customer_id": [1],
                    "status": ["delivered"],
                    "placed_at": [later],
                    "total_pence": [9000],
                    "cancelled_at": [pd.NaT],
                }
            ),
        ],
        ignore_index=True,
    )
    t["shipments"] = pd.concat(
        [
            t["shipments"],
            pd.DataFrame(
                {
                    "order_id": [13],
                    "customer_id": [1],
                    "status": ["delivered"],
                    "shipped_at": [later],
                    "eta": [later],
                    "delivered_at": [later + timedelta(days=4)],
                    "delay_days": [4],
                }
            ),
        ],
        ignore_index=True,
    )
    t["tickets"] = pd.concat(
        [t["tickets"], pd.DataFrame({"customer_id": [1], "topic": ["complaint"], "created_at": [later]})],
        ignore_index=True,
    )
    t["refunds"] = pd.concat(
        [
            t["refunds"],
            pd.DataFrame(
                {
                    "order_id": [10],
                    "customer_id": [1],
                    "amount_pence": [5000],
                    "status": ["paid"],
                    "created_at": [later],
                }
            ),
        ],
        ignore_index=True,
    )
    return t


def test_features_are_computed_right() -> None:
    f = build_features(hand_built(), AS_OF)
    assert list(f.columns) == FEATURES and list(f.index) == [1, 2] and not f.isna().any().any()
    one, two = f.loc[1], f.loc[2]
    assert one["tenure_days"] == pytest.approx(400)
    assert one["recency_days"] == pytest.approx(40)
    assert one["usual_gap_days"] == pytest.approx(80)  # (200 - 40) / 2 gaps
    assert (one["orders_90d"], one["orders_365d"], one["orders_total"]) == (1, 3, 3)
    assert one["cancellations_365d"] == 1
    assert one["spend_365d"] == pytest.approx(120.0)  # the cancelled order is not spend
    assert one["avg_order_value"] == pytest.approx(60.0)
    assert (one["late_deliveries_90d"], one["late_days_total"], one["on_time_deliveries_total"]) == (1, 3, 1)
    assert one["late_share_365d"] == pytest.approx(0.5)
    assert one["refunds_365d"] == 1  # the refund of the cancelled order is counted as a cancellation, not a problem
    assert one["refund_amount_share_365d"] == pytest.approx(14.0 / 120.0)
    assert (one["complaints_90d"], one["days_since_last_complaint"]) == (1, pytest.approx(32))
    assert one["mean_sentiment"] == 0.0 and two["mean_sentiment"] == pytest.approx(-0.5)
    assert (two["orders_total"], two["recency_days"], two["escalations_365d"]) == (0, pytest.approx(30), 1)
    assert two["segment_premium"] == 1


def test_one_customer_alone_gets_the_features_it_gets_among_everyone() -> None:
    """Scoring reads one customer's rows, training everyone's: the same function must give the same row."""
    everyone = build_features(hand_built(), AS_OF)
    for customer in (1, 2):
        alone = {name: frame[frame["customer_id"] == customer] for name, frame in hand_built().items()}
        pd.testing.assert_frame_equal(build_features(alone, AS_OF), everyone.loc[[customer]])


def test_features_survive_missing_values_and_text_columns() -> None:
    tables = hand_built()
    tables["orders"]["total_pence"] = ["5000", None, "not a number"]
    tables["escalation_messages"]["sentiment"] = [None, "-0.2"]
    tables["orders"]["placed_at"] = tables["orders"]["placed_at"].astype(str)  # times as text, as some drivers give
    f = build_features(tables, AS_OF)
    assert not f.isna().any().any()
    assert f.loc[1, "spend_365d"] == pytest.approx(50.0) and f.loc[2, "mean_sentiment"] == pytest.approx(-0.2)


def test_features_as_of_a_cutoff_ignore_later_events() -> None:
    before = build_features(hand_built(), AS_OF)
    after = build_features(with_future_events(hand_built()), AS_OF)
    pd.testing.assert_frame_equal(before, after)
    assert build_features(with_future_events(hand_built()), AS_OF + timedelta(days=30)).loc[1, "orders_total"] == 4


def test_late_delivery_counts_once_its_eta_has_passed_with_the_delay_known_so_far() -> None:
    tables = hand_built()
    tables["shipments"].loc[1, ["eta", "delivered_at", "delay_days"]] = [ago(3), AS_OF + timedelta(days=5), 8]
    one = build_features(tables, AS_OF).loc[1]
    assert one["late_deliveries_90d"] == 1 and one["late_days_total"] == 3  # 3 days overdue, not the final 8


def test_label_comes_from_after_the_cutoff() -> None:
    tables = with_future_events(hand_built())
    tables["customers"].loc[1, "churned_at"] = ago(1)  # churned before the cutoff: not in the training rows
    x, y, groups = build_training_set(tables, [AS_OF], horizon_days=90)
    assert list(groups) == [1] and list(y) == [1] and "churned" not in x.columns
    _, y_later, _ = build_training_set(tables, [AS_OF - timedelta(days=200)], horizon_days=90)
    assert list(y_later) == [0]  # churned_at is 205 days after that cutoff, outside the horizon


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[ChurnModel, dict[str, CVResult], pd.DataFrame]:
    settings = Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('churn') / 'train.db'}")
    engine = make_engine(settings)
    Base.metadata.create_all(engine)
    seed(engine, customers=2000, seed=42, today=date(2025, 6, 1), log=lambda _m: None)
    tables = load_tables(engine)
    engine.dispose()
    x, y, groups = build_training_set(tables, default_cutoffs(tables), 90)
    model, results = ChurnModel.train(x, y.to_numpy(), groups.to_numpy(), log=lambda _m: None)
    return model, results, build_features(tables, datetime(2025, 6, 1))


@pytest.mark.slow
def test_model_learns_the_seeded_churn(trained: tuple[ChurnModel, dict[str, CVResult], pd.DataFrame]) -> None:
    model, results, _ = trained
    chosen, calibration = model.metadata["model"], model.metadata["calibration"]
    other = next(m for m in ("sigmoid", "isotonic") if m != calibration)
    assert set(results) == {
        "logistic_regression",
        "gradient_boosting",
        "random_forest",
        f"{chosen} (calibrated)",
        f"{chosen} ({other}, not chosen)",
    }
    assert results[f"{chosen} (calibrated)"].roc_auc_mean > 0.6
    # the shipped calibration is the one with the lower out-of-fold Brier score, and the estimator uses it
    assert results[f"{chosen} (calibrated)"].brier <= results[f"{chosen} ({other}, not chosen)"].brier
    assert model.estimator.method == calibration
    assert model.metadata["features"] == FEATURES and model.metadata["version"] and model.metadata["trained_at"]


@pytest.mark.slow
def test_scores_have_bands_and_sentence_drivers(trained: tuple[ChurnModel, dict[str, CVResult], pd.DataFrame]) -> None:
    model, _, features = trained
    scores = model.score(features.head(200))
    assert len(scores) == 200
    assert {s["risk_band"] for s in scores} <= {"low", "medium", "high"}
    assert all(0.0 <= s["probability"] <= 1.0 for s in scores)
    riskiest = max(scores, key=lambda s: s["probability"])
    assert riskiest["risk_band"] == "high" and len(riskiest["drivers"]) == 3
    for sentence in riskiest["drivers"]:
        assert " " in sentence and "_" not in sentence


@pytest.mark.slow
def test_save_load_roundtrip(trained: tuple[ChurnModel, dict[str, CVResult], pd.DataFrame], tmp_path: Path) -> None:
    model, _, features = trained
    model.save(tmp_path / "churn.joblib")
    loaded = ChurnModel.load(tmp_path / "churn.joblib")
    assert loaded.metadata == model.metadata
    np.testing.assert_allclose(loaded.predict_proba(features.head(50)), model.predict_proba(features.head(50)))
    assert loaded.score(features.head(5)) == model.score(features.head(5))


@pytest.fixture(scope="module")
def shipped_and_features(tmp_path_factory: pytest.TempPathFactory) -> tuple[ChurnModel, pd.DataFrame]:
    """The shipped churn model (``make models``) and the features of a small seeded population."""
    shipped = ROOT / "models" / "churn.joblib"
    assert shipped.is_file(), f"{shipped} is missing: run `make models`"
    settings = Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('churn-small') / 'small.db'}")
    engine = make_engine(settings)
    Base.metadata.create_all(engine)
    seed(engine, customers=300, seed=7, today=date(2025, 6, 1), log=lambda _m: None)
    tables = load_tables(engine)
    engine.dispose()
    return ChurnModel.load(shipped), build_features(tables, datetime(2025, 6, 1))


@pytest.mark.parametrize("calibration", CALIBRATIONS)  # either may be chosen for the CRM's data
def test_a_forest_is_scored_by_its_fast_path_with_scikit_learns_numbers(
    shipped_and_features: tuple[ChurnModel, pd.DataFrame], tmp_path: Path, calibration: str
) -> None:
    model, features = shipped_and_features
    estimator = fit_calibrated("random_forest", features, rng_labels(features), None, 0, calibration)
    forest = ChurnModel(estimator, **state(model))
    forest.metadata = {**model.metadata, "model": "random_forest"}
    forest.save(tmp_path / "forest.joblib")
    loaded = ChurnModel.load(tmp_path / "forest.joblib")
    assert loaded.fast is not None
    np.testing.assert_array_equal(loaded.predict_proba(features), loaded.estimator.predict_proba(features)[:, 1])
    slow = ChurnModel.load(tmp_path / "forest.joblib")
    slow.fast = None
    assert loaded.score(features.head(20)) == slow.score(features.head(20))


def rng_labels(features: pd.DataFrame) -> np.ndarray:
    """Labels with some signal (late deliveries and complaints) and noise, for a forest to fit."""
    rng = np.random.default_rng(3)
    signal = features["late_deliveries_365d"] + features["complaints_365d"] - features["orders_90d"] * 0.5
    return ((signal + rng.normal(0, 1, len(features))) > 1).astype(int).to_numpy()


def state(model: ChurnModel) -> dict[str, Any]:
    return {"features": model.features, "reference": model.reference, "metadata": model.metadata}


def test_value_is_monotone_where_it_should_be() -> None:
    probabilities = np.linspace(0, 1, 21)
    lifetimes = [expected_lifetime_years(p) for p in probabilities]
    assert all(a >= b for a, b in zip(lifetimes, lifetimes[1:], strict=False))
    clvs = [customer_lifetime_value(80.0, 6.0, p) for p in probabilities]
    assert all(a >= b for a, b in zip(clvs, clvs[1:], strict=False)) and clvs[0] > clvs[-1]
    assert customer_lifetime_value(80.0, 6.0, 0.05) < customer_lifetime_value(120.0, 6.0, 0.05)
    assert customer_lifetime_value(80.0, 6.0, 0.05) < customer_lifetime_value(80.0, 9.0, 0.05)
    base: dict[str, Any] = {"tenure_days": 500, "orders_total": 12, "orders_365d": 6, "spend_365d": 400.0, "clv": 600}
    assert segment(**base, churn_probability=0.01) == "loyal"
    assert segment(**base, churn_probability=0.5) == "at_risk"
    assert segment(**{**base, "spend_365d": 2000.0}, churn_probability=0.01) == "vip"
    assert segment(**{**base, "tenure_days": 20, "orders_total": 1}, churn_probability=None) == "new"
    value = customer_value(
        {"tenure_days": 500, "orders_total": 12, "orders_365d": 6, "spend_365d": 400.0, "avg_order_value": 66.0}
    )
    assert value["segment"] == "loyal" and value["clv"] > 0


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, Engine]]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'crm.db'}", api_key=API_KEY, env="development")
    engine = make_engine(settings)
    Base.metadata.create_all(engine)
    with new_session(engine) as session:
        ensure_personas(session=session, today=datetime.utcnow())
        session.commit()
    with TestClient(create_app(settings)) as test_client:
        yield test_client, engine
    engine.dispose()


def test_features_endpoint(client: tuple[TestClient, Engine]) -> None:
    http, engine = client
    with new_session(engine) as session:
        ben = find_by_email("ben.okafor@example.com", session=session)
        assert ben is not None
        cid = ben.id
    granted = {"X-API-Key": API_KEY, **grant_headers(cid)}  # a conversation verified as Ben
    response = http.get(f"/api/v1/customers/{cid}/features", headers=granted)
    assert response.status_code == 200
    body = response.json()
    assert body["customer_id"] == cid and body["as_of"] and list(body["features"]) == FEATURES
    assert body["features"]["orders_total"] == 4 and body["features"]["complaints_total"] >= 1
    unauthorised = http.get(f"/api/v1/customers/{cid}/features")
    assert unauthorised.status_code == 401 and unauthorised.json()["code"] == "invalid_api_key"
    ungranted = http.get(f"/api/v1/customers/{cid}/features", headers={"X-API-Key": API_KEY})
    assert ungranted.status_code == 401 and ungranted.json()["code"] == "grant_required"
    missing = http.get("/api/v1/customers/999999/features", headers={"X-API-Key": API_KEY, **grant_headers(999999)})
    assert missing.status_code == 404 and missing.json()["code"] == "customer_not_found"
    value = http.get(f"/api/v1/customers/{cid}/value?churn_probability=0.4", headers=granted)
    assert value.status_code == 200 and value.json()["segment"] == "at_risk" and value.json()["clv"] >= 0
    bad = http.get(f"/api/v1/customers/{cid}/value?churn_probability=2", headers=granted)
    assert bad.status_code == 422
