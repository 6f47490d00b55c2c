"""Behaviour of the message-sentiment model (shopcare_core.ml.sentiment), trained on the team's CSV minus its
fixed held-out split."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sklearn.metrics import f1_score

from shopcare_core.ml.sentiment import SentimentModel, normalise, read_labelled_csv, train_from_csv

DATA = Path(__file__).resolve().parents[2] / "data" / "sentiment" / "customer_messages.csv"
VOICES = DATA.parent / "holdout_voices.csv"


@pytest.fixture(scope="module")
def trained() -> tuple[SentimentModel, object]:
    started = time.perf_counter()
    model, held = train_from_csv(DATA, holdout_fraction=0.2, seed=13)
    assert time.perf_counter() - started < 10
    return model, held


@pytest.fixture(scope="module")
def model(trained: tuple[SentimentModel, object]) -> SentimentModel:
    return trained[0]


def label(model: SentimentModel, text: str) -> str:
    return model.score(text)["label"]


def test_negation_flips(model: SentimentModel) -> None:
    assert label(model, "I am happy") == "positive"
    assert label(model, "I am not happy at all") == "negative"
    assert model.score("I am not happy at all")["score"] < 0 < model.score("I am happy")["score"]


def test_negation_scope_is_marked() -> None:
    assert "not_happy" in normalise("I'm not happy").split()
    assert "not_happy" in normalise("I dont feel happy").split()
    assert "not_happy" not in normalise("not late, but happy").split()


@pytest.mark.parametrize(
    "text",
    [
        "this is f***ing ridiculous",
        "wtf is going on with my parcel",
        "bloody useless",
        "WHERE IS MY REFUND",
        "where is it???!!!",
        "great, another delay, just perfect",
        "still no parcel 😡",
        "thanks for nothing 🙄",
    ],
)
def test_negative_cues(model: SentimentModel, text: str) -> None:
    assert label(model, text) == "negative"


def test_profanity_caps_and_runs_push_negative(model: SentimentModel) -> None:
    plain = model.score("where is my order")["score"]
    assert model.score("WHERE IS MY ORDER")["score"] < plain
    assert model.score("where is my order???!!!")["score"] < plain
    assert model.score("where is my fucking order")["score"] < plain


@pytest.mark.parametrize("text", ["thank you so much", "thanks, that was really helpful", "perfect 👍", "love it 😊"])
def test_thanks_and_praise_positive(model: SentimentModel, text: str) -> None:
    assert label(model, text) == "positive"


def test_emojis_decide_polarity(model: SentimentModel) -> None:
    assert model.score("ok 😊")["score"] > model.score("ok")["score"] > model.score("ok 😡")["score"]


@pytest.mark.parametrize("text", ["where is my order 10432?", "can I change the delivery address", "no thanks"])
def test_plain_requests_neutral(model: SentimentModel, text: str) -> None:
    assert label(model, text) == "neutral"


def test_result_shape_and_range(model: SentimentModel) -> None:
    for text in ["", "hello", "🙄🙄🙄", "a" * 5000, "NOT BAD AT ALL!!!"]:
        result = model.score(text)
        assert set(result) == {"label", "score", "probabilities"}
        assert -1.0 <= result["score"] <= 1.0
        assert set(result["probabilities"]) == {"negative", "neutral", "positive"}
        assert sum(result["probabilities"].values()) == pytest.approx(1.0)
        assert result["label"] == max(result["probabilities"], key=result["probabilities"].get)


def test_score_many_matches_score(model: SentimentModel) -> None:
    texts = ["wtf", "thanks!", "where is order 123?"]
    for one, many in zip([model.score(t) for t in texts], model.score_many(texts), strict=True):
        assert one["label"] == many["label"]
        assert one["score"] == pytest.approx(many["score"], abs=1e-9)


def test_save_load_roundtrip(model: SentimentModel, tmp_path: Path) -> None:
    texts = ["this is ridiculous!!!", "cheers mate", "can I pay with PayPal?"]
    model.save(tmp_path / "sentiment.joblib")
    loaded = SentimentModel.load(tmp_path / "sentiment.joblib")
    assert [loaded.score(t) for t in texts] == [model.score(t) for t in texts]


def test_speed(model: SentimentModel) -> None:
    texts = [f"order {i} still hasn't arrived, this is really annoying!!" for i in range(200)]
    model.score(texts[0])
    started = time.perf_counter()
    for text in texts:
        model.score(text)
    assert (time.perf_counter() - started) / len(texts) < 0.005


def test_heldout_macro_f1(trained: tuple[SentimentModel, object]) -> None:
    model, held = trained
    predicted = model.predict(held["text"].tolist())
    assert f1_score(held["label"], predicted, average="macro") >= 0.85


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("why is my flight delayed AGAIN?", "negative"),
        ("why has my parcel still not arrived??", "negative"),
        ("is flight QX55 running on time this evening?", "neutral"),
        ("why is the large size dearer than the medium?", "neutral"),
        ("what happens if my train is cancelled?", "neutral"),
        ("my train was cancelled and I've been stuck at the station for two hours", "negative"),
    ],
)
def test_questions_neutral_unless_they_complain(model: SentimentModel, text: str, expected: str) -> None:
    assert label(model, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CAN'T WAIT for my order to arrive!!!", "positive"),
        ("@ShopCareUK huge thanks for the quick refund 😊", "positive"),
        ("@ShopCareUK do you ship to Jersey? https://example.com/p/1", "neutral"),
        ("@ShopCareUK third missed delivery this week #fail", "negative"),
        ("thanks a lot, another hour on hold", "negative"),
        ("the driver was friendly but the parcel was soaked", "negative"),
        ("took a while but sorted now, thank you", "positive"),
    ],
)
def test_social_media_style_and_mixed_messages(model: SentimentModel, text: str, expected: str) -> None:
    assert label(model, text) == expected


def test_holdout_voices_macro_f1(model: SentimentModel) -> None:
    voices = read_labelled_csv(VOICES)
    assert len(voices) >= 240
    assert f1_score(voices["label"], model.predict(voices["text"].tolist()), average="macro") >= 0.85
