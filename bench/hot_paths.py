#!/usr/bin/env python
"""Per-call cost of the hot paths of a customer turn, each beside the slower way it replaced, on the shipped models.

  python bench/hot_paths.py            # needs `make models` (models/, var/churn_train.db)

- intent: the shipped intent classifier on one message at a time (what Rasa does per message): scikit-learn's
  `predict_proba` plus the known-word count, against `FastPredictor` (components/intent_classifier.py); the
  probabilities are compared too;
- validation: an action server's answer of ten events checked by the compiled full schema, against
  `FastActionResultCheck` (components/rasa_speedups.py), which must give the same verdict;
- churn score: one customer and their drivers, `score` through scikit-learn's forest (joblib dispatch per tree) against
  `score` through `ForestProbability` (crm_backend/ml/churn.py), which must give the same scores;
- churn features: one customer's tables loaded and turned into features, as the CRM's features endpoint does (the
  pandas groupby version it replaced: docs/benchmarks.md, measured by this script at commit d8208c3).

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
from components.intent_classifier import MODEL_FILE, FastPredictor  # noqa: E402
from components.rasa_speedups import FastActionResultCheck, _compiled  # noqa: E402
from crm_backend.db.base import make_engine  # noqa: E402
from crm_backend.ml.churn import ChurnModel  # noqa: E402
from crm_backend.ml.data import load_tables  # noqa: E402
from crm_backend.ml.features import build_features  # noqa: E402
from crm_backend.settings import Settings  # noqa: E402


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


def intent_pipeline() -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(ROOT / "models" / "shopcare.tar.gz") as archive:
            member = next(m for m in archive.getmembers() if m.name.endswith(MODEL_FILE))
            archive.extract(member, tmp)
        return joblib.load(Path(tmp) / member.name)


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

    pipeline = intent_pipeline()
    fast = FastPredictor(pipeline)
    words = pipeline.named_steps["features"].transformer_list[0][1]
    expected = pipeline.predict_proba(texts)
    got = fast.predict_proba(fast.features(texts)[0])
    max_diff = float(np.abs(expected - got).max())
    before = per_call_ms(lambda t: (pipeline.predict_proba([t]), words.transform([t])), texts)
    after = per_call_ms(lambda t: fast.predict_proba(fast.features([t])[0]), texts)
    rows.append(("intent classifier, one message", f"{len(texts)} messages", before, after))

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
