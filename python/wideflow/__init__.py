"""wideflow: very wide shallow and deep networks trained by fused C++ gradient descent, measured against
the limits theory predicts (splines, kernel interpolants, closed-form linear dynamics, conservation laws).

    import wideflow as wf
    net = wf.ShallowReLU.init(10_000, scheme="gaussian", inner_scale=0.1)
    run = wf.train(net, x, y, lr=..., steps=...)
"""

from __future__ import annotations

from . import schedules
from ._core import openmp_enabled, threads_available
from .deep import DeepNet
from .errors import DivergenceWarning, ScheduleError
from .factorization import Factorization, OneLayer, train_batch
from .recording import Run
from .shallow import ShallowReLU
from .training import train

__version__ = "0.1.0"


def __getattr__(name):  # the sweep system (wf.Sweep, wf.open_store) loads on first use: import stays fast
    if name in ("Sweep", "open_store"):
        from . import sweeps

        return getattr(sweeps, name)
    raise AttributeError(f"module 'wideflow' has no attribute {name!r}")


__all__ = ["ShallowReLU", "DeepNet", "Factorization", "OneLayer", "train_batch", "Run", "train", "Sweep",
           "open_store", "schedules", "threads_available", "openmp_enabled", "DivergenceWarning", "ScheduleError",
           "__version__"]
