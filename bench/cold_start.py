#!/usr/bin/env python
"""The first conversations after a start: how much slower the first customer is served than the ones after.

  python bench/cold_start.py                 # 3 conversations, a 3 s pause where a customer types the e-mail
  python bench/cold_start.py --pause 0       # messages back to back

Starts its own single-profile stack (CRM with 40 seeded customers, action server, Rasa server) on free loopback ports
and runs the same five turns as three different customers, one after the other: greeting, an order question, the
identity check (Alice Martin's e-mail), a second order, thanks. Prints each turn's time; the pause after the order
question (the customer reading the request and typing) is not counted.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from stack import local_stack  # noqa: E402

TURNS = [
    ("greeting", "hi"),
    ("order question", "where is my order 10001?"),
    ("identity check + status", "alice.martin@example.com"),
    ("second order", "and order 10002?"),
    ("thanks", "thanks"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conversations", type=int, default=3)
    ap.add_argument("--pause", type=float, default=3.0, help="seconds the customer takes to type the e-mail")
    args = ap.parse_args()
    print(f"# Cold start ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)\n")
    print(f"- machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}; load {os.getloadavg()}")
    print(f"- `python bench/cold_start.py {' '.join(sys.argv[1:])}`".rstrip())
    print("- data: `crm seed --customers 40 --seed 7`; each conversation: " + " / ".join(t for _, t in TURNS) + "\n")
    print("| conversation | " + " | ".join(f"{name} ms" for name, _ in TURNS) + " |")
    print("|---:|" + "---:|" * len(TURNS))
    with tempfile.TemporaryDirectory() as tmp:
        stack = local_stack(Path(tmp), "bench-cold-key").start()
        try:
            with httpx.Client(base_url=stack.rasa_url, timeout=120) as client:
                for conversation in range(1, args.conversations + 1):
                    times = []
                    for name, text in TURNS:
                        started = time.perf_counter()
                        reply = client.post(
                            "/webhooks/rest/webhook", json={"sender": f"cold-{conversation}", "message": text}
                        )
                        times.append((time.perf_counter() - started) * 1000)
                        reply.raise_for_status()
                        if not reply.json():
                            raise SystemExit(f"conversation {conversation}, {name}: no reply")
                        if name == "order question":
                            time.sleep(args.pause)
                    print(f"| {conversation} | " + " | ".join(f"{t:.0f}" for t in times) + " |", flush=True)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
