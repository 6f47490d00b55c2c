"""PII and secrets are masked in log lines (every logger, every handler, tracebacks) and in the event-broker stream;
the escalation packet keeps what agents need."""

from __future__ import annotations

import io
import json
import logging
import multiprocessing
import re
import sqlite3
import time
from pathlib import Path

import pytest

from shopcare_core import logmask
from shopcare_core.pii import SECRET_ENV, Masker, mask_event
from tests.factories import grant_headers
from tests.security.conftest import Conversation

ROOT = Path(__file__).resolve().parents[2]

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


TELEGRAM_BOT_TOKEN = "7012345678:AAHfake0Telegram1Token2For3Tests456"  # the shape BotFather gives


def test_secret_env_names_every_secret_the_project_reads():
    """Every secret-like variable of .env.example (the list of everything the processes read) is masked by value."""
    names = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines() if "=" in line}
    secret = {
        n
        for n in names
        if re.search(r"(TOKEN|SECRET|PASSWORD|API_KEY|SLACK_WEBHOOK_URL)$", n) and not n.startswith("#")
    }
    assert secret and secret <= set(SECRET_ENV), sorted(secret - set(SECRET_ENV))
    assert {"SLACK_TOKEN", "TELEGRAM_TOKEN"}.isdisjoint(SECRET_ENV)  # names the project does not use


def test_every_secret_like_variable_of_env_example_is_masked():
    names = re.findall(r"^([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), flags=re.M)
    secret_like = {n for n in names if re.search(r"TOKEN|SECRET|PASSWORD|API_KEY|WEBHOOK_URL$", n)}
    secret_like -= {"TELEGRAM_WEBHOOK_URL"}  # the bot's own public address, not a secret
    assert secret_like <= set(SECRET_ENV), secret_like - set(SECRET_ENV)


def test_the_value_of_each_configured_secret_is_masked(monkeypatch):
    values = {name: f"value-of-{name.lower()}-0123456789" for name in SECRET_ENV}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    out = Masker.from_env().text(" ".join(f"{name}={value}" for name, value in values.items()))
    assert not [name for name, value in values.items() if value in out]


def test_each_data_key_of_the_ring_is_masked_on_its_own(monkeypatch):
    new, old = "bmV3LWRhdGEta2V5LW9mLXRoZS1yaW5nLTAxMjM0NTY=", "b2xkLWRhdGEta2V5LW9mLXRoZS1yaW5nLTAxMjM0NTY="
    monkeypatch.setenv("CRM_DATA_KEYS", f"{new}, {old}")
    assert Masker.from_env().text(f"old key {old} and new key {new}") == "old key [redacted] and new key [redacted]"


def test_a_telegram_token_in_an_api_url_is_masked_without_the_environment(monkeypatch):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    line = f"POST https://api.telegram.org/bot{TELEGRAM_BOT_TOKEN}/sendMessage 200"
    assert Masker().text(line) == "POST https://api.telegram.org/bot[redacted]/sendMessage 200"
    assert Masker().text(f"token {TELEGRAM_BOT_TOKEN} rejected") == "token [redacted] rejected"
    # the same shape with a different length is not a token: order numbers and ids around it stay readable
    assert Masker().text("order 10001: ready") == "order 10001: ready"


def test_other_secrets_are_masked_by_their_shape():
    masker = Masker()
    cases = {
        "postgresql://shopcare:pg-pass-9@postgres:5432/shopcare_crm": "postgresql://shopcare:[redacted]@postgres:5432/shopcare_crm",
        "amqp://guest:guest@127.0.0.1:5672/": "amqp://guest:[redacted]@127.0.0.1:5672/",
        "slack token xoxb-1234567890-abcdefghijk was revoked": "slack token [redacted] was revoked",
        "POST https://hooks.slack.com/services/T0001/B0002/abcdefXYZ": "POST https://hooks.slack.com/services/[redacted]",
        "X-Action-Token: dev-action-token": "X-Action-Token: [redacted]",
    }
    for raw, masked in cases.items():
        assert masker.text(raw) == masked
    # addresses without a password keep their port and path
    assert masker.text("GET http://127.0.0.1:5005/status") == "GET http://127.0.0.1:5005/status"


# the atoms the new shapes anchor on: a scheme, a user part, digits and a colon, a Slack prefix
ADVERSARIAL = ["a://", "a://b:", "x://" + "a" * 300, "1:", "99999:", "/bot1:", "xoxb-", "xoxb-a", "a:b@"]


def _mask_all(queue: multiprocessing.Queue) -> None:
    masker, worst = Masker(["a-configured-secret"]), 0.0
    for atom in ADVERSARIAL:
        text = (atom * (100_000 // len(atom) + 1))[:100_000]
        start = time.perf_counter()
        masker.text(text)
        worst = max(worst, time.perf_counter() - start)
    queue.put(worst)


def test_the_secret_shapes_cost_linear_time():
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_mask_all, args=(queue,))
    child.start()
    child.join(30)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail("masking 100,000-character runs of the secret shapes' atoms took over 30 s")
    assert queue.get(timeout=5) < 3.0


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


def test_broker_events_never_carry_an_identity_grant():
    masker = Masker()
    grant = grant_headers(1, conversation_id="c")["X-Identity-Grant"]
    assert mask_event({"event": "slot", "name": "identity_grant", "value": grant}, masker)["value"] == "[redacted]"
    assert mask_event({"event": "slot", "name": "identity_grant", "value": None}, masker)["value"] is None


def test_a_real_conversation_leaves_no_pii_or_secret_in_logs_or_the_event_stream(stack, population):
    me = population(19)  # not one of test_cross_customer's attackers, whose e-mails the CRM pauses
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
        query = "SELECT data FROM events WHERE sender_id = ?"
        rows = [json.loads(d) for (d,) in db.execute(query, (chat.conversation_id,))]
    assert any(e.get("event") == "user" for e in rows)
    outside_packet = [e for e in rows if not (e.get("event") == "slot" and e.get("name") == "escalation_request")]
    dumped = json.dumps(outside_packet)
    assert me.email not in dumped and "4111 1111 1111 1111" not in dumped and "7700 900461" not in dumped
    assert "[email]" in dumped
