"""The scaled profile's public listener serves what customers and agents' browsers need, and nothing else.

The generated configuration (scripts/scaled.py `nginx_conf`) runs in front of three recording upstreams on loopback,
standing for the Rasa replicas, the CRM and the action servers. On the public listener the channels' webhooks and
socket.io reach Rasa and the shop, its widget and the agents' console reach the CRM; Rasa's HTTP API, the action
servers' webhook, the CRM's API and everything else are 404 and reach no upstream. The internal listeners give the CRM
Rasa's HTTP API and the replicas the action servers. Needs only nginx, not the other services.
"""

from __future__ import annotations

import http.client
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.scaled import nginx_conf
from scripts.scaled_config import NGINX
from scripts.stack import free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]

from tests.fakes.recording import Call, RecordingServer  # noqa: E402


class Upstream(RecordingServer):
    """Answers every request with its own name; records the paths that reached it."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__()

    def answer(self, call: Call) -> tuple[int, dict[str, Any]]:
        return 200, {"upstream": self.name}

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def paths(self) -> list[str]:
        return [c.path for c in self.calls]


@dataclass
class Balancer:
    public: int
    api: int
    actions: int
    upstreams: dict[str, Upstream]

    def reached(self) -> dict[str, list[str]]:
        return {name: up.paths() for name, up in self.upstreams.items() if up.paths()}

    def clear(self) -> None:
        for up in self.upstreams.values():
            up.calls.clear()


@pytest.fixture(scope="module")
def balancer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Balancer]:
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (Debian: apt-get install nginx)")
    upstreams = {name: Upstream(name).start() for name in ("rasa", "crm", "actions")}
    run_dir = tmp_path_factory.mktemp("nginx")
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (run_dir / "tmp" / sub).mkdir(parents=True)
    lb = Balancer(free_port(), free_port(), free_port(), upstreams)
    conf = run_dir / "nginx.conf"
    conf.write_text(
        nginx_conf(
            run_dir,
            lb.public,
            lb.actions,
            [upstreams["rasa"].port],
            [upstreams["actions"].port],
            api_port=lb.api,
            crm_port=upstreams["crm"].port,
        )
    )
    proc = subprocess.Popen([NGINX, "-p", str(run_dir), "-c", str(conf)], stderr=subprocess.DEVNULL)  # errors: its log
    try:
        wait_http(f"http://127.0.0.1:{lb.public}/lb-health", 15, proc)
        yield lb
    finally:
        proc.terminate()
        proc.wait(10)
        for up in upstreams.values():
            up.stop()


PASS_PUBLIC = [
    ("POST", "/webhooks/rest/webhook", "rasa"),
    ("POST", "/webhooks/slack/webhook", "rasa"),
    ("POST", "/webhooks/telegram/webhook", "rasa"),
    ("GET", "/socket.io/?EIO=4&transport=polling", "rasa"),
    ("POST", "/socket.io/?EIO=4&transport=polling&sid=abc", "rasa"),
    ("GET", "/shop", "crm"),
    ("GET", "/widget/shopcare-widget.js", "crm"),
    ("GET", "/console", "crm"),
    ("GET", "/console/login?next=%2Fconsole%2Fqueue", "crm"),
    ("POST", "/console/login", "crm"),
    ("GET", "/console/static/console.css", "crm"),
    ("GET", "/console/escalations/12", "crm"),
]

NOT_FOUND_PUBLIC = [
    # Rasa's HTTP API: conversations, model, status, domain
    ("GET", "/conversations/victim/tracker?token=guess"),
    ("POST", "/conversations/victim/tracker/events?output_channel=latest"),
    ("POST", "/conversations/victim/trigger_intent"),
    ("POST", "/conversations/victim/messages"),
    ("POST", "/conversations/victim/execute"),
    ("POST", "/model/parse"),
    ("PUT", "/model"),
    ("GET", "/status"),
    ("GET", "/version"),
    ("GET", "/domain"),
    ("GET", "/"),
    # channels' other routes
    ("GET", "/webhooks/telegram/set_webhook"),
    ("GET", "/webhooks/rest/"),
    ("GET", "/webhooks/socketio/"),
    ("POST", "/webhooks/rest/webhook/extra"),
    ("POST", "/webhooks/other/webhook"),
    # the action servers
    ("POST", "/webhook"),
    ("GET", "/actions"),
    ("GET", "/health"),
    # the CRM's API, its documentation, look-alikes of the public pages
    ("GET", "/api/v1/customers/1"),
    ("POST", "/api/v1/identity/verify"),
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
    ("GET", "/shop/extra"),
    ("GET", "/shopping"),
    ("GET", "/consoles"),
    ("GET", "/widget"),
]

# the path as sent differs from the path nginx would match: refused before any upstream reads it
RAW_TRICKS = [
    "/conversations/victim/tracker/../../../webhooks/rest/webhook",
    "/webhooks/rest/./webhook",
    "/webhooks/rest/webhook%2F..%2F..%2F..%2Fstatus",
    "/conversations%2Fvictim%2Ftracker/../../socket.io/",
    "/console/%2E%2E/api/v1/customers/1",
    "/shop/..%5Capi",
]


@pytest.mark.parametrize(("method", "path", "upstream"), PASS_PUBLIC)
def test_customer_routes_pass_on_the_public_listener(balancer: Balancer, method: str, path: str, upstream: str):
    balancer.clear()
    response = httpx.request(method, f"http://127.0.0.1:{balancer.public}{path}", json={}, timeout=10)
    assert response.status_code == 200 and response.json() == {"upstream": upstream}
    assert balancer.reached() == {upstream: [path.split("?")[0]]}


@pytest.mark.parametrize(("method", "path"), NOT_FOUND_PUBLIC)
def test_everything_else_is_404_on_the_public_listener(balancer: Balancer, method: str, path: str):
    balancer.clear()
    response = httpx.request(method, f"http://127.0.0.1:{balancer.public}{path}", json={}, timeout=10)
    assert response.status_code == 404
    assert balancer.reached() == {}


@pytest.mark.parametrize("path", RAW_TRICKS)
def test_paths_that_an_upstream_would_read_differently_are_404(balancer: Balancer, path: str):
    balancer.clear()
    conn = http.client.HTTPConnection("127.0.0.1", balancer.public, timeout=10)  # sends the path unchanged
    try:
        conn.request("POST", path, body=b"{}", headers={"Content-Type": "application/json"})
        status = conn.getresponse().status
    finally:
        conn.close()
    assert status == 404
    assert balancer.reached() == {}


def test_the_internal_listeners_serve_the_crm_and_the_replicas(balancer: Balancer):
    balancer.clear()
    base = f"http://127.0.0.1:{balancer.api}"
    events = httpx.post(f"{base}/conversations/c1/tracker/events?output_channel=latest", json=[], timeout=10)
    assert events.json() == {"upstream": "rasa"}
    assert httpx.get(f"{base}/status", timeout=10).json() == {"upstream": "rasa"}
    action = httpx.post(f"http://127.0.0.1:{balancer.actions}/webhook", json={}, timeout=10)
    assert action.json() == {"upstream": "actions"}
    assert balancer.reached() == {
        "rasa": ["/conversations/c1/tracker/events", "/status"],
        "actions": ["/webhook"],
    }


def test_socket_io_through_the_public_listener_is_sticky(balancer: Balancer):
    response = httpx.get(f"http://127.0.0.1:{balancer.public}/socket.io/", params={"EIO": "4"}, timeout=10)
    assert response.status_code == 200 and "shopcare_route=" in response.headers.get("set-cookie", "")
