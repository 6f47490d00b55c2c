"""The escalation decision on tables of cases, and reading its signals from Rasa events."""

from __future__ import annotations

import pytest

from shopcare_core.escalation.decision import THRESHOLDS_FILE, Signals, Thresholds, decide
from shopcare_core.escalation.signals import signals_from
from shopcare_core.escalation.triggers import Trigger

T = Thresholds.load()
ASK = "ask the customer first"
FIRE = Trigger("safety_issue", "fire", "caught fire")
BEREAVED = Trigger("vulnerable_customer", "bereavement", "mum passed")
SOLICITOR = Trigger("legal_threat", "legal", "my solicitor")

CASES = [
    # (name, signals, escalate? (or ASK: not yet, ask the customer's consent), reasons)
    ("calm customer", Signals(sentiment=(0.1, 0.0, 0.2), intent="track_order"), False, ()),
    ("nothing known yet", Signals(), False, ()),
    (
        "explicit request",
        Signals(sentiment=(0.0,), intent="contact_human_agent", explicit_request=True),
        True,
        ("explicit_request",),
    ),
    ("one strongly negative message", Signals(sentiment=(0.1, -0.97), intent="complaint"), True, ("strong_negative",)),
    ("mildly negative once", Signals(sentiment=(0.0, -0.4), intent="track_order"), False, ()),
    ("negative trend", Signals(sentiment=(0.0, -0.3, -0.45, -0.5), intent="track_order"), True, ("negative_trend",)),
    ("trend too short", Signals(sentiment=(-0.4, -0.5), intent="track_order"), False, ()),
    ("one negative among calm ones", Signals(sentiment=(0.3, 0.2, -0.5), intent="track_order"), False, ()),
    (
        "valuable at-risk customer cancels",
        Signals(sentiment=(0.0,), intent="cancel_order", churn_probability=0.7, customer_value=900.0),
        True,
        ("at_risk_customer",),
    ),
    (
        "at-risk but low value cancels",
        Signals(sentiment=(0.0,), intent="cancel_order", churn_probability=0.7, customer_value=80.0),
        False,
        (),
    ),
    (
        "valuable low-risk customer cancels",
        Signals(sentiment=(0.0,), intent="cancel_order", churn_probability=0.1, customer_value=900.0),
        False,
        (),
    ),
    (
        "valuable at-risk customer only tracks",
        Signals(sentiment=(0.0,), intent="track_order", churn_probability=0.8, customer_value=900.0),
        False,
        (),
    ),
    (
        "three calm fallbacks in a row: ask first",
        Signals(sentiment=(-0.1, 0.0, -0.2), consecutive_fallbacks=3, intent="nlu_fallback"),
        ASK,
        ("repeated_fallback",),
    ),
    (
        "three fallbacks, nothing scored: ask first",
        Signals(consecutive_fallbacks=3, intent="nlu_fallback"),
        ASK,
        ("repeated_fallback",),
    ),
    (
        "three fallbacks, one of them upset: hand over",
        Signals(sentiment=(0.2, -0.6, -0.1, -0.1), consecutive_fallbacks=3, intent="nlu_fallback"),
        True,
        ("repeated_fallback",),
    ),
    (
        "an upset message before the misunderstood ones does not count",
        Signals(sentiment=(-0.6, -0.1, 0.0, -0.1), consecutive_fallbacks=3, intent="nlu_fallback"),
        ASK,
        ("repeated_fallback",),
    ),
    (
        "a fourth fallback after the question: hand over",
        Signals(sentiment=(0.0, 0.0, 0.0, 0.0), consecutive_fallbacks=4, intent="nlu_fallback"),
        True,
        ("repeated_fallback",),
    ),
    ("two fallbacks (the two-stage fallback still has a go)", Signals(consecutive_fallbacks=2), False, ()),
    (
        "a calm safety report",
        Signals(sentiment=(0.24,), intent="nlu_fallback", triggers=(FIRE,)),
        True,
        ("safety_issue",),
    ),
    (
        "a bereavement in the middle of a form",
        Signals(sentiment=(0.0, -0.1), intent="inform", triggers=(BEREAVED,)),
        True,
        ("vulnerable_customer",),
    ),
    (
        "a legal threat read as out of scope",
        Signals(sentiment=(-0.3,), intent="out_of_scope", triggers=(SOLICITOR,)),
        True,
        ("legal_threat",),
    ),
    (
        "a trigger after a hand-back is judged afresh",
        Signals(sentiment=(0.0,), intent="complaint", triggers=(SOLICITOR,), handled=("legal_threat",)),
        True,
        ("legal_threat",),
    ),
    (
        "a trigger with a calm fallback streak escalates, not asks",
        Signals(sentiment=(0.0, 0.0, 0.1), consecutive_fallbacks=3, intent="nlu_fallback", triggers=(FIRE,)),
        True,
        ("safety_issue",),
    ),
    ("identity locked", Signals(identity_locked=True, failed_identity_checks=3), True, ("identity_locked",)),
    ("refund above the limit", Signals(rule_hits=("refund_review",)), True, ("refund_review",)),
    (
        "third complaint this month",
        Signals(rule_hits=("repeat_complaint",), intent="complaint"),
        True,
        ("repeat_complaint",),
    ),
    ("locked identity already handed over", Signals(identity_locked=True, handled=("identity_locked",)), False, ()),
    (
        "anger after a hand-back still counts",
        Signals(sentiment=(-0.97,), identity_locked=True, handled=("identity_locked", "strong_negative")),
        True,
        ("strong_negative",),
    ),
    (
        "angry and asking for a person",
        Signals(sentiment=(-0.97,), intent="contact_human_agent", explicit_request=True),
        True,
        ("explicit_request", "strong_negative"),
    ),
]


@pytest.mark.parametrize("name,signals,escalate,reasons", CASES, ids=[c[0] for c in CASES])
def test_decision_table(name, signals, escalate, reasons):
    decision = decide(signals, T)
    assert decision.escalate is (escalate is True)
    assert decision.ask_consent is (escalate == ASK)
    assert decision.reasons == reasons
    if escalate is True:
        assert 0 < decision.priority <= 100
        assert decision.summary.startswith("The customer ") and decision.suggested_action
    else:
        assert decision.priority == 0


def test_priority_rises_with_value_risk_and_more_reasons():
    base = decide(Signals(sentiment=(-0.97,)), T).priority
    valuable = decide(Signals(sentiment=(-0.97,), customer_value=1500.0, churn_probability=0.9), T).priority
    more = decide(Signals(sentiment=(-0.97,), explicit_request=True), T).priority
    assert base < valuable <= 100 and base < more


def test_triggers_outrank_anger_reach_the_urgent_banner_and_quote_the_customer():
    angry = decide(Signals(sentiment=(-0.97,)), T)
    for trigger in (FIRE, BEREAVED, SOLICITOR):
        decision = decide(Signals(sentiment=(0.0,), triggers=(trigger,)), T)
        assert decision.priority > angry.priority and decision.priority >= 70  # the CRM's notify_priority
        assert f'("{trigger.phrase}")' in decision.summary
        assert decision.details["triggers"] == [
            {"reason": trigger.reason, "kind": trigger.kind, "phrase": trigger.phrase}
        ]
    both = decide(Signals(sentiment=(-0.97,), triggers=(FIRE,)), T)
    assert both.reasons == ("safety_issue", "strong_negative")
    assert both.suggested_action.startswith("Check that nobody is hurt")
    assert decide(Signals(sentiment=(0.0,), triggers=(FIRE,)), T).priority == T.weights["safety_issue"]


def test_every_reason_has_a_weight_a_summary_and_a_suggested_action():
    from crm_backend.console.present import REASONS  # the console shows every reason in words
    from shopcare_core.escalation.decision import REASON_TEXT, SUGGESTED, TRIGGER_REASONS
    from shopcare_core.escalation.triggers import lexicon

    assert set(REASON_TEXT) == set(SUGGESTED) == set(T.weights) == set(REASONS)
    assert set(TRIGGER_REASONS) == set(lexicon().reasons)


def test_at_risk_decision_offers_retention_and_says_why():
    decision = decide(
        Signals(
            intent="cancel_order",
            churn_probability=0.72,
            customer_value=800.0,
            churn_drivers=("3 late deliveries in 90 days", "no order for 120 days"),
        ),
        T,
    )
    assert decision.offer_retention
    assert "72%" in decision.summary and "3 late deliveries" in decision.summary


def test_thresholds_come_from_config(tmp_path):
    path = tmp_path / "t.yml"
    path.write_text(THRESHOLDS_FILE.read_text())
    strict = Thresholds.load(path, strong_negative=-0.99)
    assert decide(Signals(sentiment=(-0.97,)), Thresholds.load(path)).escalate
    assert not decide(Signals(sentiment=(-0.97,)), strict).escalate


def user(text, intent, score):
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}, "sentiment": {"score": score}}}


def test_signals_from_events_count_only_since_the_last_hand_back():
    events = [
        user("this is a disgrace", "complaint", -0.9),
        {"event": "pause"},
        {"event": "resume"},
        user("ok thanks, and where is order 10001", "track_order", 0.1),
    ]
    signals = signals_from(events, {"churn_probability": 0.4, "customer_value": 120.5, "verify_failures": 1})
    assert signals.sentiment == (0.1,) and signals.intent == "track_order"
    assert signals.churn_probability == 0.4 and signals.customer_value == 120.5
    assert signals.failed_identity_checks == 1 and not decide(signals, T).escalate


def test_signals_count_trailing_fallbacks_and_explicit_requests():
    events = [
        user("a", "greet", 0.0),
        user("b", "nlu_fallback", 0.0),
        user("c", "nlu_fallback", 0.0),
        user("d", "nlu_fallback", -0.1),
    ]
    assert signals_from(events, {}).consecutive_fallbacks == 3
    human = signals_from([user("a person please", "contact_human_agent", 0.0)], {})
    assert human.explicit_request


def test_triggers_come_from_the_latest_message_only_and_out_of_scope_is_not_misunderstood():
    events = [
        user("asdf qwerty", "nlu_fallback", -0.1),
        user("what's the weather in Madrid", "out_of_scope", 0.0),
        user("how long to fly to Rome", "out_of_scope", 0.0),
    ]
    assert signals_from(events, {}).consecutive_fallbacks == 0  # understood as another domain: the honest answer
    fire = [user("the heater caught fire", "nlu_fallback", 0.2)]
    assert [t.reason for t in signals_from(fire, {}).triggers] == ["safety_issue"]
    later = [*fire, user("ok and where is order 10001", "track_order", 0.0)]
    assert signals_from(later, {}).triggers == ()
    handed_back = [user("I'll see you in court", "complaint", -0.4), {"event": "resume"}]
    assert signals_from(handed_back, {}).triggers == ()
