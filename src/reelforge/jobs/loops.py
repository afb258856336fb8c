"""A step repeated on a thread of a process that runs workers, stopped with them: the
webhook sender (`webhooks.WebhookLoop`) and the periodic prune (`platform.retention`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class BackgroundLoop:
    """Calls `step` on a daemon thread until `stop`: again at once while it reports that it
    did something (True), else after `pause_s`. A failing step (a database outage, a bug) is
    logged and tried again after the pause: it never ends the loop."""

    def __init__(self, name: str, step: Callable[[], bool], pause_s: float) -> None:
        self.name = name
        self.step = step
        self.pause_s = pause_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float | None = None) -> bool:
        """Stop after the step in flight. True if stopped (also when it never started)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            busy = False
            try:
                busy = self.step()
            except Exception:  # logged, tried again after the pause
                log.exception("%s pass failed", self.name)
            if not busy:
                self._stopping.wait(self.pause_s)
