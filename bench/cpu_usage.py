"""CPU time per process tree from /proc, for the benchmarks: where the CPU of a measured run went."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
SERVICES = {"postgres": "postgres", "redis": "redis-server", "rabbitmq": "beam.smp"}  # machine-wide, shared


def _proc_table() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command name, CPU seconds used so far) for every process on the machine."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
            table[int(entry.name)] = (int(rest[1]), name, (int(rest[11]) + int(rest[12])) / TICKS)
    return table


def cpu_snapshot(procs: dict[str, int]) -> dict[str, float]:
    """CPU seconds per named process tree (ours) and per service (machine-wide: other users show too)."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)

    def tree(pid: int) -> float:
        return table.get(pid, (0, "", 0.0))[2] + sum(tree(c) for c in children.get(pid, []))

    usage = {name: tree(pid) for name, pid in procs.items()}
    for label, command in SERVICES.items():
        usage[label] = sum(cpu for _, name, cpu in table.values() if name == command)
    return usage
