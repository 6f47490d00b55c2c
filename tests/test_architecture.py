"""The package boundaries of docs/architecture.md, read from the source (AST) without importing anything.

- components/ (the Rasa server) and actions/ (the action server) import nothing from crm_backend (the CRM);
- shopcare_core/ (shared by all three processes) imports none of the project's other packages;
- no import cycle among the modules of components/, actions/, channels/, crm_backend/ and shopcare_core/;
- the CRM imports neither rasa nor rasa_sdk.

Every import counts, also one inside a function. ``from a.b import c`` is an edge to the module ``a.b.c`` when there is
one, else to ``a.b`` (a name its ``__init__`` defines): a package's ``__init__`` may import its own submodules, and a
submodule that needs a name from its package's ``__init__`` closes a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("components", "actions", "channels", "crm_backend", "shopcare_core")
# which of the project's packages each package may import (besides itself)
ALLOWED = {
    "shopcare_core": set(),
    "components": {"shopcare_core", "channels"},
    "actions": {"shopcare_core"},
    "channels": {"shopcare_core"},
    "crm_backend": {"shopcare_core"},
}


def module_files() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = module_files()


def _known(name: str) -> str | None:
    """The longest prefix of a dotted name that is one of the project's modules."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in MODULES:
            return ".".join(parts)
        parts.pop()
    return None


def imported(module: str) -> Iterator[tuple[int, str]]:
    """(line, project module) for every import statement of the module."""
    path = MODULES[module]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if target := _known(alias.name):
                    yield node.lineno, target
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                name = f"{base}.{alias.name}"
                if target := (name if name in MODULES else _known(base)):
                    yield node.lineno, target


GRAPH = {module: {target for _, target in imported(module)} - {module} for module in MODULES}


def test_every_package_is_scanned() -> None:
    assert {m.split(".")[0] for m in MODULES} == set(PACKAGES)
    assert "shopcare_core.escalation.decision" in MODULES and "actions.escalation" in MODULES


def test_packages_import_only_what_they_may() -> None:
    wrong = [
        f"{MODULES[module].relative_to(ROOT)}:{line} imports {target}"
        for module in MODULES
        for line, target in imported(module)
        if (here := module.split(".")[0]) != (there := target.split(".")[0]) and there not in ALLOWED[here]
    ]
    assert wrong == []


def test_no_import_cycle() -> None:
    """Tarjan's strongly connected components: every component of more than one module is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(GRAPH[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert cycles == []


def test_the_checker_sees_a_cycle_and_a_crossing() -> None:
    """The scan is not vacuous: an edge back from a module it imports would be reported."""
    assert "crm_backend.services.money" in GRAPH["crm_backend.services.refunds"]
    assert "shopcare_core.escalation.decision" in GRAPH["components.escalation_policy"]
    assert any(t.startswith("shopcare_core.") for t in GRAPH["crm_backend.api.routes.risk"])


def test_the_crm_loads_no_rasa() -> None:
    """The CRM process imports neither Rasa nor rasa-sdk (directly; shopcare_core only in logmask's rasa launcher)."""

    def third_party(path: Path) -> Iterator[tuple[int, str]]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                yield from ((node.lineno, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                yield node.lineno, node.module

    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for module, path in MODULES.items()
        if module.startswith("crm_backend")
        for line, name in third_party(path)
        if name.split(".")[0] in {"rasa", "rasa_sdk"}
    ]
    assert wrong == []
