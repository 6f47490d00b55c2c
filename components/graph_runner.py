"""Rasa's graph runs without dask's scheduler: the same nodes, called in dependency order in this thread.

`run` replaces `DaskGraphRunner.run` (dask's synchronous scheduler, `dask.get`) and keeps its contract: the minimal
schema for the targets, input placeholders as `(name, value)` pairs, each node called with its parents' outputs in
the order of its `needs`, an unknown name passed as the bare string (as dask does, and `GraphNode` then warns), a
`RuntimeError` of the run turned into `GraphRunError`, and the targets' `(node name, output)` pairs returned as a
dict. The plan (a topological order of the minimal schema) is computed once per (targets, input names).
tests/test_graph_runner.py runs the shipped model's parse and prediction graphs both ways and compares the results.
Installed by components/rasa_patches.py. Why: docs/architecture.md#rasa-server-hot-path.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner

Plan = list[tuple[str, Any, tuple[str, ...]]]


def _plan(runner: DaskGraphRunner, targets: list[str], inputs: tuple[str, ...]) -> Plan:
    schema = runner._graph_schema.minimal_graph_schema(targets)
    for name in inputs:
        if name in schema.nodes:
            raise GraphRunError(
                f"Input value '{name}' clashes with a node name. Make sure that none of the input names passed to "
                f"the `run` method are the same as node names in the graph schema."
            )
    order: Plan = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str) -> None:
        if name not in schema.nodes or state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise GraphRunError(f"The graph has a cycle through '{name}'.")
        state[name] = 1
        needs = tuple(schema.nodes[name].needs.values())
        for parent in needs:
            visit(parent)
        state[name] = 2
        order.append((name, runner._instantiated_nodes[name], needs))

    for name in schema.nodes:
        visit(name)
    return order


def run(self: DaskGraphRunner, inputs: dict[str, Any] | None = None, targets: list[str] | None = None) -> dict:
    run_targets = targets if targets else self._graph_schema.target_names
    inputs = inputs or {}
    key = (tuple(run_targets), tuple(inputs))
    plans: dict[tuple, Plan] = self.__dict__.setdefault("_shopcare_plans", {})
    plan = plans.get(key)
    if plan is None:
        plan = plans[key] = _plan(self, run_targets, tuple(inputs))
    values: dict[str, Any] = {name: (name, value) for name, value in inputs.items()}
    try:
        for name, node, needs in plan:
            values[name] = node(*[values.get(parent, parent) for parent in needs])
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e
    return dict(values[target] for target in run_targets)
