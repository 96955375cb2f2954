"""Cooperative cancellation and progress reporting for long core work."""

import threading
from collections.abc import Callable

from .errors import Cancelled

# progress(fraction or None when unknown, message)
Progress = Callable[[float | None, str], None]


def no_progress(fraction: float | None, message: str) -> None:
    """The default progress callback: reports nowhere."""


class CancelToken:
    """Set from any thread; checked by the engine between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking at once on cancel; True if cancelled."""
        return self._event.wait(seconds)

    def check(self) -> None:
        """Raise Cancelled if cancel() was called."""
        if self._event.is_set():
            raise Cancelled()
