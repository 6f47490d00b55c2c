"""Every change this project makes to Rasa's own code, in one list, installed by one call and guarded by version.

The project replaces six private attributes of Rasa 3.6.21. `PATCHES` lists each with what it replaces, why, and the
test that compares it with Rasa's own behaviour. `install()` is the one entry point: components/__init__.py calls it,
so the patches are in place in every process that loads the project's components (`rasa train`, `rasa run`, tests).

Private attributes change between Rasa releases without notice, so `install()` first checks the installed Rasa: any
version other than `RASA_VERSION` raises `RasaVersionError` naming both, before anything is replaced; so does a
patched attribute Rasa no longer has. Re-check each patch against the new Rasa's source (and run its test) before
changing `RASA_VERSION`.

`rasas_own(patch)` puts Rasa's original back for the length of a `with` block: how the tests and bench/hot_paths.py
compare the two.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import rasa.version
from rasa.core.actions.action import ActionSessionStart, RemoteAction
from rasa.core.processor import MessageProcessor
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event

from components import graph_runner, rasa_speedups, session_bound

RASA_VERSION = "3.6.21"  # the release whose source every patch below was written against and tested with


class RasaVersionError(RuntimeError):
    """The installed Rasa is not the release the patches were written for, or lacks an attribute they replace."""


@dataclass(frozen=True)
class Patch:
    owner: type
    attribute: str
    replacement: Any  # what goes into owner.__dict__ (a staticmethod stays one)
    reason: str
    test: str  # the test that compares the patched behaviour with Rasa's own

    @property
    def name(self) -> str:
        return f"{self.owner.__name__}.{self.attribute}"


PATCHES: tuple[Patch, ...] = (
    Patch(
        DaskGraphRunner,
        "run",
        graph_runner.run,
        "the model graph (parse, then each prediction) called in dependency order in this thread instead of through "
        "dask's scheduler (docs/architecture.md, Rasa server hot path)",
        "tests/test_graph_runner.py",
    ),
    Patch(
        RemoteAction,
        "_validate_action_result",
        rasa_speedups._validate_action_result,
        "each action-server answer checked against a validator compiled once (and each event against its own "
        "alternative of the schema) instead of jsonschema re-checking the schema itself on every call",
        "tests/test_rasa_speedups.py",
    ),
    Patch(
        Event,
        "resolve_by_type",
        staticmethod(rasa_speedups.resolve_event_type),
        "an event type name resolved once by Rasa's walk over every Event subclass, then remembered",
        "tests/test_rasa_speedups.py",
    ),
    Patch(
        Domain,
        "is_empty",
        rasa_speedups._domain_is_empty,
        "the empty domain's dictionary built once instead of on every message",
        "tests/test_rasa_speedups.py",
    ),
    Patch(
        MessageProcessor,
        "_has_session_expired",
        session_bound._has_session_expired,
        "a session over SHOPCARE_SESSION_MAX_EVENTS events also starts again (at a calm moment), so one long "
        "conversation cannot slow every other customer down; otherwise Rasa's own answer",
        "tests/test_session_bound.py",
    ),
    Patch(
        ActionSessionStart,
        "_slot_set_events_from_tracker",
        staticmethod(session_bound.latest_slot_events),
        "a new session carries one SlotSet per slot (the latest) instead of every SlotSet of every earlier session, "
        "and an identity only while its grant is live",
        "tests/test_session_bound.py",
    ),
)

_originals: dict[str, Any] = {}  # Patch.name -> what owner.__dict__ held before install()


def installed_rasa_version() -> str:
    return rasa.version.__version__


def check_rasa_version() -> None:
    """Raise `RasaVersionError` unless the installed Rasa is `RASA_VERSION` and has every attribute patched here."""
    installed = installed_rasa_version()
    if installed != RASA_VERSION:
        raise RasaVersionError(
            f"Rasa {installed} is installed, but components/rasa_patches.py replaces private attributes of Rasa "
            f"{RASA_VERSION} ({', '.join(p.name for p in PATCHES)}). Install rasa=={RASA_VERSION} "
            f"(requirements.lock), or re-check each patch against Rasa {installed} and change RASA_VERSION."
        )
    missing = [p.name for p in PATCHES if p.attribute not in p.owner.__dict__]
    if missing:
        raise RasaVersionError(f"Rasa {installed} has no {', '.join(missing)}: components/rasa_patches.py is stale.")


def install() -> None:
    """Check the version, then put every patch in place (once; a second call changes nothing)."""
    check_rasa_version()
    session_bound.configure()
    for patch in PATCHES:
        _originals.setdefault(patch.name, patch.owner.__dict__[patch.attribute])
        setattr(patch.owner, patch.attribute, patch.replacement)


def is_installed(patch: Patch) -> bool:
    return patch.owner.__dict__.get(patch.attribute) is patch.replacement


def find(owner: type, attribute: str) -> Patch:
    return next(p for p in PATCHES if p.owner is owner and p.attribute == attribute)


@contextmanager
def rasas_own(patch: Patch) -> Iterator[None]:
    """Rasa's original in place of `patch` inside the block, the patch again after it."""
    if patch.name not in _originals:
        raise RuntimeError(f"{patch.name} is not patched: call install() first")
    setattr(patch.owner, patch.attribute, _originals[patch.name])
    try:
        yield
    finally:
        setattr(patch.owner, patch.attribute, patch.replacement)
