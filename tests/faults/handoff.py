"""A handoff conversation under a fault, as customers and agents behave: shared by the fault matrices of the single
machine (tests/faults/test_handoff_matrix.py) and of the scaled profile (tests/scaled/test_handoff_faults.py)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.faults.conftest import kill_hard, wait_until
from tests.security.conftest import Conversation
from tests.support import api_client

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "var" / "fault_matrix.json"
ASK = "I want to talk to a real person"
USABLE_WITHIN = 60.0  # seconds after the process answers its health check again


class Cell:
    """One conversation through one fault: what the customer typed after the handover, what the agent sent."""

    def __init__(self, stack: Any, process: str, step: str) -> None:
        self.stack, self.process, self.step = stack, process, step
        self.chat = Conversation(stack.rasa_url, prefix=f"mx-{process[:3]}-{step[:5]}")
        self.conversation = f"rest:{self.chat.sender}"
        self.crm = api_client(stack.crm_url, stack.api_key)
        self.after_handover: list[str] = []
        self.replies: list[str] = []
        self.usable_after = 0.0
        self.restart_took = 0.0

    # --- the customer, as the widget behaves: a message that cannot be sent is kept and sent again
    def say(self, text: str, *, after_handover: bool = False, timeout: float = 240.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                answer = self.chat.say(text)
                break
            except (httpx.TransportError, AssertionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
        if after_handover:
            self.after_handover.append(text)
        return answer

    # --- the agent, as the console behaves: a delivery that failed is sent again with the same key
    def agent_post(self, path: str, body: dict[str, Any], timeout: float = 240.0) -> httpx.Response:
        key = uuid.uuid4().hex
        deadline = time.monotonic() + timeout
        while True:
            try:
                response = self.crm.post(path, json=body, headers={"Idempotency-Key": key})
                if response.status_code < 500:
                    return response
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} not accepted in {timeout:.0f} s")
            time.sleep(1.0)

    def reply(self, agent: str, text: str) -> None:
        escalation = self.escalation()
        assert (
            self.agent_post(f"/escalations/{escalation['id']}/reply", {"agent": agent, "text": text}).status_code == 201
        )
        self.replies.append(text)

    # --- what the stack holds
    def escalations(self) -> list[dict[str, Any]]:
        try:
            every = {"status": "open,claimed,resolved,handed_back", "limit": 500}
            items = self.crm.get("/escalations", params=every).json()
        except httpx.TransportError:
            return []
        return [item for item in items if item["conversation_id"] == self.conversation]

    def escalation(self, timeout: float = 60.0) -> dict[str, Any]:
        found = wait_until(lambda: self.escalations(), timeout=timeout)
        return self.crm.get(f"/escalations/{found[0]['id']}").json()

    def tracker_bot_texts(self) -> list[str]:
        api = getattr(self.stack, "api_url", self.stack.rasa_url)  # the scaled profile: nginx's internal listener
        url = f"{api}/conversations/{self.conversation}/tracker"
        events = httpx.get(url, params={"token": self.stack.rasa_token}, timeout=30).json()["events"]
        return [e.get("text") or "" for e in events if e.get("event") == "bot"]

    # --- the fault
    def kill(self) -> None:
        kill_hard(self.stack, self.process)
        self.stack.procs.pop(self.process, None)

    def revive(self) -> float:
        started = time.monotonic()
        self.stack.restart(self.process)  # returns once the process answers its health check
        self.restart_took = time.monotonic() - started
        return time.monotonic()

    def usable(self, since: float, check: Any) -> None:
        wait_until(check, timeout=USABLE_WITHIN, interval=0.5)
        self.usable_after = time.monotonic() - since

    def verify(self) -> None:
        """The promises of every cell."""
        assert len(self.escalations()) == 1, "an escalation lost or created twice"
        escalation = self.escalation()
        thread = [m["text"] for m in escalation["messages"] if m["sender"] == "customer"]
        for text in self.after_handover:
            assert thread.count(text) == 1, f"customer message {text!r} lost or doubled in the agent's thread"
        bot = self.tracker_bot_texts()
        for text in self.replies:
            assert bot.count(text) == 1, f"agent reply {text!r} lost or delivered twice"
        record(self)


def record(cell: Cell) -> None:
    RESULTS.parent.mkdir(exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[f"{cell.process}/{cell.step}"] = {
        "restart_s": round(cell.restart_took, 1),
        "usable_after_restart_s": round(cell.usable_after, 1),
    }
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True))


def escalate(cell: Cell, agent: str) -> dict[str, Any]:
    cell.say("hi")
    assert "member of our team" in cell.say(ASK)
    escalation = cell.escalation()
    assert cell.agent_post(f"/escalations/{escalation['id']}/claim", {"agent": agent}).status_code == 200
    return escalation
