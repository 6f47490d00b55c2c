"""The end-to-end suite runs on the session's live stack (tests/live_stack.py, registered in tests/conftest.py)."""

from __future__ import annotations

from tests.live_stack import free_port, joined

__all__ = ["free_port", "joined"]
