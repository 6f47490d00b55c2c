"""The rule-based extractor (components/entity_extractor.py) reads order and invoice numbers, e-mails, postcodes and
amounts the way a person reads them: tables of messages and the entities expected, span text and value."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from components.entity_extractor import SpacyPatternEntityExtractor

extractor = SpacyPatternEntityExtractor({})


def read(text: str) -> list[tuple[str, str, str]]:
    """(entity, the text of its span, value) for each entity found in `text`."""
    [message] = extractor.process([Message(data={"text": text})])
    return [(e["entity"], text[e["start"] : e["end"]], e["value"]) for e in message.get("entities")]


ORDERS = [
    # a number after "order" is an order number, whatever else the message is about
    ("could I get a copy of the invoice for order 100624 please", [("order_id", "100624", "100624")]),
    ("VAT receipt for order 77812 please", [("order_id", "77812", "77812")]),
    ("where is order # 100624", [("order_id", "100624", "100624")]),
    ("order #100624 hasn't arrived", [("order_id", "#100624", "100624")]),
    ("order no. 100624", [("order_id", "100624", "100624")]),
    ("order number: 100624", [("order_id", "100624", "100624")]),
    ("my order is 100 624", [("order_id", "100 624", "100624")]),
    ("order 100-624 please", [("order_id", "100-624", "100624")]),
    ("order#100624", [("order_id", "#100624", "100624")]),
    ("order:100624", [("order_id", "100624", "100624")]),
    ("100 624", [("order_id", "100 624", "100624")]),
    ("it's #20931", [("order_id", "#20931", "20931")]),
    ("where's 4400812?", [("order_id", "4400812", "4400812")]),
    ("orders 10001 and 10002", [("order_id", "10001", "10001"), ("order_id", "10002", "10002")]),
    ("the invoice for 100624", [("order_id", "100624", "100624")]),
]

INVOICES = [
    ("what's the date on invoice INV-88120", [("invoice_id", "INV-88120", "INV-88120")]),
    ("does inv-50017 relate to the sofa?", [("invoice_id", "inv-50017", "INV-50017")]),
    ("INV 31099 please", [("invoice_id", "INV 31099", "INV-31099")]),
    ("invoice no. 20394", [("invoice_id", "20394", "20394")]),
    ("my invoice number is 20394", [("invoice_id", "20394", "20394")]),
    (
        "INV-10001 is for order 10001",
        [("invoice_id", "INV-10001", "INV-10001"), ("order_id", "10001", "10001")],
    ),
]

EMAILS = [
    ("alice.martin@example.com", [("email", "alice.martin@example.com", "alice.martin@example.com")]),
    ("Alice.Martin@Example.COM", [("email", "Alice.Martin@Example.COM", "alice.martin@example.com")]),
    ("my email is alice.martin@example.com.", [("email", "alice.martin@example.com", "alice.martin@example.com")]),
    ("email:ALICE@EXAMPLE.CO.UK, thanks", [("email", "ALICE@EXAMPLE.CO.UK", "alice@example.co.uk")]),
    ("(tom.h+shop@gmail.com)", [("email", "tom.h+shop@gmail.com", "tom.h+shop@gmail.com")]),
    ("'o'brien@example.ie'", [("email", "o'brien@example.ie", "o'brien@example.ie")]),
    (
        "10001, alice.martin@example.com",
        [("order_id", "10001", "10001"), ("email", "alice.martin@example.com", "alice.martin@example.com")],
    ),
    ("john10001@example.com", [("email", "john10001@example.com", "john10001@example.com")]),
    ("it's alice at example dot com", []),
    ("alice@example", []),
]

AMOUNTS = [
    ("£25", [("refund_amount", "£25", "25")]),
    ("£ 25.50 please", [("refund_amount", "£ 25.50", "25.50")]),
    ("30 pounds", [("refund_amount", "30 pounds", "30")]),
    ("GBP 25", [("refund_amount", "GBP 25", "25")]),
    ("25gbp", [("refund_amount", "25gbp", "25")]),
    ("€12,50", [("refund_amount", "€12,50", "12.50")]),
    ("19.99", [("refund_amount", "19.99", "19.99")]),
    ("I want 20 back", [("refund_amount", "20", "20")]),
    ("a refund of 15 please", [("refund_amount", "15", "15")]),
    ("refund 30 for order 10021", [("refund_amount", "30", "30"), ("order_id", "10021", "10021")]),
    # numbers that are not amounts
    ("I sent 2 back last week", []),
    ("can I order 3 lamps", []),
    ("the full amount", []),
]

POSTCODES = [
    ("SW1A 1AA", [("postcode", "SW1A 1AA", "SW1A 1AA")]),
    ("my post code is m11ae", [("postcode", "m11ae", "M1 1AE")]),
    (
        "wrong postcode on #44210, should be OX1 2JD",
        [("order_id", "#44210", "44210"), ("postcode", "OX1 2JD", "OX1 2JD")],
    ),
]


@pytest.mark.parametrize(("text", "expected"), ORDERS + INVOICES + EMAILS + AMOUNTS + POSTCODES)
def test_structured_entities_read_as_a_person_reads_them(text, expected):
    assert read(text) == expected


def test_the_taggers_guesses_for_these_entities_are_replaced_and_others_kept():
    text = "invoice for order 100624, send it to Leeds"
    crf = [
        {"entity": "invoice_id", "start": 18, "end": 24, "value": "100624", "extractor": "CRFEntityExtractor"},
        {"entity": "delivery_city", "start": 37, "end": 42, "value": "Leeds", "extractor": "CRFEntityExtractor"},
    ]
    [message] = extractor.process([Message(data={"text": text, "entities": crf})])
    assert [(e["entity"], e["value"], e["extractor"]) for e in message.get("entities")] == [
        ("order_id", "100624", "SpacyPatternEntityExtractor"),
        ("delivery_city", "Leeds", "CRFEntityExtractor"),
    ]
