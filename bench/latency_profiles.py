"""The stacks bench/latency.py measures: `single` (scripts/stack.py) and `scaled` (scripts/scaled.py), each on free
ports with a fresh CRM of 300 customers; the scaled one on temporary PostgreSQL databases, Redis key prefix and
RabbitMQ queue, removed afterwards."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from scaled import ScaledStack  # noqa: E402
from scaled_config import cleanup_services, ensure_database, temporary_config  # noqa: E402
from stack import Stack, ensure_model  # noqa: E402

CACHE_DIR = ROOT / "var" / "bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_profile(profile: str, tmp: str, run_id: str) -> tuple[Stack, str, str]:
    """Start one profile on free ports with a fresh CRM of 300 customers; returns (stack, target name, note)."""
    if profile == "single":
        stack = Stack(
            crm_port=free_port(),
            action_port=free_port(),
            rasa_port=free_port(),
            database_url=f"sqlite:///{tmp}/crm.db",
            tracker_db=Path(tmp) / "tracker.db",
            events_db=Path(tmp) / "events.db",
            log_dir=CACHE_DIR / "log",
        )
        note = "single: temporary SQLite CRM + tracker + event tables, one Rasa, one action server"
    elif profile == "scaled":
        config = temporary_config(f"b{run_id}", free_port)
        missing = config.missing()
        if missing:
            raise SystemExit("scaled profile unavailable: " + "; ".join(missing))
        stack = ScaledStack(
            config=config,
            rasa_ports=[free_port() for _ in range(config.replicas)],
            action_ports=[free_port() for _ in range(config.action_replicas)],
            run_dir=CACHE_DIR / "scaled",
        )
        for url in (config.crm_database_url, config.tracker_database_url):
            ensure_database(url)
        note = (
            f"scaled: {config.replicas} Rasa replicas + {config.action_replicas} action servers behind nginx, "
            "temporary PostgreSQL CRM + tracker store, Redis lock store, RabbitMQ event broker consumed by the CRM"
        )
    else:
        raise SystemExit(f"unknown profile {profile!r} (single, scaled)")
    stack.model = ensure_model()
    stack.crm("init")
    stack.crm("seed", "--customers", "300", "--seed", "42")
    print(f"[stack] starting the {profile} profile (logs {stack.log_dir}) ...", flush=True)
    try:
        stack.start()
    except BaseException:
        stop_profile(stack)
        raise
    return (
        stack,
        "shopcare" if profile == "single" else "shopcare_scaled",
        note + "; `crm seed --customers 300 --seed 42`",
    )


def stop_profile(stack: Stack | None) -> None:
    if stack is None:
        return
    stack.stop()
    if isinstance(stack, ScaledStack):
        cleanup_services(stack.config)
