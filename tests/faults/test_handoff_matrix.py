"""The fault matrix of the handoff: each process (CRM, action server, Rasa server) killed with SIGKILL at each step of
a handoff (before the escalation is raised, while the agent replies, during the hand-back), on the live stack.

Every cell checks the same promises (docs/reliability.md): no customer message lost from the thread the agent sees,
no agent reply lost or delivered twice, no escalation lost or created twice, and the conversation usable again soon
after the process is back. A customer message that could not be sent while the Rasa server was down is sent again
when it is back, as the widget does (it keeps it, marked "sending…"); an agent's reply or hand-back that could not
be delivered is sent again with the same idempotency key, as the console's form does (tests/faults/handoff.py). Each
cell's restart and recovery times are written to `var/fault_matrix.json` for the table in docs/reliability.md.
"""

from __future__ import annotations

import pytest

from tests.faults.conftest import wait_until
from tests.faults.handoff import ASK, Cell, escalate

PROCESSES = ("crm", "actions", "rasa")


@pytest.fixture(scope="module")
def agent(stack) -> str:
    stack.crm("create-agent", "--username", "matrix", "--password", "correct-horse-battery", "--role", "agent")
    return "matrix"


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
