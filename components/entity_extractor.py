"""Structured entities with spaCy's rule Matcher: order and invoice numbers, amounts, e-mails, UK postcodes.

These entities have a shape (digits, `INV-123`, `£25`, `x@y.z`, `SW1A 1AA`) that token rules capture exactly,
where a statistical tagger learns them only approximately (see docs/benchmarks.md). Context words decide between
an order and an invoice number ("invoice 12345") and an amount ("£12", "12 pounds"). The component runs after the
CRF tagger, replaces whatever it found for these entity types and leaves the others (person names, cities, ...).
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
from spacy.tokens import Doc, Span

STRUCTURED = ("order_id", "invoice_id", "refund_amount", "email", "postcode")
CURRENCY_SYMBOLS = ["£", "$", "€"]
CURRENCY_WORDS = ["pounds", "pound", "quid", "gbp", "dollars", "dollar", "usd", "euros", "euro", "eur", "p"]
INVOICE_WORDS = {"invoice", "invoices", "bill", "receipt", "inv", "invoice#", "invoice no", "statement"}
AMOUNT_RE = r"^\d{1,6}([.,]\d{1,2})?$"
OUTWARD_RE = r"^[a-z]{1,2}\d[a-z\d]?$"
INWARD_RE = r"^\d[a-z]{2}$"
FULL_POSTCODE_RE = r"^[a-z]{1,2}\d[a-z\d]?\d[a-z]{2}$"


def build_matcher(nlp: spacy.language.Language) -> Matcher:
    matcher = Matcher(nlp.vocab)
    matcher.add("email", [[{"LIKE_EMAIL": True}]])
    matcher.add(
        "invoice_id",
        [[{"LOWER": {"REGEX": r"^inv-?\d{3,12}$"}}], [{"LOWER": "inv"}, {"ORTH": "-"}, {"IS_DIGIT": True}]],
    )
    matcher.add(
        "refund_amount",
        [
            [{"ORTH": {"IN": CURRENCY_SYMBOLS}}, {"TEXT": {"REGEX": AMOUNT_RE}}],
            [{"TEXT": {"REGEX": r"^[£$€]\d{1,6}([.,]\d{1,2})?$"}}],
            [{"TEXT": {"REGEX": AMOUNT_RE}}, {"LOWER": {"IN": CURRENCY_WORDS}}],
        ],
    )
    matcher.add(
        "postcode",
        [
            [{"LOWER": {"REGEX": OUTWARD_RE}}, {"LOWER": {"REGEX": INWARD_RE}}],
            [{"LOWER": {"REGEX": FULL_POSTCODE_RE}}],
        ],
    )
    matcher.add(
        "number",
        [
            [{"ORTH": "#", "OP": "?"}, {"TEXT": {"REGEX": r"^\d{4,18}$"}}],
            [{"TEXT": {"REGEX": r"^#\d{3,18}$"}}],
        ],
    )
    return matcher


def _near_invoice_word(doc: Doc, start: int) -> bool:
    window = [t.lower_.strip("#:") for t in doc[max(0, start - 4) : start]]
    return any(w in INVOICE_WORDS for w in window)


def _value(span: Span, label: str) -> str:
    text = span.text
    if label == "refund_amount":
        match = re.search(r"\d{1,6}([.,]\d{1,2})?", text)
        return match.group(0).replace(",", ".") if match else text
    if label == "order_id":
        return text.lstrip("#").strip()
    if label == "postcode":
        compact = re.sub(r"\s+", "", text.upper())
        return f"{compact[:-3]} {compact[-3:]}"
    if label == "email":
        return text.lower()
    return text.upper() if label == "invoice_id" and text.lower().startswith("inv") else text


def extract(nlp: spacy.language.Language, matcher: Matcher, text: str) -> list[dict[str, Any]]:
    """Entities found in `text`, as Rasa entity dicts (longest match wins)."""
    doc = nlp.make_doc(text)
    found: list[tuple[int, int, str]] = []
    for match_id, start, end in matcher(doc):
        label = nlp.vocab.strings[match_id]
        if label == "number":
            label = "invoice_id" if _near_invoice_word(doc, start) else "order_id"
        found.append((start, end, label))
    # longest span first, then the more specific label
    priority = {"email": 0, "refund_amount": 1, "invoice_id": 2, "postcode": 3, "order_id": 4}
    found.sort(key=lambda f: (-(f[1] - f[0]), priority[f[2]], f[0]))
    taken: set = set()
    entities = []
    for start, end, label in found:
        if taken.intersection(range(start, end)):
            continue
        taken.update(range(start, end))
        span = doc[start:end]
        entities.append(
            {
                "entity": label,
                "start": span.start_char,
                "end": span.end_char,
                "value": _value(span, label),
                "extractor": "SpacyPatternEntityExtractor",
            }
        )
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
