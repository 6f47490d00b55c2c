"""The action server runs actions only for callers holding the shared token, and listens on loopback only.

A real action server (``Stack.start_actions``: ``python -m actions.server`` on 127.0.0.1) in front of a recording
stand-in for the CRM. A forged tracker that asks ``action_run_task`` to track a customer's order is refused with 401
and reaches nothing behind the server unless the call carries ``X-Action-Token``; with it, the action runs.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from actions.server import TOKEN_HEADER, startup_error
from tests.fakes.recording import Call, RecordingServer
from tests.live_stack import Stack, free_port
from tests.responses import rendered

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "action-token-for-the-auth-test"
ORDER = {
    "order_number": "10001",
    "status": "shipped",
    "total": 42.5,
    "placed_at": "2026-11-20T10:00:00",
    "shipment": {"carrier": "DPD", "tracking_number": "TRK123456", "eta": "2026-11-25", "delay_days": 0},
}


class FakeCRM(RecordingServer):
    """Answers an order look-up; records every request that reaches it."""

    def answer(self, call: Call) -> tuple[int, dict[str, Any]]:
        return (200, ORDER) if call.path.endswith("/orders/10001") else (404, {"code": "not_found"})


@pytest.fixture(scope="module")
def crm() -> Iterator[FakeCRM]:
    fake = FakeCRM().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def action_server(crm: FakeCRM, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        crm_port=int(crm.url.rsplit(":", 1)[1]),
        action_port=free_port(),
        rasa_port=free_port(),  # names the log files only: no Rasa server here
        api_key="auth-test-api-key",
        action_token=TOKEN,
        log_dir=tmp_path_factory.mktemp("actions") / "log",
    )
    try:
        stack.start_actions()
        yield stack
    finally:
        stack.stop()


def forged_call(sender: str) -> dict[str, Any]:
    """What Rasa would send to run ``action_run_task`` for a verified customer: here written by hand."""
    slots = {"customer_id": 7, "order_id": "10001", "task": "track_order"}
    return {
        "next_action": "action_run_task",
        "sender_id": sender,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": slots,
            "latest_message": {"intent": {"name": "track_order"}, "entities": [], "text": "where is my order?"},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


def order_lookups(crm: FakeCRM) -> list[Call]:
    return [c for c in crm.calls if c.path.endswith("/orders/10001")]


@pytest.mark.parametrize(
    "headers",
    [{}, {TOKEN_HEADER: ""}, {TOKEN_HEADER: "wrong"}, {TOKEN_HEADER: TOKEN + "x"}, {"Authorization": TOKEN}],
    ids=["none", "empty", "wrong", "longer", "other header"],
)
def test_a_forged_tracker_without_the_token_is_refused_and_runs_nothing(action_server, crm, headers):
    before = len(crm.calls)
    response = httpx.post(f"{action_server.action_url}/webhook", json=forged_call("forger"), headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": f"missing or wrong {TOKEN_HEADER} header"}
    assert "TRK123456" not in response.text
    assert crm.calls[before:] == []  # the action never ran: nothing reached the CRM


def test_every_other_route_needs_the_token_too(action_server, crm):
    assert httpx.get(f"{action_server.action_url}/actions").status_code == 401
    assert httpx.post(f"{action_server.action_url}/health").status_code in (401, 405)
    assert httpx.get(f"{action_server.action_url}/nowhere").status_code == 401
    listed = httpx.get(f"{action_server.action_url}/actions", headers={TOKEN_HEADER: TOKEN})
    assert listed.status_code == 200 and {"name": "action_run_task"} in listed.json()


def test_the_health_check_is_open(action_server):
    response = httpx.get(f"{action_server.action_url}/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_the_token_lets_the_call_run(action_server, crm):
    before = len(order_lookups(crm))
    response = httpx.post(
        f"{action_server.action_url}/webhook", json=forged_call("rasa"), headers={TOKEN_HEADER: TOKEN}, timeout=30
    )
    assert response.status_code == 200, response.text
    texts = " ".join(rendered(r) for r in response.json()["responses"])  # domain responses filled as Rasa fills them
    assert "Order 10001" in texts and "TRK123456" in texts
    lookups = order_lookups(crm)[before:]
    assert [c.path for c in lookups] == ["/api/v1/customers/7/orders/10001"]
    assert lookups[0].headers["x-api-key"] == "auth-test-api-key"


def listening_addresses(port: int) -> list[str]:
    """Local addresses of the TCP sockets listening on ``port`` (/proc/net/tcp and tcp6, hex little-endian)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                # the kernel prints each 32-bit word in host (little-endian) order
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.append(socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, words))
    return found


def test_it_listens_on_loopback_only(action_server):
    addresses = listening_addresses(action_server.action_port)
    assert addresses == ["127.0.0.1"], addresses


def non_loopback_ipv4() -> str | None:
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return next((a for a in out.split() if "." in a and not a.startswith("127.")), None)


def test_it_cannot_be_reached_on_the_machines_network_address(action_server):
    address = non_loopback_ipv4()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address (hostname -I) to try")
    with socket.socket() as sock:
        sock.settimeout(3)
        assert sock.connect_ex((address, action_server.action_port)) != 0


def test_without_a_token_only_local_development_on_loopback_may_start():
    assert startup_error("t0ken-value", "0.0.0.0", {}) is None
    assert startup_error("", "127.0.0.1", {"CRM_ENV": "development"}) is None
    assert startup_error("", "::1", {"CRM_ENV": "development"}) is None
    assert startup_error("", "0.0.0.0", {"CRM_ENV": "development"})
    assert startup_error("", "127.0.0.1", {"CRM_ENV": "production"})
    assert startup_error("", "127.0.0.1", {})
    # the development token, like the CRM's default API key, only where CRM_ENV is (or defaults to) development
    assert startup_error("dev-action-token", "127.0.0.1", {}) is None
    assert startup_error("dev-action-token", "0.0.0.0", {"CRM_ENV": "production"})


def test_the_launcher_refuses_to_start_without_a_token_outside_development(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CRM_ENV": "production", "ACTION_SERVER_TOKEN": ""}
    done = subprocess.run(
        [sys.executable, "-m", "actions.server", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "ACTION_SERVER_TOKEN is empty" in done.stderr
