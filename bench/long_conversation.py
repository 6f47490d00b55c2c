#!/usr/bin/env python
"""Turn time against conversation length: one conversation of many turns on the single-machine profile.

  python bench/long_conversation.py                      # 300 turns, the shipped session bound
  python bench/long_conversation.py --max-events 0       # the same without the bound (Rasa's behaviour)

Starts its own stack (CRM with 40 seeded customers, action server, Rasa server) on free loopback ports and talks to
the REST channel as one customer: "hi", then an order-status question, the identity check, a second order and thanks,
over and over (Alice Martin's orders 10001 and 10002). Prints, every `--every` turns, the mean time of the last
`--every` turns and how many events the conversation's tracker holds, in all and in its current session.
`--max-events` sets SHOPCARE_SESSION_MAX_EVENTS for the Rasa server (components/session_bound.py).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from stack import local_stack  # noqa: E402

SCRIPT = ["where is my order 10001?", "alice.martin@example.com", "and order 10002?", "thanks"]
SENDER = "long-1"  # the REST body's sender
CONVERSATION = f"rest:{SENDER}"  # the tracker's id for it (channels/rest.py)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--turns", type=int, default=300)
    ap.add_argument("--every", type=int, default=25)
    ap.add_argument("--max-events", type=int, default=None, help="SHOPCARE_SESSION_MAX_EVENTS (default: shipped)")
    ap.add_argument("--time-limit", type=float, default=900.0, help="stop after this many seconds")
    args = ap.parse_args()
    if args.max_events is not None:
        os.environ["SHOPCARE_SESSION_MAX_EVENTS"] = str(args.max_events)  # the stack's processes inherit it
    print(f"# Long conversation ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)\n")
    print(f"- machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}; load {os.getloadavg()}")
    print(f"- `python bench/long_conversation.py {' '.join(sys.argv[1:])}`".rstrip())
    print(f"- SHOPCARE_SESSION_MAX_EVENTS={os.environ.get('SHOPCARE_SESSION_MAX_EVENTS', '(unset: shipped default)')}")
    print("- data: `crm seed --customers 40 --seed 7`; one customer repeating: " + " / ".join(SCRIPT) + "\n")
    print("| turns | mean ms of the last turns | max ms | events in all | events in the current session |")
    print("|---:|---:|---:|---:|---:|")
    deadline = time.monotonic() + args.time_limit
    with tempfile.TemporaryDirectory() as tmp:
        stack = local_stack(Path(tmp), "bench-long-key").start()
        try:
            with httpx.Client(base_url=stack.rasa_url, timeout=120) as client:
                window: list[float] = []
                for turn in range(1, args.turns + 1):
                    text = "hi" if turn == 1 else SCRIPT[(turn - 2) % len(SCRIPT)]
                    started = time.perf_counter()
                    reply = client.post("/webhooks/rest/webhook", json={"sender": SENDER, "message": text})
                    window.append((time.perf_counter() - started) * 1000)
                    reply.raise_for_status()
                    if not reply.json():
                        raise SystemExit(f"turn {turn}: no reply to {text!r}")
                    if turn % args.every == 0 or turn == args.turns or time.monotonic() > deadline:
                        tracker = client.get(
                            f"/conversations/{CONVERSATION}/tracker", params={"token": stack.rasa_token}
                        )
                        events = tracker.json()
                        all_events = events.get("events", [])
                        starts = [i for i, e in enumerate(all_events) if e.get("event") == "session_started"]
                        current = len(all_events) - (starts[-1] if starts else 0)
                        print(
                            f"| {turn} | {statistics.mean(window):.0f} | {max(window):.0f} | {len(all_events)} | "
                            f"{current} |",
                            flush=True,
                        )
                        window = []
                        if time.monotonic() > deadline:
                            print(f"\nstopped at the time limit ({args.time_limit:.0f} s)")
                            break
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
