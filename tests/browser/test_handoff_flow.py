"""The whole handoff as the people involved live it, in one headless Chromium with three browser contexts.

A customer chats in the widget on the storefront, verifies, gets angry and is escalated; an agent logs in to the
console, finds the escalation at the top of the queue with its packet, claims it and replies; the customer sees the
reply in the widget, marked with the agent's name, and answers; the agent sees that answer in the thread, resolves
with a verdict and hands back; the customer is back with the bot, rates the help (CSAT) and carries on; the
supervisor's dashboard counts the verdict and the rating. Everything runs for real on loopback: CRM (with console and
relay), action server, Rasa (socket.io channel), SQLite.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from crm_backend.seeding import demo
from scripts.screenshots import login
from tests.browser.conftest import screenshot
from tests.browser.widget_support import AGENT_PASSWORD, bot_says, say, session_of, transcript
from tests.support import wait_until

ANGRY = "This is absolutely ridiculous!!! You are useless and I am FURIOUS, I want my money back NOW"


def log_in(page: Any, crm_url: str, username: str) -> None:
    login(page, crm_url, username, AGENT_PASSWORD)


def dashboard_counts(page: Any, crm_url: str) -> tuple[int, int]:
    """(escalations resolved with a verdict, CSAT answers) as the supervisor's dashboard shows them."""
    page.goto(f"{crm_url}/console/dashboard")
    verdicts = re.search(r"\((\d+) with a verdict\)", page.locator("#tile-false").inner_text())
    answers = re.search(r"\((\d+) answers\)", page.locator("#tile-csat").inner_text())
    assert verdicts and answers, "dashboard tiles changed"
    return int(verdicts.group(1)), int(answers.group(1))


def notice(page: Any, text: str) -> None:
    """Wait for the console's notice after a form post (the page reloads; the previous notice may still show)."""
    page.locator(".notice", has_text=text).wait_for(timeout=15_000)


def lower_priority_escalation(crm_api: httpx.Client) -> int:
    """Another customer already waiting, calmer: the angry customer must still come first."""
    body = demo.escalation_request(
        conversation_id=f"calm-{uuid.uuid4().hex[:8]}",
        customer=None,
        priority=20,
        reasons=("repeated_fallback",),
        lines=demo.CALM,
        orders=(),
    )
    created = crm_api.post("/escalations", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert created.status_code in (200, 201), created.text
    return int(created.json()["id"])


def test_customer_escalated_in_the_widget_is_helped_by_an_agent_in_the_console_and_rates_it(
    stack, crm_api, shop, new_page
):
    calm_id = lower_priority_escalation(crm_api)
    boss = new_page()
    log_in(boss, stack.crm_url, "sue")
    verdicts_before, answers_before = dashboard_counts(boss, stack.crm_url)

    # the customer: verified, then furious -> escalated by the policy on this very turn
    shop.get_by_role("button", name="Chat with ShopCare").click()
    say(shop, "where is my order 10002?")
    bot_says(shop, "e-mail address or postcode")
    say(shop, "alice.martin@example.com")
    bot_says(shop, "you're verified")
    say(shop, ANGRY)
    bot_says(shop, "member of our team")
    session = session_of(shop)

    # the agent: the escalation (created by the CRM's relay from Rasa's event stream) tops the queue
    agent = new_page()
    log_in(agent, stack.crm_url, "sam")

    def top_row() -> Any:
        agent.reload()
        row = agent.locator("#queue-rows tr.row").first
        return row if row.count() and row.get_attribute("data-id") != str(calm_id) else None

    row = wait_until(top_row, timeout=20)
    escalation_id = int(row.get_attribute("data-id"))
    assert agent.locator(f'#queue-rows tr.row[data-id="{calm_id}"]').count() == 1  # both waiting, angry one first
    row.locator("a").click()
    agent.wait_for_url(f"{stack.crm_url}/console/escalations/{escalation_id}")
    body = agent.inner_text("body")
    assert "verified" in agent.locator("#identity").inner_text()
    assert "10002" in body  # the order in question
    assert "FURIOUS" in agent.locator("#transcript").inner_text()  # the transcript, as the customer wrote it
    assert agent.locator("svg.chart circle.point").count() >= 2  # the per-message sentiment timeline

    agent.click("#claim")
    notice(agent, "You have claimed this escalation.")
    agent.fill("#reply-text", "Hi Alice, Sam here. I'm so sorry; I'm refunding order 10002's delivery charge now.")
    agent.get_by_role("button", name="Send reply", exact=True).click()
    notice(agent, "Your reply was sent to the customer.")

    # the customer sees the person's reply, marked with their name, and answers; the answer reaches the thread
    from_agent = bot_says(shop, "Sam here", sender="agent")
    assert "Sam Patel" in from_agent.locator(".who").inner_text()
    say(shop, "ok thank you Sam, that helps")

    def relayed() -> bool:
        agent.reload()
        return "that helps" in agent.locator("#transcript").inner_text()

    wait_until(relayed, timeout=20)
    screenshot(agent, "flow-escalation")
    agent.goto(f"{stack.crm_url}/console/escalations/{escalation_id}")  # drop the previous notice

    agent.select_option("#verdict", "justified")
    agent.get_by_role("button", name="Resolve", exact=True).click()
    notice(agent, "The escalation is resolved.")
    agent.click("#hand-back")
    notice(agent, "back with the assistant")

    # the customer is back with the bot, rates the help, and carries on with the bot
    bot_says(shop, "back with the ShopCare assistant")
    question = bot_says(shop, "How would you rate the help")
    question.get_by_role("button", name="5", exact=True).click()
    bot_says(shop, "Thank you for rating us 5 out of 5")
    say(shop, "where is my order 10001?")
    bot_says(shop, "on its way")
    assert ("user", "where is my order 10001?") in transcript(shop)

    stored = wait_until(lambda: crm_api.get(f"/escalations/{escalation_id}").json().get("csat"), timeout=10)
    assert stored == 5
    detail = crm_api.get(f"/escalations/{escalation_id}").json()
    assert detail["conversation_id"] == session and detail["verdict"] == "justified"

    # the supervisor's dashboard counts the verdict and the rating
    assert dashboard_counts(boss, stack.crm_url) == (verdicts_before + 1, answers_before + 1)
