"""Hostile input through the CRM API: schemathesis against the CRM's own OpenAPI spec (bounded), and the seeded corpus
in every path parameter, query and body field of every operation. No answer may be a 5xx.

Both run against a CRM process of their own (temporary database, relay off): fuzzing writes tickets, cancels orders
and claims escalations, which must not disturb the conversation suites on the shared stack. schemathesis lives in
.venv-tools (its pins clash with Rasa's: jsonschema, pytest, anyio); `make test` builds it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from scripts.stack import base_env, wait_http
from tests.hostile.inputs import messages, raw_bodies
from tests.live_stack import ROOT, free_port

SCHEMATHESIS = ROOT / ".venv-tools" / "bin" / "schemathesis"
API_KEY = "hostile-api-key"
MAX_EXAMPLES = 15  # per operation and phase; with --max-time this keeps the run near a minute on 2 cores
MAX_SECONDS = 90


@pytest.fixture(scope="module")
def crm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("hostile-crm")
    port = free_port()
    env = base_env(
        CRM_ENV="development",
        CRM_DATABASE_URL=f"sqlite:///{workdir / 'crm.db'}",
        CRM_API_KEY=API_KEY,
        CRM_RELAY_ENABLED="false",
        CRM_RASA_URL="http://127.0.0.1:9",  # agent replies fail fast: nothing listens there
    )
    for args in (["init"], ["seed", "--customers", "8", "--seed", "11"]):
        subprocess.run([sys.executable, "-m", "crm_backend", *args], cwd=ROOT, env=env, check=True, capture_output=True)
    log = open(workdir / "crm.log", "wb")
    cmd = [sys.executable, "-m", "crm_backend", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 60, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
        tracebacks = (workdir / "crm.log").read_text(errors="replace").count("Traceback")
        assert tracebacks == 0, f"the CRM logged {tracebacks} tracebacks ({workdir / 'crm.log'})"


def operations(crm_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    spec = httpx.get(f"{crm_url}/openapi.json", timeout=10).json()
    return [
        (method.upper(), path, op)
        for path, item in spec["paths"].items()
        if path.startswith("/api/v1/")
        for method, op in item.items()
    ]


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(crm_url: str, tmp_path: Path):
    assert SCHEMATHESIS.exists(), "schemathesis is missing: run `make tools` (part of `make test`)"
    cmd = [
        str(SCHEMATHESIS), "run", f"{crm_url}/openapi.json",
        "-H", f"X-API-Key: {API_KEY}",
        "--checks", "not_a_server_error",
        "--max-examples", str(MAX_EXAMPLES), "--max-time", str(MAX_SECONDS),
        "--seed", "20261123", "--workers", "1", "--no-color",
        "--report", "junit", "--report-dir", str(tmp_path),
    ]  # fmt: skip
    # cwd: schemathesis keeps a cache in .schemathesis/ of its working directory; not in the checkout
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=MAX_SECONDS + 120)
    summary = done.stdout[-6000:]
    assert done.returncode == 0, summary
    assert "Server error" not in summary


def test_corpus_in_every_parameter_and_body_field(crm_url: str):
    client = httpx.Client(base_url=crm_url, headers={"X-API-Key": API_KEY}, timeout=30)
    ops = operations(crm_url)
    bad: list[tuple[str, str, int]] = []
    for index, case in enumerate(messages()):
        method, path, op = ops[index % len(ops)]
        text = case.text[:3000]
        segment = quote(text, safe="") or "%20"
        url = re.sub(r"\{[^}]+\}", lambda _m, seg=segment: seg, path)
        params = {p["name"]: text for p in op.get("parameters", []) if p.get("in") == "query"}
        body = {"reason": text, "agent": text, "text": text, "summary": text, "conversation_id": text, "email": text}
        actor = "".join(ch for ch in text if " " < ch < "\x7f")[:50]  # what an HTTP header can carry
        headers = {"Idempotency-Key": uuid.uuid4().hex, **({"X-Actor": actor} if actor else {})}
        response = client.request(method, url, params=params, json=body if method != "GET" else None, headers=headers)
        if response.status_code >= 500:
            bad.append((case.name, f"{method} {path}", response.status_code))
    assert bad == []


def test_malformed_bodies_and_content_types_on_every_write(crm_url: str):
    client = httpx.Client(base_url=crm_url, headers={"X-API-Key": API_KEY}, timeout=30)
    bad = []
    for method, path, _op in operations(crm_url):
        if method == "GET":
            continue
        url = re.sub(r"\{[^}]+\}", "1", path)
        for raw in raw_bodies():
            headers = {"content-type": raw.content_type, "Idempotency-Key": uuid.uuid4().hex}
            response = client.request(method, url, content=raw.body, headers=headers)
            if response.status_code >= 500:
                bad.append((raw.name, f"{method} {path}", response.status_code))
            else:
                assert response.headers["content-type"].startswith("application/json")
    assert bad == []
