"""The handoff's fault matrix in the scaled profile (2 Rasa replicas, 2 action servers, CRM behind nginx, PostgreSQL,
Redis, RabbitMQ): one Rasa replica killed, PostgreSQL restarted, RabbitMQ restarted, each at every step of a handoff
(before the escalation is raised, while the agent replies, during the hand-back). Redis stopped under the replicas is
tests/faults/test_redis_stop.py. The promises are those of tests/faults/test_handoff_matrix.py: every customer
message and agent reply once, one escalation, the conversation usable soon after (tests/faults/handoff.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.conftest import wait_until
from tests.faults.handoff import ASK, Cell

AGENT = "matrix-scaled"


def restart_postgresql() -> None:
    versions = sorted(os.listdir("/etc/postgresql")) if Path("/etc/postgresql").is_dir() else []
    if not versions or not shutil.which("pg_ctlcluster"):
        pytest.skip("restarting PostgreSQL needs pg_ctlcluster and a cluster in /etc/postgresql")
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"], check=True)


def restart_rabbitmq() -> None:
    if not shutil.which("rabbitmqctl"):
        pytest.skip("restarting RabbitMQ needs rabbitmqctl")
    for step in ("stop_app", "start_app"):
        subprocess.run(["rabbitmqctl", "-q", step], check=True, timeout=120, capture_output=True)
    subprocess.run(["rabbitmqctl", "-q", "await_startup"], check=True, timeout=120, capture_output=True)


@pytest.fixture(scope="module")
def agent(scaled) -> str:
    scaled.crm("create-agent", "--username", AGENT, "--password", "correct-horse-battery", "--role", "agent")
    return AGENT


def run_handoff(scaled, agent: str, name: str, fault: Callable[[], None], heal: Callable[[], None]) -> Cell:
    """A whole handoff with ``fault`` injected before each of its three steps; ``heal`` at the end."""
    cell = Cell(scaled, name, "all_steps")
    cell.say("hi")
    started = time.monotonic()
    try:
        fault()  # before the escalation is raised
        assert "member of our team" in cell.say(ASK)
        escalation = cell.escalation(timeout=120)
        assert cell.agent_post(f"/escalations/{escalation['id']}/claim", {"agent": agent}).status_code == 200
        fault()  # while the agent replies
        cell.say("are you still there?", after_handover=True)
        cell.reply(agent, "Sorry for the wait, I'm here now.")
        wait_until(lambda: "are you still there?" in [m["text"] for m in cell.escalation()["messages"]], timeout=120)
        body = {"agent": agent, "verdict": "justified"}
        assert cell.agent_post(f"/escalations/{escalation['id']}/resolve", body).status_code == 200
        fault()  # during the hand-back
        assert cell.agent_post(f"/escalations/{escalation['id']}/hand-back", {"agent": agent}).status_code == 200
    finally:
        heal()
    back = time.monotonic()
    cell.restart_took = back - started
    cell.usable(back, lambda: "30 days" in cell.say("what is your refund policy?"))
    assert cell.escalation()["handed_back_at"] is not None
    cell.verify()
    return cell


def test_the_handoff_survives_a_killed_rasa_replica(scaled, agent):
    def kill_replica() -> None:
        proc = scaled.procs.get("rasa0")
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def heal() -> None:
        scaled.procs.pop("rasa0", None)
        scaled.start_replica(0)

    run_handoff(scaled, agent, "rasa_replica", kill_replica, heal)


def test_the_handoff_survives_postgresql_restarts(scaled, agent):
    run_handoff(scaled, agent, "postgresql_restart", restart_postgresql, lambda: None)


def test_the_handoff_survives_rabbitmq_restarts(scaled, agent):
    run_handoff(scaled, agent, "rabbitmq_restart", restart_rabbitmq, lambda: None)
