"""Whole conversations over Rasa's REST channel against the running stack (real NLU, policies, actions, CRM)."""

from __future__ import annotations

import time

from tests.e2e.conftest import joined
from tests.support import escalation_of, one_time_code, wait_until


def test_greet_track_verify_and_get_the_real_status(chat, crm_api):
    assert "ShopCare assistant" in joined(chat("hello"))
    assert "e-mail address or postcode" in joined(chat("where is my order 10001?"))
    reply = joined(chat("alice.martin@example.com"))
    order = crm_api.get("/customers/1/orders/10001").json()
    assert "you're verified" in reply
    assert "Order 10001" in reply and "on its way" in reply
    assert order["shipment"]["tracking_number"] in reply and order["shipment"]["carrier"] in reply


def test_order_number_and_postcode_in_one_message_verify_at_once(chat):
    reply = joined(chat("where is order 10001? postcode SW1A 1AA"))
    assert "you're verified" in reply and "on its way" in reply


def test_nothing_is_disclosed_before_verification(chat):
    reply = joined(chat("where is order 10001"))
    assert "tracking" not in reply.lower() and "DPD" not in reply
    reply = joined(chat("ben.okafor@example.com"))  # another customer's e-mail
    assert "doesn't match" in reply and "DPD" not in reply and "tracking" not in reply.lower()


def test_shipped_order_cannot_be_cancelled_and_the_customer_is_told_why(chat, crm_api):
    chat("I want to cancel order 10001")
    reply = joined(chat("alice.martin@example.com"))
    assert "can't be cancelled" in reply and "shipped" in reply and "refund" in reply
    assert crm_api.get("/customers/1/orders/10001").json()["status"] == "shipped"


def test_cancel_paid_order_with_a_one_time_code_after_explicit_yes(stack, chat, crm_api):
    chat("please cancel my order 10013")
    asked = time.time()
    reply = joined(chat("M1 1AE"))  # a postcode is enough to look, never to change
    assert "you're verified" in reply and "e-mailed a 6-digit code to b•••@example.com" in reply
    assert "Shall I cancel" not in reply
    code = one_time_code(stack.crm_url, "ben.okafor@example.com", after=asked - 1)
    reply = joined(chat(code))
    assert "that's confirmed" in reply and "Shall I cancel order 10013" in reply
    assert crm_api.get("/customers/2/orders/10013").json()["status"] == "paid"
    assert "cancelled" in joined(chat("yes"))
    assert crm_api.get("/customers/2/orders/10013").json()["status"] == "cancelled"


def test_refund_confirmed_twice_creates_one_refund(stack, chat, crm_api):
    chat("I want a refund for order 10021")
    assert "reason" in joined(chat("chloe.nguyen@example.com"))
    assert "How much" in joined(chat("it is the wrong size"))
    asked = time.time()
    assert "arrange a refund" in joined(chat("£30"))  # the code, and why
    wrong = joined(
        chat(
            "000000"
            if one_time_code(stack.crm_url, "chloe.nguyen@example.com", after=asked - 1) != "000000"
            else "111111"
        )
    )
    assert "didn't match" in wrong and "2 attempt(s) left" in wrong
    assert "£30.00" in joined(chat(one_time_code(stack.crm_url, "chloe.nguyen@example.com", after=asked - 1)))
    first = joined(chat("yes"))
    assert "RF-" in first
    again = joined(chat("yes"))
    assert "RF-" not in again
    refunds = [r for r in crm_api.get("/customers/3/refunds").json() if r["order_number"] == "10021"]
    assert len(refunds) == 1 and refunds[0]["amount"] == 30.0


def test_invoice_for_an_order_number_is_that_orders_invoice(chat, crm_api):
    reply = joined(chat("could I get a copy of the invoice for order 10001 please"))
    assert "e-mail address or postcode" in reply and "Which order" not in reply
    reply = joined(chat("Alice.Martin@Example.com"))
    invoice = crm_api.get("/customers/1/invoices/INV-10001").json()
    assert "you're verified" in reply and "Invoice INV-10001 for order 10001" in reply and invoice["url"] in reply


def test_email_given_when_the_order_number_was_asked_is_kept_until_the_order_number_comes(chat):
    assert "Which order is it about?" in joined(chat("I need a copy of my invoice"))
    reply = joined(chat("my email is alice.martin@example.com"))
    assert "noted your e-mail address" in reply and "Which order is it about?" in reply
    assert "doesn't look like" not in reply and "e-mail address or postcode" not in reply
    reply = joined(chat("it's order no. 10001"))
    assert "you're verified" in reply and "Invoice INV-10001 for order 10001" in reply


def test_order_number_and_email_in_one_answer_when_the_order_was_asked(chat):
    assert "Which order is it about?" in joined(chat("where is my parcel"))
    reply = joined(chat("order # 10001, e-mail ALICE.MARTIN@EXAMPLE.COM"))
    assert "you're verified" in reply and "on its way" in reply


def test_another_customers_order_is_refused_after_verification(chat):
    chat("where is my order 10002")
    chat("alice.martin@example.com")
    reply = joined(chat("ok and where is order 10011?"))
    assert "can't find order 10011 on the account you verified" in reply
    assert "Evri" not in reply and "£89.99" not in reply


def test_three_failed_verifications_lock_and_hand_over_to_a_person(chat):
    chat("track order 10012")
    chat("wrong@example.com")
    chat("M1 9ZZ")
    reply = joined(chat("nobody@example.com"))
    assert "couldn't verify your identity" in reply and "member of our team" in reply and "in the queue" in reply
    assert chat("ben.okafor@example.com") == []  # paused for the agent: the bot says nothing, discloses nothing


def test_question_in_the_middle_of_the_form_then_resume(chat):
    chat("I need a refund for order 10012")
    policy = joined(chat("hang on, what's your refund policy?"))
    assert "30 days" in policy and "e-mail address or postcode" in policy
    assert "reason" in joined(chat("ben.okafor@example.com"))


def test_garbled_messages_calm_get_two_reasks_then_a_question_and_a_yes_hands_over(chat, crm_api):
    assert "rephrase" in joined(chat("sdkfj qwpoeiru zxmcnv"))
    assert "say it another way" in joined(chat("qpwoei asldkj zmxncb"))
    assert "Shall I pass you to a person" in joined(chat("qwop zxnm blorp"))
    assert escalation_of(crm_api, chat.conversation_id) is None
    assert "in the queue" in joined(chat("yes please"))
    escalation = wait_until(lambda: escalation_of(crm_api, chat.conversation_id))
    assert escalation["reason_codes"] == ["explicit_request"]


def test_misunderstood_three_times_and_upset_is_handed_over_without_being_asked(chat, crm_api):
    assert "rephrase" in joined(chat("asdf qwerty zxcv"))
    assert "say it another way" in joined(chat("zxcv qwerty asdf"))
    reply = joined(chat("hmm asdf disappointing"))  # sentiment about -0.8: upset, not furious
    assert "not understanding" in reply and "in the queue" in reply and "Shall I" not in reply
    escalation = wait_until(lambda: escalation_of(crm_api, chat.conversation_id))
    assert escalation["reason_codes"] == ["repeated_fallback"]


def test_a_legal_threat_in_the_middle_of_the_form_reaches_a_person_at_once(chat, crm_api):
    assert "order number" in joined(chat("where's my order"))
    reply = joined(chat("I'm going to report you to trading standards if I don't get my money back today"))
    assert "passing it to a member of our team" in reply and "in the queue" in reply
    escalation = wait_until(lambda: escalation_of(crm_api, chat.conversation_id))
    assert escalation["reason_codes"] == ["legal_threat"] and escalation["priority"] >= 75
    assert '("trading standards")' in escalation["summary"]


def test_a_safety_report_the_assistant_cannot_place_gets_safety_advice_and_a_person(chat, crm_api):
    reply = joined(chat("my toaster sparked and gave me an electric shock"))  # read as out of scope
    assert "stop using it" in reply and "999" in reply and "in the queue" in reply
    escalation = wait_until(lambda: escalation_of(crm_api, chat.conversation_id))
    assert escalation["reason_codes"] == ["safety_issue"] and escalation["priority"] >= 90


def test_out_of_scope_is_answered_politely(chat):
    assert "not something I can help with" in joined(chat("can you recommend a good pizza place nearby?"))


def test_crm_outage_gets_an_apology_and_a_path_to_a_person_then_recovers(stack, chat):
    chat("where is my order 10003?")
    stack.stop("crm")
    try:
        reply = joined(chat("alice.martin@example.com"))
        assert "can't reach our order system" in reply and "talk to a person" in reply
    finally:
        stack.start_crm()
    chat("where is my order 10003?")
    reply = joined(chat("alice.martin@example.com"))
    assert "delivered" in reply
