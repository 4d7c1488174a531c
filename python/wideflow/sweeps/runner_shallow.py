"""The shallow_relu runner: f(x) = (1/alpha) sum_i c_i [a_i x + b_i]_+ trained by GD or its gradient flow.

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

Fields for long runs and for comparing with the kernel limits (Williams et al. 2019; each is left out
of the run id at its default, so the ids of runs that do not use them are unchanged):

    lr_rule ["fixed"]      fixed: the step is lr (see lr_scaling); tangent: eta = min(eta_lambda /
                           lambda_max(J J^T at init), lr_cap * alpha) (`wideflow.tangent.learning_rate`)
    eta_lambda [1.0], lr_cap [0.002] (0: no cap)
    checkpoint [0]         also measure the state after this many GD steps (at most steps; a run that stops
                           earlier is measured at its end): metrics checkpoint_<name>
    loss_tol [0.0]         > 0: GD in segments (ends: checkpoint or 10^4 steps, then x3 each, up to steps,
                           `wideflow.segmented.train_long`), stopping after the first whose loss <= loss_tol
    snapshots [0]          about this many log-spaced parameter snapshots in the trajectory (snap_steps,
                           snap_a, snap_b, snap_c: one row per snapshot)
    kernel_limits [false]  also the sup distances on the data hull to the rho-weighted spline and the
                           m = infinity kernel interpolant of the init family (dist_rho_sup, dist_kinf_sup),
                           to the exact c-only limit of this init (dist_conly_sup), to the kernel interpolants
                           of K_theta, K_c + K_theta and K_c (dist_ktheta_sup, dist_kntk_sup, dist_kc_sup), the
                           c-only limit's own distances (conly_kinf_sup, conly_ncs_sup), and dead_neurons_init,
                           lambda_max_init (of J J^T), delta0_median / delta0_max (|delta_i| at init),
                           max_abs_param, alpha
    curve_points [0]       the function on this many points of [min x - 0.3, max x + 0.3] in the trajectory
                           (curve_x, curve_end, curve_checkpoint, curve_conly)

A flow run (method = "flow") is the exact event-aware flow (events [true]; false: the plain Runge-Kutta
pair) and also stores the integrator's counters (`runners.FLOW_COUNTERS`); one that ends as "zeno" is stored
as "diverged", with the reason.
"""

from __future__ import annotations

import functools

import numpy as np

from .fields import Bool, Choice, ChoiceOrNumber, Dataset, Float, Int
from .runners import (
    EVENT_FIELDS,
    METHOD_FIELDS,
    Outcome,
    check_method,
    lr_schedule,
    method_identity,
    outcome_of,
    register,
    run_metrics,
    train_config,
    trajectory_of,
)

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
    **EVENT_FIELDS,
}

# Fields added for long runs and the kernel limits: at their default they are left out of the run id.
LONG_RUN_FIELDS = {
    "lr_rule": Choice(
        "fixed",
        "fixed: the step is lr (lr_scaling); tangent: min(eta_lambda / lambda_max(JJ^T at init), lr_cap * alpha)",
        options=("fixed", "tangent"),
    ),
    "eta_lambda": Float(1.0, "lr_rule = tangent: eta * lambda_max(J J^T at init)"),
    "lr_cap": Float(2e-3, "lr_rule = tangent: eta <= lr_cap * alpha (0: no cap)", positive=False),
    "checkpoint": Int(0, "also measure the state after this many GD steps (metrics checkpoint_*)", minimum=0),
    "loss_tol": Float(
        0.0, "GD in segments (checkpoint or 10^4 steps, then x3): stop once the loss <= loss_tol", positive=False
    ),
    "snapshots": Int(0, "about this many log-spaced parameter snapshots in the trajectory", minimum=0),
    "kernel_limits": Bool(False, "also measure against the kernel limits (rho-spline, K_inf, c-only limit, ...)"),
    "curve_points": Int(0, "store the function on this many points of the padded data range", minimum=0),
}
SHALLOW_FIELDS.update(LONG_RUN_FIELDS)
GD_ONLY_LONG = ("checkpoint", "loss_tol", "snapshots", "lr_rule", "eta_lambda", "lr_cap")

SHALLOW_SUMMARY = (
    "final_loss",
    "dist_ncs_sup",
    "dist_linear_sup",
    "dist_kernel_sup",
    "knot_mass_fraction",
    "invariant_drift",
    "dead_neurons",
)


def _check_shallow(config):
    if config["antisymmetric"] and config["width"] % 2:
        return "width", f"antisymmetric = true needs an even width, got {config['width']}"
    if config["method"] == "flow":
        for name in ("checkpoint", "loss_tol", "snapshots"):
            if config[name]:
                return name, f'{name} is a gradient-descent field (method = "gd"); a flow run goes to t_end'
    elif config["checkpoint"] or config["loss_tol"]:
        if config["lr_power"] > 0:
            return "lr_power", "checkpoint / loss_tol (segmented GD) take a constant step: lr_power = 0"
    if config["lr_rule"] == "tangent" and config["lr_power"] > 0:
        return "lr_power", 'lr_rule = "tangent" gives a constant step: lr_power = 0'
    return check_method(config)


def shallow_identity(config: dict) -> dict:
    """`method_identity`, without the long-run fields at their defaults (so older ids stay valid), without
    lr / lr_scaling when lr_rule = "tangent" sets the step and without eta_lambda / lr_cap when it does not."""
    out = method_identity(config)
    for name, fld in LONG_RUN_FIELDS.items():
        if name in out and out[name] == fld.default:
            del out[name]
    drop: tuple[str, ...]
    if config.get("method", "gd") == "gd":
        drop = ("lr", "lr_scaling") if config.get("lr_rule") == "tangent" else ("eta_lambda", "lr_cap")
    else:
        drop = GD_ONLY_LONG
    for name in drop:
        out.pop(name, None)
    return out


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
            e = etas[lo : lo + (1 << 14)]
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


# ------------------------------------------------------------------------------------------ the kernel limits
HULL_POINTS = 2001  # sup distances on [min x, max x] at this many uniform points (as `limits.distance`)
CURVE_PAD = 0.3


def reference_limits(x, y, L: float = 2.0) -> dict:
    """The limits a shallow fit is compared with (callables): ``ncs``, ``linear``, the rho-weighted splines
    ``rho_gaussian`` / ``rho_uniform_knots`` (free affine part), the exact m = infinity kernel interpolants
    ``kinf_gaussian`` (arc-cosine kernel K_c) / ``kinf_uniform_knots``, ``k_theta`` (step-feature kernel)
    and ``k_ntk`` (K_c + K_theta). Cached per data set and L."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    return _reference_limits(x.tobytes(), y.tobytes(), float(L))


@functools.lru_cache(maxsize=16)
def _reference_limits(xb: bytes, yb: bytes, L: float) -> dict:
    from .. import limits

    x, y = np.frombuffer(xb), np.frombuffer(yb)
    return {
        "ncs": limits.natural_cubic_spline(x, y),
        "linear": limits.linear_interpolant(x, y),
        "rho_gaussian": limits.rho_weighted_spline(x, y, limits.rho("gaussian")),
        "rho_uniform_knots": limits.rho_weighted_spline(x, y, limits.rho("uniform_knots", L=L)),
        "kinf_gaussian": limits.kernel_interpolant(x, y, limits.kernel_c),
        "kinf_uniform_knots": limits.kernel_interpolant(x, y, lambda s, t: limits.kernel_uniform_knots(s, t, L=L)),
        "k_theta": limits.kernel_interpolant(x, y, limits.kernel_theta),
        "k_ntk": limits.kernel_interpolant(x, y, limits.kernel_ntk),
    }


def hull_grid(x) -> np.ndarray:
    return np.linspace(float(np.min(x)), float(np.max(x)), HULL_POINTS)


def curve_grid(x, points: int) -> np.ndarray:
    return np.linspace(float(np.min(x)) - CURVE_PAD, float(np.max(x)) + CURVE_PAD, points)


def _sup(fv, g, t) -> float:
    return float(np.max(np.abs(fv - np.asarray(g(t), dtype=np.float64))))


def kernel_limit_metrics(net, x, refs: dict, scheme: str, conly) -> dict:
    """Sup distances on the data hull of `net` to the kernel limits (see the module docstring)."""
    t = hull_grid(x)
    fv = np.asarray(net(t), dtype=np.float64)
    fam = scheme if scheme in ("gaussian", "uniform_knots") else None
    nan = float("nan")
    return {
        "dist_rho_sup": _sup(fv, refs[f"rho_{fam}"], t) if fam else nan,
        "dist_kinf_sup": _sup(fv, refs[f"kinf_{fam}"], t) if fam else nan,
        "dist_conly_sup": _sup(fv, conly, t),
        "dist_ktheta_sup": _sup(fv, refs["k_theta"], t),
        "dist_kntk_sup": _sup(fv, refs["k_ntk"], t),
        "dist_kc_sup": _sup(fv, refs["kinf_gaussian"], t),
    }


def state_metrics(net, net0, x, y) -> dict:
    """Loss, distances to the NCS and the linear interpolant, knot mass, knot motion, delta drift, dead."""
    from .. import limits

    refs = reference_limits(x, y)
    t = hull_grid(x)
    fv = np.asarray(net(t), dtype=np.float64)
    r = np.asarray(net(x), dtype=np.float64) - y
    return {
        "loss": 0.5 * float(r @ r),
        "dist_ncs_sup": _sup(fv, refs["ncs"], t),
        "dist_linear_sup": _sup(fv, refs["linear"], t),
        "knot_mass_fraction": limits.knot_mass_fraction(net, x),
        "median_knot_displacement": limits.median_knot_displacement(net0, net),
        "invariant_drift": limits.invariant_drift(net0, net),
        "dead_neurons": limits.dead_neurons(net, x),
    }


def _init_metrics(net0, x, train: str) -> dict:
    from .. import limits
    from ..tangent import tangent_gram

    d0 = np.abs(net0.invariant())
    return {
        "dead_neurons_init": limits.dead_neurons(net0, x),
        "lambda_max_init": float(np.linalg.eigvalsh(tangent_gram(net0, x, train))[-1]),
        "delta0_median": float(np.median(d0)),
        "delta0_max": float(np.max(d0)),
        "alpha": float(net0.alpha),
    }


# ------------------------------------------------------------------------------------------ the runner
def _step(config, net, x) -> float:
    if config["lr_rule"] == "tangent":
        from ..tangent import learning_rate

        return learning_rate(net, x, config["train"], eta_lambda=config["eta_lambda"], lr_bar_cap=config["lr_cap"])
    return config["lr"] * (net.width if config["lr_scaling"] == "m" else 1.0)


def _snapshot_arrays(run) -> dict:
    if not run.snapshots:
        return {}
    return {
        "snap_steps": np.array([s for s, _ in run.snapshots], dtype=np.int64),
        **{f"snap_{k}": np.array([st[k] for _, st in run.snapshots], dtype=np.float64) for k in "abc"},
    }


@register("shallow_relu", SHALLOW_FIELDS, check=_check_shallow, summary=SHALLOW_SUMMARY, identity=shallow_identity)
def run_shallow_relu(config, threads, keep_params):
    """Shallow univariate ReLU net f(x) = (1/alpha) sum_i c_i [a_i x + b_i]_+ trained by full-batch GD
    (method = "gd") or by its gradient flow (method = "flow")."""
    from .. import limits
    from ..segmented import train_long
    from ..shallow import ShallowReLU

    x, y = shallow_data(config["dataset"])
    net = ShallowReLU.init(
        config["width"],
        scheme=config["scheme"],
        inner_scale=config["inner_scale"],
        outer_scale=config["outer_scale"],
        alpha=config["alpha"],
        seed=config["seed"],
        dtype=config["dtype"],
        L=config["L"],
        antisymmetric=config["antisymmetric"],
    )
    net0 = net.copy()
    a0, b0, c0 = (v.astype(np.float64) for v in (net.a, net.b, net.c))
    gd = config["method"] == "gd"
    eta = _step(config, net, x) if gd else float("nan")
    lr = lr_schedule(eta, config["lr_power"]) if gd else None
    want_limits = config["kernel_limits"]
    refs = reference_limits(x, y, config["L"]) if want_limits else None
    conly = limits.min_norm_outer_interpolant(net0, x, y) if want_limits else None
    curve_t = curve_grid(x, config["curve_points"]) if config["curve_points"] else None
    checkpoint: dict = {}

    def at_checkpoint(step):
        checkpoint.update(state_metrics(net, net0, x, y), step=step)
        if want_limits:
            checkpoint.update(kernel_limit_metrics(net, x, refs, config["scheme"], conly))
        if curve_t is not None:
            checkpoint["_curve"] = np.asarray(net(curve_t), dtype=np.float64)

    if gd and (config["checkpoint"] or config["loss_tol"]):
        run = train_long(
            net,
            x,
            y,
            lr=eta,
            steps=config["steps"],
            train_set=config["train"],
            first=config["checkpoint"] or None,
            tol=config["loss_tol"],
            record_points=config["record_points"],
            snapshots=config["snapshots"],
            threads=threads,
            kernel=config["kernel"],
            on_first=at_checkpoint if config["checkpoint"] else None,
        )
    else:
        run = train_config(
            net,
            (x, y),
            {**config, "_lr": lr},
            threads,
            train=config["train"],
            kernel=config["kernel"],
            snapshots=config["snapshots"] or None,
        )
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
    metrics = run_metrics(run, eta)
    metrics.update(
        {
            "dist_ncs_sup": d_ncs["sup"],
            "dist_ncs_l2": d_ncs["l2"],
            "dist_linear_sup": d_lin["sup"],
            "dist_linear_l2": d_lin["l2"],
            "dist_kernel_sup": d_ker["sup"],
            "dist_kernel_l2": d_ker["l2"],
            "knot_mass_fraction": limits.knot_mass_fraction(a1, b1, c1, x),
            "median_knot_displacement": limits.median_knot_displacement(a0, b0, a1, b1),
            "invariant_drift": limits.invariant_drift(a0, b0, c0, a1, b1, c1),
            "dead_neurons": limits.dead_neurons(a1, b1, x),
        }
    )
    trajectory = trajectory_of(run)
    if want_limits:
        metrics.update(kernel_limit_metrics(net, x, refs, config["scheme"], conly))
        t = hull_grid(x)
        cv = np.asarray(conly(t), dtype=np.float64)
        metrics["conly_kinf_sup"] = (
            _sup(cv, refs[f"kinf_{config['scheme']}"], t) if config["scheme"] != "box" else float("nan")
        )
        metrics["conly_ncs_sup"] = _sup(cv, refs["ncs"], t)
        metrics.update(_init_metrics(net0, x, config["train"]))
        metrics["max_abs_param"] = float(max(np.max(np.abs(a1)), np.max(np.abs(b1)), np.max(np.abs(c1))))
    if config["checkpoint"]:
        if not checkpoint:  # stopped (diverged) before the checkpoint: the checkpoint is the end
            at_checkpoint(run.final_step)
        curve = checkpoint.pop("_curve", None)
        metrics.update({f"checkpoint_{k}": v for k, v in checkpoint.items()})
        if curve is not None:
            trajectory["curve_checkpoint"] = curve
    if curve_t is not None:
        trajectory["curve_x"] = curve_t
        trajectory["curve_end"] = np.asarray(net(curve_t), dtype=np.float64)
        if conly is not None:
            trajectory["curve_conly"] = np.asarray(conly(curve_t), dtype=np.float64)
    trajectory.update(_snapshot_arrays(run))
    params = (
        {"a": net.a.copy(), "b": net.b.copy(), "c": net.c.copy(), "alpha": np.float64(net.alpha)}
        if keep_params
        else None
    )
    return outcome_of(run, metrics, trajectory, params)
