"""The agents' console in headless Chromium against a real uvicorn CRM (loopback), with a loopback stand-in for
Rasa's tracker-events endpoint that records what reaches the customer's conversation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from crm_backend.db import make_engine, new_session  # noqa: E402
from crm_backend.seeding import demo  # noqa: E402
from scripts.screenshots import ConsoleServer, console_server, login
from tests.browser.conftest import screenshot

XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    with console_server(tmp_path_factory.mktemp("console"), events=10) as running:
        yield running


def request_for(server: ConsoleServer, conversation_id: str, **kwargs: Any) -> dict[str, Any]:
    engine = make_engine(server.settings)
    with new_session(engine) as session:
        customer = demo.customer_by_email("alice.martin@example.com", session=session)
        body = demo.escalation_request(conversation_id=conversation_id, customer=customer, **kwargs)
    engine.dispose()
    return body


def log_in(page: Any, server: ConsoleServer, username: str) -> None:
    login(page, server.url, username)


def test_a_console_page_without_login_redirects_to_the_login_page(server, page):
    page.goto(f"{server.url}/console/escalations/1")
    assert page.url.startswith(f"{server.url}/console/login?next=")
    assert page.locator("h1").inner_text() == "Log in"


def test_agent_works_an_escalation_from_the_queue_to_hand_back_and_the_dashboard_counts_it(server, new_page):
    server.create_escalation(request_for(server, "w-low", priority=30, reasons=("repeated_fallback",), lines=demo.CALM))
    top = server.create_escalation(request_for(server, "w-top", priority=90))
    page = new_page()
    log_in(page, server, "sam")

    # the queue: highest priority first
    first = page.locator("#queue-rows tr.row").first
    assert first.get_attribute("data-id") == str(top)
    assert "Very upset message" in first.inner_text()
    screenshot(page, "console-queue")

    # the escalation: packet, transcript, sentiment chart
    first.locator("a").click()
    page.wait_for_url(f"{server.url}/console/escalations/{top}")
    assert "verified" in page.locator("#identity").inner_text()
    assert "3 late deliveries in the last 6 months" in page.inner_text("body")
    assert "Order 10002" in page.inner_text("body")
    assert page.locator("svg.chart circle.point").count() == 3
    assert "absolutely useless" in page.locator("#transcript").inner_text()

    page.click("#claim")
    assert "You have claimed this escalation." in page.locator(".notice").inner_text()
    page.fill("#reply-text", "Hi Alice, Sam here. I'm sorry about this; let me sort it out.")
    page.click("text=Send reply")
    assert "Your reply was sent to the customer." in page.locator(".notice").inner_text()
    path, events = server.rasa.received[-1]
    assert path == "/conversations/w-top/tracker/events"
    assert events[0]["text"].startswith("Hi Alice, Sam here.") and events[0]["metadata"]["agent"] == "Sam Patel"

    page.fill("#note-text", "Offered a refund of the delivery charge.")
    page.click("text=Add note")
    assert "Offered a refund of the delivery charge." in page.locator("#transcript").inner_text()
    page.select_option("#verdict", "justified")
    page.click("text=Resolve")
    assert "The escalation is resolved." in page.locator(".notice").inner_text()
    page.click("#hand-back")
    assert "back with the assistant" in page.locator(".notice").inner_text()
    _path, events = server.rasa.received[-1]
    assert {"event": "resume"} in events and "How would you rate" in events[-2]["text"]
    screenshot(page, "console-escalation")

    # the customer answers the CSAT question (what action_record_csat posts)
    answered = server.api.post(
        "/escalations/csat", json={"conversation_id": "w-top", "score": 5}, headers={"Idempotency-Key": "csat-w-top"}
    )
    assert answered.status_code == 200

    # the supervisor's dashboard counts it
    boss = new_page()
    log_in(boss, server, "sue")
    boss.click("text=Dashboard")
    assert "justified" not in boss.locator("#tile-false").inner_text()
    assert boss.locator("#tile-false .big").inner_text() == "0 %"  # one verdict, justified
    assert boss.locator("#tile-csat .big").inner_text() == "5.0"
    assert "(1 with a verdict)" in boss.locator("#tile-false").inner_text()
    assert boss.locator("svg.chart rect.bar").count() >= 2
    screenshot(boss, "console-dashboard")


def test_a_new_urgent_escalation_shows_a_banner_on_an_open_queue(server, new_page):
    page = new_page()
    log_in(page, server, "kim")
    page.wait_for_timeout(500)  # the first poll remembers what was already there
    urgent = server.create_escalation(request_for(server, "w-urgent", priority=97, reasons=("explicit_request",)))
    banner = page.locator("#urgent-banner")
    banner.wait_for(state="visible", timeout=15_000)
    assert f"#{urgent}" in banner.inner_text() and "Asked for a person" in banner.inner_text()
    page.locator(f'#queue-rows tr[data-id="{urgent}"]').wait_for(timeout=15_000)  # the queue refreshed by itself
    assert page.locator("#urgent-badge").inner_text() != ""


def test_customer_markup_in_a_transcript_is_shown_literally_and_never_runs(server, new_page):
    lines = [("customer", XSS, -0.9), ("bot", "I'm sorry to hear that.", None)]
    escalation_id = server.create_escalation(request_for(server, "w-xss", priority=60, lines=lines, summary=XSS))
    page = new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    log_in(page, server, "sam")
    page.goto(f"{server.url}/console/escalations/{escalation_id}")
    time.sleep(0.3)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert XSS in page.locator("#transcript").inner_text()  # the text as the customer wrote it
    assert page.locator("#transcript img").count() == 0 and page.locator("#transcript script").count() == 0
    page.goto(f"{server.url}/console/queue")
    assert XSS in page.locator("#queue-rows").inner_text()
    assert page.evaluate("typeof window.__pwned") == "undefined" and dialogs == []


def test_hostile_note_reply_filter_and_login_username_are_shown_literally_and_never_run(server, new_page):
    """Typed into the real forms: a hostile login username, a queue filter value, a note and a reply."""
    escalation_id = server.create_escalation(request_for(server, "w-hostile-forms", priority=55))
    page = new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{server.url}/console/login")
    page.fill("#username", XSS)
    page.fill("#password", "wrong")
    page.click("button[type=submit]")
    assert page.locator("#username").input_value() == XSS  # given back in the form, as text
    log_in(page, server, "sam")
    page.goto(f"{server.url}/console/queue?channel={quote(XSS)}&reason={quote(XSS)}")
    page.goto(f"{server.url}/console/escalations/{escalation_id}")
    page.click("#claim")
    page.fill("#note-text", XSS)
    page.click("text=Add note")
    page.fill("#reply-text", XSS)
    page.click("text=Send reply")
    assert page.locator("#transcript").inner_text().count(XSS) == 2  # the note and the reply, literally
    assert page.locator("#transcript img").count() == 0 and page.locator("#transcript script").count() == 0
    time.sleep(0.3)
    assert page.evaluate("typeof window.__pwned") == "undefined" and dialogs == []


def test_another_agents_escalation_hides_the_customers_details_and_the_supervisor_sees_the_read(server, new_page):
    escalation_id = server.create_escalation(request_for(server, "w-need-to-know", priority=50))
    claimed = server.api.post(
        f"/escalations/{escalation_id}/claim", json={"agent": "kim"}, headers={"Idempotency-Key": "claim-w-ntk"}
    )
    assert claimed.status_code == 200
    page = new_page()
    log_in(page, server, "sam")
    page.goto(f"{server.url}/console/escalations/{escalation_id}")
    notice = page.locator("#hidden-notice")
    assert notice.inner_text() == "Personal details are hidden: this escalation is handled by Kim Lee."
    body = page.inner_text("body")
    assert "alice.martin@example.com" not in body and "Alice" not in body and "SW1A 1AA" not in body
    assert "[email]" in page.locator("#transcript").inner_text()
    assert "Access log" not in page.locator("header nav").inner_text()

    boss = new_page()
    log_in(boss, server, "sue")
    boss.goto(f"{server.url}/console/escalations/{escalation_id}")
    assert "alice.martin@example.com" in boss.inner_text("body")
    boss.click("text=Access log")
    boss.wait_for_url(f"{server.url}/console/access-log")
    rows = boss.locator("#access-log tr.read")
    assert "Sue Grant" in rows.nth(0).inner_text() and "in full" in rows.nth(0).inner_text()  # newest first
    assert "Sam Patel" in rows.nth(1).inner_text() and "masked" in rows.nth(1).inner_text()
    screenshot(boss, "console-access-log")
