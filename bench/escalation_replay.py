#!/usr/bin/env python
"""Escalation replay: how well does the escalation decision pick the conversations a person should take over?

  python bench/escalation_replay.py                                   # labelled YAML, shipped sentiment model
  python bench/escalation_replay.py --data other.yml -v               # another labelled file, per-conversation lines
  python bench/escalation_replay.py --sentiment-model model.joblib    # a saved SentimentModel instead of training
  python bench/escalation_replay.py --from-crm sqlite:///var/crm.db   # escalations in the CRM with agents' verdicts
  python bench/escalation_replay.py --no-triggers                     # without the must-escalate triggers

Labelled conversations (tests/data/escalation_conversations.yml): every customer message is scored with the shipped
sentiment model (shopcare_core/ml/sentiment.py trained on all of data/sentiment/customer_messages.csv, exactly as
components/sentiment.py trains it) and replayed turn by turn as Rasa user events
(parse_data.intent.name, parse_data.sentiment.score) with the slots churn_probability, customer_value and
identity_locked; on every turn ``decide(signals_from(events, slots, rule_hits), thresholds)`` is called, as the
escalation policy does (must-escalate triggers are read from the message text, shopcare_core/escalation/triggers.yml),
and the replay stops at the first escalation. A calm customer misunderstood several times in a row is asked whether
they want a person (the decision's ``ask_consent``): the replay counts that question as a hand-over at that turn.

CRM (--from-crm DATABASE_URL): every escalation with a verdict is one case. Its turns are the customer lines of the
packet's transcript (intent and sentiment as Rasa recorded them); an escalation without a transcript falls back to
its customer rows in escalation_messages (their stored sentiment, intent unknown). Churn risk, value and the locked
identity come from the packet/scores; refund_review/repeat_complaint among its reason codes count as rule hits on
the last turn. Verdict -> label: justified = should escalate by the last turn, too_late = should escalate by the
turn before, unnecessary = should not escalate.

Metrics per threshold setting: escalation rate, precision, recall, F1 (escalated at any turn vs should_escalate),
on time (share of should-escalate conversations escalated at or before escalate_by_turn) and the false escalations;
for the shipped setting, the hand-overs by main reason and what a turn's signals + decision cost (all turns replayed
in a loop, as the policy runs them).
Settings: the shipped thresholds.yml plus a grid over strong_negative x trend_negative_mean x churn_high, sorted by
F1, shipped marked with *. Last line: ``precision=<x> recall=<y> escalation_rate=<z>`` for the shipped thresholds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.exc import SQLAlchemyError

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from shopcare_core.escalation.decision import THRESHOLDS_FILE, Decision, Thresholds, decide  # noqa: E402
from shopcare_core.escalation.signals import signals_from  # noqa: E402
from shopcare_core.escalation.triggers import Lexicon, detect  # noqa: E402
from shopcare_core.ml.sentiment import SentimentModel, train_from_csv  # noqa: E402

DATA = REPO / "tests/data/escalation_conversations.yml"
SENTIMENT_CSV = REPO / "data/sentiment/customer_messages.csv"
RULES = ("refund_review", "repeat_complaint")
GRID = {
    "strong_negative": (-0.7, -0.8, -0.9),
    "trend_negative_mean": (-0.25, -0.35, -0.45),
    "churn_high": (0.15, 0.3, 0.5),
}
VERDICTS = ("justified", "unnecessary", "too_late")


# ------------------------------------------------------------------ cases


@dataclass(frozen=True)
class Turn:
    text: str
    intent: str | None
    sentiment: float | None
    rule_hits: tuple[str, ...] = ()
    identity_locked: bool = False  # the identity got locked on this turn (it stays locked)


@dataclass(frozen=True)
class Case:
    id: str
    channel: str
    turns: tuple[Turn, ...]
    churn_probability: float | None
    customer_value: float | None
    segment: str | None
    should_escalate: bool
    escalate_by_turn: int | None


def load_conversations(path: Path | str = DATA) -> list[dict[str, Any]]:
    data = yaml.safe_load(Path(path).read_text())
    return list(data["conversations"] if isinstance(data, dict) else data)


def load_sentiment_model(path: Path | str | None = None) -> tuple[SentimentModel, str]:
    """(model, how it was obtained): the saved model at ``path``, else the shipped one trained from the CSV."""
    if path:
        return SentimentModel.load(path), f"loaded from {path}"
    t0 = time.perf_counter()
    model, _ = train_from_csv(SENTIMENT_CSV, holdout_fraction=0.0)  # as components/sentiment.py: every message
    how = f"shipped model trained on all of {SENTIMENT_CSV.relative_to(REPO)} in {time.perf_counter() - t0:.1f} s"
    return model, how


def cases_from_conversations(conversations: Iterable[Mapping[str, Any]], model: SentimentModel) -> list[Case]:
    cases = []
    for conv in conversations:
        customer = conv.get("customer") or {}
        turns = tuple(
            Turn(
                text=t["text"],
                intent=t["intent"],
                sentiment=round(float(model.score(t["text"])["score"]), 4),
                rule_hits=tuple(t.get("rule_hits") or ()),
                identity_locked=bool(t.get("identity_locked")),
            )
            for t in conv["turns"]
        )
        cases.append(
            Case(
                id=str(conv["id"]),
                channel=str(conv.get("channel") or "unknown"),
                turns=turns,
                churn_probability=customer.get("churn_probability"),
                customer_value=customer.get("customer_value"),
                segment=customer.get("segment"),
                should_escalate=bool(conv["should_escalate"]),
                escalate_by_turn=conv.get("escalate_by_turn"),
            )
        )
    return cases


# ------------------------------------------------------------------ replay


def user_event(turn: Turn) -> dict[str, Any]:
    parse_data: dict[str, Any] = {"text": turn.text, "intent": {"name": turn.intent, "confidence": 1.0}}
    if turn.sentiment is not None:
        parse_data["sentiment"] = {"score": turn.sentiment}
    return {"event": "user", "text": turn.text, "parse_data": parse_data}


@dataclass(frozen=True)
class Outcome:
    case: Case
    turn: int | None  # 1-based turn of the first escalation (or question), None if never
    decision: Decision | None

    @property
    def consent(self) -> bool:
        """Handed over with the customer's consent: asked first (a yes is assumed)."""
        return self.decision is not None and self.decision.ask_consent

    @property
    def escalated(self) -> bool:
        return self.turn is not None

    @property
    def on_time(self) -> bool:
        by = self.case.escalate_by_turn
        return self.turn is not None and by is not None and self.turn <= by


NO_TRIGGERS = Lexicon({"triggers": {}})  # --no-triggers: what the decision does without the must-escalate triggers


def replay(case: Case, thresholds: Thresholds, triggers: Lexicon | None = None) -> Outcome:
    """Decide on every turn as the escalation policy does; stop at the first escalation."""
    events: list[dict[str, Any]] = [{"event": "session_started"}]
    slots: dict[str, Any] = {
        "churn_probability": case.churn_probability,
        "customer_value": case.customer_value,
        "customer_segment": case.segment,
        "identity_locked": False,
        "escalated_reasons": [],
    }
    for i, turn in enumerate(case.turns, start=1):
        events.append(user_event(turn))
        if turn.identity_locked:
            slots["identity_locked"] = True
        decision = decide(signals_from(events, slots, turn.rule_hits, triggers), thresholds)
        if decision.escalate or decision.ask_consent:
            return Outcome(case, i, decision)
    return Outcome(case, None, None)


def turn_cost(cases: Sequence[Case], thresholds: Thresholds, rounds: int = 20) -> tuple[float, float, int]:
    """(mean µs of signals_from + decide per turn, mean µs of the trigger detection alone, turns timed): every turn
    of every case, the whole conversation so far each time, `rounds` times."""
    work = []
    for case in cases:
        events: list[dict[str, Any]] = [{"event": "session_started"}]
        for turn in case.turns:
            events.append(user_event(turn))
            work.append((list(events), turn))
    slots = {"churn_probability": 0.2, "customer_value": 150.0, "identity_locked": False, "escalated_reasons": []}
    t0 = time.perf_counter()
    for _ in range(rounds):
        for events, turn in work:
            decide(signals_from(events, slots, turn.rule_hits), thresholds)
    t1 = time.perf_counter()
    for _ in range(rounds):
        for _, turn in work:
            detect(turn.text)
    t2 = time.perf_counter()
    n = rounds * len(work)
    return (t1 - t0) / n * 1e6, (t2 - t1) / n * 1e6, len(work)


@dataclass
class Metrics:
    n: int
    positives: int
    escalated: int
    tp: int
    on_time: int
    precision: float
    recall: float
    f1: float
    escalation_rate: float
    on_time_rate: float
    false_escalations: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)


def _ratio(a: int, b: int) -> float:
    return a / b if b else math.nan


def evaluate(cases: Sequence[Case], thresholds: Thresholds, triggers: Lexicon | None = None) -> Metrics:
    outcomes = [replay(c, thresholds, triggers) for c in cases]
    positives = sum(o.case.should_escalate for o in outcomes)
    escalated = sum(o.escalated for o in outcomes)
    tp = sum(o.escalated and o.case.should_escalate for o in outcomes)
    on_time = sum(o.case.should_escalate and o.on_time for o in outcomes)
    precision, recall = _ratio(tp, escalated), _ratio(tp, positives)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else math.nan
    if tp == 0 and escalated and positives:
        f1 = 0.0
    return Metrics(
        n=len(outcomes),
        positives=positives,
        escalated=escalated,
        tp=tp,
        on_time=on_time,
        precision=precision,
        recall=recall,
        f1=f1,
        escalation_rate=_ratio(escalated, len(outcomes)),
        on_time_rate=_ratio(on_time, positives),
        false_escalations=[o.case.id for o in outcomes if o.escalated and not o.case.should_escalate],
        missed=[o.case.id for o in outcomes if o.case.should_escalate and not o.escalated],
        late=[o.case.id for o in outcomes if o.case.should_escalate and o.escalated and not o.on_time],
        outcomes=outcomes,
    )


def settings(shipped: Thresholds) -> list[tuple[str, Thresholds, bool]]:
    """(label, thresholds, is_shipped): the shipped file first, then the grid points that differ from it."""

    def label(t: Thresholds) -> str:
        return f"sn={t.strong_negative:+.2f} trend={t.trend_negative_mean:+.2f} churn={t.churn_high:.2f}"

    out = [(label(shipped), shipped, True)]
    shipped_point = tuple(getattr(shipped, k) for k in GRID)
    for values in itertools.product(*GRID.values()):
        if not all(math.isclose(a, b) for a, b in zip(values, shipped_point, strict=True)):
            overrides: dict[str, Any] = dict(zip(GRID, values, strict=True))
            t = replace(shipped, **overrides)
            out.append((label(t), t, False))
    return out


# ------------------------------------------------------------------ CRM


def cases_from_crm(database_url: str) -> list[Case]:
    """One case per escalation with an agent's verdict (see the module docstring for how). Reads the tables by
    reflection, so a CRM database at an older migration (e.g. without escalations.channel) works too."""
    from sqlalchemy import MetaData, Table, create_engine, select

    from crm_backend.db.crypto import PREFIX, Keyring
    from crm_backend.settings import Settings

    keyring = Keyring.from_settings(Settings())  # the CRM's keys (env / .env): packets and messages are encrypted

    def clear(value: Any) -> Any:  # a database from before encryption at rest reads as it is
        return keyring.decrypt(value) if isinstance(value, str) and value.startswith(f"{PREFIX}.") else value

    engine = create_engine(database_url, future=True)
    try:
        meta = MetaData()
        esc = Table("escalations", meta, autoload_with=engine)
        msg = Table("escalation_messages", meta, autoload_with=engine)
        with engine.connect() as conn:
            rows = conn.execute(select(esc).where(esc.c.verdict.in_(VERDICTS)).order_by(esc.c.id)).mappings().all()
            messages: dict[int, list[Mapping[str, Any]]] = {}
            ids = [r["id"] for r in rows]
            for i in range(0, len(ids), 500):
                query = (
                    select(msg)
                    .where(msg.c.escalation_id.in_(ids[i : i + 500]), msg.c.sender == "customer")
                    .order_by(msg.c.created_at, msg.c.id)
                )
                for m in conn.execute(query).mappings():
                    messages.setdefault(m["escalation_id"], []).append(m)
    finally:
        engine.dispose()
    cases = []
    for row in rows:
        packet, scores = _json(clear(row.get("packet"))), _json(row.get("scores"))
        transcript = [line for line in packet.get("transcript") or [] if line.get("sender") == "customer"]
        if transcript:
            turns = [
                Turn(text=str(line.get("text") or ""), intent=line.get("intent"), sentiment=_num(line.get("sentiment")))
                for line in transcript
            ]
        else:
            turns = [
                Turn(text=clear(m["text"]), intent=None, sentiment=_num(m["sentiment"]))
                for m in messages.get(row["id"], [])
            ]
        if not turns:
            continue
        customer, churn, value = (_json(packet.get(k)) for k in ("customer", "churn", "value"))
        hits = tuple(r for r in _json(row.get("reason_codes"), []) if r in RULES)
        turns[-1] = replace(turns[-1], rule_hits=hits, identity_locked=bool(customer.get("identity_locked")))
        should = row["verdict"] != "unnecessary"
        by = None if not should else len(turns) if row["verdict"] == "justified" else max(1, len(turns) - 1)
        cases.append(
            Case(
                id=f"esc-{row['id']}",
                channel=str(row.get("channel") or "unknown"),
                turns=tuple(turns),
                churn_probability=_num(churn.get("probability", scores.get("churn_probability"))),
                customer_value=_num(value.get("clv", scores.get("customer_value"))),
                segment=value.get("segment"),
                should_escalate=should,
                escalate_by_turn=by,
            )
        )
    return cases


def _json(value: Any, default: Any = None) -> Any:
    """A JSON column's value as Python (some drivers/reflections hand back the raw string)."""
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if value is None:
        return {} if default is None else default
    return value


def _num(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------ report


def _rel(path: Path | str) -> str:
    p = Path(path).resolve()
    return str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(path)


def _f(x: float) -> str:
    return "  nan" if math.isnan(x) else f"{x:.3f}"


def table(rows: list[tuple[str, Thresholds, bool, Metrics]]) -> str:
    def key(row: tuple[str, Thresholds, bool, Metrics]) -> tuple[float, float, float, int]:
        m = row[3]
        nan_last = [-1.0 if math.isnan(v) else v for v in (m.f1, m.precision, m.on_time_rate)]
        return (-nan_last[0], -nan_last[1], -nan_last[2], not row[2])

    lines = [
        f"  {'setting':<40} {'esc_rate':>8} {'prec':>6} {'recall':>6} {'F1':>6} {'on_time':>7} {'FP':>3}"
        "  false escalations",
    ]
    for label, _, shipped, m in sorted(rows, key=key):
        mark = "*" if shipped else " "
        lines.append(
            f"{mark} {label:<40} {_f(m.escalation_rate):>8} {_f(m.precision):>6} {_f(m.recall):>6} {_f(m.f1):>6} "
            f"{_f(m.on_time_rate):>7} {len(m.false_escalations):>3}  {', '.join(m.false_escalations) or '-'}"
        )
    return "\n".join(lines)


def describe(o: Outcome) -> str:
    scores = " ".join("  .  " if t.sentiment is None else f"{t.sentiment:+.2f}" for t in o.case.turns)
    if o.decision is None:
        what = "not escalated"
    else:
        how = "asked at turn" if o.consent else "escalated at turn"
        what = f"{how} {o.turn} {list(o.decision.reasons)}"
    label = f"should by turn {o.case.escalate_by_turn}" if o.case.should_escalate else "should not"
    return f"  {o.case.id:<34} {label:<18} {what:<52} sentiment [{scores}]"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA), help="labelled conversations (YAML)")
    ap.add_argument("--sentiment-model", help="a saved SentimentModel (joblib) instead of training the shipped one")
    ap.add_argument("--from-crm", metavar="DATABASE_URL", help="replay escalations with verdicts from the CRM DB")
    ap.add_argument("--thresholds", default=str(THRESHOLDS_FILE), help="the shipped thresholds file")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per conversation for the shipped setting")
    ap.add_argument("--no-triggers", action="store_true", help="without the must-escalate triggers (what they add)")
    args = ap.parse_args(argv)

    shipped = Thresholds.load(args.thresholds)
    if args.from_crm:
        try:
            cases = cases_from_crm(args.from_crm)
        except SQLAlchemyError as exc:
            print(f"cannot read escalations from {args.from_crm}: {type(exc).__name__}: {exc}".splitlines()[0])
            print("precision=nan recall=nan escalation_rate=nan")
            return 1
        name = f"CRM escalations with a verdict ({args.from_crm})"
        if not cases:
            print(f"data set: {name}: 0 cases")
            print("no escalations with an agent's verdict (justified / unnecessary / too_late): nothing to replay")
            print("precision=nan recall=nan escalation_rate=nan")
            return 0
        print("sentiment: as stored in the CRM (no model run)")
    else:
        model, how = load_sentiment_model(args.sentiment_model)
        print(f"sentiment: {how}")
        path = Path(args.data)
        cases = cases_from_conversations(load_conversations(path), model)
        name = _rel(path)

    positives = sum(c.should_escalate for c in cases)
    print(
        f"data set: {name}: {len(cases)} conversations, {positives} should escalate "
        f"({positives / len(cases):.0%}), {sum(len(c.turns) for c in cases)} customer messages"
    )
    print(f"thresholds: {_rel(args.thresholds)} (* = shipped) plus a grid over {', '.join(GRID)}\n")

    triggers = NO_TRIGGERS if args.no_triggers else None
    if args.no_triggers:
        print("must-escalate triggers: OFF (--no-triggers)")
    rows = [(label, t, is_shipped, evaluate(cases, t, triggers)) for label, t, is_shipped in settings(shipped)]
    print(table(rows))

    m = rows[0][3]
    print(f"\nshipped: {m.escalated}/{m.n} escalated, {m.tp} of {m.positives} that should, {m.on_time} on time")
    consented = sum(o.consent for o in m.outcomes)
    mains = Counter(o.decision.main_reason or "repeated_fallback" for o in m.outcomes if o.decision)
    print(f"  by main reason: {', '.join(f'{r} {n}' for r, n in mains.most_common())} ({consented} asked first)")
    per_turn, per_detect, timed = turn_cost(cases, shipped)
    print(
        f"  cost per turn: signals + decision {per_turn:.1f} µs, trigger detection {per_detect:.1f} µs ({timed} turns)"
    )
    by_id = {o.case.id: o for o in m.outcomes}
    for title, ids in (("false escalations", m.false_escalations), ("missed", m.missed), ("late", m.late)):
        print(f"{title} ({len(ids)}):")
        for i in ids:
            print(describe(by_id[i]))
    if args.verbose:
        print("all conversations:")
        for o in m.outcomes:
            print(describe(o))
    print(f"precision={m.precision:.4f} recall={m.recall:.4f} escalation_rate={m.escalation_rate:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
