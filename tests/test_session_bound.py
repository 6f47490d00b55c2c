"""A session that holds too many events starts again with its slots (components/session_bound.py)."""

from __future__ import annotations

import asyncio
import functools
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rasa.core.actions.action import ActionSessionStart
from rasa.core.agent import Agent
from rasa.core.processor import MessageProcessor
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    ConversationPaused,
    ConversationResumed,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from components import rasa_patches, session_bound
from components.escalation_policy import BOUNDARY_EVENTS
from crm_backend.services.grants import GrantPolicy
from scripts.stack import Stack, ensure_model
from shopcare_core.escalation.decision import Thresholds
from shopcare_core.escalation.signals import BOUNDARIES

ROOT = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=1)
def domain() -> Domain:
    return Domain.from_path(ROOT / "domain.yml")


def tracker(*events: Any) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("c1", list(events), domain().slots)


def turns(n: int) -> list[Any]:
    out: list[Any] = []
    for i in range(n):
        out += [
            UserUttered(f"message {i}", {"name": "greet"}),
            ActionExecuted("utter_greet"),
            ActionExecuted("action_listen"),
        ]
    return out


def test_installed() -> None:
    assert MessageProcessor._has_session_expired is session_bound._has_session_expired
    assert ActionSessionStart._slot_set_events_from_tracker is session_bound.latest_slot_events
    assert session_bound.limit == session_bound.max_events()  # read from the environment when installed


def test_a_session_within_the_bound_expires_exactly_when_rasas_own_check_says_so() -> None:
    """Under the bound the patched check is Rasa's: silence longer than `session_expiration_time`, or nothing."""
    processor = SimpleNamespace(domain=domain())
    expiry = domain().session_config.session_expiration_time * 60
    now = time.time()
    cases = {
        "no message yet": tracker(ActionExecuted("action_listen")),
        "a message just now": tracker(UserUttered("hi", {"name": "greet"}, timestamp=now)),
        "a message before the expiry": tracker(UserUttered("hi", {"name": "greet"}, timestamp=now - expiry + 60)),
        "a message after the expiry": tracker(UserUttered("hi", {"name": "greet"}, timestamp=now - expiry - 60)),
    }
    with rasa_patches.rasas_own(rasa_patches.find(MessageProcessor, "_has_session_expired")):
        rasas = {name: MessageProcessor._has_session_expired(processor, t) for name, t in cases.items()}
    ours = {name: MessageProcessor._has_session_expired(processor, t) for name, t in cases.items()}
    assert ours == rasas
    assert rasas == {
        "no message yet": False,
        "a message just now": False,
        "a message before the expiry": False,
        "a message after the expiry": True,
    }


def test_only_a_session_over_the_bound_starts_again() -> None:
    assert not session_bound.session_too_long(tracker(*turns(10)), 30)  # 30 events: at the bound, not over it
    assert session_bound.session_too_long(tracker(*turns(11)), 30)
    assert not session_bound.session_too_long(tracker(*turns(11)), 0)  # 0: no bound
    # only the current session counts: 33 events in all, 9 since the last session start
    assert not session_bound.session_too_long(tracker(*turns(8), SessionStarted(), *turns(3)), 30)


def test_never_inside_a_form_nor_while_an_agent_has_the_conversation() -> None:
    in_form = tracker(*turns(20), ActiveLoop("verify_identity_form"))
    assert in_form.active_loop_name and not session_bound.session_too_long(in_form, 30)
    assert session_bound.session_too_long(tracker(*turns(20), ActiveLoop("verify_identity_form"), ActiveLoop(None)), 30)
    paused = tracker(*turns(20), ConversationPaused())
    assert paused.is_paused() and not session_bound.session_too_long(paused, 30)


def said(text: str, score: float, intent: str = "inform") -> list[Any]:
    """One customer turn whose message the NLU scored `score`."""
    return [
        UserUttered(text, {"name": intent}, parse_data={"sentiment": {"score": score}}),
        ActionExecuted("utter_ok"),
        ActionExecuted("action_listen"),
    ]


def test_the_bound_waits_for_a_calm_moment() -> None:
    """A new session starts the escalation signals afresh, so it must not come while they are building up."""
    assert session_bound.session_too_long(tracker(*turns(11), *said("fine", 0.1)), 30, window=3)
    upset = tracker(*turns(11), *said("still nothing", -0.5), *said("ok", 0.0))
    assert not session_bound.session_too_long(upset, 30, window=3)  # a negative message among the last three
    later = tracker(*upset.events, *said("ok", 0.0), *said("and the other order?", 0.0))
    assert session_bound.session_too_long(later, 30, window=3)  # three calm messages since: it may start again
    misunderstood = tracker(*turns(11), *said("asdf qwer", 0.0, intent="nlu_fallback"))
    assert not session_bound.session_too_long(misunderstood, 30, window=3)  # a fallback streak would be lost
    # a conversation cannot keep its session unbounded by staying upset: at twice the bound it starts again anyway
    assert not session_bound.session_too_long(tracker(*turns(18), *said("rubbish", -0.6)), 30, window=3)
    assert session_bound.session_too_long(tracker(*turns(20), *said("rubbish", -0.6)), 30, window=3)
    # what an agent saw before handing back does not count, as for the escalation decision
    handed_back = tracker(*turns(11), *said("awful", -0.9), ConversationResumed(), *said("thanks", 0.6))
    assert session_bound.session_too_long(handed_back, 30, window=3)
    assert session_bound.calm_window == Thresholds.load().trend_window  # the decision's own window, when installed
    # the bound walks back to the same boundaries the escalation signals start afresh at
    assert {e.type_name for e in BOUNDARY_EVENTS} == BOUNDARIES


def live_grant(customer_id: int, minutes: int = 30) -> str:
    policy = GrantPolicy("dev-grant-secret-not-for-production", idle=timedelta(minutes=30), absolute=timedelta(hours=8))
    now = datetime.now(timezone.utc).timestamp() + (minutes - 30) * 60
    token, _ = policy.issue(customer_id=customer_id, conversation_id="c", channel="rest", strength="email", now=now)
    return token


def test_a_new_session_carries_each_slots_latest_value_once() -> None:
    grant = live_grant(7)
    earlier = [
        SlotSet("order_id", "10001"),
        SlotSet("customer_id", 7, metadata={"by": "verify"}),
        SlotSet("identity_grant", grant),
    ]
    history = tracker(
        SessionStarted(),
        *earlier,
        *turns(2),
        SlotSet("order_id", "10002"),
        SlotSet("task", "track_order"),
        SlotSet("task", None),
        SlotSet("order_id", "10003"),
    )
    carried = session_bound.latest_slot_events(history)
    assert [(e.key, e.value) for e in carried] == [
        ("customer_id", 7),
        ("identity_grant", grant),
        ("task", None),
        ("order_id", "10003"),
    ]
    assert carried[0].metadata == {"by": "verify"}
    # the same slot values as Rasa's own carry-over, which repeats every SlotSet of the session
    with rasa_patches.rasas_own(rasa_patches.find(ActionSessionStart, "_slot_set_events_from_tracker")):
        rasa_way = tracker(*ActionSessionStart._slot_set_events_from_tracker(history))
    ours = tracker(*carried)
    assert {k: s.value for k, s in ours.slots.items()} == {k: s.value for k, s in rasa_way.slots.items()}
    # and a session that began with carried slots passes each on once, not twice
    again = tracker(*history.events, SessionStarted(), *carried, *turns(1), SlotSet("order_id", "10004"))
    assert [(e.key, e.value) for e in session_bound.latest_slot_events(again)] == [
        ("customer_id", 7),
        ("identity_grant", grant),
        ("task", None),
        ("order_id", "10004"),
    ]


@pytest.mark.parametrize("grant", [None, "not-a-grant", "lapsed"])
def test_an_identity_whose_grant_has_lapsed_is_not_carried_into_the_new_session(grant: str | None) -> None:
    """A customer who comes back after the grant lapsed (the next day) starts as a guest and verifies again."""
    token = live_grant(7, minutes=-1) if grant == "lapsed" else grant
    history = tracker(
        SessionStarted(),
        SlotSet("customer_id", 7),
        SlotSet("customer_name", "Gus"),
        SlotSet("identity_grant", token),
        SlotSet("churn_probability", 0.4),
        SlotSet("order_id", "10001"),
    )
    assert [(e.key, e.value) for e in session_bound.latest_slot_events(history)] == [("order_id", "10001")]


def test_the_bound_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(session_bound.ENV, raising=False)
    assert session_bound.max_events() == session_bound.DEFAULT_MAX_EVENTS
    for raw, expected in (("250", 250), ("0", 0), ("-5", 0), ("lots", session_bound.DEFAULT_MAX_EVENTS)):
        monkeypatch.setenv(session_bound.ENV, raw)
        assert session_bound.max_events() == expected


@pytest.fixture(scope="module")
def agent(stack: Stack) -> Agent:
    """The shipped model in process, with the shared stack's action server (and so its CRM) and an in-memory store."""
    endpoint = EndpointConfig(f"{stack.action_url}/webhook", headers={"X-Action-Token": stack.action_token})
    return Agent.load(str(ensure_model()), action_endpoint=endpoint)


def test_a_long_conversation_goes_on_in_a_new_session_with_its_slots(
    agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_bound, "limit", 20)
    sender = "session-bound-1"

    def say(text: str) -> str:
        replies = asyncio.run(agent.handle_text(text, sender_id=sender)) or []
        return " ".join(r.get("text") or "" for r in replies)

    def full_tracker() -> DialogueStateTracker:
        found = asyncio.run(agent.tracker_store.retrieve_full_tracker(sender))
        assert found is not None
        return found

    def sessions() -> int:
        return sum(isinstance(e, SessionStarted) for e in full_tracker().events)

    # Chloe's orders: the suite's many checks on Alice's order 10001 may have paused checks on it (per-order limit)
    say("hi")
    assert "e-mail address" in say("where is my order 10021?")  # the identity form asks; the session is over 20 events
    assert full_tracker().active_loop_name
    started = sessions()
    status = say("chloe.nguyen@example.com")
    assert "verified" in status and "10021" in status and sessions() == started  # finished in the session it began in
    follow_up = say("and order 10022?")
    assert sessions() == started + 1  # the bound started a new session before this message
    assert "10022" in follow_up and "e-mail" not in follow_up  # still identified: no second check
    current = full_tracker()
    assert current.get_slot("customer_id") is not None
    events = list(current.events)
    latest_start = max(i for i, e in enumerate(events) if isinstance(e, SessionStarted))
    assert any(isinstance(e, SlotSet) and e.key == "customer_id" for e in events[latest_start:])  # carried over
    end = next(i for i, e in enumerate(events) if i > latest_start and isinstance(e, ActionExecuted))
    carried = [e.key for e in events[latest_start + 1 : end]]  # action_session_start's SlotSets, up to action_listen
    assert "customer_id" in carried and len(carried) == len(set(carried))  # each slot once
