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
