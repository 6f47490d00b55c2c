#!/usr/bin/env python
"""Per-call cost of the hot paths of a customer turn, each beside the slower way it replaced, on the shipped models.

  python bench/hot_paths.py            # needs `make models` (models/, var/churn_train.db)

- intent: the shipped intent classifier on one message at a time (what Rasa does per message): scikit-learn's
  `predict_proba` plus the known-word count, against `FastPredictor` (components/intent_classifier.py); the
  probabilities are compared too;
- validation: an action server's answer of ten events checked by the compiled full schema, against
  `FastActionResultCheck` (components/rasa_speedups.py), which must give the same verdict;
- sentiment: the shipped sentiment model's `score_many` on one message (what the NLU component does), with
  scikit-learn's TF-IDF transform against `FastTfidf` (shopcare_core/ml/tfidf.py); the probabilities must be equal;
- events: a stored 42-event conversation turned back into a tracker (`DialogueStateTracker.from_dict`), with Rasa's
  event-type lookup (a walk over all event classes per event) against the cached one (components/rasa_speedups.py);
- churn score: one customer and their drivers, `score` through scikit-learn's forest (joblib dispatch per tree) against
  `score` through `ForestProbability` (shopcare_core/ml/churn.py), which must give the same scores;
- churn features: one customer's tables loaded and turned into features, as the CRM's features endpoint does (the
  pandas groupby version it replaced: docs/benchmarks-history.md, measured by this script at commit d8208c3).

Messages: the first 300 of data/sentiment/customer_messages.csv. Customers: the first 200 of var/churn_train.db.
"""

from __future__ import annotations

import csv
import platform
import statistics
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import components  # noqa: E402,F401  (installs the speed-ups, as loading a model does)
from components import rasa_patches, rasa_speedups  # noqa: E402
from components.intent_classifier import MODEL_FILE, FastPredictor  # noqa: E402
from components.rasa_speedups import FastActionResultCheck, _compiled  # noqa: E402
from crm_backend.db.base import make_engine  # noqa: E402
from crm_backend.ml.data import load_tables  # noqa: E402
from crm_backend.settings import Settings  # noqa: E402
from shopcare_core.ml.churn import ChurnModel  # noqa: E402
from shopcare_core.ml.features import build_features  # noqa: E402
from shopcare_core.ml.sentiment import SentimentModel  # noqa: E402


def per_call_ms(fn: Callable[[Any], Any], items: list[Any], rounds: int = 3) -> float:
    """Median over rounds of the mean time per call, in milliseconds."""
    fn(items[0])  # warm-up
    means = []
    for _ in range(rounds):
        started = time.perf_counter()
        for item in items:
            fn(item)
        means.append((time.perf_counter() - started) * 1000 / len(items))
    return statistics.median(means)


def model_file(component: str, name: str, into: Path) -> Path:
    """A file of the trained Rasa model, extracted into ``into``."""
    with tarfile.open(ROOT / "models" / "shopcare.tar.gz") as archive:
        member = next(m for m in archive.getmembers() if component in m.name and m.name.endswith(name))
        archive.extract(member, into)
    return into / member.name


def conversation_events() -> list[dict[str, Any]]:
    """Five order-status turns as a conversation is stored (42 events)."""
    events: list[dict[str, Any]] = [{"event": "action", "name": "action_session_start"}, {"event": "session_started"}]
    for _turn in range(5):
        parse = {
            "text": "where is my order 10001?",
            "intent": {"name": "order_status", "confidence": 0.9},
            "entities": [{"entity": "order_id", "value": "10001", "start": 18, "end": 23}],
            "sentiment": {"label": "neutral", "score": 0.0},
        }
        events += [
            {"event": "action", "name": "action_listen"},
            {"event": "user", "text": parse["text"], "parse_data": parse},
            {"event": "user_featurization", "use_text_for_featurization": False},
            {"event": "action", "name": "order_form"},
            {"event": "active_loop", "name": "order_form"},
            {"event": "slot", "name": "order_id", "value": "10001"},
            {"event": "bot", "text": "Order 10001 is on its way.", "data": {}, "metadata": {}},
            {"event": "active_loop", "name": None},
        ]
    return events


def answer_with_ten_events() -> dict[str, Any]:
    slots = [
        {"event": "slot", "timestamp": None, "name": f"slot_{i}", "value": {"a": [1, 2, 3], "b": "x" * 50}}
        for i in range(8)
    ]
    return {
        "events": slots
        + [
            {"event": "bot", "timestamp": None, "text": "Your order 10002 is on its way.", "data": {}, "metadata": {}},
            {"event": "active_loop", "name": None, "timestamp": None},
        ],
        "responses": [{"text": "Anything else?"}],
    }


def main() -> int:
    rows: list[tuple[str, str, float, float | None]] = []
    with open(ROOT / "data" / "sentiment" / "customer_messages.csv", newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)][:300]

    with tempfile.TemporaryDirectory() as tmp:
        pipeline = joblib.load(model_file("intent_classifier", MODEL_FILE, Path(tmp)))
        sentiment_file = model_file("components.sentiment.SentimentAnalyzer", "sentiment_model.joblib", Path(tmp))
        sentiment, sklearn_sentiment = SentimentModel.load(sentiment_file), SentimentModel.load(sentiment_file)
    fast = FastPredictor(pipeline)
    words = pipeline.named_steps["features"].transformer_list[0][1]
    expected = pipeline.predict_proba(texts)
    got = fast.predict_proba(fast.features(texts)[0])
    max_diff = float(np.abs(expected - got).max())
    before = per_call_ms(lambda t: (pipeline.predict_proba([t]), words.transform([t])), texts)
    after = per_call_ms(lambda t: fast.predict_proba(fast.features([t])[0]), texts)
    rows.append(("intent classifier, one message", f"{len(texts)} messages", before, after))

    sklearn_sentiment._transforms = (sklearn_sentiment.words.transform, sklearn_sentiment.chars.transform)
    assert np.array_equal(sentiment.predict_proba(texts), sklearn_sentiment.predict_proba(texts))
    before = per_call_ms(lambda t: sklearn_sentiment.score_many([t]), texts)
    after = per_call_ms(lambda t: sentiment.score_many([t]), texts)
    rows.append(("sentiment score, one message", f"{len(texts)} messages", before, after))

    from rasa.shared.core.events import Event
    from rasa.shared.core.trackers import DialogueStateTracker

    events = conversation_events()
    assert Event.resolve_by_type is rasa_speedups.resolve_event_type
    load = lambda _: DialogueStateTracker.from_dict("bench", events, [])  # noqa: E731
    after = per_call_ms(load, list(range(100)))
    with rasa_patches.rasas_own(rasa_patches.find(Event, "resolve_by_type")):
        before = per_call_ms(load, list(range(100)))
    rows.append((f"conversation of {len(events)} events deserialised", "100 loads", before, after))

    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    full, check = _compiled(schema), FastActionResultCheck(schema)
    answers = [answer_with_ten_events()] * 200
    assert check.accepts(answers[0]) and full.is_valid(answers[0])
    before = per_call_ms(full.validate, answers)
    after = per_call_ms(check.accepts, answers)
    rows.append(("action answer validation, 10 events", "200 answers", before, after))

    settings = Settings(database_url=f"sqlite:///{ROOT / 'var' / 'churn_train.db'}", relay_enabled=False)
    engine = make_engine(settings)
    as_of = datetime(2026, 11, 1)
    ids = [int(r[0]) for r in engine.connect().exec_driver_sql("SELECT id FROM customers ORDER BY id LIMIT 200")]
    model = ChurnModel.load(ROOT / "models" / "churn.joblib")
    features = build_features(load_tables(engine, ids), as_of)
    customers = [features.iloc[[i]] for i in range(len(features))]
    reference = ChurnModel.load(ROOT / "models" / "churn.joblib")
    reference.fast = None
    assert model.fast is not None and [model.score(c) for c in customers] == [reference.score(c) for c in customers]
    before = per_call_ms(reference.score, customers)
    after = per_call_ms(model.score, customers)
    rows.append(("churn score + drivers, one customer", f"{len(customers)} customers", before, after))
    feature_ms = per_call_ms(lambda c: build_features(load_tables(engine, [c]), as_of), ids)
    rows.append(("churn features, one customer (load + build)", f"{len(ids)} customers", feature_ms, None))
    engine.dispose()

    print(f"# Hot paths ({datetime.utcnow():%Y-%m-%d %H:%M} UTC)\n")
    print(f"- machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print("- `python bench/hot_paths.py`; median of 3 rounds of the mean per call\n")
    print("| path | data | before ms | now ms |")
    print("|---|---|---:|---:|")
    for name, data, first, second in rows:
        now = f"{second:.2f}" if second is not None else f"{first:.2f}"
        print(
            f"| {name} | {data} | {first:.2f} | {now} |" if second is not None else f"| {name} | {data} | — | {now} |"
        )
    print(f"\nintent probabilities, largest difference from scikit-learn: {max_diff:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
