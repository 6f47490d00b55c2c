"""Must-escalate triggers (shopcare_core/escalation/triggers.py, vocabulary in triggers.yml) on tables of customer
messages: what must reach a person at once, and the near misses that must not (product names, colours, idioms,
questions about policy, negated threats, quoted labels)."""

from __future__ import annotations

import pytest

from shopcare_core.escalation.triggers import Lexicon, Trigger, detect, lexicon

POSITIVES = [
    ("I'm going to report you to trading standards if I don't get my money back today", "legal_threat"),
    ("I'm contacting my solicitor", "legal_threat"),
    ("my solicitor will be in touch", "legal_threat"),
    ("I'll take you to the small claims court", "legal_threat"),
    ("see you in court", "legal_threat"),
    ("I will sue you for this", "legal_threat"),
    ("I'm going to the ombudsman", "legal_threat"),
    ("I've spoken to Citizens Advice and they say I'm entitled to a refund", "legal_threat"),
    ("I'll do a chargeback", "chargeback_threat"),
    ("I'll dispute it with my bank", "chargeback_threat"),
    ("I'm going to ask my bank to reverse the payment", "chargeback_threat"),
    ("I'll be raising a chargeback with my card provider", "chargeback_threat"),
    ("I'll open a PayPal dispute", "chargeback_threat"),
    ("I'm going to the papers with this", "media_threat"),
    ("I'll post about this all over twitter", "media_threat"),
    ("I'm going to tell all my followers about this", "media_threat"),
    ("I'll leave a one star review on Trustpilot", "media_threat"),
    ("the hair dryer I bought from you caught fire", "safety_issue"),
    ("my toaster sparked and gave me an electric shock", "safety_issue"),
    ("the charger melted and burnt my hand", "safety_issue"),
    ("smoke started pouring out of the heater", "safety_issue"),
    ("my son cut his hand on the broken glass, he needed stitches", "safety_issue"),
    ("the kettle gave me a shock when I touched it", "safety_issue"),
    ("my husband died last week and I don't know what to do with his orders", "vulnerable_customer"),
    ("my mum passed away and I need to close her account", "vulnerable_customer"),
    ("I'm in hospital so I can't collect the parcel", "vulnerable_customer"),
    ("I can't believe my dad passed away", "vulnerable_customer"),
    ("my insulin was in that parcel and it hasn't arrived", "vulnerable_customer"),
    ("I feel like ending my life", "vulnerable_customer"),
    ("I can't afford to eat this week", "vulnerable_customer"),
    ("If this isn't sorted by Friday I'm taking legal action", "legal_threat"),
    ("I've already contacted Trading Standards about you", "legal_threat"),
    ("I'm reporting this to Action Fraud", "legal_threat"),
    ("I'll be making a claim through the small claims court", "legal_threat"),
    ("my lawyer says you have to refund me", "legal_threat"),
    ("I'll file a complaint with the Financial Ombudsman", "legal_threat"),
    ("I have asked my bank to claim the money back", "chargeback_threat"),
    ("I'm going to contact my credit card company and dispute the charge", "chargeback_threat"),
    ("section 75 claim incoming", "chargeback_threat"),
    ("I've opened a case with PayPal", "chargeback_threat"),
    ("I'm going to put this all over facebook", "media_threat"),
    ("watchdog would love this story", "media_threat"),
    ("I'll be writing a review on Trustpilot warning everyone", "media_threat"),
    ("the plug started smoking when I switched it on", "safety_issue"),
    ("the phone charger exploded overnight", "safety_issue"),
    ("my daughter burnt her fingers on the kettle, the handle gets too hot", "safety_issue"),
    ("there are bare wires coming out of the lamp", "safety_issue"),
    ("the battery is swollen and hot", "safety_issue"),
    ("the heater overheated and scorched the carpet", "safety_issue"),
    ("my little boy choked on a piece that came off the toy", "safety_issue"),
    ("I got a shock when I plugged it in", "safety_issue"),
    ("my wife is in intensive care and I need to change the delivery address", "vulnerable_customer"),
    ("my father has dementia and ordered things by mistake", "vulnerable_customer"),
    ("my dad's funeral is on Friday and the suit hasn't arrived", "vulnerable_customer"),
    ("I've just come out of hospital", "vulnerable_customer"),
    ("I'm being evicted and can't pay", "vulnerable_customer"),
    ("I had a stroke last month and can't get to the post office", "vulnerable_customer"),
]
NEAR_MISSES = [
    "is there a legal warranty?",
    "I saw your ad on Instagram",
    "my package was burnt orange",
    "the battery died after a day",
    "my phone died so I couldn't reply",
    "I'm not going to sue you, I just want my parcel",
    "nobody was hurt but the box was crushed",
    "it didn't catch fire but it smells funny",
    "can I pay by bank transfer?",
    "my bank declined the card",
    "I was charged twice",
    "I'd like to leave a review, the kettle is fab",
    "I'll give it 5 stars",
    "the Fire TV stick doesn't work",
    "I'm a solicitor and need an invoice for my firm",
    "I'm dying to get my new sofa",
    "the price gave me a shock",
    "I was shocked by the price",
    "this sparked my interest",
    "press the button and it won't turn on",
    "I follow you on instagram",
    'the listing says "fire resistant" but it isn\'t',
    'the box says "risk of electric shock" on it',
    "what's your policy on returns",
    "the chocolate melted in the van",
    "the courier blew up at me",
    "I was cut off while on the phone",
    "my kettle died after a week",
    "I work in the hospital, please deliver to reception",
    "I'll share this on facebook, my friends will love it",
    "no need for a chargeback, it arrived",
    "the pipe burst and flooded my kitchen",
    "sue from your team said she'd call back",
    "what is your legal returns period?",
    "do you sell fire extinguishers?",
    "is this heater safe for a child's bedroom?",
    "can I dispute the delivery charge?",
    "I'll follow you on TikTok",
    "is the kettle available in burnt orange?",
    "I want to post it back",
    "I posted the return yesterday",
    "can you send it to my work address, I'm a nurse at the hospital",
    "my grandma loves the scarf",
    "the courier said the parcel died in transit haha",
    "the sale price was shocking, great value",
    "I'm going to tell my friends how good you are",
    "the game is called Fire Emblem",
    "my bank card expired, can I update it?",
    "Sue in accounts asked for the invoice",
]
# Decided cases worth a word: asking about chargebacks is a customer weighing one (escalate); "is there a legal
# warranty?" is a policy question (do not); a bereavement is never "negated" ("I can't believe my dad passed away").
DECIDED = [
    ("can you tell me about your chargeback policy", "chargeback_threat"),
    ("I can't believe my dad passed away", "vulnerable_customer"),
    ("I don't want to have to take legal action, but I will", "legal_threat"),
    ("no injuries thankfully, but the charger caught fire", "safety_issue"),
]


@pytest.mark.parametrize("text,reason", POSITIVES + DECIDED, ids=[t for t, _ in POSITIVES + DECIDED])
def test_must_escalate(text, reason):
    assert [t.reason for t in detect(text)] == [reason]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_do_not_trigger(text):
    assert detect(text) == ()


def test_every_reason_of_the_vocabulary_is_covered_by_the_tables():
    assert (
        {reason for _, reason in POSITIVES}
        == set(lexicon().reasons)
        == {
            "legal_threat",
            "chargeback_threat",
            "media_threat",
            "safety_issue",
            "vulnerable_customer",
        }
    )


def test_a_trigger_names_its_kind_and_the_customers_own_words():
    assert detect("Honestly, the Kettle CAUGHT FIRE!") == (Trigger("safety_issue", "fire", "CAUGHT FIRE"),)
    assert detect("I\u2019ll see you in court") == (Trigger("legal_threat", "legal", "see you in court"),)


def test_several_triggers_in_one_message_come_once_each_in_the_vocabularys_order():
    found = detect(
        "my solicitor says the heater that caught fire and burnt my hand is your fault, and my solicitor agrees"
    )
    assert [(t.reason, t.kind) for t in found] == [("legal_threat", "legal"), ("safety_issue", "fire")]


def test_quoted_words_and_negations_do_not_count_but_the_rest_of_the_message_does():
    assert detect('the label says "may catch fire if covered"') == ()
    assert detect('the label says "may catch fire if covered" and it did catch fire') != ()
    assert detect("it didn't catch fire") == ()
    assert detect("it didn't catch fire, it exploded") != ()


def test_the_vocabulary_comes_from_config(tmp_path):
    config = {
        "negation": {"window": 2, "cues": ["not"], "clause_breaks": ["but"]},
        "ignore": ["unicorn ?glitter"],
        "triggers": {"glitter_alert": [{"kind": "glitter", "patterns": ["glitter (everywhere|all over)"]}]},
    }
    custom = Lexicon(config)
    assert [t.reason for t in custom.detect("there is glitter everywhere")] == ["glitter_alert"]
    assert custom.detect("not glitter everywhere") == ()
    assert custom.detect("the caught fire bit is fine") == ()  # the shipped vocabulary is not consulted
    with pytest.raises(ValueError):
        Lexicon({**config, "negation": {"cues": [False]}})  # a bare `no` in YAML


def test_long_and_hostile_input_is_bounded():
    assert detect("") == () and detect(None) == ()
    assert detect("a" * 100_000 + " caught fire") == ()  # past the 2,000 characters NLU reads
    assert detect("I will sue you " * 5000 + "(" * 5000) != ()


def test_anchor_words_never_hide_a_match():
    """Each group's patterns run only when one of its anchors is in the message: on every table message, a group
    matches with the anchors exactly when it matches without them."""
    shipped = lexicon()
    unanchored = Lexicon.load()
    unanchored.groups = [g.__class__(g.reason, g.kind, g.pattern, g.negation, frozenset()) for g in shipped.groups]
    for text in [t for t, _ in POSITIVES + DECIDED] + NEAR_MISSES:
        assert shipped.detect(text) == unanchored.detect(text), text
