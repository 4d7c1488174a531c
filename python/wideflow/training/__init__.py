"""Training: `wf.train` (full-batch gradient descent or gradient flow) for every model family.

One idea per module: ``gd`` (the chunked gradient-descent driver and its divergence safety), ``flow`` (the
gradient-flow driver), ``recording`` (which steps a run records, and the `Run` it returns), ``schedules``
(step sizes; public as `wf.schedules`), ``interrupt`` (Ctrl-C between chunks) and ``progress`` (the bar).
"""

from __future__ import annotations

from typing import Any

from .._validate import MAX_STEPS, choice, flag, positive_float, positive_int
from ..base import FlowEngine, GDEngine, Model
from .flow import run_flow
from .gd import run_gd
from .recording import Run
from .schedules import as_schedule

__all__ = ["train", "check_model"]

METHODS = ("gd", "flow")
TABLEAUS = ("dopri5", "bs32")
# Tolerances of the flow's error control. Below MIN_RTOL (100 ulp of float64, as SciPy's solve_ivp) a
# relative error cannot be measured; below MIN_ATOL the squared scaled errors of a zero parameter with an
# O(1) gradient would overflow, and the starting step size would be NaN.
MIN_RTOL = 100 * 2.220446049250313e-16
MIN_ATOL = 1e-100


def _tolerance(name: str, value: Any, minimum: float) -> float:
    v = positive_float(name, value)
    if v < minimum:
        raise ValueError(f"{name}: must be >= {minimum:.3g} (the error control cannot resolve less), got {value}")
    return v


def check_model(model: Any, method: str = "gd") -> None:
    """The contract check of `wf.train`: `model` is a `wideflow.base.Model` whose family has an engine for
    `method` ("gd" or "flow"); a TypeError names the type otherwise."""
    if not isinstance(model, Model):
        raise TypeError(
            f"model: expected a wideflow model (a wideflow.base.Model such as ShallowReLU, DeepNet, "
            f"Factorization or OneLayer), got {type(model).__name__}"
        )
    if not type(model).supports(method):
        what = "gradient flow (method='flow')" if method == "flow" else "gradient descent (method='gd')"
        raise TypeError(
            f"model: {type(model).__name__} has no {what}; it does not implement "
            f"{'_flow_engine' if method == 'flow' else '_gd_engine'} of wideflow.base.Model"
        )


def train(
    model: Any,
    *data: Any,
    lr: Any = None,
    steps: Any = None,
    method: str = "gd",
    record: Any = "log",
    record_points: int = 200,
    snapshots: Any = None,
    progress: Any = None,
    keep_finite: Any = True,
    t_end: Any = None,
    rtol: Any = 1e-6,
    atol: Any = 1e-9,
    tableau: str = "dopri5",
    **options: Any,
) -> Run:
    """Train `model` in place by full-batch gradient descent on L = 1/2 sum of squared residuals.

    train(net, x, y, lr=..., steps=..., train="all"|"outer"|"inner", kernel="auto", threads=None)
        ShallowReLU on samples (x_j, y_j); train="outer" trains c only, "inner" trains (a, b) only.

    lr: a positive number, a schedule from `wf.schedules` or a callable of the step index. If the schedule
        gives a value that is not positive and finite (or raises) at step k, training stops at step k, the
        model holds that state, and `wf.ScheduleError` is raised with the record so far as its `.run`.
    steps: at most 2**62 (recorded step indices are int64).
    record: "log" (about `record_points` log-spaced steps), "all", an interval k, or a list of steps;
        step 0 and the last step are always recorded.
    snapshots: None, "log", a count, or a list of steps at which to keep copies of the parameters.
    progress: None (a bar on a terminal), True or False.
    keep_finite: on divergence, end in the last finite state (the record says at which step the run broke).
        It costs no parameter copy for a ShallowReLU (before each chunk, bounds on the parameters and
        predictions prove how many steps cannot overflow; only a run already near overflow, or a long
        chunk of a net under 64 MiB, takes a copy) nor for a Factorization (its kernel keeps the last
        finite state); a DeepNet or OneLayer keeps one copy of its parameters, refreshed at most every
        5 s and never for more than ~5 % of the run time, and replays from it when the run diverges.
    metrics (DeepNet, Factorization, OneLayer): False (default) records only the loss (and the free
        diagnostics that follow from it, e.g. rel_error); True records every diagnostic of the model at
        every recorded step; a list of names records those. Each diagnostic asked for costs a chunk
        break per recorded step plus its own work (see the model's docs).

    Cost: the loss of every step comes from the fused kernel, so recording it is O(1); with default
    options the driver adds the model's start (one evaluation of the predictions, one check of the
    parameters) and a Python round trip per chunk of about 0.5 s.

    method="flow": gradient flow dz/dt = -grad L(z) up to flow time `t_end` by an embedded adaptive
    Runge-Kutta pair (`tableau`: "dopri5" = Dormand-Prince 5(4), "bs32" = Bogacki-Shampine 3(2)) whose
    stages call the fused C++ gradient kernels; local error control on the parameters with `rtol` >= 2.2e-14
    (100 ulp) and `atol` >= 1e-100 (smaller values cannot be resolved and are refused). Each C++ call is
    bounded (steps, rejected steps, about 0.5 s), so Ctrl-C is noticed within a second; a step size that
    underflows or is not finite ends the run as "diverged" with the reason in the DivergenceWarning.
    `record` is then "log" or a list of flow times; run.steps counts accepted RK steps and run.info has
    the numbers of gradient evaluations and rejected steps.

    Returns a `Run` (recorded steps, flow times, losses, snapshots, status).
    """
    choice("method", method, METHODS)
    check_model(model, method)
    record_points = positive_int("record_points", record_points, minimum=2)
    progress = flag("progress", progress, allow_none=True)
    keep_finite = flag("keep_finite", keep_finite)
    if method == "flow":
        if lr is not None or steps is not None:
            raise TypeError(f"{'lr' if lr is not None else 'steps'}: not used by method='flow' (give t_end)")
        if t_end is None:
            raise TypeError("t_end: the flow time to integrate to is required for method='flow'")
        t_end = positive_float("t_end", t_end)
        rtol = _tolerance("rtol", rtol, MIN_RTOL)
        atol = _tolerance("atol", atol, MIN_ATOL)
        choice("tableau", tableau, TABLEAUS)
        options["tableau"] = tableau
        engine = model._flow_engine(data, options)
        if not isinstance(engine, FlowEngine):
            raise TypeError(
                f"model: {type(model).__name__}._flow_engine returned a {type(engine).__name__}, not a "
                "wideflow.base.FlowEngine"
            )
        if options:
            raise TypeError(f"train: unexpected option(s) for {type(model).__name__}: {', '.join(sorted(options))}")
        return run_flow(
            engine,
            t_end,
            rtol=rtol,
            atol=atol,
            record=record,
            record_points=record_points,
            snapshots=snapshots,
            progress=progress,
            desc=f"flow {type(model).__name__}",
        )
    if t_end is not None:
        raise TypeError("t_end: only used by method='flow' (gradient descent takes lr and steps)")
    engine_factory = model._gd_engine
    if steps is None:
        raise TypeError("steps: the number of gradient-descent steps is required")
    steps = positive_int("steps", steps, minimum=0, maximum=MAX_STEPS)
    schedule = as_schedule(lr)
    engine = engine_factory(data, options)
    if not isinstance(engine, GDEngine):
        raise TypeError(
            f"model: {type(model).__name__}._gd_engine returned a {type(engine).__name__}, not a wideflow.base.GDEngine"
        )
    if options:
        raise TypeError(f"train: unexpected option(s) for {type(model).__name__}: {', '.join(sorted(options))}")
    return run_gd(
        engine,
        schedule,
        steps,
        record=record,
        record_points=record_points,
        snapshots=snapshots,
        progress=progress,
        keep_finite=keep_finite,
        desc=f"train {type(model).__name__}",
    )
