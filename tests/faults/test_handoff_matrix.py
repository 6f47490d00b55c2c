"""The fault matrix of the handoff: each process (CRM, action server, Rasa server) killed with SIGKILL at each step of
a handoff (before the escalation is raised, while the agent replies, during the hand-back), on the live stack.

Every cell checks the same promises (docs/reliability.md): no customer message lost from the thread the agent sees,
no agent reply lost or delivered twice, no escalation lost or created twice, and the conversation usable again soon
after the process is back. A customer message that could not be sent while the Rasa server was down is sent again
when it is back, as the widget does (it keeps it, marked "sending…"); an agent's reply or hand-back that could not
be delivered is sent again with the same idempotency key, as the console's form does. Each cell's recovery time is
written to `var/fault_matrix.json` for the table in docs/reliability.md.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.conftest import kill_hard, wait_until
from tests.security.conftest import Conversation
from tests.support import api_client

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "var" / "fault_matrix.json"
PROCESSES = ("crm", "actions", "rasa")
STEPS = ("before_escalation", "agent_replies", "hand_back")
ASK = "I want to talk to a real person"
USABLE_WITHIN = 60.0  # seconds after the process answers its health check again


@pytest.fixture(scope="module")
def agent(stack) -> str:
    stack.crm("create-agent", "--username", "matrix", "--password", "correct-horse-battery", "--role", "agent")
    return "matrix"


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
            items = self.crm.get("/escalations", params={"status": "open,claimed,resolved,handed_back"}).json()
        except httpx.TransportError:
            return []
        return [item for item in items if item["conversation_id"] == self.conversation]

    def escalation(self, timeout: float = 60.0) -> dict[str, Any]:
        found = wait_until(lambda: self.escalations(), timeout=timeout)
        return self.crm.get(f"/escalations/{found[0]['id']}").json()

    def tracker_bot_texts(self) -> list[str]:
        url = f"{self.stack.rasa_url}/conversations/{self.conversation}/tracker"
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


@pytest.mark.parametrize("process", PROCESSES)
def test_a_request_for_a_person_survives_the_loss_of(stack, process):
    cell = Cell(stack, process, "before_escalation")
    cell.say("hi")
    cell.kill()
    try:
        if process == "rasa":  # the message cannot be sent: kept, and sent once the server is back
            back = cell.revive()
            answer = cell.say(ASK)
        else:
            answer = cell.say(ASK)
            if process == "actions":  # recorded by the Rasa server itself: the relay creates it while actions are down
                assert "passed this to a member of our team" in answer and "0800" in answer
                assert cell.escalation(timeout=30)["status"] == "open"
            else:  # the CRM is down: the request waits in the outbox
                assert "request is saved" in answer
            cell.say("hello? anyone?", after_handover=True)
            back = cell.revive()
    finally:
        if process not in stack.procs:
            stack.restart(process)
    assert "member of our team" in answer
    cell.usable(back, lambda: cell.escalations())
    escalation = cell.escalation()
    assert "explicit_request" in escalation["reason_codes"]
    assert any(line.get("text") == ASK for line in escalation["packet"]["transcript"])
    cell.verify()


@pytest.mark.parametrize("process", PROCESSES)
def test_agent_replies_survive_the_loss_of(stack, agent, process):
    cell = Cell(stack, process, "agent_replies")
    escalate(cell, agent)
    cell.kill()
    try:
        if process == "rasa":
            pending = "are you still there?"  # typed while the server is down
            back = cell.revive()
            cell.say(pending, after_handover=True)
            cell.reply(agent, "Sorry for the wait, I'm here now.")  # the console's retry, same key
        else:
            cell.say("are you still there?", after_handover=True)  # the bot is paused: no answer, but logged
            if process == "actions":
                cell.reply(agent, "Sorry for the wait, I'm here now.")
            back = cell.revive()
            if process == "crm":
                cell.reply(agent, "Sorry for the wait, I'm here now.")
    finally:
        if process not in stack.procs:
            stack.restart(process)
    cell.usable(back, lambda: "Sorry for the wait, I'm here now." in cell.tracker_bot_texts())
    cell.say("thanks", after_handover=True)
    wait_until(lambda: "thanks" in [m["text"] for m in cell.escalation()["messages"]], timeout=30)
    cell.verify()


@pytest.mark.parametrize("process", PROCESSES)
def test_a_hand_back_survives_the_loss_of(stack, agent, process):
    cell = Cell(stack, process, "hand_back")
    escalation = escalate(cell, agent)
    cell.reply(agent, "All sorted, handing you back to the assistant.")
    assert (
        cell.agent_post(
            f"/escalations/{escalation['id']}/resolve", {"agent": agent, "verdict": "justified"}
        ).status_code
        == 200
    )
    cell.kill()
    hand_back = f"/escalations/{escalation['id']}/hand-back"
    try:
        if process == "actions":
            assert cell.agent_post(hand_back, {"agent": agent}).status_code == 200  # Rasa resumes the bot
            answer = cell.say("what is your refund policy?")  # needs the action server: an honest answer meanwhile
            assert "isn't responding" in answer or "30 days" in answer
        back = cell.revive()
        if process != "actions":
            assert cell.agent_post(hand_back, {"agent": agent}).status_code == 200
    finally:
        if process not in stack.procs:
            stack.restart(process)
    cell.usable(back, lambda: "30 days" in cell.say("what is your refund policy?"))
    assert cell.escalation()["handed_back_at"] is not None  # handed back once (a second one would be a 409)
    assert cell.tracker_bot_texts().count("All sorted, handing you back to the assistant.") == 1
    cell.verify()
