"""The assistant's SQL tables as the CRM reads them, without importing Rasa: the tracker store's ``events``
(Rasa's ``SQLTrackerStore.SQLEvent``) and the SQL event broker's ``events`` (``SQLEventBroker.SQLBrokerEvent``).
Each lives in its own database (``CRM_RASA_TRACKER_URL``, ``CRM_RASA_EVENTS_URL``)."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text

TRACKER_EVENTS = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)
BROKER_EVENTS = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("data", Text),
)
