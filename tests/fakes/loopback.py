"""A raw TCP server on loopback, one thread per connection, for fakes that must see the bytes as they arrive (how a
proxy splits a body) or speak TLS themselves (a stand-in for an HTTPS service reached through a proxy)."""

from __future__ import annotations

import socket
import threading


class LoopbackServer:
    """Listens on a free loopback port (``port``); ``serve`` handles one accepted connection and closes it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.sock.close()
