#!/usr/bin/env python
"""Latency benchmark of the assistant's REST channel, with a bare Rasa bot as a reference measured in the same run.

  python bench/latency.py                          # own stack on free ports + temp CRM db, levels 1,8,32
  python bench/latency.py --levels 1,8,32,64 --max-seconds 60
  python bench/latency.py --rasa-url http://127.0.0.1:5005 --skip-bare
  python bench/latency.py --profiles single,scaled --levels 1,8,32,64   # + 2 Rasa replicas behind nginx

C concurrent conversations per level, each a verified order-status conversation (hi -> where is my order N? -> e-mail
-> and order M? -> thanks) rotated over the demo personas; the bare reference (bench/bare_rasa/, a `rasa init`-style
moodbot with a lighter pipeline) runs hi -> mood -> bye. Reports p50/p95/p99 per turn and per turn type, messages/s,
and checks every reply. The last line is always `p50_ms_1conv=<x> throughput_msgs_per_s_max=<y>` (project stack).
`--profiles scaled` measures the scaled profile (scripts/scaled.py: SCALED_REPLICAS Rasa replicas and action servers
behind nginx, on temporary PostgreSQL databases, a Redis key prefix and a RabbitMQ queue of its own, removed after).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.stats import percentile  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from stack import BIN, Stack, base_env, wait_http  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from cpu_usage import cpu_snapshot  # noqa: E402
from latency_profiles import start_profile, stop_profile  # noqa: E402

BARE_DIR = ROOT / "bench" / "bare_rasa"
CACHE_DIR = ROOT / "var" / "bench"
# (turn type, message, text the reply must contain or None)
Turn = tuple[str, str, str | None]
PERSONAS = [
    ("alice.martin@example.com", "10001", "10002"),
    ("ben.okafor@example.com", "10011", "10012"),
    ("chloe.nguyen@example.com", "10021", "10022"),
]
GREETINGS = ["hi", "hello", "hey there"]
BARE_SCRIPTS: list[list[Turn]] = [
    [("greet", "hi", None), ("mood", "I am happy", None), ("goodbye", "bye", None)],
    [("greet", "hello", None), ("mood", "I am sad", None), ("goodbye", "goodbye", None)],
    [("greet", "hey there", None), ("mood", "I am great", None), ("goodbye", "see you later", None)],
]


def shop_script(i: int) -> list[Turn]:
    email, first, second = PERSONAS[i % len(PERSONAS)]
    return [
        ("greet", GREETINGS[i // len(PERSONAS) % len(GREETINGS)], None),
        ("order_query", f"where is my order {first}?", None),
        ("verify+status", email, first),
        ("followup_status", f"and order {second}?", second),
        ("thanks", "thanks", None),
    ]


@dataclass
class LevelResult:
    target: str
    concurrency: int
    started: int = 0
    completed: int = 0
    seconds: float = 0.0
    capped: bool = False
    samples: list[tuple[str, float]] = field(default_factory=list)  # (turn type, ms)
    errors: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return len(self.samples) / self.seconds if self.seconds else 0.0


async def converse(client: httpx.AsyncClient, url: str, sender: str, script: list[Turn], result: LevelResult) -> None:
    for kind, message, must_mention in script:
        started = time.perf_counter()
        try:
            response = await client.post(url, json={"sender": sender, "message": message})
            response.raise_for_status()
            replies = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            result.errors.append(f"{sender} {kind} {message!r}: {type(exc).__name__}: {exc}")
            return
        result.samples.append((kind, (time.perf_counter() - started) * 1000))
        text = " | ".join(str(r.get("text") or "") for r in replies if isinstance(r, dict)).strip()
        if not text:
            result.errors.append(f"{sender} {kind} {message!r}: empty reply {replies!r}")
        elif must_mention and must_mention not in text:
            result.errors.append(f"{sender} {kind} {message!r}: reply does not mention {must_mention}: {text[:160]!r}")


async def run_level(
    target: str,
    base_url: str,
    scripts: list[list[Turn]],
    concurrency: int,
    conversations: int,
    max_seconds: float,
    run_id: str,
) -> LevelResult:
    result = LevelResult(target, concurrency)
    url = f"{base_url.rstrip('/')}/webhooks/rest/webhook"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(conversations):
        queue.put_nowait(i)

    prefix = f"bench-{run_id}-{target}-c{concurrency}"

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            result.started += 1
            await converse(client, url, f"{prefix}-{i}", scripts[i % len(scripts)], result)
            result.completed += 1

    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60.0)) as client:
        # one unmeasured conversation so lazy loading and first-request costs do not land in the numbers
        await converse(client, url, f"{prefix}-warmup", scripts[0], LevelResult(target, 0))
        started = time.perf_counter()
        tasks = [asyncio.create_task(worker(client)) for _ in range(concurrency)]
        _, pending = await asyncio.wait(tasks, timeout=max_seconds)
        result.seconds = time.perf_counter() - started
        result.capped = bool(pending)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bare_model() -> Path:
    """Train bench/bare_rasa into a temp dir unless var/bench/ caches a model for exactly these files."""
    digest = hashlib.sha256()
    for file in sorted(p for p in BARE_DIR.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(BARE_DIR)).encode() + file.read_bytes())
    cached = CACHE_DIR / f"bare_rasa-{digest.hexdigest()[:12]}.tar.gz"
    if cached.exists():
        return cached
    print("[bare] training the bare Rasa reference ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="bare_rasa_") as tmp:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        with open(CACHE_DIR / "bare_rasa.train.log", "wb") as log:
            subprocess.run(
                [
                    str(BIN / "rasa"),
                    "train",
                    "--config",
                    str(BARE_DIR / "config.yml"),
                    "--domain",
                    str(BARE_DIR / "domain.yml"),
                    "--data",
                    str(BARE_DIR / "data"),
                    "--out",
                    tmp,
                    "--fixed-model-name",
                    "bare_rasa",
                ],
                cwd=tmp,
                env=base_env(RASA_CACHE_DIRECTORY=f"{tmp}/.cache"),
                check=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        shutil.move(f"{tmp}/bare_rasa.tar.gz", cached)
    return cached


def start_bare(model: Path, port: int, workdir: str) -> subprocess.Popen:
    log = open(CACHE_DIR / f"bare_rasa.{port}.log", "ab")
    cmd = [
        str(BIN / "rasa"),
        "run",
        "--model",
        str(model),
        "--port",
        str(port),
        "--interface",
        "127.0.0.1",
        "--credentials",
        str(BARE_DIR / "credentials.yml"),
    ]
    proc = subprocess.Popen(
        cmd, cwd=workdir, env=base_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    wait_http(f"http://127.0.0.1:{port}", 180, proc)
    return proc


def header(args: argparse.Namespace, model: str, data: str) -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    return (
        f"# Latency benchmark ({datetime.now().astimezone():%Y-%m-%d %H:%M %Z})\n\n"
        f"- machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}; load average at the end "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} (other work on the machine shows here); "
        f"Python {platform.python_version()}, Rasa {version('rasa')}, httpx {httpx.__version__}\n"
        f"- shopcare: model {model}; data: {data}\n"
        f"- levels {args.levels}; conversations per level max(10, 2*C) unless --conversations-per-level; "
        f"cap {args.max_seconds:.0f} s per level; one unmeasured warm-up conversation per level\n"
        "- bare_rasa: `rasa init`-style moodbot (bench/bare_rasa/) but WhitespaceTokenizer + CountVectorsFeaturizer"
        " + LogisticRegressionClassifier and MemoizationPolicy + RulePolicy instead of DIET/TED; in-memory tracker"
        " store, no action server (shopcare: SQLite tracker store + action server + CRM)\n"
    )


def report(results: list[LevelResult]) -> str:
    lines = [
        "| target | C | convs done/started | msgs | errors | p50 ms | p95 ms | p99 ms | msgs/s | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        ms = [v for _, v in r.samples]
        lines.append(
            f"| {r.target} | {r.concurrency} | {r.completed}/{r.started} | {len(ms)} | {len(r.errors)} | "
            f"{percentile(ms, 50):.0f} | {percentile(ms, 95):.0f} | {percentile(ms, 99):.0f} | "
            f"{r.throughput:.1f} | {'time cap hit' if r.capped else ''} |"
        )
    lines += ["", "| target | C | turn | n | p50 ms | p95 ms | p99 ms |", "|---|---:|---|---:|---:|---:|---:|"]
    for r in results:
        for kind in dict.fromkeys(k for k, _ in r.samples):
            ms = [v for k, v in r.samples if k == kind]
            lines.append(
                f"| {r.target} | {r.concurrency} | {kind} | {len(ms)} | {percentile(ms, 50):.0f} | "
                f"{percentile(ms, 95):.0f} | {percentile(ms, 99):.0f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,8,32", help="comma-separated concurrency levels")
    parser.add_argument("--conversations-per-level", type=int, default=None, help="default max(10, 2*C)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="hard time cap per level")
    parser.add_argument("--rasa-url", default=None, help="use this running stack instead of starting one")
    parser.add_argument("--skip-bare", action="store_true", help="skip the bare Rasa reference")
    parser.add_argument(
        "--profiles", default="single", help="comma-separated: single (one of each process), scaled (replicas)"
    )
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    run_id = uuid.uuid4().hex[:8]
    results: list[LevelResult] = []
    notes: list[str] = []
    shop_scripts = [shop_script(i) for i in range(len(PERSONAS) * len(GREETINGS))]

    cpu_rows: list[str] = []

    def measure(name: str, url: str, scripts: list[list[Turn]], procs: dict[str, int] | None = None) -> None:
        for c in levels:
            n = args.conversations_per_level or max(10, 2 * c)
            print(f"[run] {name} C={c}: {n} conversations ...", flush=True)
            before = cpu_snapshot(procs or {})
            result = asyncio.run(run_level(name, url, scripts, c, n, args.max_seconds, run_id))
            after = cpu_snapshot(procs or {})
            results.append(result)
            msgs = max(len(result.samples), 1)
            cpu_rows.append(
                f"| {name} | {c} | {result.seconds:.1f} | "
                + ", ".join(f"{k} {1000 * (after[k] - before[k]) / msgs:.0f}" for k in after)
                + " |"
            )

    model = data = ""
    with tempfile.TemporaryDirectory(prefix="bench_latency_") as tmp:
        if args.rasa_url:
            model = "(served by the running stack at --rasa-url)"
            data = f"the running stack's CRM database ({args.rasa_url})"
            measure("shopcare", args.rasa_url, shop_scripts)
        for profile in [] if args.rasa_url else profiles:
            stack: Stack | None = None
            try:
                stack, name, note = start_profile(profile, tmp, run_id)
                notes.append(note)
                measure(name, stack.rasa_url, shop_scripts, {k: p.pid for k, p in stack.procs.items()})
            finally:
                stop_profile(stack)
            stamp = stack.model.with_name("shopcare.fingerprint").read_text().strip()[:12]
            model = f"{stack.model.relative_to(ROOT)} (fingerprint {stamp})"
        data = data or "; ".join(notes)
        if not args.skip_bare:
            bare: subprocess.Popen | None = None
            try:
                bare_port = free_port()
                model_path = bare_model()
                print(f"[bare] serving {model_path.relative_to(ROOT)} on :{bare_port} ...", flush=True)
                bare = start_bare(model_path, bare_port, tmp)
                measure("bare_rasa", f"http://127.0.0.1:{bare_port}", BARE_SCRIPTS, {"rasa": bare.pid})
            finally:
                if bare is not None:
                    os.killpg(bare.pid, signal.SIGTERM)  # its own session (start_new_session): only what we started
                    try:
                        bare.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        os.killpg(bare.pid, signal.SIGKILL)
    print("\n" + header(args, model, data) + "\n" + report(results))
    print(
        "\nCPU per message (ms of CPU time per measured message, by process tree; postgres/redis/rabbitmq are "
        "machine-wide and include other users' work):\n\n| target | C | seconds | CPU ms per message |\n|---|---:|---:|---|\n"
        + "\n".join(cpu_rows)
    )
    errors = [f"- [{r.target} C={r.concurrency}] {e}" for r in results for e in r.errors]
    print(
        f"\n## Errors ({len(errors)})\n" + "\n".join(errors)
        if errors
        else "\nNo errors: every reply non-empty, every status reply mentions its order number."
    )
    shop = [r for r in results if r.target.startswith("shopcare")]
    one = next((r for r in shop if r.concurrency == 1), None)
    p50 = percentile([v for _, v in one.samples], 50) if one else float("nan")
    print(f"p50_ms_1conv={p50:.1f} throughput_msgs_per_s_max={max((r.throughput for r in shop), default=0.0):.2f}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
