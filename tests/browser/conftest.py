"""Headless Chromium through Playwright, the way a person uses the widget and the console.

Debian's Chromium (``apt-get install chromium chromium-driver``) is driven through ``executable_path``; Playwright's
own browser download is never used. Tests here skip with a clear message where Chromium or Playwright is absent.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module scope, not session: Playwright's sync API keeps an asyncio loop running while it is open, and the async
    tests that run later in the same session (tests/e2e, ...) cannot start their own loop until it is closed."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the venv pins playwright
        pytest.skip("playwright is not installed in the venv (make venv installs it)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install chromium chromium-driver")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """A factory of pages, each in its own browser context (its own cookies and storage, like another person)."""
    contexts: list[Any] = []

    def make(**context_options: Any) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Any) -> Any:
    return new_page()


def screenshot(page: Any, name: str) -> Path:
    """Save a PNG under var/screenshots (docs/ copies are refreshed by ``make screenshots``)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# The storefront stack and a customer on it (tests/browser/widget_support.py).
from tests.browser.widget_support import crm_api, shop, stack  # noqa: E402,F401
