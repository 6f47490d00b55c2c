"""The web chat widget as a customer uses it: the demo storefront served by the CRM, the widget built by `make widget`,
a real Rasa server (socket.io channel, session persistence), action server and CRM on loopback, headless Chromium.

Each test is another customer (its own browser context, so its own localStorage and conversation).
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from tests.browser.conftest import screenshot
from tests.browser.widget_support import bot_says, focused, say, session_of, transcript
from tests.support import crm_write, one_time_code, wait_until


# ----------------------------------------------------------------------------- tests
def test_keyboard_opens_the_widget_greets_and_closes_it_again(shop):
    launcher = shop.get_by_role("button", name="Chat with ShopCare")
    assert launcher.get_attribute("aria-expanded") == "false"
    shop.keyboard.press("Shift+Tab")  # from the top of the page backwards: the launcher is the last control
    assert focused(shop) == "button:Chat with ShopCare"
    shop.keyboard.press("Enter")
    assert launcher.get_attribute("aria-expanded") == "true"
    assert focused(shop) == "input:scw-input"  # focus goes to the message box
    log = shop.get_by_role("log", name="Conversation")
    assert log.get_attribute("aria-live") == "polite"
    assert shop.get_by_role("dialog", name="ShopCare").is_visible()

    # the typing indicator shows between the customer's message and the bot's answer
    shop.evaluate(
        """() => { const typing = document.querySelector('[data-shopcare-chat]').shadowRoot.querySelector('.typing');
                   window.typingSeen = false;
                   new MutationObserver(() => { if (!typing.hidden) window.typingSeen = true; })
                     .observe(typing, {attributes: true}); }"""
    )
    shop.keyboard.type("hi")
    shop.keyboard.press("Enter")
    bot_says(shop, "I'm the ShopCare assistant")
    assert shop.evaluate("window.typingSeen") is True
    assert shop.locator(".typing").get_attribute("hidden") is not None  # and gone again
    assert transcript(shop)[0] == ("user", "hi")

    shop.keyboard.press("Escape")
    assert launcher.get_attribute("aria-expanded") == "false" and log.is_hidden()
    assert focused(shop) == "button:Chat with ShopCare"  # focus returns to the launcher


def test_quick_reply_buttons_render_and_clicking_one_sends_its_payload(stack, shop, crm_api):
    shop.get_by_role("button", name="Chat with ShopCare").click()
    say(shop, "please cancel order 10004")
    bot_says(shop, "e-mail address or postcode")
    asked = time.time()
    say(shop, "SW1A 1AA")
    bot_says(shop, "e-mailed a 6-digit code")  # a change needs more than a postcode
    say(shop, one_time_code(stack.crm_url, "alice.martin@example.com", after=asked - 1))
    question = bot_says(shop, "Shall I cancel order 10004?")
    replies = question.get_by_role("group", name="Suggested replies").get_by_role("button")
    assert replies.all_inner_texts() == ["Yes", "No"]

    replies.filter(has_text="Yes").click()
    bot_says(shop, "Done: order 10004 is cancelled")
    assert ("user", "Yes") in transcript(shop)  # the title is shown, the payload (/affirm) was sent
    assert question.get_by_role("group", name="Suggested replies").count() == 0  # answered buttons go away
    assert focused(shop) == "input:scw-input"
    order = crm_api.get("/customers/1/orders/10004").json()
    assert order["status"] == "cancelled"


def test_order_status_with_verification_continues_the_same_conversation_after_a_reload(shop):
    shop.get_by_role("button", name="Chat with ShopCare").click()
    say(shop, "where is my order 10001?")
    bot_says(shop, "e-mail address or postcode")
    session = session_of(shop)
    before = transcript(shop)

    shop.reload()
    shop.get_by_role("log", name="Conversation").wait_for()  # it was open: it opens again
    assert transcript(shop) == before  # the history is shown again
    assert session_of(shop) == session

    say(shop, "alice.martin@example.com")  # answers the question asked before the reload: same tracker
    bot_says(shop, "you're verified")
    reply = bot_says(shop, "on its way")
    assert "10001" in reply.inner_text()
    assert session_of(shop) == session


def test_reconnect_indicator_and_a_message_written_offline_is_sent_on_reconnect(shop):
    shop.get_by_role("button", name="Chat with ShopCare").click()
    say(shop, "hello")
    bot_says(shop, "I'm the ShopCare assistant")
    status = shop.get_by_role("dialog", name="ShopCare").locator(".status")
    assert status.get_attribute("role") == "status"

    shop.context.set_offline(True)
    shop.get_by_text("Connection lost. Reconnecting").wait_for()
    say(shop, "where is my order 10001?")
    assert shop.locator(".msg.user.pending").count() == 1  # shown, waiting to be sent
    shop.context.set_offline(False)
    shop.get_by_text("Connected again").wait_for(timeout=30_000)
    bot_says(shop, "e-mail address or postcode")
    assert shop.locator(".msg.user.pending").count() == 0


def test_agent_replies_are_marked_with_the_agents_name_and_hand_back_resumes_the_bot(shop, crm_api):
    shop.get_by_role("button", name="Chat with ShopCare").click()
    say(shop, "where is my order 10002?")
    bot_says(shop, "e-mail address or postcode")
    say(shop, "alice.martin@example.com")
    bot_says(shop, "you're verified")
    say(shop, "let me talk to a human")
    bot_says(shop, "member of our team")
    session = session_of(shop)

    def escalation() -> dict[str, Any] | None:
        listed = crm_api.get("/escalations", params={"status": "open,claimed"}).json()
        return next((item for item in listed if item["conversation_id"] == session), None)

    case = wait_until(escalation)
    assert crm_write(crm_api, f"/escalations/{case['id']}/claim", {"agent": "sam"}).status_code == 200
    text = "Hi Alice, Sam here. I'm looking at order 10002 now."
    assert crm_write(crm_api, f"/escalations/{case['id']}/reply", {"agent": "sam", "text": text}).status_code == 201

    from_agent = bot_says(shop, "Sam here", sender="agent")
    assert from_agent.locator(".who").inner_text() == "Sam Patel \u00b7 team member"
    assert from_agent.locator(".who").is_visible()  # marked visibly, not only for screen readers
    assert shop.locator('[data-sender="bot"]').filter(has_text="Sam here").count() == 0
    say(shop, "thanks, the parcel says delivered but nothing came")
    shop.get_by_role("log", name="Conversation").wait_for()
    screenshot(shop, "widget")

    assert (
        crm_write(crm_api, f"/escalations/{case['id']}/resolve", {"agent": "sam", "verdict": "justified"}).status_code
        == 200
    )
    assert crm_write(crm_api, f"/escalations/{case['id']}/hand-back", {"agent": "sam"}).status_code == 200
    bot_says(shop, "back with the ShopCare assistant")

    shop.reload()  # the agent's message stays marked after a reload
    assert shop.locator('[data-sender="agent"] .who').first.inner_text() == "Sam Patel \u00b7 team member"


def test_a_customer_logged_in_on_the_shop_is_greeted_by_name_and_asked_nothing(stack, new_page, crm_api):
    page = new_page()
    page.goto(f"{stack.crm_url}/shop")
    page.get_by_label("Log in as").select_option("ben.okafor@example.com")  # the demo shop's login switch
    page.wait_for_url("**/shop?as=*")
    page.get_by_role("button", name="Chat with ShopCare").click()
    say(page, "hi")
    bot_says(page, "Hi Ben! You're signed in")
    say(page, "please cancel my order 10013")  # a change: no e-mail, no postcode, no code asked
    bot_says(page, "Shall I cancel order 10013?")
    assert not [text for sender, text in transcript(page) if sender == "bot" and "postcode" in text]
    say(page, "no")
    bot_says(page, "left everything as it is")
    assert crm_api.get("/customers/2/orders/10013").json()["status"] == "paid"


def test_an_invalid_shop_token_is_ignored_and_the_customer_is_a_guest(stack, new_page):
    page = new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{stack.crm_url}/shop")
    page.evaluate("() => { window.ShopCareChat.identityToken = 'eyJhbGciOiJub25lIn0.eyJlbWFpbCI6ImFAYi5jIn0.'; }")
    page.get_by_role("button", name="Chat with ShopCare").click()
    say(page, "hello")
    bot_says(page, "I'm the ShopCare assistant")  # the guest greeting, no error
    say(page, "where is my order 10001?")
    bot_says(page, "e-mail address or postcode")
    assert errors == []


def test_a_message_typed_while_the_rasa_server_is_down_shows_sending_and_is_sent_when_it_is_back(stack, shop):
    shop.get_by_role("button", name="Chat with ShopCare").click()
    say(shop, "hello")
    bot_says(shop, "I'm the ShopCare assistant")
    os.killpg(stack.procs["rasa"].pid, signal.SIGKILL)  # the Rasa server dies, no clean shutdown
    stack.procs.pop("rasa").wait(timeout=10)
    try:
        shop.get_by_text("Connection lost. Reconnecting").wait_for(timeout=30_000)
        say(shop, "what is your refund policy?")
        pending = shop.locator(".msg.user.pending")
        assert pending.count() == 1 and "sending…" in pending.inner_text()  # kept and shown, not dropped
        shop.reload()  # even a reload keeps it
        shop.get_by_role("log", name="Conversation").wait_for()
        assert "sending…" in shop.locator(".msg.user.pending").inner_text()
    finally:
        stack.restart("rasa")
    bot_says(shop, "30 days")  # the policy answer: the message reached the bot once it was back
    assert shop.locator(".msg.user.pending").count() == 0
    assert [t for s, t in transcript(shop) if s == "user"].count("what is your refund policy?") == 1
