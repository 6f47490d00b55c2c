"""One channel's blueprint served by a real Sanic server on loopback, inside the test's event loop, with a stand-in
for Rasa's message handler that records each ``UserMessage`` and answers it: the channel's own code (routes,
middleware, socket.io handlers) runs exactly as in ``rasa run``, without a model or a tracker store."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Sanic


class Recorder:
    """Rasa's ``on_new_message``: keeps the message and answers "got <text>" through its output channel."""

    def __init__(self) -> None:
        self.messages: list[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        if message.output_channel is not None:
            await message.output_channel.send_text_message(message.sender_id, f"got {message.text}")


@asynccontextmanager
async def serve(channel: InputChannel, recorder: Recorder) -> AsyncIterator[str]:
    """The base URL of a server with ``channel`` mounted where Rasa mounts it (``/webhooks/<name>``)."""
    Sanic.test_mode = True  # Sanic rewrites its connection code at each start; in test mode it can start many apps
    app = Sanic(f"channel-test-{uuid.uuid4().hex[:8]}")
    app.blueprint(channel.blueprint(recorder), url_prefix=f"/webhooks/{channel.url_prefix()}")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()
