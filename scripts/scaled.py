"""The scaled profile: N Rasa servers and N action servers and the CRM behind nginx, on Rasa's own architecture.

`make run-scaled` calls `python scripts/scaled.py run`; tests/scaled/ and `bench/latency.py --scaled` use
`ScaledStack` directly with their own ports, databases, Redis key prefix and RabbitMQ queue. Shared state lives in
the services, not in the processes: Rasa's SQL tracker store on PostgreSQL, Rasa's Redis lock store (one replica at a
time per conversation, whichever replica a message reaches), Rasa's pika event broker into a durable RabbitMQ queue
that the CRM consumes (crm_backend/relay_pika.py), the CRM on PostgreSQL. Every Rasa replica runs with the same
endpoints.scaled.yml; this script only derives its environment from a few URLs (ScaledConfig.from_env), renders
var/scaled/nginx.conf and supervises the processes. Ctrl-C or SIGTERM stops all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import ROOT, Stack, base_env, ensure_churn_model, ensure_model, prepare_database, wait_http  # noqa: E402

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
ENDPOINTS = ROOT / "endpoints.scaled.yml"


@dataclass
class ScaledConfig:
    """Everything the scaled profile needs to know, from the environment (defaults: this project's machines)."""

    replicas: int = 2
    action_replicas: int = 2
    port: int = 5080  # nginx: Rasa's REST, socket.io and HTTP API
    action_lb_port: int = 5085  # nginx: the action servers, for the Rasa replicas
    crm_port: int = 8000
    crm_database_url: str = "postgresql://postgres@127.0.0.1:5432/shopcare_crm"
    tracker_database_url: str = "postgresql://postgres@127.0.0.1:5432/shopcare_tracker"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_key_prefix: str = "shopcare"
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    rabbitmq_queue: str = "shopcare_events"
    rabbitmq_exchange: str = "shopcare_events"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ScaledConfig:
        env = dict(os.environ if env is None else env)
        default = cls()
        replicas = int(env.get("SCALED_REPLICAS", default.replicas))
        return cls(
            replicas=replicas,
            action_replicas=int(env.get("SCALED_ACTION_REPLICAS", replicas)),
            port=int(env.get("SCALED_PORT", default.port)),
            action_lb_port=int(env.get("SCALED_ACTION_LB_PORT", default.action_lb_port)),
            crm_port=int(env.get("CRM_PORT", default.crm_port)),
            crm_database_url=env.get("CRM_DATABASE_URL", default.crm_database_url),
            tracker_database_url=env.get("TRACKER_DATABASE_URL", default.tracker_database_url),
            redis_url=env.get("REDIS_URL", default.redis_url),
            redis_key_prefix=env.get("REDIS_KEY_PREFIX", default.redis_key_prefix),
            rabbitmq_url=env.get("RABBITMQ_URL", default.rabbitmq_url),
            rabbitmq_queue=env.get("RABBITMQ_QUEUE", default.rabbitmq_queue),
            rabbitmq_exchange=env.get("RABBITMQ_EXCHANGE", default.rabbitmq_exchange),
        )

    def rasa_env(self, action_endpoint: str) -> dict[str, str]:
        """The variables endpoints.scaled.yml reads, derived from the URLs."""
        tracker, redis, amqp = (
            urlsplit(self.tracker_database_url),
            urlsplit(self.redis_url),
            urlsplit(self.rabbitmq_url),
        )
        return {
            "ACTION_ENDPOINT_URL": action_endpoint,
            "TRACKER_DB_HOST": tracker.hostname or "127.0.0.1",
            "TRACKER_DB_PORT": str(tracker.port or 5432),
            "TRACKER_DB_NAME": tracker.path.lstrip("/"),
            "TRACKER_DB_USER": unquote(tracker.username or ""),
            "TRACKER_DB_PASSWORD": unquote(tracker.password or ""),
            "REDIS_HOST": redis.hostname or "127.0.0.1",
            "REDIS_PORT": str(redis.port or 6379),
            "REDIS_DB": redis.path.lstrip("/") or "0",
            "REDIS_KEY_PREFIX": self.redis_key_prefix,
            "RABBITMQ_URL": self.rabbitmq_url,
            "RABBITMQ_USERNAME": unquote(amqp.username or "guest"),
            "RABBITMQ_PASSWORD": unquote(amqp.password or "guest"),
            "RABBITMQ_QUEUE": self.rabbitmq_queue,
            "RABBITMQ_EXCHANGE": self.rabbitmq_exchange,
        }

    def missing(self) -> list[str]:
        """What this machine lacks for the profile, as readable reasons (empty when everything is there)."""
        reasons = []
        for name, url, port in (
            ("PostgreSQL", self.tracker_database_url, 5432),
            ("Redis", self.redis_url, 6379),
            ("RabbitMQ", self.rabbitmq_url, 5672),
        ):
            parts = urlsplit(url)
            with socket.socket() as sock:
                sock.settimeout(2)
                if sock.connect_ex((parts.hostname or "127.0.0.1", parts.port or port)) != 0:
                    reasons.append(f"{name} is not reachable at {parts.hostname}:{parts.port or port}")
        if not Path(NGINX).exists():
            reasons.append("nginx is not installed (Debian: apt-get install nginx)")
        return reasons


# ----------------------------------------------------------------------------- PostgreSQL databases
def _admin_engine(url: str):  # noqa: ANN202 - a SQLAlchemy engine on the server's maintenance database
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT", future=True)


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database of `url` unless it exists; True when it was created."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    engine = _admin_engine(url)
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                return False
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            return True
    finally:
        engine.dispose()


def drop_database(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    engine = _admin_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------- nginx
def nginx_conf(run_dir: Path, port: int, action_lb_port: int, rasa_ports: list[int], action_ports: list[int]) -> str:
    """Round robin by least connections for REST and the HTTP API (any replica can serve any conversation: the lock
    store serialises it); sticky sessions for socket.io (a socket lives in one replica) through a route cookie that
    nginx sets itself on the first request (open-source nginx has no `sticky` directive)."""
    rasa = "".join(f"    server 127.0.0.1:{p} max_fails=3 fail_timeout=5s;\n" for p in rasa_ports)
    actions = "".join(f"    server 127.0.0.1:{p} max_fails=3 fail_timeout=5s;\n" for p in action_ports)
    user = "user root;\n" if os.geteuid() == 0 else ""
    proxy = (
        "      proxy_http_version 1.1;\n"
        "      proxy_set_header Host $host;\n"
        "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "      proxy_next_upstream error timeout http_502;\n"
    )
    return f"""# Generated by scripts/scaled.py; rewritten at every start.
{user}worker_processes 1;
daemon off;
pid {run_dir}/nginx.pid;
error_log {run_dir}/nginx.error.log warn;
events {{ worker_connections 2048; }}
http {{
  access_log off;
  client_body_temp_path {run_dir}/tmp/body;
  proxy_temp_path {run_dir}/tmp/proxy;
  fastcgi_temp_path {run_dir}/tmp/fastcgi;
  uwsgi_temp_path {run_dir}/tmp/uwsgi;
  scgi_temp_path {run_dir}/tmp/scgi;
  client_max_body_size 1m;
  map $http_upgrade $connection_upgrade {{ default upgrade; "" ""; }}
  map $cookie_shopcare_route $shopcare_route {{ "" $request_id; default $cookie_shopcare_route; }}
  map $cookie_shopcare_route $shopcare_set_route {{ "" "shopcare_route=$request_id; Path=/; HttpOnly; SameSite=Lax"; default ""; }}
  upstream rasa {{
    least_conn;
{rasa}    keepalive 64;
  }}
  upstream rasa_sticky {{
    hash $shopcare_route consistent;
{rasa}  }}
  upstream actions {{
    least_conn;
{actions}    keepalive 32;
  }}
  server {{
    listen 127.0.0.1:{port};
    location = /lb-health {{ access_log off; return 200 "ok\n"; }}
    location /socket.io/ {{
      proxy_pass http://rasa_sticky;
{proxy}      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 3600s;
      add_header Set-Cookie $shopcare_set_route always;
    }}
    location / {{
      proxy_pass http://rasa;
{proxy}      proxy_set_header Connection "";
      proxy_read_timeout 120s;
    }}
  }}
  server {{
    listen 127.0.0.1:{action_lb_port};
    location / {{
      proxy_pass http://actions;
{proxy}      proxy_set_header Connection "";
      proxy_read_timeout 120s;
    }}
  }}
}}
"""


# ----------------------------------------------------------------------------- the stack
@dataclass
class ScaledStack(Stack):
    """CRM + N action servers + N Rasa servers + nginx. `rasa_url` is nginx's; `replica_urls` reach each replica."""

    config: ScaledConfig = field(default_factory=ScaledConfig)
    rasa_ports: list[int] = field(default_factory=list)
    action_ports: list[int] = field(default_factory=list)
    run_dir: Path = ROOT / "var" / "scaled"

    def __post_init__(self) -> None:
        self.crm_port = self.config.crm_port
        self.database_url = self.config.crm_database_url
        self.log_dir = self.run_dir / "log"
        if not self.rasa_ports:
            self.rasa_ports = [5005 + i for i in range(self.config.replicas)]
        if not self.action_ports:
            self.action_ports = [5055 + i for i in range(self.config.action_replicas)]
        self.rasa_port, self.action_port = self.rasa_ports[0], self.action_ports[0]

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    @property
    def replica_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.rasa_ports]

    def crm_env(self) -> dict[str, str]:
        env = super().crm_env()
        env.update(
            CRM_RASA_URL=self.rasa_url,
            CRM_RASA_EVENTS_URL=self.config.rabbitmq_url,
            CRM_RASA_EVENTS_QUEUE=self.config.rabbitmq_queue,
            CRM_RASA_EVENTS_EXCHANGE=self.config.rabbitmq_exchange,
        )
        return env

    def all_ports(self) -> list[tuple[str, int]]:
        return [
            ("nginx", self.config.port),
            ("nginx (actions)", self.config.action_lb_port),
            ("CRM", self.crm_port),
            *[(f"Rasa replica {i}", p) for i, p in enumerate(self.rasa_ports)],
            *[(f"action server {i}", p) for i, p in enumerate(self.action_ports)],
        ]

    def check_ports_free(self) -> None:
        for name, port in self.all_ports():
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    raise RuntimeError(
                        f"port {port} ({name}) is already in use: is another `make run-scaled` still running? "
                        "Choose other ports with SCALED_PORT / SCALED_ACTION_LB_PORT / CRM_PORT."
                    )

    def prepare(self, customers: int) -> None:
        """Create the PostgreSQL databases where missing, migrate the CRM and seed it if empty."""
        for url in (self.config.crm_database_url, self.config.tracker_database_url):
            if ensure_database(url):
                print(f"[scaled] created database {url.rsplit('/', 1)[-1]}", flush=True)
        prepare_database(self, customers)

    def start_nginx(self) -> None:
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.run_dir / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        conf = self.run_dir / "nginx.conf"
        conf.write_text(
            nginx_conf(self.run_dir, self.config.port, self.config.action_lb_port, self.rasa_ports, self.action_ports)
        )
        proc = self._start("nginx", [NGINX, "-p", str(self.run_dir), "-c", str(conf)], base_env())
        wait_http(f"{self.rasa_url}/lb-health", 30, proc)

    def start_replica(self, index: int) -> None:
        action_endpoint = f"http://127.0.0.1:{self.config.action_lb_port}/webhook"
        env = base_env(**self.config.rasa_env(action_endpoint))
        self.start_rasa(port=self.rasa_ports[index], name=f"rasa{index}", endpoints=ENDPOINTS, env=env)

    def start(self) -> ScaledStack:
        self.check_ports_free()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.start_crm()
        self.start_nginx()  # up early: the action servers and replicas are reached through it
        with ThreadPoolExecutor(max_workers=max(len(self.action_ports), len(self.rasa_ports))) as pool:
            list(
                pool.map(
                    lambda i: self.start_actions(self.action_ports[i], f"actions{i}"), range(len(self.action_ports))
                )
            )
            # the first replica creates the tracker store's tables; the others start together after it
            self.start_replica(0)
            list(pool.map(self.start_replica, range(1, len(self.rasa_ports))))
        return self

    def stop(self, name: str | None = None) -> None:
        """Stop in reverse start order: the replicas publish their last events before the CRM and nginx go."""
        for key in [name] if name else list(reversed(self.procs)):
            super().stop(key)


# ----------------------------------------------------------------------------- make run-scaled
def run(args: argparse.Namespace) -> int:
    config = ScaledConfig.from_env()
    missing = config.missing()
    if missing:
        print("[scaled] cannot start the scaled profile:\n  " + "\n  ".join(missing), flush=True)
        return 1
    stack = ScaledStack(config=config)
    stack.prepare(args.customers)
    ensure_churn_model()
    stack.model = ensure_model()
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        print(
            f"[scaled] starting the CRM, {len(stack.action_ports)} action servers, nginx and "
            f"{len(stack.rasa_ports)} Rasa replicas ...",
            flush=True,
        )
        try:
            stack.start()
        except (RuntimeError, TimeoutError) as exc:
            print(f"[scaled] {exc} (logs: {stack.log_dir})", flush=True)
            return 1
        demo = json.loads(stack.crm("demo-customers", "--json"))
        replicas = ", ".join(stack.replica_urls)
        print(
            "\nShopCare (scaled profile) is running:\n"
            f"  load balancer (nginx) {stack.rasa_url}  REST {stack.rasa_url}/webhooks/rest/webhook, "
            f"socket.io {stack.rasa_url}/socket.io\n"
            f"  Rasa replicas         {replicas}\n"
            f"  action servers        " + ", ".join(f"http://127.0.0.1:{p}" for p in stack.action_ports) + "\n"
            f"  CRM API docs          {stack.crm_url}/docs\n"
            f"  stores                tracker {config.tracker_database_url}, CRM {config.crm_database_url}, "
            f"lock store {config.redis_url}, events {config.rabbitmq_url} queue {config.rabbitmq_queue}\n"
            f"  logs                  {stack.log_dir}\n\nCustomers to try: "
            + "; ".join(f"{p['name']} {p['email']} {p['postcode']}" for p in demo)
            + "\nPress Ctrl-C to stop.",
            flush=True,
        )
        while not stopping:
            for name, proc in list(stack.procs.items()):
                if proc.poll() is not None:
                    print(f"[scaled] {name} exited with code {proc.returncode}; stopping", flush=True)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("\n[scaled] stopping ...", flush=True)
        stack.stop()
        print("[scaled] stopped.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="prepare the databases and run the scaled profile until Ctrl-C")
    run_p.add_argument("--customers", type=int, default=int(os.environ.get("SEED_CUSTOMERS", 300)))
    sub.add_parser("check", help="say what this machine lacks for the scaled profile")
    args = parser.parse_args(argv)
    if args.command == "check":
        missing = ScaledConfig.from_env().missing()
        print("\n".join(missing) or "PostgreSQL, Redis, RabbitMQ and nginx are all there.")
        return 1 if missing else 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
