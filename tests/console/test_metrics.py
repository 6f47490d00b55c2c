"""The dashboard's figures on tables of cases (pure), and the dashboard page counting real rows."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import create_engine

from crm_backend.console import metrics
from crm_backend.console.metrics import EscalationRecord as R
from crm_backend.db import Escalation, new_session
from crm_backend.rasa_stores import BROKER_EVENTS

T0 = datetime(2026, 11, 20, 9, 0)


def test_false_escalation_and_too_late_rates_count_only_escalations_with_a_verdict():
    recs = [R(1, T0, verdict="unnecessary"), R(2, T0, verdict="justified"), R(3, T0, verdict="too_late"), R(4, T0)]
    assert metrics.false_escalation_rate(recs) == pytest.approx(1 / 3)
    assert metrics.too_late_rate(recs) == pytest.approx(1 / 3)
    assert metrics.false_escalation_rate([R(1, T0)]) is None  # no verdict yet: not 0 %


def test_median_time_to_first_agent_reply():
    recs = [
        R(1, T0, first_agent_reply_at=T0 + timedelta(seconds=60)),
        R(2, T0, first_agent_reply_at=T0 + timedelta(seconds=300)),
        R(3, T0, first_agent_reply_at=T0 + timedelta(seconds=120)),
        R(4, T0),  # never answered: not counted
    ]
    assert metrics.median_first_reply_seconds(recs) == 120
    assert metrics.median_first_reply_seconds([R(1, T0)]) is None


@pytest.mark.parametrize(
    ("scores", "average", "distribution"),
    [
        ([5, 4, 4, None], 13 / 3, {1: 0, 2: 0, 3: 0, 4: 2, 5: 1}),
        ([None], None, {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}),
        ([1, 9], 1.0, {1: 1, 2: 0, 3: 0, 4: 0, 5: 0}),  # out of range is ignored
    ],
)
def test_csat_average_and_distribution(scores, average, distribution):
    avg, dist = metrics.csat([R(i, T0, csat=s) for i, s in enumerate(scores)])
    assert avg == (pytest.approx(average) if average is not None else None) and dist == distribution


def test_at_risk_saved_needs_churn_reason_justified_verdict_and_no_loss_afterwards():
    recs = [
        R(1, T0, reason_codes=("at_risk_customer",), verdict="justified"),  # saved
        R(2, T0, reason_codes=("at_risk_customer", "strong_negative"), verdict="justified", customer_lost_after=True),
        R(3, T0, reason_codes=("at_risk_customer",), verdict="too_late"),
        R(4, T0, reason_codes=("at_risk_customer",)),  # no verdict yet
        R(5, T0, reason_codes=("strong_negative",), verdict="justified"),  # not a churn escalation
    ]
    assert metrics.at_risk_saved(recs) == (4, 1)


@pytest.mark.parametrize(
    ("conversations", "escalated", "expected"), [(10, 2, 0.8), (10, 0, 1.0), (0, 0, None), (None, 3, None), (2, 5, 0.0)]
)
def test_containment_rate(conversations, escalated, expected):
    assert metrics.containment_rate(conversations, escalated) == expected


def test_escalations_by_day_and_reason_and_sentiment_trend_over_the_window():
    window = metrics.days(date(2026, 11, 20), 3)
    assert window == [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]
    recs = [
        R(1, T0, reason_codes=("strong_negative", "negative_trend"), sentiments=((T0, -0.9), (T0, -0.5))),
        R(2, T0 - timedelta(days=1), reason_codes=("strong_negative",), sentiments=((T0 - timedelta(days=1), 0.2),)),
        R(3, T0 - timedelta(days=9), reason_codes=("explicit_request",)),  # outside the window
        R(4, T0),
    ]
    table = metrics.by_day_reason(recs, window)
    assert table == {
        date(2026, 11, 18): {},
        date(2026, 11, 19): {"strong_negative": 1},
        date(2026, 11, 20): {"strong_negative": 1, "negative_trend": 1, "unspecified": 1},
    }
    trend = metrics.sentiment_by_day(recs, window)
    assert trend == {date(2026, 11, 19): pytest.approx(0.2), date(2026, 11, 20): pytest.approx(-0.7)}


def _events_db(path, senders):
    engine = create_engine(f"sqlite:///{path}", future=True)
    BROKER_EVENTS.metadata.create_all(engine)
    with engine.begin() as conn:
        for sender in senders:
            event = {"sender_id": sender, "event": "user", "timestamp": T0.timestamp(), "text": "hi"}
            conn.execute(BROKER_EVENTS.insert().values(sender_id=sender, data=json.dumps(event)))
            bot = {"sender_id": sender, "event": "bot", "timestamp": T0.timestamp(), "text": "hello"}
            conn.execute(BROKER_EVENTS.insert().values(sender_id=sender, data=json.dumps(bot)))
    engine.dispose()


def test_dashboard_page_counts_real_rows_and_the_event_stream(make_client, app, engine, add_escalation, tmp_path):
    from tests.console.conftest import login

    _events_db(tmp_path / "events.db", [f"conv-{i}" for i in range(8)])  # 8 conversations, 2 escalated below
    app.state.settings = app.state.settings.copy(update={"rasa_events_url": f"sqlite:///{tmp_path / 'events.db'}"})
    now = datetime.utcnow()
    a = add_escalation("conv-1", reasons=("at_risk_customer",), email="dan.reyes@example.com")
    b = add_escalation("conv-2", reasons=("strong_negative",))
    with new_session(engine) as session:
        for escalation_id, verdict, csat in ((a, "justified", 5), (b, "unnecessary", 2)):
            e = session.get(Escalation, escalation_id)
            e.status, e.verdict, e.csat, e.resolved_at = "resolved", verdict, csat, now
        session.commit()
    client = make_client()
    login(client, "sue")
    page = client.get("/console/dashboard").text
    assert '<span class="big">2</span><span>escalations</span>' in page
    assert "75 %" in page and "(8 conversations)" in page  # containment: 6 of 8
    assert "50 %" in page  # false escalations: 1 of 2 verdicts
    assert '<span class="big">3.5</span>' in page and "(2 answers)" in page  # CSAT
    assert '<span class="big">1 / 1</span>' in page  # at-risk customers saved
    assert page.count('<rect class="bar"') >= 2 and "Escalations per day by reason" in page


def test_dashboard_without_an_event_stream_says_containment_is_unavailable(supervisor):
    page = supervisor.get("/console/dashboard").text
    assert "(no event stream)" in page and "n/a" in page
