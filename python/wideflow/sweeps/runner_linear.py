"""The `factorization` and `one_layer` runners: the two-layer linear model X = U V^T (Tarmoun et al.
2021, Du et al. 2018) and its one-layer baseline, trained on 1/2 ||Y - X||_F^2 by GD or gradient flow.

Fields of `factorization` (defaults in brackets):

    m [5], n [10], k [50]    Y is m x n, U is m x k, V is n x k
    init ["gaussian"]        gaussian: U, V entries N(0, init_scale^2) [init_scale 0.1] from `seed` [0]
                             (`wf.Factorization.init`); balanced: the balanced factors (U^T U = V^T V) of
                             that Gaussian start's product U0 V0^T (`linear_theory.balanced_init`), for which
                             the gradient flow has a closed form
    target ["gaussian"]      gaussian: Y entries N(0, 1) from `target_seed` [0] (Tarmoun et al.'s target);
                             low_rank: rank `rank` [3] with sigma_1 = 1 (`linear_theory.low_rank_target`,
                             Du et al.'s); or a file { path = "Y.npy" } (an m x n matrix, or array Y of a .npz)
    dtype ["float64"]; lr [1e-3]; lr_power [0.0]; steps [10000]; record_points [200];
    method / t_end / rtol / atol / tableau

Summary metrics: final_loss, initial_loss, final_step, diverged_at, flow_time, lr_step, train_time;
rel_error = ||Y - U V^T||_F / ||Y||_F; sv_1 .. sv_r, the singular values of U V^T at the end
(r = min(m, n, 10)); the imbalance Q = U^T U - V^T V: q_norm_init, q_norm (Frobenius) and q_drift =
||Q(end) - Q(0)||_F (zero under the flow, O(lr^2) per GD step); q_eig_min, q_eig_max (its spectrum's
extremes at the end); and for init = balanced, dist_closed_form = ||X(end) - X_flow(t)||_F / ||Y||_F, the
distance to the exact gradient flow at the run's flow time t (`linear_theory.riccati_solution`).
Trajectory: steps, t, loss, metric_rel_error, metric_singular_values and metric_q_norm at each record point.

`one_layer` takes m, n, target, target_seed, rank, dtype, lr, lr_power, steps, record_points and the
method fields; it starts from X0 = 0 (`wf.OneLayer.zeros`) and stores rel_error and sv_* the same way.

Fields added for the Tarmoun et al. study (left out of the run id at their defaults): record_every [0]
(GD: record every k-th step), hit_levels [[]] (metrics t_hit_i: the first recorded t with rel_error below
each level), trajectory_points [0] (store only about this many log-spaced records), record_metrics [true]
(false: record only the loss and rel_error), lr_t0 [1.0] (the schedule lr / (1 + t / lr_t0)^lr_power), u_scale /
v_scale [1.0] (init = gaussian: U0, V0 multiplied by them); target = "scalar" with target_scale [1.0] (Y = [[target_scale]], m = n = 1; for low_rank, target_scale is sigma_1);
init = "mode" (m = n = k = 1: u0 v0 = mode_x0 [1e-4], u0^2 - v0^2 = mode_lambda [0.0]), "spectral"
(`linear_theory.spectral_init` with u_i(0), v_i(0) spaced linearly between the two values of spectral_u
[0.05, 0.6] and spectral_v [0.4, 0.02]), "balanced_random" (balanced factors of X0 = init_scale N(0, 1) with a
Haar-random R, both from seed) and "lambda_balanced" (Q0 = balance_lambda [1.5] I, V0 = init_scale N(0, 1),
k <= m). For every init with a closed-form flow (balanced, balanced_random, lambda_balanced, spectral, mode)
a GD run with record_every also stores, at every k-th step (at most 2000 points: then a multiple of k), cf_t, cf_dist = ||X(t) - X_flow(t)||_F and
cf_singular_values (of X_flow(t)), and the metric dist_closed_form_max. Every factorization run stores
q_eig_min_init, q_eig_max_init, q_norm2_init (the spectrum of Q at init) and records q_drift.
`one_layer` also takes start = "product" [zeros]: X0 = U0 V0^T of the factorization init (k, init_scale, seed).
"""

from __future__ import annotations

import numpy as np

from .fields import Bool, Choice, DataSource, Float, FloatList, Int
from .runners import (
    METHOD_FIELDS,
    Outcome,
    lr_schedule,
    method_identity,
    outcome_of,
    register,
    run_metrics,
    train_config,
    trajectory_of,
)

TARGET_FIELDS = {
    "m": Int(5, "rows of Y", minimum=1),
    "n": Int(10, "columns of Y", minimum=1),
    "target": DataSource(
        "gaussian",
        "gaussian, low_rank, scalar or a file { path = ... }",
        names=("gaussian", "low_rank", "scalar"),
        keys=("Y",),
    ),
    "target_seed": Int(0, "seed of the target", minimum=0),
    "rank": Int(3, "rank of a low_rank target", minimum=1),
    "dtype": Choice("float64", "parameter dtype", options=("float64", "float32")),
    "lr": Float(1e-3, "step size"),
    "lr_power": Float(0.0, "0: constant step; p > 0: step / (1 + t)^p", positive=False),
    "steps": Int(10_000, "GD steps", minimum=0),
    "record_points": Int(200, "about this many log-spaced recorded steps", minimum=2),
    **METHOD_FIELDS,
}
# Fields added for the Tarmoun et al. study; at their defaults they are left out of the run id.
TARGET_EXTRA = {
    "record_every": Int(0, "GD: record every k-th step (0: about record_points log-spaced steps)", minimum=0),
    "target_scale": Float(1.0, "target = scalar: Y = [[target_scale]] (m = n = 1); low_rank: sigma_1 of Y"),
    "lr_t0": Float(1.0, "lr_power > 0: the step is lr / (1 + t / lr_t0)^lr_power"),
    "hit_levels": FloatList([], "metrics t_hit_1, t_hit_2, ...: the first recorded t with rel_error < each level"),
    "trajectory_points": Int(0, "store about this many log-spaced of the recorded points (0: all)", minimum=0),
    "record_metrics": Bool(
        True,
        "record the singular values and (two-layer) the imbalance at each record point "
        "(false: only the loss and rel_error, no chunk break per record)",
    ),
}
TARGET_FIELDS.update(TARGET_EXTRA)

FACTORIZATION_FIELDS = {
    **TARGET_FIELDS,
    "k": Int(50, "hidden width", minimum=1),
    "init": Choice(
        "gaussian",
        "gaussian, balanced, balanced_random, lambda_balanced, spectral or mode (see the runner's doc)",
        options=("gaussian", "balanced", "balanced_random", "lambda_balanced", "spectral", "mode"),
    ),
    "init_scale": Float(0.1, "standard deviation of the entries of U, V at init", positive=False),
    "seed": Int(0, "init seed", minimum=0),
}
FACTORIZATION_EXTRA = {
    "balance_lambda": Float(1.5, "init = lambda_balanced: Q0 = balance_lambda * I", positive=False),
    "spectral_u": FloatList(
        [0.05, 0.6], "init = spectral: u_i(0) from the first to the second value (linear)", min_length=2
    ),
    "spectral_v": FloatList([0.4, 0.02], "init = spectral: v_i(0) likewise", min_length=2),
    "mode_x0": Float(1e-4, "init = mode (m = n = k = 1): u0 v0 = mode_x0"),
    "mode_lambda": Float(0.0, "init = mode: u0^2 - v0^2 = mode_lambda", signed=True),
    "u_scale": Float(1.0, "init = gaussian: U0 is multiplied by u_scale (same product as v_scale-divided V0)"),
    "v_scale": Float(1.0, "init = gaussian: V0 is multiplied by v_scale"),
}
FACTORIZATION_FIELDS.update(FACTORIZATION_EXTRA)
ONE_LAYER_FIELDS = {
    **TARGET_FIELDS,
    "start": Choice(
        "zeros",
        "zeros: X0 = 0; product: X0 = U0 V0^T of the factorization init (k, init_scale, seed)",
        options=("zeros", "product"),
    ),
    "k": Int(50, "start = product: hidden width of the factorization init", minimum=1),
    "init_scale": Float(0.1, "start = product: scale of the factorization init", positive=False),
    "seed": Int(0, "start = product: init seed", minimum=0),
}
EXTRA_DEFAULTS = {**TARGET_EXTRA, **FACTORIZATION_EXTRA}


def linear_identity(config: dict) -> dict:
    """`method_identity` without the fields added for the Tarmoun et al. study at their defaults (and for
    one_layer, without k / init_scale / seed when it starts from zeros), so older run ids stay valid."""
    out = method_identity(config)
    for name, fld in EXTRA_DEFAULTS.items():
        if name in out and out[name] == fld.default:
            del out[name]
    if out.get("start") == "zeros":
        for name in ("start", "k", "init_scale", "seed"):
            out.pop(name, None)
    return out


SV_MAX = 10
MAX_SNAPSHOTS = 2000  # the distance to a closed-form flow is tracked at most at this many points of a run


def _check_target(config):
    if config["target"] == "low_rank" and config["rank"] > min(config["m"], config["n"]):
        return "rank", f"must be <= min(m, n) = {min(config['m'], config['n'])}, got {config['rank']}"
    if config["target"] == "scalar" and (config["m"], config["n"]) != (1, 1):
        return "target", f"scalar needs m = n = 1, got m = {config['m']}, n = {config['n']}"
    if config["method"] == "flow" and config["record_every"]:
        return "record_every", "a flow run records log-spaced flow times (record_points); use record_every = 0"
    return None


def _check_factorization(config):
    problem = _check_target(config)
    if problem is not None:
        return problem
    if config["init"] == "mode" and (config["m"], config["n"], config["k"]) != (1, 1, 1):
        return "init", "mode needs m = n = k = 1"
    if config["init"] == "lambda_balanced" and config["k"] > config["m"]:
        return "k", f"init = lambda_balanced needs k <= m = {config['m']}, got {config['k']}"
    return None


def mode_factors(x0: float, lam: float) -> tuple[float, float]:
    """u0, v0 > 0 with u0 v0 = x0 > 0 and u0^2 - v0^2 = lam (written without cancellation)."""
    import math

    root = math.sqrt(lam * lam + 4 * x0 * x0)
    if lam >= 0:
        v = math.sqrt(2 * x0 * x0 / (lam + root))
        return x0 / v, v
    u = math.sqrt(2 * x0 * x0 / (-lam + root))
    return u, x0 / u


def initial_factors(config, Y):
    """(U0, V0, closed form or None) of a factorization config: the init, and for the inits whose gradient
    flow is known exactly, X_flow(t) as a function of an array of times (`wideflow.linear_theory`)."""
    from .. import linear_theory as lt
    from ..factorization import Factorization

    m, n, k, s, seed = config["m"], config["n"], config["k"], config["init_scale"], config["seed"]
    init = config["init"]
    if init == "mode":
        u0, v0 = mode_factors(config["mode_x0"], config["mode_lambda"])
        U0, V0 = np.array([[u0]]), np.array([[v0]])
        return U0, V0, (lambda t: lt.riccati_solution(t, Y, U0, V0, lam=config["mode_lambda"]))
    if init == "spectral":
        r = min(m, n, k)
        u0 = np.linspace(*config["spectral_u"][:2], r)
        v0 = np.linspace(*config["spectral_v"][:2], r)
        U0, V0 = lt.spectral_init(Y, k, u0, v0, seed=seed)
        return U0, V0, (lambda t: lt.spectral_solution(t, Y, u0, v0, k=k))
    if init == "balanced_random":
        rng = np.random.default_rng(seed)
        X0 = s * rng.standard_normal((m, n))
        R = np.linalg.qr(rng.standard_normal((k, k)))[0]
        U0, V0 = lt.balanced_init(X0, k, R=R)
        return U0, V0, (lambda t: lt.riccati_solution(t, Y, U0, V0, lam=0.0))
    if init == "lambda_balanced":
        rng = np.random.default_rng(seed)
        lam = config["balance_lambda"]
        U0, V0 = lt.lambda_balanced_init(s * rng.standard_normal((n, k)), lam, m, seed=seed + 1)
        return U0, V0, (lambda t: lt.riccati_solution(t, Y, U0, V0, lam=lam))
    fac = Factorization.init(m, n, k, scale=s, seed=seed)
    if init == "balanced":
        U0, V0 = lt.balanced_init(fac.product().astype(np.float64), k)
        return U0, V0, (lambda t: lt.riccati_solution(t, Y, U0, V0, lam=0.0))
    return fac.U, fac.V, None


def target_matrix(config) -> np.ndarray:
    """The target Y of a factorization/one_layer config (float64, m x n)."""
    from .. import datasets, linear_theory
    from .data import load

    m, n = config["m"], config["n"]
    if config["target"] == "gaussian":
        return datasets.gaussian_matrix(m, n, config["target_seed"])
    if config["target"] == "low_rank":
        return config["target_scale"] * linear_theory.low_rank_target(m, n, config["rank"], seed=config["target_seed"])
    if config["target"] == "scalar":
        return np.full((1, 1), config["target_scale"])
    (Y,) = load(config["target"], ("Y",))
    if Y.shape != (m, n):
        raise ValueError(f"target: the file holds a matrix of shape {Y.shape}, but m = {m}, n = {n}")
    return Y


def _summary(diag: dict) -> dict:
    """Scalar summary metrics from a model's diagnostics (`factorization._metrics` names): rel_error,
    sv_1 .. sv_r (r <= SV_MAX), and for the two-layer model q_norm, q_drift, q_eig_min, q_eig_max."""
    out = {"rel_error": float(diag["rel_error"])}
    for i, s in enumerate(diag["singular_values"][:SV_MAX]):
        out[f"sv_{i + 1}"] = float(s)
    if "q_eig" in diag:
        eig = diag["q_eig"]
        out.update(
            {
                "q_norm": float(diag["q_norm"]),
                "q_drift": float(diag["q_drift"]),
                "q_eig_min": float(eig[0]),
                "q_eig_max": float(eig[-1]),
            }
        )
    return out


def finish_trajectory(config, run, metrics: dict, trajectory: dict) -> dict:
    """Hitting times of the rel_error levels (metrics t_hit_i, from every recorded point), then the stored
    trajectory thinned to about trajectory_points log-spaced records (0: all)."""
    err = trajectory.get("metric_rel_error")
    t = trajectory["t"]
    for i, level in enumerate(config["hit_levels"]):
        hit = np.flatnonzero(err < level) if err is not None else np.zeros(0, dtype=np.int64)
        metrics[f"t_hit_{i + 1}"] = float(t[hit[0]]) if hit.size else float("nan")
    keep_n = config["trajectory_points"]
    n = t.size
    if keep_n and n > keep_n:
        idx = np.unique(np.concatenate([[0, n - 1], np.round(np.geomspace(1, n - 1, keep_n)).astype(np.int64)]))
        trajectory = {
            k: (v[idx] if k in ("steps", "t", "loss") or k.startswith("metric_") else v) for k, v in trajectory.items()
        }
    return trajectory


def _closed_form_trajectory(run, fac_snapshots, closed) -> dict:
    """At every snapshot: the distance ||X(t) - X_flow(t)||_F to the exact flow and X_flow's singular values."""
    steps = np.array([st for st, _ in fac_snapshots], dtype=np.float64)
    ts = np.interp(steps, np.asarray(run.steps, dtype=np.float64), np.asarray(run.t, dtype=np.float64))
    Xcf = np.asarray(closed(ts), dtype=np.float64)
    Xgd = np.array([sn["U"].astype(np.float64) @ sn["V"].astype(np.float64).T for _, sn in fac_snapshots])
    return {
        "cf_t": ts,
        "cf_dist": np.linalg.norm(Xgd - Xcf, axis=(1, 2)),
        "cf_singular_values": np.linalg.svd(Xcf, compute_uv=False),
    }


@register(
    "factorization",
    FACTORIZATION_FIELDS,
    check=_check_factorization,
    summary=("final_loss", "rel_error", "q_drift", "dist_closed_form"),
    identity=linear_identity,
)
def run_factorization(config, threads, keep_params):
    """Two-layer linear factorization X = U V^T trained by full-batch GD or integrated by gradient flow."""
    from .. import linear_theory
    from ..factorization import Factorization, _metrics, _q_norm, imbalance_spectrum

    Y = target_matrix(config)
    closed = None
    if config["init"] in ("gaussian", "balanced"):
        fac = Factorization.init(
            config["m"],
            config["n"],
            config["k"],
            scale=config["init_scale"],
            seed=config["seed"],
            dtype=config["dtype"],
        )
        if config["init"] == "balanced":
            U0, V0 = linear_theory.balanced_init(fac.product().astype(np.float64), config["k"])
            fac = Factorization(U0, V0, dtype=config["dtype"])
            closed = lambda t: linear_theory.riccati_solution(t, Y, U0, V0, lam=0.0)  # noqa: E731
        elif config["u_scale"] != 1.0 or config["v_scale"] != 1.0:
            fac = Factorization(config["u_scale"] * fac.U, config["v_scale"] * fac.V, dtype=config["dtype"])
    else:
        U0, V0, closed = initial_factors(config, Y)
        fac = Factorization(U0, V0, dtype=config["dtype"])
    U0, V0 = fac.U.astype(np.float64), fac.V.astype(np.float64)
    eta = config["lr"]
    snaps = None
    if closed is not None and config["method"] == "gd" and config["record_every"]:
        every = config["record_every"] * max(1, -(-config["steps"] // (config["record_every"] * MAX_SNAPSHOTS)))
        snaps = list(range(0, config["steps"] + 1, every))
    recorded = ["singular_values", "q_norm", "q_drift"] if config["record_metrics"] else False
    run = train_config(
        fac,
        (Y,),
        {**config, "_lr": lr_schedule(eta, config["lr_power"], config["lr_t0"])},
        threads,
        metrics=recorded,  # an m x n SVD and a thin QR per record
        snapshots=snaps,
    )
    if run.status == "interrupted":
        return Outcome("interrupted", {}, {})
    ynorm = float(np.linalg.norm(Y))
    diag = _metrics(fac, Y, ynorm, U0, V0)  # NaN for a non-finite state
    metrics = run_metrics(run, eta if config["method"] == "gd" else float("nan"))
    metrics.update(_summary(diag))
    q0 = imbalance_spectrum(U0, V0)
    metrics.update(
        {
            "q_norm_init": _q_norm(U0, V0),
            "q_eig_min_init": float(q0[0]),
            "q_eig_max_init": float(q0[-1]),
            "q_norm2_init": float(np.max(np.abs(q0))),
            "dist_closed_form": float("nan"),
        }
    )
    trajectory = trajectory_of(run)
    if closed is not None and np.isfinite(diag["rel_error"]):
        X = fac.U.astype(np.float64) @ fac.V.astype(np.float64).T
        Xf = closed(np.array([float(run.t[-1])]))[0]
        metrics["dist_closed_form"] = float(np.linalg.norm(X - Xf) / ynorm)
        if run.snapshots:
            trajectory.update(_closed_form_trajectory(run, run.snapshots, closed))
            metrics["dist_closed_form_max"] = float(np.max(trajectory["cf_dist"]))
    trajectory = finish_trajectory(config, run, metrics, trajectory)
    params = {"U": fac.U.copy(), "V": fac.V.copy()} if keep_params else None
    return outcome_of(run, metrics, trajectory, params)


@register(
    "one_layer", ONE_LAYER_FIELDS, check=_check_target, summary=("final_loss", "rel_error"), identity=linear_identity
)
def run_one_layer(config, threads, keep_params):
    """The one-layer baseline X trained directly on 1/2 ||Y - X||_F^2 from X0 = 0 (or X0 = U0 V0^T)."""
    from ..factorization import Factorization, OneLayer, _one_layer_metrics

    Y = target_matrix(config)
    if config["start"] == "product":
        X0 = Factorization.init(
            config["m"], config["n"], config["k"], scale=config["init_scale"], seed=config["seed"]
        ).product()
        model = OneLayer(X0, dtype=config["dtype"])
    else:
        model = OneLayer.zeros(config["m"], config["n"], dtype=config["dtype"])
    eta = config["lr"]
    run = train_config(
        model,
        (Y,),
        {**config, "_lr": lr_schedule(eta, config["lr_power"], config["lr_t0"])},
        threads,
        metrics=["singular_values"] if config["record_metrics"] else False,
    )
    if run.status == "interrupted":
        return Outcome("interrupted", {}, {})
    metrics = run_metrics(run, eta if config["method"] == "gd" else float("nan"))
    metrics.update(
        _summary(
            _one_layer_metrics(
                model.X.astype(np.float64), Y, float(np.linalg.norm(Y)), ("rel_error", "singular_values")
            )
        )
    )
    trajectory = finish_trajectory(config, run, metrics, trajectory_of(run))
    params = {"X": model.X.copy()} if keep_params else None
    return outcome_of(run, metrics, trajectory, params)
