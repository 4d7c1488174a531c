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

The shallow_relu runner
-----------------------
Fields (defaults in brackets):

    dataset ["square10"]   built-in dataset name (square10, sine10, sine10_2, random_square<n>_s<seed>, ...)
    width [1000]           number of neurons m
    scheme ["gaussian"]    init: gaussian | uniform_knots | box          (ShallowReLU.init)
    inner_scale [1.0], outer_scale [1.0], L [2.0], antisymmetric [false], seed [0], dtype ["float64"]
    alpha ["m"]            "m", "sqrt" or a positive number
    lr [0.01]              step size, see lr_scaling
    lr_scaling ["m"]       "m": `lr` is the mean-field rate eta_bar = eta / m and the step given to
                           wf.train is eta = lr * width (the paper's eta = eta_bar * m for alpha = m, so one
                           `lr` means the same flow time at every width); "none": `lr` is the step itself.
    lr_power [0.0]         0: constant step; p > 0: eta_t = eta / (1 + t)^p (wf.schedules.inverse_power)
    steps [10000]          GD steps
    train ["all"]          all | outer (c only) | inner (a, b only)
    kernel ["auto"]        auto | direct | sorted (results differ only by rounding)
    record_points [200]    about this many log-spaced steps of the loss are recorded

Summary metrics: final_loss, initial_loss, final_step, diverged_at, lr_step (eta at step 0); on the data
hull [min x, max x]: dist_ncs_sup/_l2 (natural cubic spline), dist_linear_sup/_l2 (linear interpolant),
and, for train = "outer" with a gaussian or uniform_knots init, dist_kernel_sup/_l2: the distance to the
infinite-width net after the same GD steps (the kernel dynamics in closed form, started from f_0 = 0 --
use antisymmetric = true so that the finite net starts there too); it falls like m^(-1/2) (the
width-scaling study, `specs/width_scaling.toml`). Then knot_mass_fraction (tol 0.02, hull pad 0.1),
median_knot_displacement, invariant_drift, dead_neurons, train_time (seconds in wf.train).
Trajectory: steps, t (flow time), loss. Params (side file): the final a, b, c and alpha.
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
from .fields import Bool, Choice, ChoiceOrNumber, Dataset, Field, Float, Int

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


def register(model: str, fields: Mapping[str, Field], *, check: Callable | None = None,
             summary: tuple = (), identity: Callable | None = None):
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
        raise ValueError(f"model: no runner is registered for {model!r}; available: "
                         f"{', '.join(sorted(RUNNERS)) or 'none'}") from None


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
        return RunResult("failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(),
                         started_at=started, finished_at=time.time(), wall_time=time.perf_counter() - tick,
                         host=host, provenance=prov)
    return RunResult(out.status, metrics=out.metrics, trajectory=out.trajectory, params=out.params,
                     error=out.error, started_at=started, finished_at=time.time(),
                     wall_time=time.perf_counter() - tick, host=host, provenance=prov)


# ------------------------------------------------------------------------------------------ shared fields
# Every family can be trained by gradient descent (lr, steps) or integrated by gradient flow (t_end, rtol,
# atol, tableau): `wf.train(model, *data, method=...)`.
METHOD_FIELDS = {
    "method": Choice("gd", "gd: gradient descent (lr, steps); flow: gradient flow up to t_end",
                     options=("gd", "flow")),
    "t_end": Float(1.0, "flow time to integrate to (method = flow)"),
    "rtol": Float(1e-6, "relative tolerance of the adaptive Runge-Kutta pair (method = flow)"),
    "atol": Float(1e-9, "absolute tolerance (method = flow)"),
    "tableau": Choice("dopri5", "Runge-Kutta pair (method = flow)", options=("dopri5", "bs32")),
}
FLOW_ONLY = ("t_end", "rtol", "atol", "tableau")
GD_ONLY = ("lr", "lr_scaling", "lr_units", "lr_power", "steps")


def method_identity(config: dict) -> dict:
    """The config without the fields its method ignores (a GD run's id leaves out method, t_end, rtol,
    atol and tableau, so it equals the id of the same run before those fields existed; a flow run's id
    leaves out lr, lr_scaling/lr_units, lr_power and steps), and with a data file's content hash in place
    of its path (`wideflow.sweeps.data`)."""
    from .data import identity

    if config.get("method", "gd") == "gd":
        drop = ("method",) + FLOW_ONLY
    else:
        drop = GD_ONLY
    out = {k: v for k, v in config.items() if k not in drop}
    for k in ("dataset", "target"):
        if k in out:
            out[k] = identity(out[k])
    return out


def lr_schedule(eta: float, power: float):
    """Constant step `eta`, or eta / (1 + t)^power for power > 0 (wf.schedules.inverse_power)."""
    from .. import schedules

    return schedules.inverse_power(eta, power) if power > 0 else schedules.constant(eta)


def train_config(model, data, config, threads, **options):
    """`wf.train` of `model` on `data` with the config's method fields (lr is the step given to wf.train)."""
    from ..training import train

    common = dict(threads=threads, record="log", record_points=config["record_points"], progress=False,
                  **options)
    if config["method"] == "flow":
        return train(model, *data, method="flow", t_end=config["t_end"], rtol=config["rtol"],
                     atol=config["atol"], tableau=config["tableau"], **common)
    return train(model, *data, lr=config["_lr"], steps=config["steps"], **common)


def trajectory_of(run) -> dict:
    """The stored trajectory of a Run: steps, t, loss and each recorded metric as metric_<name>."""
    out = {"steps": np.asarray(run.steps, dtype=np.int64), "t": np.asarray(run.t, dtype=np.float64),
           "loss": np.asarray(run.loss, dtype=np.float64)}
    for name, arr in run.metrics.items():
        out[f"metric_{name}"] = np.asarray(arr)
    return out


def outcome_of(run, metrics: dict, trajectory: dict, params) -> Outcome:
    """An Outcome with the run's status ("done" or "diverged", with the message)."""
    if run.status == "diverged":
        return Outcome("diverged", metrics, trajectory, params,
                       error=f"diverged at {'step' if run.method == 'gd' else 'accepted step'} {run.diverged_at} "
                             f"(non-finite loss or parameters); metrics are of the last finite state, step "
                             f"{run.final_step}")
    return Outcome("done", metrics, trajectory, params)


def run_metrics(run, lr_step: float) -> dict:
    """The summary metrics every runner stores."""
    return {"final_loss": run.final_loss, "initial_loss": float(run.loss[0]), "final_step": run.final_step,
            "diverged_at": run.diverged_at, "flow_time": float(run.t[-1]), "lr_step": float(lr_step),
            "train_time": run.wall_time}


def check_method(config):
    if config["method"] == "flow" and config.get("kernel") == "direct":
        return "kernel", "method = \"flow\" evaluates gradients with the sorted kernel; use kernel = \"auto\""
    return None


# ------------------------------------------------------------------------------------------ shallow_relu
SHALLOW_FIELDS = {
    "dataset": Dataset("square10", "built-in dataset name"),
    "width": Int(1000, "number of neurons m", minimum=1),
    "scheme": Choice("gaussian", "initialization", options=("gaussian", "uniform_knots", "box")),
    "inner_scale": Float(1.0, "scale of (a, b) at init"),
    "outer_scale": Float(1.0, "scale of c at init"),
    "alpha": ChoiceOrNumber("m", "width normalization", options=("m", "sqrt")),
    "L": Float(2.0, "knot range [-L, L] of uniform_knots"),
    "antisymmetric": Bool(False, "m/2 neurons plus copies (a, b, -c): f_0 = 0"),
    "seed": Int(0, "init seed", minimum=0),
    "dtype": Choice("float64", "parameter dtype", options=("float64", "float32")),
    "lr": Float(0.01, "step size (see lr_scaling)"),
    "lr_scaling": Choice("m", "'m': the step is lr * width; 'none': the step is lr", options=("m", "none")),
    "lr_power": Float(0.0, "0: constant step; p > 0: step / (1 + t)^p", positive=False),
    "steps": Int(10_000, "GD steps", minimum=0),
    "train": Choice("all", "trained parameters", options=("all", "outer", "inner")),
    "kernel": Choice("auto", "GD kernel", options=("auto", "direct", "sorted")),
    "record_points": Int(200, "about this many log-spaced recorded steps", minimum=2),
    **METHOD_FIELDS,
}

SHALLOW_SUMMARY = ("final_loss", "dist_ncs_sup", "dist_linear_sup", "dist_kernel_sup", "knot_mass_fraction",
                   "invariant_drift", "dead_neurons")


def _check_shallow(config):
    if config["antisymmetric"] and config["width"] % 2:
        return "width", f"antisymmetric = true needs an even width, got {config['width']}"
    return check_method(config)


def _step_sizes(schedule, steps: int) -> np.ndarray:
    return np.ascontiguousarray(schedule.values(0, steps), dtype=np.float64) if steps else np.zeros(0)


def infinite_width_outer(config, x, y, alpha_m_ratio: float, etas: np.ndarray | None, t_end: float = 0.0):
    """The m = infinity limit of GD (or, with etas None, of gradient flow up to time t_end) on the outer
    weights, as a callable, or None when no closed-form kernel is known for the init (scheme "box").

    Training c is linear: with s = m/alpha^2 and K the infinite-width kernel of the init, the residual on
    the data follows r_{k+1} = (I - eta_k s K) r_k under GD and r' = -s K r under the flow, and
    f(t) = -s K(t, X) w(sK) r_0 with r_0 = -y (f_0 = 0), where w(lambda) = sum_k eta_k prod_{j<k}
    (1 - eta_j lambda) for GD and (1 - exp(-lambda t_end)) / lambda (-> t_end at lambda = 0) for the flow.
    """
    from .. import limits

    s_in = config["inner_scale"]
    if config["scheme"] == "gaussian":
        def kern(p, q):
            return limits.kernel_c(p, q, inner_scale=s_in)
    elif config["scheme"] == "uniform_knots":
        L = config["L"]

        def kern(p, q):
            return limits.kernel_uniform_knots(p, q, L, inner_scale=s_in)
    else:
        return None
    lam, Q = np.linalg.eigh(kern(x, x))
    lam = np.clip(lam, 0.0, None) * alpha_m_ratio
    rho = Q.T @ (-y)
    if etas is None:
        small = lam * t_end < 1e-12
        w = np.where(small, t_end, -np.expm1(-lam * t_end) / np.where(small, 1.0, lam))
    else:
        w = np.zeros_like(lam)  # sum_k eta_k prod_{j<k} (1 - eta_j s lam)
        prod = np.ones_like(lam)
        for lo in range(0, etas.size, 1 << 14):
            e = etas[lo: lo + (1 << 14)]
            factors = 1.0 - e[:, None] * lam[None, :]
            cum = np.cumprod(np.vstack([prod, factors]), axis=0)
            w += (e[:, None] * cum[:-1]).sum(axis=0)
            prod = cum[-1]
    coef = -alpha_m_ratio * (Q @ (w * rho))

    def f_inf(t):
        t = np.asarray(t, dtype=np.float64)
        return kern(t.ravel(), x) @ coef

    return f_inf


def shallow_data(dataset):
    """(x, y) of a shallow_relu config's dataset: a built-in name or a file source (x, y 1-d)."""
    from .. import datasets
    from .data import load

    if isinstance(dataset, str):
        return datasets.load(dataset)
    x, y = load(dataset, ("x", "y"))
    return x.ravel() if x.ndim == 2 and x.shape[1] == 1 else x, y.ravel() if y.ndim == 2 and y.shape[1] == 1 else y


@register("shallow_relu", SHALLOW_FIELDS, check=_check_shallow, summary=SHALLOW_SUMMARY, identity=method_identity)
def run_shallow_relu(config, threads, keep_params):
    """Shallow univariate ReLU net f(x) = (1/alpha) sum_i c_i [a_i x + b_i]_+ trained by full-batch GD
    (method = "gd") or by its gradient flow (method = "flow")."""
    from .. import limits
    from ..shallow import ShallowReLU

    x, y = shallow_data(config["dataset"])
    net = ShallowReLU.init(config["width"], scheme=config["scheme"], inner_scale=config["inner_scale"],
                           outer_scale=config["outer_scale"], alpha=config["alpha"], seed=config["seed"],
                           dtype=config["dtype"], L=config["L"], antisymmetric=config["antisymmetric"])
    a0, b0, c0 = (v.astype(np.float64) for v in (net.a, net.b, net.c))
    eta = config["lr"] * (net.width if config["lr_scaling"] == "m" else 1.0)
    lr = lr_schedule(eta, config["lr_power"])
    run = train_config(net, (x, y), {**config, "_lr": lr}, threads, train=config["train"], kernel=config["kernel"])
    if run.status == "interrupted":
        return Outcome("interrupted", {}, {})
    lo, hi = float(np.min(x)), float(np.max(x))
    ncs = limits.natural_cubic_spline(x, y)
    lin = limits.linear_interpolant(x, y)
    d_ncs = limits.distance(net, ncs, lo, hi)
    d_lin = limits.distance(net, lin, lo, hi)
    d_ker = {"sup": float("nan"), "l2": float("nan")}
    if config["train"] == "outer":
        ratio = net.width / net.alpha**2
        if config["method"] == "flow":
            f_inf = infinite_width_outer(config, x, y, ratio, None, float(run.t[-1]))
        else:
            f_inf = infinite_width_outer(config, x, y, ratio, _step_sizes(lr, run.final_step))
        if f_inf is not None:
            d_ker = limits.distance(net, f_inf, lo, hi)
    a1, b1, c1 = (v.astype(np.float64) for v in (net.a, net.b, net.c))
    metrics = run_metrics(run, eta if config["method"] == "gd" else float("nan"))
    metrics.update({
        "dist_ncs_sup": d_ncs["sup"], "dist_ncs_l2": d_ncs["l2"],
        "dist_linear_sup": d_lin["sup"], "dist_linear_l2": d_lin["l2"],
        "dist_kernel_sup": d_ker["sup"], "dist_kernel_l2": d_ker["l2"],
        "knot_mass_fraction": limits.knot_mass_fraction(a1, b1, c1, x),
        "median_knot_displacement": limits.median_knot_displacement(a0, b0, a1, b1),
        "invariant_drift": limits.invariant_drift(a0, b0, c0, a1, b1, c1),
        "dead_neurons": limits.dead_neurons(a1, b1, x),
    })
    params = ({"a": net.a.copy(), "b": net.b.copy(), "c": net.c.copy(), "alpha": np.float64(net.alpha)}
              if keep_params else None)
    return outcome_of(run, metrics, trajectory_of(run), params)


# ------------------------------------------------------------------------------------------ other families
# Each family module registers its runner when imported; a new family adds its module here (one line).
from . import runner_deep, runner_linear  # noqa: E402,F401
