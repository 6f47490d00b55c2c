"""A background thread that runs ``run_once`` every ``interval`` seconds inside the CRM process.

Used by the event relay and the Slack notifier: a failing tick (database locked, source or webhook down) is logged and
retried with exponential back-off up to ``max_backoff`` seconds, so the worker outlives any single failure.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

logger = logging.getLogger(__name__)


class PeriodicWorker:
    thread_name = "crm-worker"
    max_backoff = 30.0  # seconds between attempts while ticks keep failing

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> Any:
        raise NotImplementedError

    def start(self, interval: float = 0.5) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(interval,), name=self.thread_name, daemon=True)
        self._thread.start()

    def _loop(self, interval: float) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self.run_once()
                failures = 0
            except Exception:  # noqa: BLE001 - a bad tick must not end the worker
                failures += 1
                logger.exception("%s: tick failed (%d in a row); retrying", self.thread_name, failures)
            self._stop.wait(min(interval * 2 ** min(failures, 6), self.max_backoff))

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
