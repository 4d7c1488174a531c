"""`wf.train`: full-batch gradient descent (and, later, gradient flow) for every model family."""

from __future__ import annotations

from ._validate import choice, positive_int
from .driver import run_gd
from .recording import Run
from .schedules import as_schedule

METHODS = ("gd",)


def train(model, *data, lr=None, steps=None, method: str = "gd", record="log", record_points: int = 200,
          snapshots=None, progress=None, keep_finite: bool = True, **options) -> Run:
    """Train `model` in place by full-batch gradient descent on L = 1/2 sum of squared residuals.

    train(net, x, y, lr=..., steps=..., train="all"|"outer"|"inner", kernel="auto", threads=None)
        ShallowReLU on samples (x_j, y_j); train="outer" trains c only, "inner" trains (a, b) only.

    lr: a positive number, a schedule from `wf.schedules` or a callable of the step index.
    record: "log" (about `record_points` log-spaced steps), "all", an interval k, or a list of steps;
        step 0 and the last step are always recorded.
    snapshots: None, "log", a count, or a list of steps at which to keep copies of the parameters.
    progress: None (a bar on a terminal), True or False.
    keep_finite: on divergence, roll the model back to its last finite state (costs one parameter copy
        per chunk).
    Returns a `Run` (recorded steps, flow times, losses, snapshots, status).
    """
    choice("method", method, METHODS)
    engine_factory = getattr(model, "_gd_engine", None)
    if engine_factory is None:
        raise TypeError(f"model: expected a wideflow model (ShallowReLU, ...), got {type(model).__name__}")
    if steps is None:
        raise TypeError("steps: the number of gradient-descent steps is required")
    steps = positive_int("steps", steps, minimum=0)
    schedule = as_schedule(lr)
    record_points = positive_int("record_points", record_points, minimum=2)
    engine = engine_factory(data, options)
    if options:
        raise TypeError(f"train: unexpected option(s) for {type(model).__name__}: {', '.join(sorted(options))}")
    return run_gd(engine, schedule, steps, record=record, record_points=record_points, snapshots=snapshots,
                  progress=progress, keep_finite=keep_finite, desc=f"train {type(model).__name__}")
