#!/usr/bin/env python
"""What the identity-grant check costs an order look-up over HTTP: this tree's CRM against an earlier commit's, side by
side on the same machine and data, requests interleaved one for one so both see the same load.

  python bench/grant_overhead.py --base /tmp/base        # a worktree of the commit to compare with (git worktree add)

Both CRMs serve the 1,000,000-order SQLite file that bench/crm_lookup.py generates (var/bench/, run that first; the base
uses its own copy under its tree). This tree's requests carry the conversation's grant (checked and refreshed by the CRM);
the base's carry none. Prints p50/p95/p99 of each and the p95 ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from crm_backend.services.grants import GrantPolicy  # noqa: E402

API_KEY = "bench-key"


def serve(tree: Path, port: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "PYTHONWARNINGS": "ignore",
        "CRM_ENV": "development",
        "CRM_API_KEY": API_KEY,
        "CRM_DATABASE_URL": f"sqlite:///{tree / 'var' / 'bench' / 'crm_lookup_1000000.db'}",
        "CRM_RELAY_ENABLED": "false",
        "CRM_RASA_EVENTS_URL": "",
    }
    cmd = [sys.executable, "-m", "crm_backend", "serve", "--port", str(port)]
    return subprocess.Popen(cmd, cwd=tree, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def sample(lookups: int) -> list[tuple[int, str]]:
    spec = importlib.util.spec_from_file_location("crm_lookup", ROOT / "bench" / "crm_lookup.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.sample(1_000_000, lookups)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--lookups", type=int, default=3000)
    args = parser.parse_args()
    for tree in (ROOT, args.base):
        if not (tree / "var" / "bench" / "crm_lookup_1000000.db").exists():
            sys.exit(
                f"{tree}/var/bench/crm_lookup_1000000.db is missing: run bench/crm_lookup.py --backends sqlite there"
            )
    pairs = sample(args.lookups)
    grants = GrantPolicy("dev-grant-secret-not-for-production", idle=timedelta(minutes=30), absolute=timedelta(hours=8))
    headers = {}
    for customer_id, _ in pairs:
        token, _grant = grants.issue(customer_id=customer_id, conversation_id="bench", channel="rest", strength="email")
        headers[customer_id] = {"X-Identity-Grant": token, "X-Conversation-Id": "bench", "X-Channel": "rest"}
    log_dir = ROOT / "var" / "bench" / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = {
        "this tree": serve(ROOT, 18611, log_dir / "grant_new.log"),
        "base": serve(args.base, 18612, log_dir / "grant_base.log"),
    }
    ports = {"this tree": 18611, "base": 18612}
    timings: dict[str, list[float]] = {name: [] for name in procs}
    try:
        clients = {
            name: httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", headers={"X-API-Key": API_KEY})
            for name, port in ports.items()
        }
        deadline = time.monotonic() + 60
        for client in clients.values():
            while True:
                try:
                    client.get("/policies").raise_for_status()
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)
        for customer_id, number in pairs[:100]:  # warm-up
            for name, client in clients.items():
                client.get(
                    f"/customers/{customer_id}/orders/{number}",
                    headers=headers[customer_id] if name == "this tree" else {},
                )
        for customer_id, number in pairs:
            for name, client in clients.items():
                extra = headers[customer_id] if name == "this tree" else {}
                started = time.perf_counter()
                response = client.get(f"/customers/{customer_id}/orders/{number}", headers=extra)
                timings[name].append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(timeout=15)
    print(f"# order look-up over HTTP, {args.lookups} random pairs of 1,000,000 orders (SQLite), interleaved")
    print(
        f"- `python bench/grant_overhead.py --base {args.base}`; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print("| CRM | p50 ms | p95 ms | p99 ms |\n|---|---:|---:|---:|")
    p95 = {}
    for name, values in timings.items():
        q = statistics.quantiles(values, n=100)
        p95[name] = q[94]
        print(f"| {name} | {q[49]:.2f} | {q[94]:.2f} | {q[98]:.2f} |")
    print(f"\np95 ratio (this tree / base): {p95['this tree'] / p95['base']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
