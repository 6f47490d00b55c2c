"""PII and secrets are masked in log lines (every logger, every handler, tracebacks) and in the event-broker stream;
the escalation packet keeps what agents need."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import time

import pytest

from crm_backend import logmask
from crm_backend.pii import Masker, mask_event
from tests.security.conftest import Conversation

SAMPLES = {
    "alice.martin@example.com": "[email]",
    "+44 7700 900123": "[phone]",
    "4111-1111-1111-1111": "[card]",
    "SW1A 1AA": "[postcode]",
    "221B Baker Street": "[address]",
}


@pytest.mark.parametrize(("raw", "masked"), SAMPLES.items())
def test_masker_masks_each_kind_and_keeps_order_numbers(raw, masked):
    out = Masker().text(f"order 10001 for customer 12: {raw} on 2026-11-23")
    assert masked in out and raw not in out
    assert "order 10001 for customer 12" in out and "2026-11-23" in out


def test_secrets_are_masked_by_value_and_by_shape():
    masker = Masker(["s3cret-api-key-value"])
    line = 'X-API-Key: s3cret-api-key-value GET /status?token=abc123 {"password": "hunter22"} Authorization: Bearer xyz'
    out = masker.text(line)
    assert not any(s in out for s in ("s3cret-api-key-value", "abc123", "hunter22", "xyz"))


def test_every_log_record_of_the_process_is_masked_including_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    log = logging.getLogger("pii-test")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    previous = logging.getLogRecordFactory()
    try:
        logmask.install(["my-rasa-token-123"])
        log.info("verify %s for %s", "alice.martin@example.com", "SW1A 1AA")
        log.warning("POST http://127.0.0.1:5005/x?token=my-rasa-token-123")
        try:
            raise ValueError("bad card 4111 1111 1111 1111")
        except ValueError:
            log.exception("failed")
    finally:
        logging.setLogRecordFactory(previous)
        logmask._installed = None
        log.removeHandler(handler)
    text = stream.getvalue()
    for secret in ("alice.martin@example.com", "SW1A 1AA", "my-rasa-token-123", "4111 1111"):
        assert secret not in text
    assert "[email]" in text and "[card]" in text and "ValueError" in text


def test_broker_event_masking_keeps_the_escalation_packet():
    masker = Masker()
    user = {
        "event": "user",
        "text": "my email is a.b@example.com",
        "parse_data": {
            "text": "my email is a.b@example.com",
            "entities": [{"entity": "email", "value": "a.b@example.com"}],
        },
        "metadata": {"phone": "07700 900123"},
    }
    masked = mask_event(user, masker)
    assert "a.b@example.com" not in json.dumps(masked) and "07700" not in json.dumps(masked)
    packet = {
        "event": "slot",
        "name": "escalation_request",
        "value": {"key": "k", "body": {"email": "a.b@example.com"}},
    }
    assert mask_event(packet, masker) == packet
    slot = {"event": "slot", "name": "new_address", "value": "12 High Street, Leeds LS1 4AP"}
    assert mask_event(slot, masker)["value"] == "[address], Leeds [postcode]"


def test_a_real_conversation_leaves_no_pii_or_secret_in_logs_or_the_event_stream(stack, population):
    me = population(11)
    order = me.orders[0]["order_number"]
    chat = Conversation(stack.rasa_url, prefix="pii")
    chat.say(f"where is my order {order}?")
    assert "verified" in chat.say(f"my email is {me.email}")
    chat.say("you can call me on +44 7700 900461 if needed")
    chat.say("I want to talk to a human, my card 4111 1111 1111 1111 was charged twice")
    time.sleep(1.5)  # the broker writes in batches; the logs are flushed by line
    logs = "".join(p.read_text(errors="replace") for p in stack.log_dir.glob("*.log"))
    assert "identity/verify" in logs  # the conversation did reach the logs
    for secret in (me.email, "+44 7700 900461", "4111 1111 1111 1111", stack.api_key, stack.rasa_token):
        assert secret not in logs, secret
    with sqlite3.connect(stack.events_db) as db:
        rows = [json.loads(d) for (d,) in db.execute("SELECT data FROM events WHERE sender_id = ?", (chat.sender,))]
    assert any(e.get("event") == "user" for e in rows)
    outside_packet = [e for e in rows if not (e.get("event") == "slot" and e.get("name") == "escalation_request")]
    dumped = json.dumps(outside_packet)
    assert me.email not in dumped and "4111 1111 1111 1111" not in dumped and "7700 900461" not in dumped
    assert "[email]" in dumped
