"""Every function that reads a customer's whole text costs time linear in its length.

A message of 100,000 letters once took the PII masker 35 s (its e-mail pattern backtracked over the whole run from
every position), on the event loop that publishes Rasa's events: the channels' Rasa server answered nobody meanwhile.
Each function here gets runs of 100,000 characters built from the atoms regular expressions choke on; each call runs
in a child process with a hard time limit, so a quadratic pattern fails this test instead of hanging it.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable

import pytest

from actions.common import parse_address, parse_amount, parse_identity_proof
from components.message_guard import bounded
from shopcare_core.ml.sentiment import tokens
from shopcare_core.pii import Masker, mask_event

LENGTH = 100_000
# letters, digits, separators and the characters the project's patterns anchor on (@ . - _ # ( ) + * :)
ATOMS = ["x", "9", "1 ", "a.", "@", "a@", "1-", "A ", "1 a ", "f*", "token=", "x-api-key:", "(12)", "+1 ", "_a", "a-"]
LIMIT_S = 3.0  # linear work on 100,000 characters takes milliseconds; a quadratic pattern takes minutes


def _mask(text: str) -> object:
    return mask_event({"event": "user", "text": text, "parse_data": {"text": text, "entities": []}}, Masker())


FUNCTIONS: dict[str, Callable[[str], object]] = {
    "pii masking of a user event": _mask,
    "sentiment tokens": tokens,
    "identity proof": parse_identity_proof,
    "refund amount": lambda text: parse_amount(text, 10.0),
    "address": parse_address,
    "message guard": lambda text: bounded(text, 2000),
}


def _run_all(name: str, queue: multiprocessing.Queue) -> None:
    worst = (0.0, "")
    for atom in ATOMS:
        text = atom * (LENGTH // len(atom))
        start = time.perf_counter()
        FUNCTIONS[name](text)
        took = time.perf_counter() - start
        worst = max(worst, (took, atom))
    queue.put(worst)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_100k_character_message_costs_linear_time(name):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_run_all, args=(name, queue))
    child.start()
    child.join(LIMIT_S * len(ATOMS))
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail(f"{name}: {len(ATOMS)} texts of {LENGTH:,} characters took over {LIMIT_S * len(ATOMS):.0f} s")
    took, atom = queue.get(timeout=5)
    assert took < LIMIT_S, f"{name}: {took:.2f} s on {atom!r} x {LENGTH // len(atom):,}"


def test_the_bounded_email_pattern_still_masks_long_and_odd_addresses():
    masker = Masker()
    long_local = "a" * 80 + "@example.com"
    assert "example.com" not in masker.text(long_local)
    assert masker.text("write to first.last+shop@mail.example.co.uk today") == "write to [email] today"
    assert parse_identity_proof("it's Alice.Martin@Example.com") == {"email": "alice.martin@example.com"}
