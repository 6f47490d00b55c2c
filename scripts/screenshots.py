"""Screenshots of the agents' console with realistic seeded data: ``python scripts/screenshots.py [--out docs/screenshots]``.

Starts the CRM as a real uvicorn server on a free loopback port (its own temporary SQLite database with the demo
personas, agents and a fortnight of escalations), with a loopback stand-in for Rasa's tracker-events endpoint that
records what agents send, then drives headless Chromium through the queue, an escalation and the dashboard.
``ConsoleServer`` is also what tests/browser/test_console.py runs against.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crm_backend.app import create_app  # noqa: E402
from crm_backend.db import Base, EscalationMessage, make_engine, new_session  # noqa: E402
from crm_backend.rasa_stores import BROKER_EVENTS  # noqa: E402
from crm_backend.seeding import demo  # noqa: E402
from crm_backend.seeding.personas import ensure_personas  # noqa: E402
from crm_backend.settings import Settings  # noqa: E402
from scripts.stack import free_port  # noqa: E402

API_KEY = "console-demo-key"
AGENTS = [("sam", "agent", "Sam Patel"), ("kim", "agent", "Kim Lee"), ("sue", "supervisor", "Sue Grant")]
PASSWORD = "console-demo-password"


class FakeRasa:
    """Loopback stand-in for ``POST /conversations/{id}/tracker/events``: records every (path, events) it gets."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[dict[str, Any]]]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                received.append((self.path.split("?")[0], json.loads(body)))
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"events": []}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ConsoleServer:
    def __init__(self, url: str, settings: Settings, rasa: FakeRasa) -> None:
        self.url, self.settings, self.rasa = url, settings, rasa
        self.api = httpx.Client(base_url=f"{url}/api/v1", headers={"X-API-Key": API_KEY}, timeout=10)

    def create_escalation(self, body: dict[str, Any]) -> int:
        """Through the API, as the assistant does."""
        key = f"create:{body['conversation_id']}"
        response = self.api.post("/escalations", json=body, headers={"Idempotency-Key": key})
        response.raise_for_status()
        return int(response.json()["id"])


def write_events(path: Path, conversations: int) -> None:
    """A small Rasa event stream (one customer message per conversation) so containment has a denominator."""
    engine = create_engine(f"sqlite:///{path}", future=True)
    BROKER_EVENTS.metadata.create_all(engine)
    with engine.begin() as conn:
        for i in range(conversations):
            sender = f"web-{i:03d}"
            event = {"sender_id": sender, "event": "user", "timestamp": time.time(), "text": "hello"}
            conn.execute(BROKER_EVENTS.insert().values(sender_id=sender, data=json.dumps(event)))
    engine.dispose()


@contextmanager
def console_server(workdir: Path, *, events: int = 0) -> Iterator[ConsoleServer]:
    """A real uvicorn CRM on a free loopback port with personas and the demo agents."""
    events_url = ""
    if events:
        write_events(workdir / "events.db", events)
        events_url = f"sqlite:///{workdir / 'events.db'}"
    rasa = FakeRasa()
    port = free_port()
    settings = Settings(
        database_url=f"sqlite:///{workdir / 'crm.db'}",
        api_key=API_KEY,
        env="development",
        port=port,
        rasa_url=rasa.url,
        rasa_events_url=events_url,
        relay_enabled=False,
    )
    engine = make_engine(settings)
    Base.metadata.create_all(engine)
    with new_session(engine) as session:
        ensure_personas(session=session, today=datetime.utcnow())
        for username, role, name in AGENTS:
            demo.ensure_agent(session, username, PASSWORD, role, name)
        session.commit()
    engine.dispose()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", ws="websockets")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the CRM did not start")
        time.sleep(0.1)
    running = ConsoleServer(url, settings, rasa)
    try:
        yield running
    finally:
        running.api.close()
        server.should_exit = True
        thread.join(10)
        rasa.close()


def seed_history(server: ConsoleServer) -> int:
    """A fortnight of escalations with verdicts, replies and ratings, plus today's queue; returns the top one's id."""
    engine = make_engine(server.settings)
    now = datetime.utcnow()
    reasons = [
        ("strong_negative",),
        ("explicit_request",),
        ("at_risk_customer",),
        ("negative_trend",),
        ("refund_review",),
    ]
    verdicts = ["justified", "justified", "unnecessary", "justified", "too_late"]
    with new_session(engine) as session:
        alice = demo.customer_by_email("alice.martin@example.com", session=session)
        dan = demo.customer_by_email("dan.reyes@example.com", session=session)
        sam = demo.find_agent("sam", session=session)
        assert sam is not None and alice is not None
        moods = [demo.ANGRY, demo.AT_RISK, demo.CALM]
        for i in range(26):
            day = now - timedelta(days=13 - i // 2, hours=i % 5)
            reason = reasons[i % len(reasons)]
            calmer = 0.5 + 0.5 * (i / 26)  # sentiment improves over the fortnight
            lines = [(who, text, None if s is None else s * calmer) for who, text, s in moods[i % 3]]
            body = demo.escalation_request(
                conversation_id=f"web-{i:03d}",
                customer=alice,
                reasons=reason,
                priority=40 + (i * 7) % 50,
                started=day,
                lines=lines,
            )
            e = demo.create(session, body, created_at=day)
            verdict = "justified" if reason == ("at_risk_customer",) and i % 3 else verdicts[i % len(verdicts)]
            e.status, e.verdict, e.agent_id = "resolved", verdict, sam.id
            e.claimed_at, e.resolved_at, e.handed_back_at = (
                day,
                day + timedelta(minutes=12),
                day + timedelta(minutes=13),
            )
            e.csat = [5, 4, 4, 3, 5, 2, 5][i % 7]
            reply_at = day + timedelta(seconds=60 + 30 * (i % 6))
            session.add(
                EscalationMessage(
                    escalation_id=e.id, sender="agent", text="Hi, Sam here.", agent_id=sam.id, created_at=reply_at
                )
            )
        queue: list[tuple[Any, ...]] = [
            ("tg-101", dan, ("at_risk_customer",), 78, "telegram", demo.AT_RISK, ("10031",), 0.31, 12),
            ("slack-102", None, ("explicit_request",), 55, "slack", demo.CALM, (), None, 2),
            ("web-103", alice, ("repeated_fallback",), 35, "socketio", demo.CALM, (), 0.05, 1),
        ]
        for conv, customer, reason, prio, channel, lines, orders, churn, minutes in queue:
            body = demo.escalation_request(
                conversation_id=conv,
                customer=customer,
                reasons=reason,
                priority=prio,
                channel=channel,
                lines=lines,
                orders=orders,
                churn=churn,
                summary=demo.SUMMARIES.get(reason[0], ""),
                started=now - timedelta(minutes=minutes),
            )
            e = demo.create(session, body, created_at=now - timedelta(minutes=minutes))
            relayed = now - timedelta(seconds=40 * minutes)
            session.add(
                EscalationMessage(
                    escalation_id=e.id,
                    sender="customer",
                    text="hello? anyone there?",
                    sentiment=-0.3,
                    created_at=relayed,
                )
            )
        top = demo.escalation_request(
            conversation_id="web-200", customer=alice, priority=92, started=now - timedelta(minutes=6)
        )
        session.commit()
    engine.dispose()
    return server.create_escalation(top)


def login(page: Any, url: str, username: str, password: str = PASSWORD) -> None:
    """Log in to the console at ``url`` as a person would (also used by the browser tests)."""
    page.goto(f"{url}/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/console/queue")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, console_server(Path(tmp), events=120) as server:
        top = seed_history(server)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_context(viewport={"width": 1360, "height": 860}).new_page()
            login(page, server.url, "sue")
            page.screenshot(path=str(args.out / "queue.png"), full_page=True)
            page.goto(f"{server.url}/console/escalations/{top}")
            page.fill("#note-text", "Third late parcel: offered a refund of the delivery charge.")
            page.click("text=Add note")
            page.screenshot(path=str(args.out / "escalation.png"), full_page=True)
            page.goto(f"{server.url}/console/dashboard")
            page.screenshot(path=str(args.out / "dashboard.png"), full_page=True)
            browser.close()
    for name in ("queue", "escalation", "dashboard"):
        print(f"wrote {args.out / (name + '.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
