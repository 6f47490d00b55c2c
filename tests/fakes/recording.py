"""A small threaded HTTP server on loopback that records every call and answers in the faked service's format."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Call:
    """One request the bot made: the API method, its parameters (JSON, form or multipart alike) and its headers."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    path: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json":
        value = json.loads(body or b"{}")
        return value if isinstance(value, dict) else {"_": value}
    if kind == "application/x-www-form-urlencoded":
        return dict(parse_qsl(body.decode(), keep_blank_values=True))
    if kind == "multipart/form-data":
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        return {
            str(part.get_param("name", header="content-disposition")): part.get_content()
            for part in message.iter_parts()
        }
    return {}


class RecordingServer:
    """Subclasses implement ``answer(call) -> (status, json_body)`` and ``method_of(path)``."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                self._handle()

            def do_GET(self) -> None:  # noqa: N802
                self._handle()

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                params = dict(parse_qsl(query))
                params.update(parse_body(self.headers.get("content-type", ""), body))
                call = Call(outer.method_of(path), params, {k.lower(): v for k, v in self.headers.items()}, path)
                with outer._lock:
                    outer.calls.append(call)
                status, answer = outer.answer(call)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> RecordingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def method_of(self, path: str) -> str:
        return path.rstrip("/").rsplit("/", 1)[-1]

    def answer(self, call: Call) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError

    def sent(self, method: str, where: Callable[[Call], bool] = lambda _: True) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and where(c)]

    def wait_for(
        self, method: str, where: Callable[[Call], bool] = lambda _: True, count: int = 1, timeout: float = 20.0
    ) -> list[Call]:
        """The calls of ``method`` matching ``where`` once there are at least ``count`` (fails after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.sent(method, where)
            if len(found) >= count:
                time.sleep(0.3)  # let the rest of the turn's messages arrive
                return self.sent(method, where)
            time.sleep(0.1)
        raise AssertionError(f"expected {count} {method} call(s), got {self.sent(method, where)}")
