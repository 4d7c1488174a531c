"""Ctrl-C during a training run: the first SIGINT sets a flag that the drivers check between chunks (the run
ends after the chunk in progress, everything so far recorded); a second one behaves as before."""

from __future__ import annotations

import _signal
import signal
import threading
from types import FrameType
from typing import Any, Literal


class Interrupt:
    """Turns SIGINT into a flag while a run is in progress (main thread only)."""

    def __init__(self) -> None:
        self.hit = False
        self._old: Any = None

    def __enter__(self) -> Interrupt:
        if threading.current_thread() is threading.main_thread():
            try:
                self._old = _signal.signal(signal.SIGINT, self._handler)  # the C call: ~10x faster
            except ValueError:  # pragma: no cover - embedded interpreters
                self._old = None
        return self

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.hit:  # second Ctrl-C: behave as before (the drivers still write the state back)
            if callable(self._old):
                self._old(signum, frame)
            elif self._old != signal.SIG_IGN:
                raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc: object) -> Literal[False]:
        if self._old is not None:
            _signal.signal(signal.SIGINT, self._old)
        return False
