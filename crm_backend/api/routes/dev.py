"""Development-only routes, registered by ``create_app`` only when ``CRM_ENV=development`` (404 elsewhere).

``GET /dev/outbox?to=<email>``: the mail the development mail sink (crm_backend/mailsink.py) received, newest first,
at most 50, optionally only those to one address (any case). No API key: it serves a developer's own machine.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from crm_backend.mailsink import read_outbox

router = APIRouter(prefix="/dev", tags=["development"])


class OutboxMail(BaseModel):
    to: str
    subject: str
    text: str
    sent_at: datetime


@router.get("/outbox", response_model=list[OutboxMail])
def outbox(request: Request, to: str | None = Query(None, max_length=320)) -> list[dict[str, str]]:
    return read_outbox(request.app.state.settings.dev_mail_store, to=to)
