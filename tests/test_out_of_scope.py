"""The out-of-scope detector: the model, the component's rules, the shipped training file and its measured quality."""

from __future__ import annotations

from pathlib import Path

import pytest
import scipy.sparse as sp
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.out_of_scope import OUT_OF_SCOPE, OutOfScopeDetector, OutOfScopeModel, read_other_domains
from scripts.import_datasets import OOS_COLLISIONS
from scripts.stack import ensure_model
from tests.bench_runner import bench_figures

ROOT = Path(__file__).resolve().parent.parent
CLINC = ROOT.parent / "shared" / "datasets" / "clinc150" / "train_val.json"
OWN = {
    "track_order": ["where is my order", "has my parcel shipped", "track order 100624", "when will my package arrive"],
    "get_refund": ["I want a refund", "give me my money back", "refund my order please", "can I get my money back"],
    "get_invoice": [
        "send me the invoice",
        "I need a receipt for my order",
        "invoice for order 100624",
        "a VAT invoice",
    ],
}
OTHER = [
    "what's the weather tomorrow",
    "set a timer for ten minutes",
    "how long is the flight to rome",
    "book me a table for two",
    "what's a good recipe for lasagne",
    "tell me a joke",
    "how do I change a tyre",
    "when is my next dentist appointment",
]


@pytest.fixture(scope="module")
def model() -> OutOfScopeModel:
    return OutOfScopeModel().fit([t for texts in OWN.values() for t in texts], OTHER)


def test_model_scores_other_domains_high_and_the_shops_requests_low(model):
    other, own = (
        model.score(["what's the weather in rome", "a recipe for pancakes"]),
        model.score(["where is my parcel", "I want my money back"]),
    )
    assert other.min() > 0.5 > own.max()


def test_the_fast_scores_are_scikit_learns(model):
    texts = ["weather in rome?", "where is order 100624", "", "asdkjh"]
    features = sp.hstack([v.transform(texts) for v in model.vectorisers])
    expected = model.classifier.predict_proba(features.tocsr())[:, 1]
    assert model.score(texts) == pytest.approx(expected, abs=1e-9)


def _detector(tmp_path, model, **config) -> OutOfScopeDetector:
    storage = LocalModelStorage(tmp_path)
    return OutOfScopeDetector({**OutOfScopeDetector.get_default_config(), **config}, storage, Resource("oos"), model)


def _message(text: str, intent: str, confidence: float, entities: list[dict] | None = None) -> Message:
    message = Message.build(text=text)
    message.set("intent", {"name": intent, "confidence": confidence})
    message.set("intent_ranking", [{"name": intent, "confidence": confidence}])
    message.set("entities", entities or [])
    return message


def test_a_rejected_message_becomes_out_of_scope_and_keeps_the_classifiers_choice(tmp_path, model):
    detector = _detector(tmp_path, model, threshold=0.5)
    [message] = detector.process([_message("what's the weather tomorrow in rome", "delivery_period", 0.9)])
    assert message.get("intent")["name"] == OUT_OF_SCOPE
    assert [r["name"] for r in message.get("intent_ranking")] == [OUT_OF_SCOPE, "delivery_period"]
    assert message.get(OUT_OF_SCOPE)["rejected"] is True
    assert message.get(OUT_OF_SCOPE)["intent"] == "delivery_period"


def test_a_shop_entity_keeps_the_message_in_scope(tmp_path, model):
    detector = _detector(tmp_path, model, threshold=0.5)
    order = [{"entity": "order_id", "value": "100624", "start": 0, "end": 6}]
    [message] = detector.process([_message("what's the weather tomorrow 100624", "track_order", 0.9, order)])
    assert message.get("intent")["name"] == "track_order"
    assert message.get(OUT_OF_SCOPE)["rejected"] is False and message.get(OUT_OF_SCOPE)["score"] > 0.5


def test_the_threshold_decides_and_an_unsure_intent_needs_less(tmp_path, model):
    text = "what's the weather tomorrow in rome"
    score = float(model.score([text])[0])
    strict = _detector(tmp_path, model, threshold=min(0.999, score + 0.01), unsure_threshold=score - 0.01)
    [confident] = strict.process([_message(text, "delivery_period", 0.9)])
    [unsure] = strict.process([_message(text, "delivery_period", 0.2)])
    assert confident.get("intent")["name"] == "delivery_period"
    assert unsure.get("intent")["name"] == OUT_OF_SCOPE


def test_training_uses_the_nlu_data_and_the_other_domain_file(tmp_path):
    other_file = tmp_path / "other.txt"
    other_file.write_text("# comment line\n" + "\n".join(OTHER) + "\n\n")
    assert read_other_domains(other_file) == OTHER
    examples = [Message.build(text=t, intent=i) for i, texts in OWN.items() for t in texts]
    examples.append(Message.build(text="sing me a song", intent=OUT_OF_SCOPE))
    detector = _detector(tmp_path, None, training_file=str(other_file), threshold=0.5)
    detector.train(TrainingData(training_examples=examples))
    assert detector.model is not None
    [weather, parcel] = detector.process(
        [
            _message("the weather tomorrow in rome", "track_order", 0.9),
            _message("where is my parcel", "track_order", 0.9),
        ]
    )
    assert weather.get("intent")["name"] == OUT_OF_SCOPE and parcel.get("intent")["name"] == "track_order"


def test_the_shipped_other_domain_file_names_nothing_a_shops_customer_asks_about():
    lines = read_other_domains(ROOT / "data" / "out_of_scope" / "other_domains.txt")
    assert len(lines) > 5000
    assert not [line for line in lines if OOS_COLLISIONS.search(line)]


@pytest.mark.slow
def test_the_shipped_model_declines_other_domains_and_keeps_customers():
    """bench/oos_eval.py on CLINC's measuring half and the held-out natural test set (floors under the figures)."""
    if not CLINC.exists():
        pytest.skip(f"CLINC150 not found at {CLINC} (../shared/datasets)")
    figures = bench_figures("oos_eval.py", "--model", str(ensure_model()))
    assert figures["oos_reject_rate"] >= 0.95 and figures["intent_macro_f1"] >= 0.85
