"""Start, supervise and stop the three processes of the assistant: CRM, action server, Rasa server.

`make run` calls `python scripts/stack.py run`; the end-to-end tests use `Stack` directly with their own ports and a
temporary database. Every process listens on loopback; Ctrl-C (SIGINT) or SIGTERM stops all three.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python scripts/stack.py` puts scripts/ first; the project's packages are at ROOT
    sys.path.insert(1, str(ROOT))
BIN = Path(sys.executable).parent
MODEL_NAME = "shopcare"
# the rasa CLI with PII and secrets masked in every log record (shopcare_core/logmask.py)
MAX_RESTARTS_PER_5_MIN = 5
MASKED_RASA = [sys.executable, "-m", "shopcare_core.logmask", "rasa"]
# everything the Rasa model is trained from or through: the components train via the shared model code and read the
# escalation thresholds and triggers (shopcare_core/)
TRAINING_INPUTS = ["config.yml", "domain.yml", "data", "components", "shopcare_core"]
QUIET_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "PYTHONWARNINGS": "ignore",
}


def base_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **QUIET_ENV, **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


# ----------------------------------------------------------------------------- training, fingerprinted
def training_fingerprint(inputs: list[str] = TRAINING_INPUTS) -> str:
    digest = hashlib.sha256()
    for name in inputs:
        path = ROOT / name
        files = (
            sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            if path.is_dir()
            else [path]
        )
        for file in files:
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def ensure_model(models_dir: Path = ROOT / "models", force: bool = False) -> Path:
    """Train the Rasa model unless models/ holds one for exactly the current data, domain, config and components."""
    models_dir.mkdir(parents=True, exist_ok=True)
    with open(models_dir / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one training at a time: concurrent runs would write the same file
        return _ensure_model(models_dir, force)


def _ensure_model(models_dir: Path, force: bool) -> Path:
    model = models_dir / f"{MODEL_NAME}.tar.gz"
    stamp = models_dir / f"{MODEL_NAME}.fingerprint"
    fingerprint = training_fingerprint()
    if not force and model.exists() and stamp.exists() and stamp.read_text().strip() == fingerprint:
        print(f"[models] {model.relative_to(ROOT)} is up to date (fingerprint {fingerprint[:12]})", flush=True)
        return model
    print("[models] training the Rasa model (NLU + dialogue); this takes about a minute ...", flush=True)
    started = time.monotonic()
    subprocess.run(
        # --force: Rasa's cache keys on config and NLU data only, not on files components read themselves
        # (data/sentiment/); this runs only when the fingerprint of everything changed anyway
        [str(BIN / "rasa"), "train", "--force", "--fixed-model-name", MODEL_NAME, "--out", str(models_dir)],
        cwd=ROOT,
        env=base_env(),
        check=True,
    )
    stamp.write_text(fingerprint + "\n")
    print(f"[models] trained in {time.monotonic() - started:.0f} s -> {model.relative_to(ROOT)}", flush=True)
    return model


CHURN_INPUTS = [
    "crm_backend/ml",
    "shopcare_core/ml",
    "crm_backend/seeding",
]
CHURN_TRAINING_CUSTOMERS = 3000


def ensure_churn_model(models_dir: Path = ROOT / "models", force: bool = False) -> Path:
    """Train the churn model on a dedicated seeded CRM database unless models/ holds one for the current code."""
    model = models_dir / "churn.joblib"
    stamp = models_dir / "churn.fingerprint"
    fingerprint = training_fingerprint(CHURN_INPUTS)
    if not force and model.exists() and stamp.exists() and stamp.read_text().strip() == fingerprint:
        print(f"[models] {model.relative_to(ROOT)} is up to date (fingerprint {fingerprint[:12]})", flush=True)
        return model
    training_db = ROOT / "var" / "churn_train.db"
    training_db.parent.mkdir(exist_ok=True)
    training_db.unlink(missing_ok=True)
    url = f"sqlite:///{training_db}"
    print(f"[models] seeding {CHURN_TRAINING_CUSTOMERS} customers for churn training ...", flush=True)
    env = base_env(CRM_ENV="development", CRM_DATABASE_URL=url)  # a throw-away training database
    subprocess.run(
        [sys.executable, "-m", "crm_backend", "seed", "--customers", str(CHURN_TRAINING_CUSTOMERS), "--seed", "42"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    print("[models] training the churn model (3 candidates, cross-validated) ...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "crm_backend.ml.train_churn", "--database-url", url, "--out", str(models_dir)],
        cwd=ROOT,
        env=env,
        check=True,
    )
    stamp.write_text(fingerprint + "\n")
    return model


# ----------------------------------------------------------------------------- processes
def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not healthy after {timeout:.0f} s")


@dataclass
class Stack:
    """The three processes on loopback ports, against one CRM database."""

    crm_port: int = 8000
    action_port: int = 5055
    rasa_port: int = 5005
    smtp_port: int = 8025  # the development mail sink (crm_backend/mailsink.py); the CRM sends its mail there
    database_url: str = f"sqlite:///{ROOT / 'var' / 'crm.db'}"
    tracker_db: Path = ROOT / "var" / "rasa_tracker.db"
    events_db: Path = ROOT / "var" / "rasa_events.db"
    api_key: str = "dev-api-key"
    rasa_token: str = "dev-rasa-token"
    # CRM_ENV and the CRM's signing secrets; `make run` takes them from the environment or .env
    crm_env_name: str = "development"
    grant_secret: str = "dev-grant-secret-not-for-production"
    shop_login_secret: str = "dev-shop-login-secret-not-for-production"
    action_token: str = "dev-action-token"  # X-Action-Token: the Rasa server sends it, the action server requires it
    crm_timeout: str = "3"  # the action server's CRM calls: seconds each (CRM_TIMEOUT) ...
    crm_retries: str = "1"  # ... and further attempts (CRM_RETRIES)
    model: Path = ROOT / "models" / f"{MODEL_NAME}.tar.gz"
    log_dir: Path = ROOT / "var" / "log"
    extra_rasa_args: list[str] = field(default_factory=list)
    # settings of the Slack/Telegram channels (SLACK_*, TELEGRAM_*; channels/credentials.py): `make run` passes the
    # environment, a test its fakes' URLs; empty by default so a test stack never reaches a real Slack or Telegram
    channel_env: dict[str, str] = field(default_factory=dict)
    channels: list[str] = field(default_factory=list)  # enabled, known once the credentials file is written
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def crm_url(self) -> str:
        return f"http://127.0.0.1:{self.crm_port}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def widget_origins(self) -> list[str]:
        """Origins of the storefront the CRM serves (/shop): Rasa's socket.io must accept the widget's polling from there
        (a websocket needs no CORS; the long-polling fallback does)."""
        return [self.crm_url, f"http://localhost:{self.crm_port}"]

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.action_port}"

    def crm_env(self) -> dict[str, str]:
        return base_env(
            CRM_DATABASE_URL=self.database_url,
            CRM_API_KEY=self.api_key,
            CRM_PORT=str(self.crm_port),
            CRM_RASA_URL=self.rasa_url,
            CRM_RASA_TOKEN=self.rasa_token,
            CRM_RASA_EVENTS_URL=f"sqlite:///{self.events_db}",
            CRM_RASA_TRACKER_URL=f"sqlite:///{self.tracker_db}",
            CRM_SMTP_HOST="127.0.0.1",
            CRM_SMTP_PORT=str(self.smtp_port),
            CRM_DEV_MAIL_STORE=str(self.mail_store),
            CRM_ENV=self.crm_env_name,
            CRM_GRANT_SECRET=self.grant_secret,
            CRM_SHOP_LOGIN_SECRET=self.shop_login_secret,
        )

    def crm(self, *args: str) -> str:
        """Run a `crm` CLI command against this stack's database and return its output."""
        done = subprocess.run(
            [sys.executable, "-m", "crm_backend", *args],
            cwd=ROOT,
            env=self.crm_env(),
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        return done.stdout

    def write_endpoints(self) -> Path:
        """The Rasa server's endpoints file; it holds the action token, so only this user may read it."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir.parent / f"endpoints.{self.rasa_port}.yml"
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(
            "action_endpoint:\n"
            f'  url: "{self.action_url}/webhook"\n'
            f"  headers:\n    X-Action-Token: {json.dumps(self.action_token)}\n"
            "tracker_store:\n  type: components.sqlite_stores.SQLiteTunedTrackerStore\n  dialect: sqlite\n"
            f'  db: "{self.tracker_db}"\n'
            "lock_store:\n  type: in_memory\n"
            "event_broker:\n  type: components.sqlite_stores.BatchingSQLEventBroker\n  dialect: sqlite\n"
            f'  db: "{self.events_db}"\n'
        )
        return path

    def write_credentials(self) -> Path:
        from channels.credentials import enabled_channels, write_credentials  # here: needs ROOT on sys.path

        env = {"CRM_ENV": self.crm_env_name, **self.channel_env}  # the REST channel is on only in development
        path = write_credentials(
            ROOT / "credentials.yml", self.log_dir.parent / f"credentials.{self.rasa_port}.yml", env
        )
        self.channels = enabled_channels(yaml.safe_load(path.read_text()))
        print(f"[rasa] channels: {', '.join(self.channels)}", flush=True)
        return path

    def _start(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.{self.rasa_port}.log", "ab")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    @property
    def mail_store(self) -> Path:
        """The mail sink's store (JSON lines), next to this stack's logs; GET /dev/outbox reads it."""
        return self.log_dir.parent / "dev_mail.jsonl"

    def start_mailsink(self) -> None:
        """The development mail sink on loopback: the CRM's mail (one-time codes) lands in `mail_store`."""
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", self.smtp_port)) == 0:
                raise RuntimeError(f"port {self.smtp_port} (mail sink) is already in use: is another `make run` up?")
        cmd = [sys.executable, "-m", "crm_backend.mailsink", "--host", "127.0.0.1", "--port", str(self.smtp_port)]
        proc = self._start("mailsink", [*cmd, "--store", str(self.mail_store)], base_env())
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the mail sink exited with code {proc.returncode} (port {self.smtp_port} in use?)")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.smtp_port)) == 0:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the mail sink is not listening on port {self.smtp_port} after 30 s")
            time.sleep(0.2)

    def start_crm(self) -> None:
        proc = self._start(
            "crm", [sys.executable, "-m", "crm_backend", "serve", "--port", str(self.crm_port)], self.crm_env()
        )
        wait_http(f"{self.crm_url}/health", 60, proc)

    def start_actions(self, port: int | None = None, name: str = "actions") -> None:
        """One action server on loopback, answering only calls that carry `action_token` (actions/server.py, log
        records masked); `port`/`name` let the scaled profile, scripts/scaled.py, start several."""
        port = port or self.action_port
        env = base_env(
            CRM_URL=self.crm_url,
            CRM_API_KEY=self.api_key,
            CRM_RETRIES=self.crm_retries,
            CRM_TIMEOUT=self.crm_timeout,
            ACTION_SERVER_TOKEN=self.action_token,
        )
        cmd = [sys.executable, "-m", "actions.server", "--port", str(port), "--host", "127.0.0.1"]
        proc = self._start(name, cmd, env)
        wait_http(f"http://127.0.0.1:{port}/health", 90, proc)

    def start_rasa(
        self, port: int | None = None, name: str = "rasa", endpoints: Path | None = None, env: dict | None = None
    ) -> None:
        """One Rasa server; the scaled profile passes its own port, endpoints file and environment per replica."""
        port = port or self.rasa_port
        cmd = [
            *MASKED_RASA,
            "run",
            "--model",
            str(self.model),
            "--port",
            str(port),
            "--interface",
            "127.0.0.1",
            "--endpoints",
            str(endpoints or self.write_endpoints()),
            "--credentials",
            str(self.write_credentials()),
            "--enable-api",
            "--auth-token",
            self.rasa_token,
            "--cors",
            *self.widget_origins,
            *self.extra_rasa_args,
        ]
        proc = self._start(name, cmd, env or base_env())
        wait_http(f"http://127.0.0.1:{port}/status?token={self.rasa_token}", 180, proc)

    def check_ports_free(self) -> None:
        """Fail early and clearly when another process (often an earlier `make run`) holds one of the ports."""
        for name, port in (("CRM", self.crm_port), ("action server", self.action_port), ("Rasa", self.rasa_port)):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    raise RuntimeError(
                        f"port {port} ({name}) is already in use: is another `make run` still running? "
                        "Stop it, or choose other ports with CRM_PORT / ACTION_PORT / RASA_PORT."
                    )

    def start(self) -> Stack:
        self.check_ports_free()
        self.start_mailsink()
        self.start_crm()
        self.start_actions()
        self.start_rasa()
        return self

    def restart(self, name: str) -> None:
        {
            "mailsink": self.start_mailsink,
            "crm": self.start_crm,
            "actions": self.start_actions,
            "rasa": self.start_rasa,
        }[name]()

    def supervise_once(self) -> list[str]:
        """Start again every process that exited without being stopped (crash, OOM kill); returns their names."""
        restarted = []
        for name, proc in list(self.procs.items()):
            if proc.poll() is not None:
                print(f"[run] {name} exited with code {proc.returncode}; starting it again", flush=True)
                self.procs.pop(name)
                self.restart(name)
                restarted.append(name)
        return restarted

    def stop(self, name: str | None = None) -> None:
        for key in [name] if name else list(self.procs):
            proc = self.procs.pop(key, None)
            if proc is None or proc.poll() is not None:
                continue
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def free_port() -> int:
    """A free TCP port on loopback (tests and benchmarks start their own stacks side by side)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local_stack(
    workdir: Path,
    api_key: str,
    *,
    customers: int = 40,
    seed: int = 7,
    agents: tuple[tuple[str, str, str, str], ...] = (),
    rasa_port: int | None = None,
    **fields: object,
) -> Stack:
    """A not-yet-started stack with its state under ``workdir``: CRM migrated and seeded, agents created.

    ``agents`` holds (username, password, role, display name); ``fields`` are further ``Stack`` fields.
    """
    stack = Stack(
        crm_port=free_port(),
        action_port=free_port(),
        rasa_port=rasa_port or free_port(),
        smtp_port=free_port(),
        database_url=f"sqlite:///{workdir / 'crm.db'}",
        tracker_db=workdir / "tracker.db",
        events_db=workdir / "events.db",
        api_key=api_key,
        model=ensure_model(),
        log_dir=workdir / "log",
        **fields,  # type: ignore[arg-type]
    )
    stack.crm("init")
    stack.crm("seed", "--customers", str(customers), "--seed", str(seed))
    for username, password, role, display_name in agents:
        stack.crm(
            "create-agent",
            "--username",
            username,
            "--password",
            password,
            "--role",
            role,
            "--display-name",
            display_name,
        )
    return stack


def prepare_database(stack: Stack, customers: int) -> None:
    print("[crm] migrating the database ...", flush=True)
    stack.crm("init")
    print(stack.crm("seed-if-empty", "--customers", str(customers)).strip(), flush=True)
    stack.crm("demo-agents")  # console logins agent / supervisor (crm_backend/cli.py DEMO_AGENT_PASSWORD)


# Stack fields that `make run` takes from the environment (or .env) when set there: the CRM's database, the action
# server's CRM calls and the secrets of the processes. The other settings reach the processes unchanged.
FROM_ENVIRONMENT = {
    "database_url": "CRM_DATABASE_URL",
    "crm_timeout": "CRM_TIMEOUT",
    "crm_retries": "CRM_RETRIES",
    "api_key": "CRM_API_KEY",
    "rasa_token": "CRM_RASA_TOKEN",
    "action_token": "ACTION_SERVER_TOKEN",
    "grant_secret": "CRM_GRANT_SECRET",
    "shop_login_secret": "CRM_SHOP_LOGIN_SECRET",
}


def environment() -> dict[str, str]:
    """The environment over the values of ``.env``, as each process's settings read them."""
    from channels.credentials import read_env_file  # here: needs ROOT on sys.path

    return {**read_env_file(ROOT / ".env"), **os.environ}


def run(args: argparse.Namespace) -> int:
    env = environment()
    chosen = {field: env[name] for field, name in FROM_ENVIRONMENT.items() if env.get(name)}
    stack = Stack(
        crm_port=args.crm_port,
        action_port=args.action_port,
        rasa_port=args.rasa_port,
        channel_env=env,
        crm_env_name=env.get("CRM_ENV") or "development",
        smtp_port=int(env.get("CRM_SMTP_PORT") or Stack.smtp_port),
        **chosen,  # type: ignore[arg-type]
    )
    prepare_database(stack, args.customers)
    ensure_churn_model()
    stack.model = ensure_model()
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        print("[run] starting the CRM, the action server and the Rasa server ...", flush=True)
        try:
            stack.start()
        except (RuntimeError, TimeoutError) as exc:
            print(f"[run] {exc} (logs: {stack.log_dir})", flush=True)
            return 1
        demo = json.loads(stack.crm("demo-customers", "--json"))
        rest = "rest" in stack.channels  # a development and test channel: off in production without a token
        development = stack.crm_env_name == "development"
        print(
            "\nShopCare is running:\n"
            + (f"  Rasa REST channel   {stack.rasa_url}/webhooks/rest/webhook\n" if rest else "")
            + f"  Rasa socket.io      {stack.rasa_url}/socket.io\n"
            + "".join(
                f"  {name.title()} webhook{' ' * (12 - len(name))}{stack.rasa_url}/webhooks/{name}/webhook\n"
                for name in stack.channels
                if name in ("slack", "telegram")
            )
            + f"  storefront + widget {stack.crm_url}/shop"
            + ('  ("Log in as" a demo customer: no questions asked)\n' if development else "\n")
            + f"  action server       {stack.action_url}/health\n"
            f"  CRM API docs        {stack.crm_url}/docs\n"
            f"  agents' console     {stack.crm_url}/console  (agent / supervisor, password shopcare-demo)\n"
            + (
                f"  e-mails sent        {stack.crm_url}/dev/outbox?to=<address>  (one-time codes land here)\n"
                if development
                else ""
            )
            + f"  logs                {stack.log_dir}\n\nCustomers to try (order numbers by status):"
        )
        for person in demo:
            orders = ", ".join(f"{status} {number}" for status, number in person["orders"].items())
            print(f"  {person['name']:<16} {person['email']:<28} {person['postcode']:<9} {orders}")
        if rest:
            print(
                f"\nTry: curl -s -XPOST {stack.rasa_url}/webhooks/rest/webhook "
                '-d \'{"sender":"me","message":"where is my order 10001?"}\'',
                flush=True,
            )
        print("Press Ctrl-C to stop.", flush=True)
        restarts: list[float] = []
        while not stopping:
            try:
                restarts += [time.monotonic() for _ in stack.supervise_once()]
            except (RuntimeError, TimeoutError) as exc:
                print(f"[run] could not start it again: {exc} (logs: {stack.log_dir}); stopping", flush=True)
                return 1
            if len([t for t in restarts if t > time.monotonic() - 300]) > MAX_RESTARTS_PER_5_MIN:
                print(f"[run] more than {MAX_RESTARTS_PER_5_MIN} restarts in 5 minutes; stopping", flush=True)
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("\n[run] stopping ...", flush=True)
        stack.stop()
        print("[run] stopped.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="prepare everything and run the three processes until Ctrl-C")
    env = environment()
    run_p.add_argument("--crm-port", type=int, default=int(env.get("CRM_PORT") or 8000))
    run_p.add_argument("--action-port", type=int, default=int(env.get("ACTION_PORT") or 5055))
    run_p.add_argument("--rasa-port", type=int, default=int(env.get("RASA_PORT") or 5005))
    run_p.add_argument("--customers", type=int, default=int(env.get("SEED_CUSTOMERS") or 300))
    train_p = sub.add_parser("train", help="train the churn and Rasa models where their inputs changed")
    train_p.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "train":
        ensure_churn_model(force=args.force)
        ensure_model(force=args.force)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
