"""The widget's storefront stack and what a customer does in it, shared by the widget and the end-to-end handoff tests.

Fixtures (module-scoped stack: each test module gets its own CRM, action server and Rasa on loopback) are registered
by tests/browser/conftest.py; the helpers are imported by the test modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.stack import Stack, local_stack

ROOT = Path(__file__).resolve().parents[2]

from tests.support import crm_client  # noqa: E402

WIDGET = ROOT / "widget" / "dist" / "shopcare-widget.js"
STORAGE_KEY = "shopcare-chat:"
AGENT_PASSWORD = "correct-horse-battery"
AGENTS = (("sam", AGENT_PASSWORD, "agent", "Sam Patel"), ("sue", AGENT_PASSWORD, "supervisor", "Sue Grant"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not WIDGET.is_file():
        pytest.fail(f"{WIDGET.relative_to(ROOT)} is missing: run `make widget` (make test builds it)")
    running = local_stack(tmp_path_factory.mktemp("widget"), "widget-api-key", agents=AGENTS)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def crm_api(stack: Stack) -> Iterator[httpx.Client]:
    yield from crm_client(stack.crm_url, stack.api_key)


@pytest.fixture
def shop(stack: Stack, new_page: Callable[..., Any]) -> Any:
    """A customer on the storefront, the widget loaded (launcher visible), not yet opened."""
    page = new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{stack.crm_url}/shop")
    page.get_by_role("button", name="Chat with ShopCare").wait_for()
    page.errors = errors
    yield page
    assert errors == [], f"JavaScript errors on the page: {errors}"


# ----------------------------------------------------------------------------- helpers
def focused(page: Any) -> str:
    """The element focused inside the widget's shadow root, as 'tag:aria-label-or-id'."""
    return page.evaluate(
        """() => { const host = document.querySelector('[data-shopcare-chat]');
                   const el = host && host.shadowRoot.activeElement;
                   return el ? el.tagName.toLowerCase() + ':' + (el.getAttribute('aria-label') || el.id) : ''; }"""
    )


def say(page: Any, text: str) -> None:
    box = page.get_by_label("Your message")
    box.fill(text)
    box.press("Enter")


def bot_says(page: Any, fragment: str, sender: str = "bot") -> Any:
    """Wait for a message from the bot (or an agent) containing `fragment`; returns its element."""
    message = page.locator(f'[data-sender="{sender}"]').filter(has_text=fragment).last
    message.wait_for(timeout=20_000)
    return message


def session_of(page: Any) -> str:
    return page.evaluate(
        "(prefix) => JSON.parse(localStorage.getItem(Object.keys(localStorage).find(k => k.startsWith(prefix)))).sessionId",
        STORAGE_KEY,
    )


def transcript(page: Any) -> list[tuple[str, str]]:
    items = page.locator("[data-sender]")
    return [
        (items.nth(i).get_attribute("data-sender"), items.nth(i).locator(".text").inner_text())
        for i in range(items.count())
    ]
