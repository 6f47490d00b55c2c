"""Fault-injection helpers on the session's live stack: kill a process hard, supervise it back, wait for a condition."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest


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


@pytest.fixture
def find_order(stack) -> Callable[[str], tuple[dict[str, Any], str]]:
    """(customer, order number) of a population customer with an order in ``status`` (not a demo persona)."""
    client = httpx.Client(base_url=f"{stack.crm_url}/api/v1", headers={"X-API-Key": stack.api_key}, timeout=10)

    def find(status: str, skip: set[str] = frozenset()) -> tuple[dict[str, Any], str]:  # type: ignore[assignment]
        for customer_id in range(30, 45):
            for order in client.get(f"/customers/{customer_id}/orders").json():
                if order["status"] == status and order["order_number"] not in skip:
                    return client.get(f"/customers/{customer_id}").json(), order["order_number"]
        raise LookupError(f"no population order in status {status!r}")

    return find
