"""The scaled profile's load balancer passes request bodies on in one piece, and takes action calls of any real size.

nginx (scripts/scaled.py `nginx_conf`, the configuration `make run-scaled` runs) sits between each Rasa replica and the
action servers. Every action call is a POST of the conversation's events and the domain, 20-40 KB for a short
conversation. With nginx's default 8 KB body buffer such a body was spooled to a file and sent upstream in two writes,
the second held back until the first one's delayed TCP acknowledgement: 40 ms added to every action call. Here a
loopback upstream records when each request's first and last bytes arrive. Needs only nginx, not the other services.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.scaled import nginx_conf
from scripts.scaled_config import NGINX
from scripts.stack import free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]

from tests.fakes.loopback import LoopbackServer  # noqa: E402


class RecordingUpstream(LoopbackServer):
    """An HTTP/1.1 server on loopback that answers `{}` and records, per request, the body size and the milliseconds
    between the request's first byte and its last (keep-alive connections, as nginx's upstream pool uses them)."""

    def __init__(self) -> None:
        self.spreads: list[tuple[int, float]] = []
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(1 << 20)
                    if not chunk:
                        return
                    if not buffer:
                        first = time.perf_counter()
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(buffer) < length:
                    chunk = conn.recv(1 << 20)
                    if not chunk:
                        return
                    buffer += chunk
                self.spreads.append((length, (time.perf_counter() - first) * 1000))
                buffer = buffer[length:]
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")


@pytest.fixture(scope="module")
def balancer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RecordingUpstream, int, int]]:
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (Debian: apt-get install nginx)")
    upstream = RecordingUpstream()
    run_dir = tmp_path_factory.mktemp("nginx")
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (run_dir / "tmp" / sub).mkdir(parents=True)
    public, actions = free_port(), free_port()
    conf = run_dir / "nginx.conf"
    conf.write_text(nginx_conf(run_dir, public, actions, [upstream.port], [upstream.port]))
    proc = subprocess.Popen([NGINX, "-p", str(run_dir), "-c", str(conf)], stderr=subprocess.DEVNULL)  # errors: its log
    try:
        wait_http(f"http://127.0.0.1:{public}/lb-health", 15, proc)
        yield upstream, public, actions
    finally:
        proc.terminate()
        proc.wait(10)
        upstream.close()


def action_call(size: int) -> bytes:
    """A JSON body of about `size` bytes, shaped like Rasa's action call (events and domain)."""
    event = (
        b'{"event": "user", "text": "where is my order 10001?", "parse_data": {"intent": {"name": "order_status"}}},'
    )
    events = event * (size // len(event))
    return b'{"next_action": "action_order_status", "tracker": {"events": [' + events[:-1] + b"]}}"


def test_action_calls_reach_the_action_server_in_one_piece(balancer: tuple[RecordingUpstream, int, int]) -> None:
    upstream, _, actions = balancer
    timings = []
    with httpx.Client(base_url=f"http://127.0.0.1:{actions}", timeout=10) as client:
        for size in (30_000, 30_000, 60_000, 60_000, 120_000, 120_000, 250_000):
            body = action_call(size)
            upstream.spreads.clear()
            response = client.post("/webhook", content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 200
            assert [length for length, _ in upstream.spreads] == [len(body)]
            timings.append(round(upstream.spreads[0][1], 1))
    # A delayed acknowledgement holds a split body back by 40 ms (Linux's minimum); in one piece it arrives at once.
    assert statistics.median(timings) < 15, f"ms between a body's first and last byte at the upstream: {timings}"


def test_body_limits(balancer: tuple[RecordingUpstream, int, int]) -> None:
    """A long conversation's action call (2 MB) passes; the public listener still refuses bodies over 1 MB."""
    _, public, actions = balancer
    body = action_call(2_000_000)
    headers = {"Content-Type": "application/json"}
    assert (
        httpx.post(f"http://127.0.0.1:{actions}/webhook", content=body, headers=headers, timeout=10).status_code == 200
    )
    refused = httpx.post(f"http://127.0.0.1:{public}/webhooks/rest/webhook", content=body, headers=headers, timeout=10)
    assert refused.status_code == 413
