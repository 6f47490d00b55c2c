"""Rasa's RabbitMQ (pika) event broker for the scaled profile, with every event masked before it is published.

The stream feeds the CRM's analytics and the agents' relay; whoever can read the queue must not read customers'
e-mail addresses, phone numbers, card numbers or addresses. `shopcare_core.pii.mask_event` masks the customer's words,
entity values, bot texts and slot values, exactly as the single profile's SQL broker does
(`components/sqlite_stores.BatchingSQLEventBroker`); the escalation request (the packet agents need, served by the
CRM only behind its API key) stays whole. Connection, exchange, queues, message format and publisher confirms are
Rasa's own. `_publish` is Rasa's without its debug log of each event, which would write the unmasked event to a debug
log (docs/architecture.md#event-stream). Named by class path in endpoints.scaled.yml.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.brokers.pika import PikaEventBroker

from shopcare_core.pii import Masker, mask_event

logger = logging.getLogger(__name__)


class MaskingPikaEventBroker(PikaEventBroker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._masker = Masker.from_env()

    def publish(self, event: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        # Rasa re-publishes events it kept while RabbitMQ was down through here: masking masked text changes nothing
        super().publish(mask_event(event, self._masker), headers)

    async def _publish(self, event: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        if self._exchange is None:
            return
        try:
            await self._exchange.publish(self._message(event, headers), "")
        except Exception:  # noqa: BLE001 - RabbitMQ away: keep the event for the reconnect, as Rasa does
            logger.warning("Event broker: could not publish a %r event; kept for later", event.get("event"))
            if self.should_keep_unpublished_messages:
                self._unpublished_events.append(event)
            if self.raise_on_failure:
                await self.close()
                raise
