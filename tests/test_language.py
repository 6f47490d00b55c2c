"""components/language.py (the detector and the NLU component), actions/language.py and the language in the packet."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message
from rasa_sdk.executor import CollectingDispatcher

from actions.language import ActionOnlyEnglish
from components.language import LanguageClassifier, LanguageDetector, without_noise, yes_no
from shopcare_core.escalation.decision import Decision
from shopcare_core.escalation.packet import build_request


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("hola, ¿dónde está mi pedido 100624?", "es"),
        ("je veux annuler ma commande", "fr"),
        ("ich möchte meine Bestellung stornieren", "de"),
        ("dzień dobry, gdzie jest moje zamówienie?", "pl"),
        ("где мой заказ?", "ru"),
        ("我的包裹什么时候到？", "zh"),
        ("注文をキャンセルしたいです", "ja"),
        ("أين طلبي؟", "ar"),
    ],
)
def test_messages_in_the_twelve_languages_are_recognised(detector, text, code):
    detection = detector.detect(text)
    assert (detection.code, detection.foreign) == (code, True)
    assert detection.confidence is not None and detection.confidence >= 0.8


@pytest.mark.parametrize(
    "text",
    [
        "ok",
        "hi",
        "yes",
        "10001",
        "#10001",
        "alice.martin@example.com",
        "SW1A 1AA",
        "INV-2024-0042",
        "£25.99",
        "👍",
        "my name is José García",
        "thanks a ton",
        "hasta la vista baby, cancel it",
        "where is my order?",
    ],
)
def test_english_and_too_little_text_stay_english(detector, text):
    assert not detector.detect(text).foreign


def test_numbers_emails_and_references_are_not_read_as_words():
    left = without_noise("order #10001, INV-2024-0042, a@b.co, SW1A 1AA, £25.99, 3pm")
    assert "".join(ch for ch in left if ch.isalnum()) == "order"
    assert without_noise("注文10011が遅れています") == "注文 が遅れています"


def test_yes_and_no_in_the_other_languages():
    assert [yes_no(t) for t in ("Sí", "oui !", "Ja, bitte", "はい", "نعم")] == ["affirm"] * 5
    assert [yes_no(t) for t in ("non", "Nein danke", "нет")] == ["deny"] * 3
    assert yes_no("yes") is None and yes_no("sí, pero el pedido 10001") is None


def parse(component: LanguageClassifier, text: str, intent: str = "track_order") -> Message:
    message = Message(
        data={
            "text": text,
            "intent": {"name": intent, "confidence": 0.7},
            "intent_ranking": [{"name": intent, "confidence": 0.7}],
            "entities": [],
        }
    )
    component.process([message])
    return message


def test_component_marks_a_foreign_message_and_fills_the_language_entity(detector):
    component = LanguageClassifier({}, detector)
    message = parse(component, "hola, ¿dónde está mi pedido 100624?")
    assert message.get("language")["code"] == "es"
    assert message.get("intent")["name"] == "foreign_language"
    assert message.get("intent_ranking")[0]["name"] == "foreign_language"
    assert [(e["entity"], e["value"]) for e in message.get("entities")] == [("language", "es")]


def test_component_leaves_english_alone_and_reads_yes_in_another_language(detector):
    component = LanguageClassifier({}, detector)
    english = parse(component, "where is my order 10001?")
    assert english.get("language")["code"] == "en" and english.get("intent")["name"] == "track_order"
    assert english.get("entities") == []
    short = parse(component, "10001")
    assert short.get("language") == {"code": "und", "confidence": None}
    assert short.get("intent")["name"] == "track_order"
    yes = parse(component, "sí", intent="nlu_fallback")
    assert yes.get("intent") == {"name": "affirm", "confidence": 1.0}


async def test_only_english_answer_offers_a_person(make_tracker, domain):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={"language": "es"}, intent="foreign_language", text="hola")
    events = await ActionOnlyEnglish().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["response"] == "utter_only_english"
    assert events == [{"event": "slot", "timestamp": None, "name": "pending_confirmation", "value": "human"}]


def test_the_language_reaches_the_escalation_packet(make_tracker):
    decision = Decision(escalate=True, reasons=("explicit_request",), priority=80, summary="s", suggested_action="a")
    spanish = build_request(make_tracker(slots={"language": "es"}), decision)
    assert spanish["packet"]["customer"]["language"] == "es"
    assert build_request(make_tracker(), decision)["packet"]["customer"]["language"] == "en"
