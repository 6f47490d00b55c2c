"""Structured entities by rule: order and invoice numbers, amounts, e-mails, UK postcodes, read as a person reads them.

These entities have a shape (digits, `INV-123`, `£25`, `x@y.z`, `SW1A 1AA`) that rules capture exactly
(docs/architecture.md#nlu-models). spaCy's Matcher finds the token shapes and
the words before a number decide what it is: after "order" ("order # 123", "order no. 123", "order 100 624") an order
number whatever the message is about, after "invoice"/"inv" an invoice number, `INV-…` always an invoice number, after
"refund"/"refund of" or before "back" a small number is an amount (with or without a currency sign), any other number
of 4+ digits an order number. E-mails, in any case and next to any punctuation, are read by a regular expression on
the text. The component runs after the CRF tagger on every message, replaces whatever it found for these entity types
and leaves the others (person names, cities, ...); a message with no digit and no "@" costs one scan of its text.
"""

from __future__ import annotations

import re
from typing import Any

import spacy
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.matcher import Matcher
from spacy.tokens import Doc

STRUCTURED = ("order_id", "invoice_id", "refund_amount", "email", "postcode")
CURRENCY_SYMBOLS = ["£", "$", "€"]
CURRENCY_WORDS = ["pounds", "pound", "quid", "gbp", "dollars", "dollar", "usd", "euros", "euro", "eur"]
CURRENCY_CODES = ["gbp", "usd", "eur"]
ORDER_WORDS = {"order", "orders", "ordr", "ord", "purchase"}
INVOICE_WORDS = {"invoice", "invoices", "inv", "bill", "receipt"}
# between a label word and its number: "order # 123", "invoice no. 123", "order number: 123", "my order is 123"
LABEL_FILLERS = {"#", "no", "nr", "num", "number", "id", "ref", "reference", ":", ".", "-", "=", "is", "was", "'s"}
# a bare amount with no currency: "a refund of 20", "refund me 15.50", "I want 20 back"
AMOUNT_BEFORE = {"refund", "refunded", "refunding", "reimburse", "reimbursed", "amount", "compensation"}
AMOUNT_FILLERS = {"of", "me", "is", "be", "just", "only", "the", "about", "around"}
WANT_BACK = {"want", "get", "need", "like", "receive"}
AMOUNT_RE = r"^\d{1,6}([.,]\d{1,2})?$"
# spaCy's token shapes ("dd.dd"; runs longer than 4 are cut to 4): cheaper than a regular expression on each token
DECIMAL_SHAPES = ["d" * n + sep + "dd" for n in range(1, 5) for sep in ".,"]
AMOUNT_SHAPES = ["d" * n + dec for n in range(1, 5) for dec in ("", ".d", ".dd", ",d", ",dd")]
OUTWARD_RE = r"^[a-z]{1,2}\d[a-z\d]?$"
INWARD_RE = r"^\d[a-z]{2}$"
FULL_POSTCODE_RE = r"^[a-z]{1,2}\d[a-z\d]?\d[a-z]{2}$"
# spaCy's tokenizer splits some addresses ("Alice.Martin@Example.COM", "email:x@y.z"): e-mails are read on the text
EMAIL_RE = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+'-]{0,63}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}"
    r"\.[A-Za-z]{2,24}(?![\w@-])"
)
DIGIT = re.compile(r"\d")
PRIORITY = {"email": 0, "refund_amount": 1, "invoice_id": 2, "postcode": 3, "order_id": 4}


def build_matcher(nlp: spacy.language.Language) -> Matcher:
    matcher = Matcher(nlp.vocab)
    matcher.add(
        "invoice_id",
        [
            [{"LOWER": {"REGEX": r"^inv-?\d{3,12}$"}}],
            [{"LOWER": "inv"}, {"ORTH": "-", "OP": "?"}, {"IS_DIGIT": True, "LENGTH": {">=": 3, "<=": 12}}],
        ],
    )
    matcher.add(
        "refund_amount",
        [
            [{"ORTH": {"IN": CURRENCY_SYMBOLS}}, {"TEXT": {"REGEX": AMOUNT_RE}}],
            [{"TEXT": {"REGEX": r"^[£$€]\d{1,6}([.,]\d{1,2})?$"}}],
            [{"SHAPE": {"IN": AMOUNT_SHAPES}}, {"LOWER": {"IN": CURRENCY_WORDS}}],
            [{"LOWER": {"IN": CURRENCY_CODES}}, {"TEXT": {"REGEX": AMOUNT_RE}}],
            [{"LOWER": {"REGEX": r"^(gbp|usd|eur)\d{1,6}([.,]\d{1,2})?$|^\d{1,6}([.,]\d{1,2})?(gbp|usd|eur)$"}}],
            [{"SHAPE": {"IN": DECIMAL_SHAPES}}],
        ],
    )
    matcher.add("bare_amount", [[{"IS_DIGIT": True, "LENGTH": {"<=": 3}}]])
    matcher.add(
        "postcode",
        [
            [{"LOWER": {"REGEX": OUTWARD_RE}}, {"LOWER": {"REGEX": INWARD_RE}}],
            [{"LOWER": {"REGEX": FULL_POSTCODE_RE}}],
        ],
    )
    matcher.add(
        "number",
        [[{"ORTH": "#", "OP": "?"}, {"IS_DIGIT": True, "LENGTH": {">=": 4, "<=": 18}}]],
    )
    # digits in groups, "100 624" or "100-624": an order number only after "order" (or as the whole message)
    matcher.add(
        "grouped_number",
        [
            [
                {"IS_DIGIT": True, "LENGTH": {">=": 2, "<=": 4}},
                {"ORTH": "-", "OP": "?"},
                {"IS_DIGIT": True, "LENGTH": {">=": 3, "<=": 4}},
            ]
        ],
    )
    # "order#100624", "order:100624", "no.100624": one token to spaCy
    matcher.add("labelled_order", [[{"LOWER": {"REGEX": r"^(order|ord|no\.?)[#:]?#?\d{4,18}$"}}]])
    return matcher


def _label_before(doc: Doc, start: int, fillers: set[str]) -> str:
    """The first word before token `start` that is not a filler ("order" in "order no. 123")."""
    for token in reversed(doc[max(0, start - 4) : start]):
        word = token.lower_
        if word not in fillers:
            return word.rstrip(":#")
    return ""


def _classify(doc: Doc, start: int, end: int, label: str) -> str | None:
    """The entity a contextual match is, or None when the context says it is none."""
    if label == "number":
        before = _label_before(doc, start, LABEL_FILLERS)
        return "invoice_id" if before in INVOICE_WORDS else "order_id"
    if label == "grouped_number":
        digits = sum(len(t.text) for t in doc[start:end] if t.is_digit)
        whole = start == 0 and all(t.is_punct for t in doc[end:])
        return (
            "order_id" if digits >= 5 and (whole or _label_before(doc, start, LABEL_FILLERS) in ORDER_WORDS) else None
        )
    if label == "bare_amount":
        wants_back = end < len(doc) and doc[end].lower_ == "back" and start > 0 and doc[start - 1].lower_ in WANT_BACK
        return "refund_amount" if wants_back or _label_before(doc, start, AMOUNT_FILLERS) in AMOUNT_BEFORE else None
    if label == "labelled_order":
        return "order_id"
    return label


def _value(text: str, label: str) -> str:
    if label == "refund_amount":
        match = re.search(r"\d{1,6}([.,]\d{1,2})?", text)
        return match.group(0).replace(",", ".") if match else text
    if label == "order_id":
        return re.sub(r"\D", "", text)
    if label == "postcode":
        compact = re.sub(r"\s+", "", text.upper())
        return f"{compact[:-3]} {compact[-3:]}"
    if label == "email":
        return text.lower()
    if label == "invoice_id" and text.lower().startswith("inv"):
        return "INV-" + re.sub(r"\D", "", text)
    return text


def _entity(label: str, start: int, end: int, value: str) -> dict[str, Any]:
    return {"entity": label, "start": start, "end": end, "value": value, "extractor": "SpacyPatternEntityExtractor"}


def extract(nlp: spacy.language.Language, matcher: Matcher, text: str) -> list[dict[str, Any]]:
    """Entities found in `text`, as Rasa entity dicts (longest match wins)."""
    entities = (
        [_entity("email", m.start(), m.end(), m.group(0).lower()) for m in EMAIL_RE.finditer(text)]
        if "@" in text
        else []
    )
    taken_chars = [(e["start"], e["end"]) for e in entities]
    if not DIGIT.search(text):
        return entities  # every entity but an e-mail has a digit: most messages stop here
    doc = nlp.make_doc(text)
    found: list[tuple[int, int, str]] = []
    for match_id, start, end in matcher(doc):
        label = _classify(doc, start, end, nlp.vocab.strings[match_id])
        if label is not None:
            found.append((start, end, label))
    # longest span first, then the more specific label
    found.sort(key=lambda f: (-(f[1] - f[0]), PRIORITY[f[2]], f[0]))
    taken: set[int] = set()
    for start, end, label in found:
        span = doc[start:end]
        if taken.intersection(range(start, end)) or any(
            span.start_char < e and s < span.end_char for s, e in taken_chars
        ):
            continue
        taken.update(range(start, end))
        first = span.start_char
        if label == "order_id" and not span.text[0].isdigit():  # "order#123": the number, with its "#"
            first += re.search(r"#?\d", span.text).start()  # type: ignore[union-attr]
        entities.append(_entity(label, first, span.end_char, _value(text[first : span.end_char], label)))
    return sorted(entities, key=lambda e: e["start"])


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class SpacyPatternEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Rule-based extractor for entities with a fixed shape, built on spaCy's Matcher."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"replace_entities": list(STRUCTURED)}

    @staticmethod
    def required_packages() -> list[str]:
        return ["spacy"]

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = {**self.get_default_config(), **config}
        self.nlp = spacy.blank("en")
        self.matcher = build_matcher(self.nlp)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SpacyPatternEntityExtractor:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        replace = set(self.config["replace_entities"])
        for message in messages:
            text: str | None = message.get(TEXT)
            if not text:
                continue
            mine = extract(self.nlp, self.matcher, text)
            spans = [(e["start"], e["end"]) for e in mine]
            kept = [
                e
                for e in message.get(ENTITIES, [])
                if e.get("entity") not in replace
                and not any(e["start"] < end and start < e["end"] for start, end in spans)
            ]
            message.set(ENTITIES, sorted(kept + mine, key=lambda e: e["start"]), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
