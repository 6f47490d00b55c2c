"""A customer who writes in Spanish over the REST channel: told in Spanish that the assistant only helps in English,
offered a person, and handed over on "sí" with the language in the escalation packet."""

from __future__ import annotations

from tests.e2e.conftest import joined
from tests.support import escalation_of, wait_until


def test_spanish_customer_is_answered_in_spanish_and_handed_to_a_person(chat, crm_api):
    reply = chat("hola, ¿dónde está mi pedido 100624?")
    text = joined(reply)
    assert "solo puedo ayudarte en inglés" in text and "persona" in text
    assert "order number" not in text and "e-mail" not in text  # not answered as if understood
    assert [b["title"] for b in reply[-1].get("buttons", [])] == ["Sí, con una persona", "No, gracias"]
    chat("sí")
    escalation = wait_until(lambda: escalation_of(crm_api, chat.conversation_id))
    assert "explicit_request" in escalation["reason_codes"]
    assert escalation["packet"]["customer"]["language"] == "es"


def test_english_customer_with_a_spanish_name_is_served_in_english(chat):
    text = joined(chat("hi, my name is José García and I want to track my order"))
    assert "inglés" not in text and "order" in text.lower()
