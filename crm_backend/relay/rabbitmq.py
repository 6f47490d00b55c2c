"""Event relay for the scaled profile: consumes Rasa's RabbitMQ (``pika``) event broker instead of the SQL table.

The processing is the SQL relay's (``EventRelay._handle``: escalation requests, customer messages of escalated
conversations). What differs is delivery: each message is acknowledged only after its database transaction
committed, so a CRM that stops or loses its database mid-stream leaves the unacknowledged messages in the durable
queue and gets them again, in order, when it reconnects. A redelivered message is harmless: escalations are
deduplicated by their request key and customer messages by ``event_key`` (a digest of the message body, which holds
the sender id and Rasa's timestamp of the event).

Selected by ``CRM_RASA_EVENTS_URL=amqp://user:password@host:5672/`` with ``CRM_RASA_EVENTS_QUEUE`` and
``CRM_RASA_EVENTS_EXCHANGE`` naming what endpoints.scaled.yml names for Rasa (both declare the same durable queue
bound to the same fanout exchange, so either may start first).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading

import aio_pika
from sqlalchemy.engine import Engine

from crm_backend.db import new_session
from crm_backend.relay.sql import CSAT_SLOT, REQUEST_SLOT, EventRelay
from crm_backend.services.grants import GrantPolicy

logger = logging.getLogger(__name__)

# Only user messages and the escalation and CSAT outboxes matter to the CRM. A body that contains none of these strings
# cannot be one of them (Rasa writes events with json.dumps: ASCII names, never escaped), so it is acknowledged without
# being decoded (docs/architecture.md#event-stream).
RELEVANT = (b'"user"', REQUEST_SLOT.encode(), CSAT_SLOT.encode())


class PikaEventRelay(EventRelay):
    """Consumes the queue in a background thread running its own event loop."""

    def __init__(
        self, engine: Engine, events_url: str, *, grants: GrantPolicy, queue: str, exchange: str, prefetch: int = 100
    ) -> None:
        super().__init__(engine, events_url, grants=grants)
        self.queue_name, self.exchange_name, self.prefetch = queue, exchange, prefetch
        self.connected = threading.Event()  # set while consuming (tests and health wait on it)
        self.handled = 0  # messages acknowledged since start
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._failures = 0

    @staticmethod
    def message_key(body: bytes) -> str:
        """The stable identity of one broker message (Rasa's events carry no id of their own)."""
        return "amqp:" + hashlib.sha256(body).hexdigest()[:40]

    def handle_message(self, body: bytes) -> bool:
        """Apply one message in its own transaction; True when it wrote something.

        Undecodable messages are logged and dropped (acknowledged); a database failure raises, so the caller does
        not acknowledge and the message comes back.
        """
        if not any(marker in body for marker in RELEVANT):
            return False
        key = self.message_key(body)
        try:
            data = body.decode("utf-8")
            event = json.loads(data)
        except (UnicodeDecodeError, ValueError):
            logger.warning("relay: broker message %s is not JSON; dropped", key)
            return False
        sender_id = str(event.get("sender_id") or "") if isinstance(event, dict) else ""
        with new_session(self.engine) as session:
            wrote = self._handle(session, key, sender_id, data, key)
            if wrote:
                session.commit()
        return wrote

    # --- the consumer
    async def _consume_once(self) -> None:
        connection = await aio_pika.connect_robust(self.events_url, timeout=10)
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self.prefetch)
            exchange = await channel.declare_exchange(self.exchange_name, aio_pika.ExchangeType.FANOUT)
            queue = await channel.declare_queue(self.queue_name, durable=True)
            await queue.bind(exchange, "")
            self.connected.set()
            logger.info("relay: consuming RabbitMQ queue %r on %s", self.queue_name, self.source)
            async with queue.iterator() as messages:
                async for message in messages:
                    # A database error propagates: closing the channel returns this and every later unacknowledged
                    # message to the queue in order, and the loop below reconnects after a pause.
                    self.handle_message(message.body)
                    await message.ack()
                    self.handled += 1
                    self._failures = 0

    async def _consume(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                await self._consume_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - broker or database down: keep trying, never lose the stream
                self._failures += 1
                logger.exception("relay: consumer failed (%d in a row); reconnecting", self._failures)
            finally:
                self.connected.clear()
            # back off while it keeps failing; one acknowledged message resets the count
            await asyncio.sleep(min(interval * 2 ** min(self._failures, 6), 30.0))

    def start(self, interval: float = 0.5) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._event_loop = loop
            self._task = loop.create_task(self._consume(interval))
            ready.set()
            try:
                loop.run_until_complete(self._task)
            except asyncio.CancelledError:
                pass
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="crm-event-relay-amqp", daemon=True)
        self._thread.start()
        ready.wait(5)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._event_loop is not None and self._task is not None and not self._event_loop.is_closed():
            self._event_loop.call_soon_threadsafe(self._task.cancel)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._event_loop = self._task = None
