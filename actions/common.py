"""Helpers shared by the feature modules: formatting, parsing customer input, idempotency keys."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from rasa_sdk import Tracker

ORDER_RE = re.compile(r"^#?\s*(\d{4,10})$")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}")  # bounded: linear time
POSTCODE_RE = re.compile(r"\b([A-Za-z]{1,2}\d[A-Za-z\d]?)\s*(\d[A-Za-z]{2})\b")
AMOUNT_RE = re.compile(r"(\d{1,6}(?:[.,]\d{1,2})?)")
FULL_AMOUNT_WORDS = ("full", "all of it", "everything", "whole", "entire", "all the money", "total", "all")

ORDER_STATUSES = ("pending", "paid", "packed", "shipped", "delivered", "cancelled", "returned")


def money(amount: Any) -> str:
    return f"£{float(amount):,.2f}"


def first(value: Any) -> Any:
    """Slots filled from several entities hold a list; the first mention is the one meant."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def normalise_order_id(value: Any) -> str | None:
    value = first(value)
    if value is None:
        return None
    match = ORDER_RE.match(str(value).strip())
    return match.group(1) if match else None


def parse_identity_proof(value: Any) -> dict[str, str]:
    """{'email': ...} or {'postcode': ...} from what the customer typed; {} if it is neither."""
    text = str(first(value) or "")
    email = EMAIL_RE.search(text)
    if email:
        return {"email": email.group(0).lower()}
    postcode = POSTCODE_RE.search(text)
    if postcode:
        return {"postcode": f"{postcode.group(1).upper()} {postcode.group(2).upper()}"}
    return {}


def parse_amount(value: Any, full_amount: float) -> float | None:
    text = str(first(value) or "").lower()
    if any(word in text for word in FULL_AMOUNT_WORDS) and not AMOUNT_RE.search(text):
        return round(full_amount, 2)
    match = AMOUNT_RE.search(text.replace(",", "") if text.count(",") and "." in text else text)
    if not match:
        return None
    amount = float(match.group(1).replace(",", "."))
    return round(amount, 2) if amount > 0 else None


def parse_address(value: Any) -> dict[str, str] | None:
    """'12 High Street, Leeds, LS1 4AP' -> {line1, [line2], city, postcode, country}; None without street, town
    and postcode. The shop delivers in the UK only (country GB)."""
    text = str(first(value) or "").strip()
    postcode = POSTCODE_RE.search(text)
    if not postcode:
        return None
    rest = (text[: postcode.start()] + " " + text[postcode.end() :]).strip(" ,")
    parts = [p.strip() for p in rest.split(",") if p.strip()]
    if len(parts) < 2 or not re.search(r"[A-Za-z]", parts[-1]):
        return None
    address = {
        "line1": parts[0],
        "city": parts[-1],
        "postcode": f"{postcode.group(1).upper()} {postcode.group(2).upper()}",
        "country": "GB",
    }
    if len(parts) > 2:
        address["line2"] = ", ".join(parts[1:-1])
    return address


def idempotency_key(tracker: Tracker, action: str, *parts: Any) -> str:
    """Same conversation + same request -> same key, so a repeated confirmation changes nothing twice."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:16]
    return f"{tracker.sender_id}:{action}:{digest}"


def describe_order(order: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """What a customer wants to know about an order: the domain response (``utter_order_status_<status>...``) and its
    variables."""
    status = order["status"]
    variables: dict[str, Any] = {
        "order_id": order["order_number"],
        "total": money(order["total"]),
        "placed_on": str(order["placed_at"])[:10],
    }
    shipment = order.get("shipment") or {}
    if status not in ORDER_STATUSES:
        return "utter_order_status_other", {**variables, "status": status}
    if status == "shipped" and shipment:
        eta = str(shipment.get("eta") or "")[:10]
        delay = shipment.get("delay_days") or 0
        variables |= {"carrier": shipment.get("carrier"), "tracking_number": shipment.get("tracking_number")}
        variables |= {"eta": eta, "delay_days": delay}
        name = "utter_order_status_shipped_tracked" + ("" if eta else "_no_eta") + ("_late" if delay > 0 else "")
        return name, variables
    if status == "delivered" and shipment.get("delivered_at"):
        on = str(shipment["delivered_at"])[:10]
        return "utter_order_status_delivered_on", {**variables, "delivered_on": on, "carrier": shipment.get("carrier")}
    return f"utter_order_status_{status}", variables
