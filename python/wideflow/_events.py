"""What the event-aware flow engines share (the exact ReLU flows of `ShallowReLU` and `DeepNet`): the
`events` and Zeno options, and a `FlowEngine` whose C++ run writes the losses at the record times from the
continuous extension of its steps (no step ends at a record time) and can stop a run as "zeno"."""

from __future__ import annotations

import numpy as np

from ._validate import flag, positive_float, positive_int
from .base import FlowEngine

ZENO_EVENTS = 1000  # event-cut steps ...
ZENO_WINDOW = 1e-12  # ... within this much relative flow time end a run as "zeno"


def events_option(options: dict) -> bool:
    """Pop and check the `events` option of a ReLU flow (default True)."""
    return flag("events", options.pop("events", True))


def zeno_options(options: dict) -> tuple[int, float]:
    """Pop and check `zeno_events` (int >= 1) and `zeno_window` (relative flow time > 0)."""
    ev = positive_int("zeno_events", options.pop("zeno_events", ZENO_EVENTS))
    win = positive_float("zeno_window", options.pop("zeno_window", ZENO_WINDOW))
    return ev, win


class EventFlowEngine(FlowEngine):
    """A flow engine over a C++ event-aware run (`self.flow`): records at the requested times from the
    run's continuous extension (`dense_records`), and the run's own failure status."""

    dense_records = True

    def set_records(self, times: np.ndarray) -> None:
        self.rec_t = np.ascontiguousarray(times, dtype=np.float64)
        self.rec_loss = np.full(self.rec_t.size, np.nan)
        self.rec_steps = np.zeros(self.rec_t.size, dtype=np.int64)
        self.rec_k = 0

    def records(self):
        """(times, losses, accepted steps) of the record times reached so far."""
        k = self.rec_k
        return self.rec_t[:k].copy(), self.rec_loss[:k].copy(), self.rec_steps[:k].copy()

    def integrate(self, t_stop, rtol, atol, max_steps, t_out, loss_out):
        steps, reached, failed, self.rec_k = self.flow.integrate(
            t_stop, rtol, atol, max_steps, self.rec_t, self.rec_k, self.rec_loss, self.rec_steps
        )
        if steps:
            t_out[steps - 1] = self.flow.t
            loss_out[steps - 1] = self.flow.loss()
        return int(steps), bool(reached), bool(failed)

    def failure_status(self) -> str:
        return "zeno" if self.flow.zeno else "diverged"
