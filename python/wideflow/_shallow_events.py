"""The exact gradient flow of a ShallowReLU (method="flow", events=True): the engine over the C++
event-aware integrator (cpp/include/wideflow/shallow_events.hpp, shallow_event_flow.hpp).

The field of f(x) = (1/alpha) sum_i c_i relu(a_i x + b_i) with L = 1/2 sum_j r_j^2 is smooth between
events, where z_ij = a_i x_j + b_i changes sign. With the active sets frozen, the neurons of one active set
(bin) move by one shared linear field, so the integrator steps the bins' 3 x 3 propagators (an ODE whose
size does not depend on m) and moves the neurons once per step. It finds each sign change on the step's
continuous extension and follows the neuron through it exactly inside the step, or cuts the step there
when its coupling to the other bins exceeds the tolerance. When both one-sided fields push z_ij to 0 the
neuron slides (Filippov): its knot stays on x_j and (a_i, b_i) moves with the convex combination
g- + lambda_i Delta_i of its two one-sided gradients for which dz_ij/dt = 0,

    lambda_i = -dz-_i / Delta dz_i,   Delta dz_i = -(s_in c_i / alpha) r_j (x_j^2 + 1),

until lambda_i leaves [0, 1]; lambda_i is the same for all neurons sliding on x_j from one side (a
sliding class with its own 2 x 2 propagator). Losses at the record times come from the continuous
extension (no step ends at a record time); snapshots still end a step at their times.
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._events import ZENO_EVENTS, ZENO_WINDOW, EventFlowEngine
from .base import by_dtype


def flow_arguments(net, x, y, mode: str):
    """(order, sorted x, sorted y, the leading arguments of a C++ shallow flow run): the parameters, 1/alpha,
    the data sorted by x, and the inner/outer gradient scales of `train` = "all" | "outer" | "inner"."""
    order = np.argsort(x, kind="stable")
    xs, ys = np.ascontiguousarray(x[order]), np.ascontiguousarray(y[order])
    scales = (0.0 if mode == "outer" else 1.0, 0.0 if mode == "inner" else 1.0)
    return order, xs, ys, (net.a, net.b, net.c, 1.0 / net.alpha, xs, ys, *scales)


class ShallowEventFlow(EventFlowEngine):
    """Exact gradient flow of a ShallowReLU: the C++ run owns the state [a; b; c] and the per-neuron
    modes (active set, sliding sample); it writes records at the requested times from the continuous
    extension of its steps."""

    def __init__(self, net, x, y, mode, threads, tableau, zeno_events=ZENO_EVENTS, zeno_window=ZENO_WINDOW):
        self.order, self.x, self.y, args = flow_arguments(net, x, y, mode)
        self.net = net
        cls = by_dtype(net.dtype, _core.shallow.EventFlow64, _core.shallow.EventFlow32)
        self.flow = cls(*args, tableau, threads, int(zeno_events), float(zeno_window))
        self.set_records(np.zeros(1))

    def sync(self):
        self.flow.write_back(self.net.a, self.net.b, self.net.c)

    def snapshot(self):
        return self.net.state()

    def sliding(self):
        """Per neuron: the index (into the caller's x) of the sample its knot slides on, or -1, and its
        lambda_i in (0, 1) (NaN for free neurons), at the current state."""
        js, lam = self.flow.sliding()
        js = np.asarray(js, dtype=np.int64)
        out = np.where(js >= 0, self.order[np.maximum(js, 0)], -1)
        return out, np.asarray(lam)

    def counters(self) -> dict:
        f = self.flow
        sample, lam = self.sliding()
        return {
            "accepted": int(f.accepted),
            "rejected": int(f.rejected),
            "gradient_evals": int(f.evals),
            "events": int(f.events),
            "crossings": int(f.crossings),
            "sliding_entries": int(f.sliding_entries),
            "sliding_exits": int(f.sliding_exits),
            "sliding_at_end": int(f.sliding_now),
            "sliding_sample": sample,
            "sliding_lambda": lam,
            "cut_steps": int(f.cut_steps),
            "inside_steps": int(f.inside_steps),
            "step_size": float(f.h),
        }
