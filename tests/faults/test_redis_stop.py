"""Redis (the scaled profile's lock store) stopped under two running Rasa replicas, then started again.

A private `redis-server` on a free port (never the machine's shared one) holds the replicas' locks. While it is down
every message is answered (the lock store degrades to a per-process lock and says so once in each replica's log), a
customer can still reach a person, and what was confirmed before is still there. Once it is back, the same replicas
lock in it again without a restart: Redis's MONITOR shows both replicas' connections writing the conversation's lock
key, and a pair of simultaneous messages to both replicas queues behind one lock (a stored lock with two tickets).
Skips, saying what is missing, without redis-server, PostgreSQL, RabbitMQ or nginx.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from components.redis_lock_store import RETRY_SECONDS, AtomicRedisLockStore
from tests.faults.conftest import wait_until
from tests.faults.test_crm_outage import escalations_of
from tests.live_stack import ROOT, free_port
from tests.security.conftest import Conversation
from tests.support import api_client

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
DOWN_WARNING = "Redis lock store unreachable"
BACK_WARNING = "Redis lock store reachable again"


class PrivateRedis:
    """A throwaway redis-server: loopback only, nothing written to disk, stopped and started on the same port."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir, self.proc = port, workdir, None

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        cmd = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        log = open(self.workdir / "redis.log", "ab")
        self.proc = subprocess.Popen([*cmd, "--dir", str(self.workdir)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_until(lambda: self._ping(), timeout=20, interval=0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    def hang(self) -> None:
        """The process stops answering but its port still accepts connections (SIGSTOP): a hung Redis."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def _ping(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.ConnectionError:
            return False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class Monitor:
    """Redis's MONITOR in a thread: every command that names `needle`, with the client that sent it."""

    def __init__(self, port: int, needle: str) -> None:
        self.client = redis.Redis(port=port)
        self.needle, self.seen = needle, []
        self._monitor = self.client.monitor().__enter__()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for command in self._monitor.listen():
                if self.needle in command["command"]:
                    self.seen.append(command)
        except (redis.ConnectionError, ValueError, AttributeError, OSError):
            pass  # Redis stopped or the monitor was closed

    def writes(self) -> list[dict[str, Any]]:
        return [c for c in self.seen if c["command"].split(" ", 1)[0] in ("SET", "DEL")]

    def close(self) -> None:
        self.client.close()


@pytest.fixture(scope="module")
def private_redis() -> Iterator[PrivateRedis]:
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    workdir = Path(tempfile.mkdtemp(prefix="shopcare-redis-"))
    server = PrivateRedis(free_port(), workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_lock_store_falls_back_while_redis_is_down_and_returns_to_it(private_redis, monkeypatch, caplog) -> None:
    """The store alone, fast: Redis lock, fallback lock (turns still never overlap), Redis lock again."""
    monkeypatch.setattr("components.redis_lock_store.RETRY_SECONDS", 0.2)
    store = AtomicRedisLockStore(host="127.0.0.1", port=private_redis.port, db=0, key_prefix="unit")
    client, key = redis.Redis(port=private_redis.port), "unit:lock:c1"

    async def turns(n: int) -> tuple[list[bool], int]:
        in_redis, active, overlaps = [], [0], [0]

        async def turn() -> None:
            async with store.lock("c1", lock_lifetime=30, wait_time_in_seconds=0.01):
                active[0] += 1
                overlaps[0] += active[0] > 1
                try:
                    in_redis.append(client.exists(key) == 1)
                except redis.ConnectionError:
                    in_redis.append(False)
                await asyncio.sleep(0.01)
                active[0] -= 1

        await asyncio.gather(*(turn() for _ in range(n)))
        return in_redis, overlaps[0]

    assert asyncio.run(turns(4)) == ([True] * 4, 0)
    private_redis.stop()
    try:
        assert asyncio.run(turns(6)) == ([False] * 6, 0)  # per-process lock, still one turn at a time
        assert asyncio.run(turns(2)) == ([False] * 2, 0)
    finally:
        private_redis.start()
    time.sleep(0.3)
    assert asyncio.run(turns(3)) == ([True] * 3, 0)
    assert store.fallback.conversation_locks == {} and client.exists(key) == 0
    messages = [r.getMessage() for r in caplog.records if r.name == "components.redis_lock_store"]
    assert sum(DOWN_WARNING in m for m in messages) == 1 and sum(BACK_WARNING in m for m in messages) == 1


def test_a_hung_redis_delays_a_turn_by_about_a_second_not_rasas_ten(private_redis, monkeypatch, caplog) -> None:
    """redis-py blocks Rasa's event loop: while Redis hangs, a turn may wait for one short answer timeout only."""
    monkeypatch.setattr("components.redis_lock_store.RETRY_SECONDS", 0.5)
    # socket_timeout as Rasa passes it from endpoints.yml (its default)
    store = AtomicRedisLockStore(host="127.0.0.1", port=private_redis.port, db=0, key_prefix="hang", socket_timeout=10)
    client = redis.Redis(port=private_redis.port)

    async def turn() -> float:
        started = time.monotonic()
        async with store.lock("c1", lock_lifetime=30, wait_time_in_seconds=0.01):
            pass
        return time.monotonic() - started

    assert asyncio.run(turn()) < 0.5  # Redis answers: the pooled connection is now open
    private_redis.hang()
    try:
        first = asyncio.run(turn())  # waits for the answer timeout once, then locks in this process
        second = asyncio.run(turn())  # within RETRY_SECONDS: Redis is not asked again
        time.sleep(0.6)
        third = asyncio.run(turn())  # tried again once, still hung
    finally:
        private_redis.resume()
    assert 0.5 < first < 2.5 and second < 0.2 and 0.5 < third < 2.5, (first, second, third)
    time.sleep(0.6)
    assert asyncio.run(turn()) < 0.5  # back to Redis
    assert client.exists("hang:lock:c1") == 0 and store.fallback.conversation_locks == {}
    messages = [r.getMessage() for r in caplog.records if r.name == "components.redis_lock_store"]
    assert sum(DOWN_WARNING in m for m in messages) == 1 and sum(BACK_WARNING in m for m in messages) == 1


@pytest.fixture(scope="module")
def stack(private_redis: PrivateRedis) -> Iterator[Any]:
    """The scaled profile (CRM, 2 action servers, nginx, 2 Rasa replicas) with its lock store on the private Redis."""
    from scripts.scaled import running_scaled
    from scripts.scaled_config import temporary_config

    config = dataclasses.replace(temporary_config(uuid.uuid4().hex[:10], free_port), redis_url=private_redis.url)
    missing = config.missing()
    if missing:
        pytest.skip("the Redis fault test needs the scaled profile's services: " + "; ".join(missing))
    with running_scaled(config, ROOT / "var" / "redis-fault-test", "redis-fault-key") as scaled:  # logs stay
        try:
            yield scaled
        finally:
            private_redis.start()  # a failed test may have left it stopped; the cleanup then removes its keys


def replica_log(stack: Any, index: int) -> str:
    return (stack.log_dir / f"rasa{index}.{stack.rasa_port}.log").read_text(errors="replace")


def on(base: str, sender: str) -> Conversation:
    chat = Conversation(base, prefix="fault-redis")
    chat.sender = sender
    return chat


async def simultaneous(urls: list[str], sender: str, texts: list[str]) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=60) as client:
        return list(
            await asyncio.gather(
                *(
                    client.post(f"{u}/webhooks/rest/webhook", json={"sender": sender, "message": t})
                    for u, t in zip(urls, texts)
                )
            )
        )


def test_redis_stopped_under_two_replicas(stack, private_redis, confirmed_refund):
    crm = api_client(stack.crm_url, stack.api_key)
    chat = Conversation(stack.rasa_url, prefix="fault-redis")
    monitor = Monitor(private_redis.port, chat.conversation_id)
    done = confirmed_refund(chat)  # six turns through nginx, locked in Redis
    assert any(c["command"].startswith("SET") for c in monitor.writes()), "no lock written before the outage"
    monitor.close()

    private_redis.stop()
    try:
        replicas = [on(url, chat.sender) for url in stack.replica_urls]
        for text, target in (("where is my order?", replicas[0]), ("hello", replicas[1]), ("thanks", chat)):
            assert target.say(text).strip(), f"no answer to {text!r} while Redis is down"
        person = on(stack.replica_urls[1], f"fault-redis-person-{uuid.uuid4().hex[:6]}")
        assert "member of our team" in person.say("I want to speak to a real person please")
        refunds = crm.get(f"/customers/{done.customer['id']}/refunds").json()
        assert [r["reference"] for r in refunds].count(done.reference) == 1
        tracker = httpx.get(
            f"{stack.replica_urls[1]}/conversations/{chat.conversation_id}/tracker", params={"token": stack.rasa_token}
        ).json()
        said = [e.get("text") for e in tracker["events"] if e["event"] == "user"]
        assert said.count("yes") == 1 and said[-3:] == ["where is my order?", "hello", "thanks"]
        assert any(done.reference in (e.get("text") or "") for e in tracker["events"] if e["event"] == "bot")
        for index in (0, 1):  # said once per outage, not once per message
            assert replica_log(stack, index).count(DOWN_WARNING) == 1, f"replica {index}: warning not logged once"
    finally:
        private_redis.start()

    time.sleep(RETRY_SECONDS + 0.5)
    monitor = Monitor(private_redis.port, chat.conversation_id)
    try:
        assert replicas[0].say("where is my order?").strip() and replicas[1].say("hello").strip()
        clients = {c["client_address"] + ":" + str(c["client_port"]) for c in monitor.writes()}
        assert len(clients) >= 2, f"lock writes after the restart came from {clients}, not from both replicas"
        for index in (0, 1):
            assert replica_log(stack, index).count(BACK_WARNING) == 1, f"replica {index}: not back on Redis"
        # two messages at the same moment on the two replicas: the second waits behind the first in Redis
        for _ in range(3):
            responses = asyncio.run(simultaneous(stack.replica_urls, chat.sender, ["thank you", "ok thanks"]))
            assert [r.status_code for r in responses] == [200, 200]
            if any(c["command"].startswith("SET") and c["command"].count("number") >= 2 for c in monitor.writes()):
                break
        else:
            raise AssertionError("no stored lock ever held two tickets: the pair was not queued in Redis")
    finally:
        monitor.close()
    # the person asked for during the outage reaches the CRM's queue (the event stream did not depend on Redis)
    found = wait_until(lambda: escalations_of(crm, person.conversation_id), timeout=30)
    assert len(found) == 1
