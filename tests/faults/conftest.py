"""Fault-injection helpers on the session's live stack: kill a process hard, supervise it back, wait for a condition."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import api_client, one_time_code


def kill_hard(stack: Any, name: str) -> int:
    """SIGKILL the process group of one of the stack's processes (no clean shutdown); returns the old pid."""
    proc = stack.procs[name]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    return int(proc.pid)


def wait_until(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout:.0f} s")


@pytest.fixture
def supervisor(stack) -> Iterator[list[str]]:
    """`make run`'s supervision (Stack.supervise_once) in a background thread; yields the names it restarted."""
    restarted: list[str] = []
    stopping = threading.Event()

    def loop() -> None:
        while not stopping.is_set():
            restarted.extend(stack.supervise_once())
            stopping.wait(0.5)

    thread = threading.Thread(target=loop, name="test-supervisor", daemon=True)
    thread.start()
    yield restarted
    stopping.set()
    thread.join(timeout=200)


class RefundDone:
    def __init__(self, customer: dict[str, Any], order_number: str, reference: str) -> None:
        self.customer, self.order_number, self.reference = customer, order_number, reference


@pytest.fixture
def confirmed_refund(stack) -> Callable[[Any], RefundDone]:
    """Something confirmed before the fault: a small refund of a delivered population order, through the assistant
    (the one-time code a change needs is read from the CRM's development outbox)."""
    client = api_client(stack.crm_url, stack.api_key)

    def make(chat: Any) -> RefundDone:
        for customer_id in (7, 9, *range(21, 45)):  # not the security suite's attackers and victims (10-20)
            customer = client.get(f"/customers/{customer_id}").json()
            refunded = {r["order_number"] for r in client.get(f"/customers/{customer_id}/refunds").json()}
            for order in client.get(f"/customers/{customer_id}/orders").json():
                if order["status"] != "delivered" or order["order_number"] in refunded:
                    continue
                quote = client.get(f"/customers/{customer_id}/orders/{order['order_number']}/refund-eligibility")
                if not quote.json().get("eligible") or quote.json().get("max_amount", 0) < 5:
                    continue
                chat.say(f"I want a refund for order {order['order_number']}")
                chat.say(customer["email"])
                chat.say("it arrived damaged")
                asked = time.time()
                sent = chat.say("£5")
                assert "e-mailed a 6-digit code" in sent, f"no one-time code sent: {sent!r}"
                code = one_time_code(stack.crm_url, customer["email"], after=asked - 1)
                quote = chat.say(code)
                assert "£5.00" in quote, f"no refund confirmation after the code: {quote!r}"
                answer = chat.say("yes")
                match = re.search(r"RF-[A-Z0-9-]+", answer)
                assert match, f"no refund reference in {answer!r}"
                return RefundDone(customer, order["order_number"], match.group(0))
        raise LookupError("no refundable delivered order in the population")

    return make
