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
"""

from __future__ import annotations

import numpy as np

from .fields import Choice, DataSource, Float, Int
from .runners import METHOD_FIELDS, Outcome, lr_schedule, method_identity, outcome_of, register, run_metrics, \
    train_config, trajectory_of

TARGET_FIELDS = {
    "m": Int(5, "rows of Y", minimum=1),
    "n": Int(10, "columns of Y", minimum=1),
    "target": DataSource("gaussian", "gaussian, low_rank or a file { path = ... }",
                         names=("gaussian", "low_rank"), keys=("Y",)),
    "target_seed": Int(0, "seed of the target", minimum=0),
    "rank": Int(3, "rank of a low_rank target", minimum=1),
    "dtype": Choice("float64", "parameter dtype", options=("float64", "float32")),
    "lr": Float(1e-3, "step size"),
    "lr_power": Float(0.0, "0: constant step; p > 0: step / (1 + t)^p", positive=False),
    "steps": Int(10_000, "GD steps", minimum=0),
    "record_points": Int(200, "about this many log-spaced recorded steps", minimum=2),
    **METHOD_FIELDS,
}

FACTORIZATION_FIELDS = {
    **TARGET_FIELDS,
    "k": Int(50, "hidden width", minimum=1),
    "init": Choice("gaussian", "gaussian or balanced (see the runner's doc)", options=("gaussian", "balanced")),
    "init_scale": Float(0.1, "standard deviation of the entries of U, V at init", positive=False),
    "seed": Int(0, "init seed", minimum=0),
}

SV_MAX = 10


def _check_target(config):
    if config["target"] == "low_rank" and config["rank"] > min(config["m"], config["n"]):
        return "rank", f"must be <= min(m, n) = {min(config['m'], config['n'])}, got {config['rank']}"
    return None


def target_matrix(config) -> np.ndarray:
    """The target Y of a factorization/one_layer config (float64, m x n)."""
    from .. import datasets, linear_theory
    from .data import load

    m, n = config["m"], config["n"]
    if config["target"] == "gaussian":
        return datasets.gaussian_matrix(m, n, config["target_seed"])
    if config["target"] == "low_rank":
        return linear_theory.low_rank_target(m, n, config["rank"], seed=config["target_seed"])
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
        out.update({"q_norm": float(diag["q_norm"]), "q_drift": float(diag["q_drift"]),
                    "q_eig_min": float(eig[0]), "q_eig_max": float(eig[-1])})
    return out


@register("factorization", FACTORIZATION_FIELDS, check=_check_target, summary=("final_loss", "rel_error",
          "q_drift", "dist_closed_form"), identity=method_identity)
def run_factorization(config, threads, keep_params):
    """Two-layer linear factorization X = U V^T trained by full-batch GD or integrated by gradient flow."""
    from .. import linear_theory
    from ..factorization import Factorization, _metrics, _q_norm

    Y = target_matrix(config)
    fac = Factorization.init(config["m"], config["n"], config["k"], scale=config["init_scale"],
                             seed=config["seed"], dtype=config["dtype"])
    if config["init"] == "balanced":
        U0, V0 = linear_theory.balanced_init(fac.product().astype(np.float64), config["k"])
        fac = Factorization(U0, V0, dtype=config["dtype"])
    U0, V0 = fac.U.astype(np.float64), fac.V.astype(np.float64)
    eta = config["lr"]
    run = train_config(fac, (Y,), {**config, "_lr": lr_schedule(eta, config["lr_power"])}, threads,
                       metrics=["singular_values", "q_norm"])  # an m x n SVD and a thin QR per record
    if run.status == "interrupted":
        return Outcome("interrupted", {}, {})
    ynorm = float(np.linalg.norm(Y))
    diag = _metrics(fac, Y, ynorm, U0, V0)  # NaN for a non-finite state
    metrics = run_metrics(run, eta if config["method"] == "gd" else float("nan"))
    metrics.update(_summary(diag))
    metrics.update({"q_norm_init": _q_norm(U0, V0), "dist_closed_form": float("nan")})
    if config["init"] == "balanced" and np.isfinite(diag["rel_error"]):
        X = fac.U.astype(np.float64) @ fac.V.astype(np.float64).T
        Xf = linear_theory.riccati_solution(np.array([float(run.t[-1])]), Y, U0, V0, lam=0.0)[0]
        metrics["dist_closed_form"] = float(np.linalg.norm(X - Xf) / ynorm)
    params = {"U": fac.U.copy(), "V": fac.V.copy()} if keep_params else None
    return outcome_of(run, metrics, trajectory_of(run), params)


@register("one_layer", TARGET_FIELDS, check=_check_target, summary=("final_loss", "rel_error"),
          identity=method_identity)
def run_one_layer(config, threads, keep_params):
    """The one-layer baseline X trained directly on 1/2 ||Y - X||_F^2 from X0 = 0."""
    from ..factorization import OneLayer, _one_layer_metrics

    Y = target_matrix(config)
    model = OneLayer.zeros(config["m"], config["n"], dtype=config["dtype"])
    eta = config["lr"]
    run = train_config(model, (Y,), {**config, "_lr": lr_schedule(eta, config["lr_power"])}, threads,
                       metrics=["singular_values"])
    if run.status == "interrupted":
        return Outcome("interrupted", {}, {})
    metrics = run_metrics(run, eta if config["method"] == "gd" else float("nan"))
    metrics.update(_summary(_one_layer_metrics(model.X.astype(np.float64), Y, float(np.linalg.norm(Y)),
                                               ("rel_error", "singular_values"))))
    params = {"X": model.X.copy()} if keep_params else None
    return outcome_of(run, metrics, trajectory_of(run), params)
