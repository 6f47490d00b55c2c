"""Tell the agents' Slack channel about new high-priority escalations (a Slack incoming webhook).

A background thread of the CRM looks for open escalations at or above ``notify_priority`` that were never announced.
It claims each one with a conditional UPDATE (``notified_at`` set only if still empty), so two CRM processes never
announce the same escalation twice, then POSTs the message. Creating an escalation never waits for Slack; a failed
POST clears ``notified_at`` again so a later tick retries it (with a growing pause while Slack keeps failing).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from crm_backend.db import Escalation, new_session
from crm_backend.relay.worker import PeriodicWorker
from crm_backend.settings import Settings

logger = logging.getLogger(__name__)


def _slack_escape(text: str) -> str:
    """Slack's mrkdwn control characters (a summary must not become a link or a mention)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(escalation: Escalation, console_url: str) -> dict[str, Any]:
    reasons = ", ".join(r.replace("_", " ") for r in (escalation.reason_codes or [])) or "unspecified"
    link = f"{console_url.rstrip('/')}/console/escalations/{escalation.id}"
    headline = f"Urgent escalation #{escalation.id} (priority {escalation.priority}, {escalation.channel or 'unknown'})"
    summary = _slack_escape((escalation.summary or "")[:500])
    text = f":rotating_light: {headline}: {_slack_escape(reasons)}. {summary} <{link}|Open in the console>"
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline}*\n_{_slack_escape(reasons)}_"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": summary or " "}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"<{link}|Open in the console>"}},
        ],
    }


class SlackNotifier(PeriodicWorker):
    thread_name = "crm-slack-notify"
    max_backoff = 120.0

    def __init__(
        self,
        engine: Engine,
        webhook_url: str,
        *,
        min_priority: int,
        console_url: str,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.engine, self.webhook_url, self.min_priority, self.console_url = (
            engine,
            webhook_url,
            min_priority,
            console_url,
        )
        self._http = httpx.Client(timeout=timeout, transport=transport)
        super().__init__()

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine) -> SlackNotifier:
        console_url = settings.public_url or f"http://{settings.host}:{settings.port}"
        return cls(
            engine, settings.agent_slack_webhook_url, min_priority=settings.notify_priority, console_url=console_url
        )

    def _claim(self, escalation_id: int) -> bool:
        with new_session(self.engine) as session:
            result = session.execute(
                update(Escalation)
                .where(Escalation.id == escalation_id, Escalation.notified_at.is_(None))
                .values(notified_at=datetime.utcnow())
            )
            session.commit()
            return bool(result.rowcount)

    def _release(self, escalation_id: int) -> None:
        with new_session(self.engine) as session:
            session.execute(update(Escalation).where(Escalation.id == escalation_id).values(notified_at=None))
            session.commit()

    def run_once(self) -> int:
        """Announce every open, urgent, not yet announced escalation; returns how many were sent."""
        with new_session(self.engine) as session:
            pending = list(
                session.execute(
                    select(Escalation)
                    .where(
                        Escalation.status == "open",
                        Escalation.priority >= self.min_priority,
                        Escalation.notified_at.is_(None),
                    )
                    .order_by(Escalation.priority.desc(), Escalation.created_at)
                    .limit(20)
                ).scalars()
            )
            messages = [(e.id, slack_message(e, self.console_url)) for e in pending]
        sent = 0
        for escalation_id, message in messages:
            if not self._claim(escalation_id):
                continue  # another process announced it
            try:
                response = self._http.post(self.webhook_url, json=message)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                logger.warning("notify: Slack webhook failed for escalation %s: %s", escalation_id, exc)
                self._release(escalation_id)
                raise
            sent += 1
        return sent

        self._http.close()
