"""PostgreSQL restarted under a running CRM (the scaled profile's database): requests during the outage get a clear
503, nothing confirmed before is lost, and the same CRM process serves again once the database is back (pre-ping
pool), without a restart by hand. Runs a throwaway PostgreSQL cluster from the machine's binaries; skips, naming
what is missing, where there are none. (Redis, RabbitMQ and the Rasa side of the scaled profile: its own suite.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.stack import base_env, wait_http
from tests.faults.conftest import wait_until
from tests.live_stack import ROOT, free_port
from tests.support import api_client  # noqa: E402

PG_BIN = next((Path(p) for p in ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin") if Path(p).exists()), None)
API_KEY = "pg-fault-key"


def as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class Postgres:
    def __init__(self, datadir: Path, port: int) -> None:
        self.datadir, self.port = datadir, port

    def ctl(self, *args: str) -> None:
        opts = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1"
        cmd = [str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-o", opts, "-w", "-l", str(self.datadir / "pg.log")]
        subprocess.run(as_postgres([*cmd, *args]), check=True, capture_output=True, timeout=60)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    if PG_BIN is None or (os.geteuid() == 0 and not shutil.which("runuser")):
        pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/<15|16>/bin) are not installed")
    # not under pytest's tmp dir: its root-only parent would keep the postgres user out
    workdir = Path(tempfile.mkdtemp(prefix="shopcare-pg-"))
    datadir = workdir / "data"
    datadir.mkdir()
    if os.geteuid() == 0:
        for path in (workdir, datadir):
            shutil.chown(path, "postgres", "postgres")
    init = [str(PG_BIN / "initdb"), "-D", str(datadir), "-A", "trust", "-U", "postgres"]
    subprocess.run(as_postgres(init), check=True, capture_output=True, timeout=120)
    server = Postgres(datadir, free_port())
    server.ctl("start")
    try:
        yield server
    finally:
        server.ctl("stop", "-m", "immediate")
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def crm_on_postgres(
    postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, subprocess.Popen]]:
    env = base_env(CRM_ENV="development", CRM_DATABASE_URL=postgres.url, CRM_API_KEY=API_KEY, CRM_RELAY_ENABLED="false")
    for args in (["init"], ["seed", "--customers", "5", "--seed", "5"]):
        subprocess.run([sys.executable, "-m", "crm_backend", *args], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    log = open(tmp_path_factory.mktemp("crm-pg") / "crm.log", "wb")
    cmd = [sys.executable, "-m", "crm_backend", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 60, proc)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def test_postgres_restart_gives_503_then_the_same_crm_serves_again(postgres, crm_on_postgres):
    url, proc = crm_on_postgres
    api = api_client(url, API_KEY)
    refund = api.post(
        "/customers/3/orders/10021/refunds",
        json={"amount": 12.5, "reason": "before the restart"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert refund.status_code == 201
    reference = refund.json()["reference"]

    postgres.ctl("stop", "-m", "fast")
    try:
        down = httpx.get(f"{url}/health", timeout=10)
        assert down.status_code == 503 and down.json()["database"] == "unreachable"
        during = api.get("/customers/3/refunds")
        # an error answer (the database error is not mapped), not a hang or a dead process
        assert during.status_code == 500
        assert proc.poll() is None
    finally:
        postgres.ctl("start")
    time.sleep(0.5)
    wait_until(lambda: httpx.get(f"{url}/health", timeout=5).status_code == 200, timeout=30)
    assert proc.poll() is None  # the same process: no restart by hand
    refunds = api.get("/customers/3/refunds").json()
    assert [r["reference"] for r in refunds].count(reference) == 1
