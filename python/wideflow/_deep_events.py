"""The event-aware gradient flow of a ReLU / leaky-ReLU `DeepNet` (method="flow", events=True): the engine
over the C++ run of cpp/include/wideflow/deep_event_flow.hpp.

The field -dL/dtheta is smooth inside an activation region and kinks where a hidden pre-activation
Z_h[j, u] = (A_{h-1} W_h^T + b_h)[j, u] changes sign. The run integrates the field with the activation
pattern frozen (a polynomial field), finds the first sign change on each step's continuous extension, ends
the step there and flips the pattern entry when the crossing is transversal: with s = +1 for an entry that
was on, s dZ/dt < 0 under the old pattern and <= 0 under the new one. When the new side's field pushes the
pre-activation back (s dZ+/dt > 0), both sides push it to 0: Filippov sliding. The entry is held on
Z = 0 and its pattern value becomes the equivalent control mu in [slope, 1] (the field with P = mu is the
convex combination (1 - lambda) F_off + lambda F_on of the two one-sided fields); the controls of all
sliding entries, coupled through the later layers, solve dZ_e/dt = 0 together at every field evaluation,
and an entry leaves when its control leaves [slope, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import _core
from ._events import ZENO_EVENTS, ZENO_WINDOW, EventFlowEngine
from .base import by_dtype


class DeepEventFlow(EventFlowEngine):
    """Event-aware flow of a ReLU / leaky-ReLU DeepNet; `metrics_fn(net)` gives the per-record diagnostics
    asked for (empty: none)."""

    def __init__(
        self,
        net,
        X,
        Y,
        offset: float,
        tableau: str,
        metrics_fn: Callable[[Any], dict] | None = None,
        zeno_events: int = ZENO_EVENTS,
        zeno_window: float = ZENO_WINDOW,
    ):
        self.net = net
        self.metrics_fn = metrics_fn
        self.has_metrics = metrics_fn is not None
        cls = by_dtype(net.dtype, _core.deep.EventFlow64, _core.deep.EventFlow32)
        self.flow = cls(*net._args(), X, Y, offset, tableau, int(zeno_events), float(zeno_window))
        self.set_records(np.zeros(1))

    def sync(self):
        self.flow.write_back(self.net.weights, self.net.biases or [])

    def snapshot(self):
        return self.net.state()

    def metrics(self):
        return self.metrics_fn(self.net) if self.metrics_fn is not None else {}

    def sliding(self) -> list[dict]:
        """The entries sliding now: hidden layer (1-based), sample, unit and lambda in [0, 1], the weight of
        the on side's field in the sliding field."""
        return [
            {"layer": int(h), "sample": int(j), "unit": int(u), "lambda": float(lam)}
            for h, j, u, lam in self.flow.sliding()
        ]

    def counters(self) -> dict:
        f = self.flow
        sliding = self.sliding()
        return {
            "accepted": int(f.accepted),
            "rejected": int(f.rejected),
            "gradient_evals": int(f.evals),
            "forward_evals": int(f.forward_evals),
            "events": int(f.events),
            "crossings": int(f.crossings),
            "sliding_entries": int(f.sliding_entries),
            "sliding_exits": int(f.sliding_exits),
            "sliding_at_end": len(sliding),
            "sliding": sliding,
            "cut_steps": int(f.cut_steps),
            "step_size": float(f.h),
        }
