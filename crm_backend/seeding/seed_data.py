"""Word lists for the seed generator (names, places, ticket summaries)."""

from __future__ import annotations

FIRST_NAMES = (
    "Oliver George Harry Jack Jacob Noah Charlie Muhammad Thomas Oscar William James Leo Alfie Henry Joshua "
    "Freddie Archie Ethan Isaac Olivia Amelia Isla Ava Emily Sophia Grace Mia Poppy Ella Lily Evie Isabella "
    "Sophie Ivy Freya Harper Willow Daisy Ruby Priya Aisha Wei Mei Tomasz Zofia Kwame Amara Sean Niamh"
).split()
LAST_NAMES = (
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright "
    "Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin Cooper Hill "
    "Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker "
    "Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy "
    "Khan Ahmed Singh Chen Nowak Kowalski Mensah Okafor Nguyen Byrne"
).split()
# (outward code prefixes, city)
AREAS = (
    (("E", "EC", "N", "NW", "SE", "SW", "W", "WC"), "London"),
    (("M",), "Manchester"),
    (("B",), "Birmingham"),
    (("L",), "Liverpool"),
    (("LS",), "Leeds"),
    (("S",), "Sheffield"),
    (("BS",), "Bristol"),
    (("NE",), "Newcastle upon Tyne"),
    (("NG",), "Nottingham"),
    (("EH",), "Edinburgh"),
    (("G",), "Glasgow"),
    (("CF",), "Cardiff"),
    (("BT",), "Belfast"),
    (("OX",), "Oxford"),
    (("CB",), "Cambridge"),
    (("BN",), "Brighton"),
    (("YO",), "York"),
    (("LE",), "Leicester"),
    (("PL",), "Plymouth"),
    (("AB",), "Aberdeen"),
)
STREETS = (
    "High Street",
    "Station Road",
    "Church Lane",
    "Victoria Road",
    "Park Avenue",
    "Green Lane",
    "Mill Road",
    "Kings Road",
    "Queen Street",
    "New Road",
    "Manor Way",
    "The Crescent",
    "Orchard Close",
    "Springfield Road",
)
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
CARRIERS = ("Royal Mail", "DPD", "Evri", "DHL")
CARRIER_WEIGHTS = (0.38, 0.25, 0.27, 0.10)
CARRIER_LATE = {"Royal Mail": 0.09, "DPD": 0.05, "Evri": 0.15, "DHL": 0.06}
METHODS = ("card", "paypal", "klarna", "gift_card")
METHOD_WEIGHTS = (0.6, 0.2, 0.13, 0.07)
CHANNELS = ("web", "email", "phone", "chat")
COMPLAINT_LATE = (
    "Order {n} arrived {d} days late.",
    "Still waiting for {n}; the tracking has not moved for days.",
    "Delivery of {n} was late again, not happy.",
)
COMPLAINT_DAMAGED = (
    "Order {n} arrived damaged.",
    "Item in {n} was broken in the box.",
    "Wrong item sent in order {n}.",
)
INQUIRIES = (
    "Asked how to change the delivery address of {n}.",
    "Asked about payment options for {n}.",
    "Asked when {n} will arrive.",
    "Asked how to download the invoice for {n}.",
)
ACCOUNT = ("Could not reset the password.", "Asked to change the e-mail address.", "Asked to stop the newsletter.")
COMPLAINT_SERVICE = (
    "Unhappy with how long it took to get a reply last time.",
    "Prices have gone up a lot; thinking of shopping elsewhere.",
    "The discount code from the newsletter did not work.",
    "Keeps getting marketing e-mails after asking to stop them.",
    "Was charged for delivery on an order that should have been free.",
    "The last few orders have all had some problem.",
)
INQUIRIES_GENERAL = (
    "Asked whether an item will be back in stock.",
    "Asked about the returns policy.",
    "Asked how loyalty discounts work.",
    "Asked about delivery times to their postcode.",
)
CANCEL_REASONS = ("Changed my mind", "Found it cheaper elsewhere", "Delivery date too late", "Ordered by mistake")
CANCEL_REASON_WEIGHTS = (0.45, 0.25, 0.2, 0.1)
RETURN_REASONS = ("Returned: not as described", "Returned: no longer wanted", "Returned: poor quality")
# Customer messages in a past escalation, by sentiment band (text, then the band's upper sentiment bound).
CUSTOMER_NEGATIVE = (
    "This is the third time something has gone wrong, I am really fed up.",
    "Honestly I don't know why I keep ordering from you.",
    "Nobody has answered me properly, this is ridiculous.",
    "I want this sorted today or I'm closing my account.",
)
CUSTOMER_MIXED = (
    "I just want to know what is going on with my order.",
    "Not great, but I suppose these things happen.",
    "Can you tell me when the refund will arrive?",
    "OK, but I expected better than this.",
)
CUSTOMER_POSITIVE = (
    "Thanks, that's really helpful.",
    "Great, thank you for sorting it so quickly.",
    "Perfect, that's all I needed.",
    "Brilliant, appreciate the help.",
)
AGENT_REPLIES = (
    "I'm sorry about this, let me look into it for you now.",
    "Thanks for your patience, I've checked the order.",
    "I've arranged that for you; you'll get a confirmation by e-mail.",
    "Apologies again for the trouble. Is there anything else I can help with?",
)
ESCALATION_REASONS = ("strong_negative", "negative_trend", "repeat_complaint", "explicit_request")
