"""deploy/nginx.conf (docker compose) says what scripts/scaled.py's generated configuration says.

The compose file's load balancer is a hand-kept copy of `nginx_conf()`: only the process settings (pid, logs, temporary
paths, user), the upstream addresses and the listening ports may differ. A change to one that the other lacks (a body
buffer, a timeout, a sticky-session rule) fails here. Needs no service.
"""

from __future__ import annotations

import re
from pathlib import Path

from scripts.scaled import nginx_conf

ROOT = Path(__file__).resolve().parents[2]

# where the two are meant to differ: the process's own files and user, and the addresses
PROCESS = {"user", "daemon", "pid", "error_log"}


def directives(text: str) -> list[str]:
    """The configuration as a flat list of normalised statements and block brackets, without comments."""
    text = re.sub(r"#[^\n\"]*(?=\n|$)", "", text)
    out: list[str] = []
    for raw in re.findall(r"[^;{}]*[;{}]|[^;{}]+$", text):
        stmt = " ".join(raw.split())
        if not stmt:
            continue
        name = stmt.split()[0]
        if name in PROCESS or name.endswith("_temp_path"):
            continue
        stmt = re.sub(r"^server \S+ ", "server ADDRESS ", stmt)
        stmt = re.sub(r"^listen \S+;", "listen PORT;", stmt)
        if out and stmt == out[-1] and stmt.startswith("server ADDRESS"):
            continue  # replicas: the generated file lists each one, compose's DNS gives them behind one name
        out.append(stmt)
    return out


def test_deploy_config_matches_the_generated_one() -> None:
    generated = directives(nginx_conf(Path("/run/x"), 8080, 8085, [5005, 5006], [5055, 5056], api_port=8081))
    deployed = directives((ROOT / "deploy/nginx.conf").read_text())
    assert "client_body_buffer_size 16m;" in generated  # the comparison sees the settings that matter
    assert "location / { return 404; }" in " ".join(generated)
    assert deployed == generated


def test_the_comparison_notices_a_drift() -> None:
    deployed = (ROOT / "deploy/nginx.conf").read_text()
    generated = directives(nginx_conf(Path("/run/x"), 8080, 8085, [5005], [5055], api_port=8081))
    for before, after in (
        ("client_body_buffer_size 16m;", "client_body_buffer_size 8k;"),
        ("proxy_read_timeout 120s;", "proxy_read_timeout 60s;"),
        ("hash $shopcare_route consistent;", "ip_hash;"),
        ("location / { return 404; }", "location / { proxy_pass http://rasa; }"),
        ("^/webhooks/(rest|slack|telegram)/webhook$", "^/webhooks/"),
        ("^/(shop|console)$|^/(widget|console)/", "^/"),
    ):
        assert before in deployed
        assert directives(deployed.replace(before, after, 1)) != generated, before
