"""Event relay (outbox consumer): reads the Rasa SQL event-broker table ``events(id, sender_id, data)``.

* ``slot`` ``escalation_request`` = ``{"key", "body"}``: creates the escalation (deduplicated by key with the API
  fast path), so an escalation raised while the CRM was down is created when it comes back;
* ``user`` event of a conversation with an open/claimed escalation that started at or before it: adds the customer
  message to the escalation's thread (``event_key`` = ``"<source>:<event id>"`` makes re-processing harmless).

The cursor (last event id handled) lives in ``relay_cursor`` keyed by the source URL (password masked).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_backend.api.schemas_escalations import EscalationCreate
from crm_backend.db import new_session
from crm_backend.db.support import RelayCursor
from crm_backend.errors import DomainError
from crm_backend.rasa_stores import BROKER_EVENTS
from crm_backend.relay.worker import PeriodicWorker
from crm_backend.services import escalations
from crm_backend.services.grants import GrantPolicy, vouch
from crm_backend.settings import Settings

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
REQUEST_SLOT = "escalation_request"
CSAT_SLOT = "csat_request"  # a CSAT answer the CRM could not take when it was given (actions/csat.py)


def _short(text: str, limit: int) -> str:
    """``text`` if it fits the column, else a stable digest of it."""
    return text if len(text) <= limit else hashlib.sha256(text.encode()).hexdigest()[:32]


def cursor_source(events_url: str) -> str:
    """The key of an event source's row in ``relay_cursor``: its URL with the password masked."""
    return _short(make_url(events_url).render_as_string(hide_password=True), 200)


class EventRelay(PeriodicWorker):
    thread_name = "crm-event-relay"

    def __init__(self, engine: Engine, events_url: str, *, grants: GrantPolicy, batch_size: int = BATCH_SIZE) -> None:
        self.engine = engine  # the CRM database
        self.events_url = events_url
        self.grants = grants  # checks the identity grant an escalation request carries
        self.batch_size = batch_size
        self.source = cursor_source(events_url)
        self._events_engine: Engine | None = None
        super().__init__()

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine) -> EventRelay:
        return cls(engine, settings.rasa_events_url, grants=GrantPolicy.from_settings(settings))

    # --- reading the source
    def _source_ready(self) -> bool:
        """False while the event store does not exist yet (never creates a SQLite file)."""
        url = make_url(self.events_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            if not Path(url.database).exists():
                return False
        if self._events_engine is None:
            self._events_engine = create_engine(self.events_url, future=True)
        return inspect(self._events_engine).has_table("events")

    def _batch(self, after: int) -> list[tuple[int, str, str | None]]:
        assert self._events_engine is not None
        with self._events_engine.connect() as conn:
            rows = conn.execute(
                select(BROKER_EVENTS.c.id, BROKER_EVENTS.c.sender_id, BROKER_EVENTS.c.data)
                .where(BROKER_EVENTS.c.id > after)
                .order_by(BROKER_EVENTS.c.id)
                .limit(self.batch_size)
            )
            return [(int(r.id), str(r.sender_id or ""), r.data) for r in rows]

    # --- cursor
    def position(self) -> int:
        with new_session(self.engine) as session:
            cursor = session.get(RelayCursor, self.source)
            return int(cursor.position) if cursor else 0

    def _save_position(self, session: Session, position: int) -> None:
        cursor = session.get(RelayCursor, self.source)
        if cursor is None:
            session.add(RelayCursor(source=self.source, position=position))
        elif position > cursor.position:
            cursor.position = position

    def event_key(self, event_id: int) -> str:
        """``"<source>:<id>"``; a source too long for the 100-character column is replaced by its digest."""
        key = f"{self.source}:{event_id}"
        return key if len(key) <= 100 else f"{hashlib.sha256(self.source.encode()).hexdigest()[:32]}:{event_id}"

    # --- processing
    def run_once(self) -> int:
        """Handle every event after the cursor; returns how many events were read."""
        if not self._source_ready():
            return 0
        processed = 0
        position = self.position()
        while True:
            batch = self._batch(position)
            if not batch:
                return processed
            with new_session(self.engine) as session:
                for event_id, sender_id, data in batch:
                    if self._handle(session, event_id, sender_id, data, self.event_key(event_id)):
                        self._save_position(session, event_id)
                        session.commit()  # one transaction per relevant event (and its cursor move)
                    position = event_id
                    processed += 1
                self._save_position(session, position)
                session.commit()
            if len(batch) < self.batch_size or self._stop.is_set():
                return processed

    def _handle(self, session: Session, event_id: int | str, sender_id: str, data: str | None, key: str) -> bool:
        """Apply one event; True when it wrote something. Bad events are logged and skipped.

        ``event_id`` names the event in logs; ``key`` identifies it for good (re-processing it changes nothing).
        """
        try:
            event = json.loads(data or "")
        except ValueError:
            logger.warning("relay: event %s of %s is not JSON; skipped", event_id, sender_id)
            return False
        if not isinstance(event, dict):
            return False
        try:
            if event.get("event") == "slot" and event.get("name") == REQUEST_SLOT:
                return self._escalation_request(session, event_id, sender_id, event)
            if event.get("event") == "slot" and event.get("name") == CSAT_SLOT:
                return self._csat(session, sender_id, event)
            if event.get("event") == "user":
                return self._user_message(session, key, sender_id, event)
        except IntegrityError:  # a concurrent writer (API fast path, another relay) got there first
            session.rollback()
        except DomainError as error:
            session.rollback()
            logger.warning("relay: event %s of %s refused (%s); skipped", event_id, sender_id, error.code)
        return False

    def _escalation_request(self, session: Session, event_id: int | str, sender_id: str, event: dict[str, Any]) -> bool:
        value = event.get("value")
        if not isinstance(value, dict) or not value.get("key") or not isinstance(value.get("body"), dict):
            return False  # the slot being reset, or not a request
        try:
            body = EscalationCreate.parse_obj({**value["body"], "conversation_id": sender_id})
        except ValidationError as exc:
            logger.warning("relay: escalation request in event %s is invalid; skipped: %s", event_id, exc)
            return False
        fields = body.dict()
        fields["customer_id"], fields["packet"] = vouch(
            self.grants,
            fields.pop("identity_grant"),
            customer_id=body.customer_id,
            conversation_id=sender_id,
            packet=body.packet,
        )
        created_at = _timestamp(event) or datetime.utcnow()
        try:
            escalations.create_escalation(
                session=session, request_key=str(value["key"])[:200], actor="relay", created_at=created_at, **fields
            )
        except DomainError as error:  # an unknown customer id: keep the escalation, drop the link
            if error.code != "customer_not_found":
                raise
            session.rollback()
            fields["packet"] = {**fields["packet"], "unknown_customer_id": fields["customer_id"]}
            fields["customer_id"] = None
            escalations.create_escalation(
                session=session, request_key=str(value["key"])[:200], actor="relay", created_at=created_at, **fields
            )
        return True

    def _csat(self, session: Session, sender_id: str, event: dict[str, Any]) -> bool:
        """Store a CSAT answer given while the CRM was down; a redelivered one changes nothing."""
        value = event.get("value")
        score = value.get("score") if isinstance(value, dict) else None
        if not isinstance(score, int) or isinstance(score, bool):
            return False  # the slot being reset, or not an answer
        escalations.record_csat(sender_id, score, session=session)  # refuses 1-5 violations and unknown ones
        return True

    def _user_message(self, session: Session, key: str, sender_id: str, event: dict[str, Any]) -> bool:
        at, text = _timestamp(event), event.get("text")
        if at is None or not isinstance(text, str) or not text:
            return False
        message = escalations.add_customer_message(
            session=session,
            conversation_id=sender_id,
            text=text,
            sentiment=_sentiment(event),
            at=at,
            event_key=key,
        )
        return message is not None

        if self._events_engine is not None:
            self._events_engine.dispose()
            self._events_engine = None


def _timestamp(event: dict[str, Any]) -> datetime | None:
    value = event.get("timestamp")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.utcfromtimestamp(value)
    return None


def _sentiment(event: dict[str, Any]) -> float | None:
    sentiment = (event.get("parse_data") or {}).get("sentiment")
    score = sentiment.get("score") if isinstance(sentiment, dict) else None
    return float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else None
