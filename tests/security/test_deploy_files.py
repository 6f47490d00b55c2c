"""The image and the compose deployment keep secrets out and start every Rasa process masked and authenticated.

No Docker engine runs here, so these read the files: `.dockerignore` (with Docker's matching rules: the last matching
pattern wins, `!` re-includes, a directory's exclusion covers what is inside), `deploy/docker-compose.yml` (YAML
anchors resolved) and `deploy/Dockerfile`.
"""

from __future__ import annotations

import json
import re
import shlex
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MASKED_RASA = ["python", "-m", "shopcare_core.logmask", "rasa"]
ACTION_SERVER = ["python", "-m", "actions.server"]


def _pattern(glob: str) -> re.Pattern[str]:
    """Docker's pattern syntax: `*` and `?` stop at `/`, `**` crosses directories."""
    out, i = "", 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif glob.startswith("**", i):
            out, i = out + ".*", i + 2
        elif glob[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif glob[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(glob[i]), i + 1
    return re.compile(out + r"\Z")


@lru_cache(maxsize=1)
def dockerignore() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        rules.append((keep, _pattern(line.lstrip("!").strip("/"))))
    return rules


def excluded(path: str) -> bool:
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]  # the path and each directory above it
    verdict = False
    for keep, pattern in dockerignore():
        if any(pattern.match(c) for c in candidates):
            verdict = not keep
    return verdict


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.production",
        "var",
        "var/crm.db",
        "var/endpoints.5005.yml",
        "var/log/rasa.5005.log",
        "var/scaled/log/actions0.5055.log",
        ".venv/bin/python",
        ".venv-tools/bin/pip-audit",
        ".git/config",
        "models/20261203-101112-cold-cart.tar.gz",
        "actions/__pycache__/server.cpython-310.pyc",
        "widget/node_modules/esbuild/package.json",
        "results/intent_report.json",
    ],
)
def test_the_image_leaves_out_secrets_state_and_caches(path: str) -> None:
    assert excluded(path), path


@pytest.mark.parametrize(
    "path",
    [
        ".env.example",
        "actions/server.py",
        "shopcare_core/logmask.py",
        "endpoints.scaled.yml",
        "credentials.yml",
        "requirements.lock",
        "models/shopcare.tar.gz",
        "models/churn.joblib",
        "widget/dist/shopcare-widget.js",
    ],
)
def test_the_image_keeps_what_it_runs(path: str) -> None:
    assert not excluded(path), path


@lru_cache(maxsize=1)
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "deploy/docker-compose.yml").read_text())


def command(service: dict[str, Any]) -> list[str]:
    """The program a service runs: the line inside `sh -c '...'` (after `exec`) when a shell starts it."""
    raw = service.get("command", [])
    argv = shlex.split(raw) if isinstance(raw, str) else list(raw)
    if argv[:2] == ["sh", "-c"] and len(argv) == 3:
        argv = shlex.split(argv[2].rsplit("&& ", 1)[-1])
    return argv[1:] if argv[:1] == ["exec"] else argv


def test_no_service_listens_on_every_interface() -> None:
    """The CRM, the action servers and the Rasa servers bind their container's compose-network address only."""
    services = compose()["services"]
    for name, flag in (("crm", "--host"), ("actions", "--host"), ("rasa", "--interface")):
        argv = command(services[name])
        assert argv[argv.index(flag) + 1] == "$$(hostname -i)", (name, argv)  # compose turns $$ into $
    assert "0.0.0.0" not in (ROOT / "deploy/docker-compose.yml").read_text()


def runs_rasa_or_actions(argv: list[str]) -> bool:
    text = " ".join(argv)
    return bool(re.search(r"\brasa\b|rasa_sdk|actions\.server|\bactions\b", text))


def test_every_rasa_and_action_server_command_goes_through_a_masking_launcher() -> None:
    services = compose()["services"]
    found = {name: command(s) for name, s in services.items() if runs_rasa_or_actions(command(s))}
    assert set(found) == {"rasa", "actions"}, found
    assert found["rasa"][: len(MASKED_RASA) + 1] == [*MASKED_RASA, "run"]
    assert found["actions"][: len(ACTION_SERVER)] == ACTION_SERVER
    for name, argv in found.items():
        # no bare `rasa ...` / `rasa run actions` anywhere in the line
        assert not re.search(r"(?<!logmask )\brasa run\b", " ".join(argv)), name
        assert "run actions" not in " ".join(argv), name


def test_the_image_default_command_is_masked_and_needs_a_token() -> None:
    cmd = next(
        line for line in (ROOT / "deploy/Dockerfile").read_text().splitlines() if line.startswith("CMD ")
    ).removeprefix("CMD ")
    argv = json.loads(cmd)
    line = " ".join(argv)
    assert "exec python -m shopcare_core.logmask rasa run " in line
    assert "--auth-token" in line and "${RASA_TOKEN:?" in line  # no API without a token


def test_the_action_server_token_is_required_on_both_sides() -> None:
    services = compose()["services"]
    rasa_env, actions_env = services["rasa"]["environment"], services["actions"]["environment"]
    for env in (rasa_env, actions_env):
        assert re.fullmatch(r"\$\{ACTION_SERVER_TOKEN:\?[^}]*\}", env["ACTION_SERVER_TOKEN"])  # unset: compose stops
    # the replicas send it (endpoints.scaled.yml); the action server requires it outside development
    endpoints = yaml.safe_load((ROOT / "endpoints.scaled.yml").read_text())
    assert endpoints["action_endpoint"]["headers"] == {"X-Action-Token": "${ACTION_SERVER_TOKEN}"}
    assert actions_env["CRM_ENV"] == "production"


def test_only_the_public_listener_is_published() -> None:
    services = compose()["services"]
    published = {name: s.get("ports", []) for name, s in services.items() if s.get("ports")}
    assert published == {"nginx": ["127.0.0.1:5080:5080"]}
    assert services["crm"]["environment"]["CRM_RASA_URL"] == "http://nginx:5081"  # the internal listener
    assert services["rasa"]["environment"]["ACTION_ENDPOINT_URL"] == "http://nginx:5085/webhook"


def test_the_crm_gets_every_secret_production_refuses_as_a_default() -> None:
    """Compose runs the CRM with CRM_ENV=production: each secret Settings.check() refuses as a development default
    must be set (compose stops when it is not), or the CRM would not start."""
    from crm_backend.settings import Settings

    env = compose()["services"]["crm"]["environment"]
    assert env["CRM_ENV"] == "production"
    with pytest.raises(RuntimeError) as refused:
        Settings(env="production").check()
    named = set(re.findall(r"CRM_[A-Z_]+", str(refused.value))) - {"CRM_ENV"}
    assert named == {
        "CRM_API_KEY",
        "CRM_RASA_TOKEN",
        "CRM_GRANT_SECRET",
        "CRM_SHOP_LOGIN_SECRET",
        "CRM_LOOKUP_KEY",
        "CRM_DATA_KEYS",
    }
    for name in named:
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", env[name]), name
    assert re.fullmatch(r"\$\{CRM_SMTP_HOST:\?[^}]*\}", env["CRM_SMTP_HOST"])  # one-time codes need a mail server
