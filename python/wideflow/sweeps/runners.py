"""Runners: one function per model family that turns a run's config into its result.

A runner is registered with the config fields it accepts (name -> `fields.Field`, each with a default):

    @register("deep", fields={"dataset": Dataset("..."), "depth": Int(3, minimum=1), ...},
              summary=("final_loss", ...))
    def run_deep(config, threads, keep_params):
        ...                                   # build the model, wf.train(...), measure
        return Outcome(run, metrics, trajectory, params)

`execute(model, config)` is the pure function that executors call (in-process, in a process pool or on a
dask worker): it times the runner and turns what it returns, or the exception it raises, into a
`RunResult`. A sweep spec is rejected when its model has no registered runner.

The families, one module each (a new family adds its module and one import line at the end of this file):
`runner_shallow` (shallow_relu), `runner_deep` (deep), `runner_linear` (factorization, one_layer) and
`runner_outer_limit` (outer_limit: the exact c-only limit of a shallow net at width m, no training) and
`runner_relu_output` (relu_output: relu(X A) / relu(X U V^T) by NumPy GD, Tarmoun et al.'s nonlinear case).
"""

from __future__ import annotations

import socket
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..errors import DivergenceWarning, InterruptedWarning
from .fields import Bool, Choice, Field, Float

STATUSES = ("done", "diverged", "failed")


@dataclass
class Outcome:
    """What a runner returns; `execute` adds timing and turns it into a RunResult."""

    status: str  # "done", "diverged" or "interrupted"
    metrics: dict
    trajectory: dict
    params: dict | None = None
    error: str | None = None


@dataclass
class RunResult:
    """A finished run as it travels from a worker to the client that stores it."""

    status: str  # "done", "diverged", "failed" or "interrupted" (never stored)
    metrics: dict = field(default_factory=dict)
    trajectory: dict = field(default_factory=dict)
    params: dict | None = None
    error: str | None = None
    traceback: str | None = None
    started_at: float = 0.0
    finished_at: float = 0.0
    wall_time: float = 0.0
    host: str = ""
    provenance: dict = field(default_factory=dict)  # see `provenance.run_provenance`


@dataclass(frozen=True)
class Runner:
    model: str
    fields: Mapping[str, Field]
    func: Callable
    check: Callable | None = None
    summary: tuple = ()
    doc: str = ""
    ident: Callable | None = None

    def identity(self, config: dict) -> dict:
        """The part of `config` that decides the run (what the run id hashes)."""
        return self.ident(config) if self.ident is not None else config


RUNNERS: dict[str, Runner] = {}


def register(
    model: str,
    fields: Mapping[str, Field],
    *,
    check: Callable | None = None,
    summary: tuple = (),
    identity: Callable | None = None,
):
    """Decorator: register `func(config, threads, keep_params) -> Outcome` as the runner of `model`.

    fields: the config fields the model accepts, each with its type and default.
    check: optional `check(config) -> (field, message) | None` for rules across fields.
    summary: headline metric names (for reports).
    identity: optional `identity(config) -> dict`, the fields that decide the run (the run id hashes it;
        default: the whole config). `method_identity` is the one for runners with METHOD_FIELDS.
    """

    def deco(func):
        RUNNERS[model] = Runner(model, dict(fields), func, check, tuple(summary), func.__doc__ or "", identity)
        return func

    return deco


def unregister(model: str) -> None:
    RUNNERS.pop(model, None)


def get(model: str) -> Runner:
    try:
        return RUNNERS[model]
    except KeyError:
        raise ValueError(
            f"model: no runner is registered for {model!r}; available: {', '.join(sorted(RUNNERS)) or 'none'}"
        ) from None


def execute(model: str, config: dict, threads: int | None = None, keep_params: bool = True) -> RunResult:
    """Run one config (a pure function of its arguments). Exceptions become a "failed" result;
    KeyboardInterrupt propagates."""
    from .provenance import run_provenance

    started = time.time()
    tick = time.perf_counter()
    host = socket.gethostname()
    prov = run_provenance(threads)
    try:
        runner = get(model)
        # a diverged or interrupted run is data (its status says so), not a warning to the user; so are the
        # inf/NaN summary metrics of a diverged state (e.g. the distance of a net that blew up to its limit)
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            warnings.simplefilter("ignore", DivergenceWarning)
            warnings.simplefilter("ignore", InterruptedWarning)
            out = runner.func(dict(config), threads, keep_params)
    except Exception as exc:
        return RunResult(
            "failed",
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
            started_at=started,
            finished_at=time.time(),
            wall_time=time.perf_counter() - tick,
            host=host,
            provenance=prov,
        )
    return RunResult(
        out.status,
        metrics=out.metrics,
        trajectory=out.trajectory,
        params=out.params,
        error=out.error,
        started_at=started,
        finished_at=time.time(),
        wall_time=time.perf_counter() - tick,
        host=host,
        provenance=prov,
    )


# ------------------------------------------------------------------------------------------ shared fields
# Every family can be trained by gradient descent (lr, steps) or integrated by gradient flow (t_end, rtol,
# atol, tableau): `wf.train(model, *data, method=...)`.
METHOD_FIELDS = {
    "method": Choice("gd", "gd: gradient descent (lr, steps); flow: gradient flow up to t_end", options=("gd", "flow")),
    "t_end": Float(1.0, "flow time to integrate to (method = flow)"),
    "rtol": Float(1e-6, "relative tolerance of the adaptive Runge-Kutta pair (method = flow)"),
    "atol": Float(1e-9, "absolute tolerance (method = flow)"),
    "tableau": Choice("dopri5", "Runge-Kutta pair (method = flow)", options=("dopri5", "bs32")),
}
FLOW_ONLY = ("t_end", "rtol", "atol", "tableau", "events")
# The ReLU families (shallow_relu, deep) integrate their flow event-aware (kinks located, sliding); events =
# false is the plain pair. At its default the field is left out of the run id (older ids stay valid).
EVENT_FIELDS = {
    "events": Bool(True, "method = flow on ReLU nets: locate the kinks (false: the plain Runge-Kutta pair)"),
}
GD_ONLY = ("lr", "lr_scaling", "lr_units", "lr_power", "steps")


def method_identity(config: dict) -> dict:
    """The config without the fields its method ignores (a GD run's id leaves out method, t_end, rtol,
    atol, tableau and events, so it equals the id of the same run before those fields existed; a flow run's
    id leaves out lr, lr_scaling/lr_units, lr_power and steps, and events at its default), and with a data
    file's content hash in place of its path (`wideflow.sweeps.data`)."""
    from .data import identity

    drop: tuple[str, ...] = (("method",) + FLOW_ONLY) if config.get("method", "gd") == "gd" else GD_ONLY
    out = {k: v for k, v in config.items() if k not in drop}
    if out.get("events") is True:
        del out["events"]
    for k in ("dataset", "target"):
        if k in out:
            out[k] = identity(out[k])
    return out


def lr_schedule(eta: float, power: float, t0: float = 1.0):
    """Constant step `eta`, or eta / (1 + t/t0)^power for power > 0 (wf.schedules.inverse_power)."""
    from .. import schedules

    return schedules.inverse_power(eta, power, t0=t0) if power > 0 else schedules.constant(eta)


def train_config(model, data, config, threads, **options):
    """`wf.train` of `model` on `data` with the config's method fields (lr is the step given to wf.train)."""
    from ..training import train

    every = config.get("record_every", 0)
    common = dict(
        threads=threads,
        record=int(every) if every else "log",
        record_points=config["record_points"],
        progress=False,
        **options,
    )
    if config["method"] == "flow":
        return train(
            model,
            *data,
            method="flow",
            t_end=config["t_end"],
            rtol=config["rtol"],
            atol=config["atol"],
            tableau=config["tableau"],
            **({"events": config["events"]} if "events" in config else {}),
            **common,
        )
    return train(model, *data, lr=config["_lr"], steps=config["steps"], **common)


def trajectory_of(run) -> dict:
    """The stored trajectory of a Run: steps, t, loss and each recorded metric as metric_<name>."""
    out = {
        "steps": np.asarray(run.steps, dtype=np.int64),
        "t": np.asarray(run.t, dtype=np.float64),
        "loss": np.asarray(run.loss, dtype=np.float64),
    }
    for name, arr in run.metrics.items():
        out[f"metric_{name}"] = np.asarray(arr)
    return out


def outcome_of(run, metrics: dict, trajectory: dict, params) -> Outcome:
    """An Outcome with the run's status: "done", or "diverged" with the message, also for a flow that an
    event-aware integrator stopped before t_end ("zeno")."""
    if run.status == "zeno":
        return Outcome(
            "diverged",
            metrics,
            trajectory,
            params,
            error=f"the flow stopped at t = {float(run.t[-1]):.6g} ({run.info.get('error') or run.status}); "
            f"metrics are of that state",
        )
    if run.status == "diverged":
        return Outcome(
            "diverged",
            metrics,
            trajectory,
            params,
            error=f"diverged at {'step' if run.method == 'gd' else 'accepted step'} {run.diverged_at} "
            f"(non-finite loss or parameters); metrics are of the last finite state, step "
            f"{run.final_step}",
        )
    return Outcome("done", metrics, trajectory, params)


FLOW_COUNTERS = (
    "accepted",
    "rejected",
    "gradient_evals",
    "events",
    "sliding_entries",
    "sliding_exits",
    "sliding_at_end",
)


def run_metrics(run, lr_step: float) -> dict:
    """The summary metrics every runner stores; for a flow run also the integrator's counters that
    `run.info` holds (accepted / rejected steps, gradient evaluations and, for an event-aware flow, the
    events and sliding-mode entries / exits / neurons sliding at the end)."""
    out = {
        "final_loss": run.final_loss,
        "initial_loss": float(run.loss[0]),
        "final_step": run.final_step,
        "diverged_at": run.diverged_at,
        "flow_time": float(run.t[-1]),
        "lr_step": float(lr_step),
        "train_time": run.wall_time,
    }
    if run.method == "flow":
        for key in FLOW_COUNTERS:
            value = run.info.get(key)
            if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                out[key] = int(value)
    return out


def check_method(config):
    if config["method"] == "flow" and config.get("kernel") == "direct":
        return "kernel", 'method = "flow" evaluates gradients with the sorted kernel; use kernel = "auto"'
    return None


# ------------------------------------------------------------------------------------------ other families
# Each family module registers its runner when imported; a new family adds its module here (one line).
from . import runner_deep, runner_linear, runner_outer_limit, runner_relu_output, runner_shallow  # noqa: E402,F401
