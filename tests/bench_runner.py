"""Run a bench/ script on the shipped model and read the figures of its last line (`name=<x> name=<y>`)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from scripts.stack import base_env

ROOT = Path(__file__).resolve().parent.parent


def bench_figures(script: str, *args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, f"bench/{script}", *args],
        cwd=ROOT,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    print(done.stdout)
    last = done.stdout.strip().splitlines()[-1]
    figures = dict(re.findall(r"(\w+)=([\d.]+)", last))
    assert figures and " ".join(f"{k}={v}" for k, v in figures.items()) == last, last
    return {name: float(value) for name, value in figures.items()}
