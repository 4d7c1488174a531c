"""Runner `relu_output`: linear models behind an output ReLU, f(X) = relu(X M), trained by full-batch GD.

The nonlinear experiment of Tarmoun et al. (2021, section 5): data X (N x d) and a teacher W (d x p) with
N(0, 1) entries, Y = relu(X W) + noise * N(0, 1); the model is one layer, M = A (d x p), or two,
M = U V^T (U: d x k, V: p x k); loss L = 1/2 ||Y - relu(X M)||_F^2 and, with R = relu(X M) - Y and
G = X^T (R * 1[X M > 0]) = dL/dM, the GD steps are A <- A - lr G, or U <- U - lr G V, V <- V - lr G^T U
(both factors from the old state). Init: U0, V0 with N(0, variance) entries; the one-layer model starts at
A0 = U0 V0^T (`one_layer_init = "product"`: the same function as the two-layer model at t = 0) or with its
own N(0, variance) entries ("gaussian"). The paper gives neither sizes nor init: every value is a field.

These models have no C++ kernel: at the sizes of the experiment (100 x 10 data) one NumPy step is a few
microseconds of BLAS, and the runner is the model. Stored: the relative error ||Y - f(X)||_F / ||Y||_F
every `record_every` steps (trajectory `metric_rel_error` against t = lr * step), the noise floor
||noise||_F / ||Y||_F, and the first t at which the error is below `hit_factor` times that floor.
"""

from __future__ import annotations

import math

import numpy as np

from .fields import Choice, Float, Int
from .runners import Outcome, register

RELU_OUTPUT_FIELDS = {
    "layers": Int(2, "1: relu(X A); 2: relu(X U V^T)", minimum=1),
    "N": Int(100, "samples (rows of X)", minimum=1),
    "d": Int(10, "input dimension", minimum=1),
    "p": Int(5, "output dimension", minimum=1),
    "k": Int(50, "inner width of the two-layer model", minimum=1),
    "noise": Float(1e-3, "standard deviation of the label noise", positive=False),
    "data_seed": Int(0, "seed of X, W and the noise", minimum=0),
    "variance": Float(0.1, "variance of the init entries"),
    "init_seed": Int(1, "seed of U0, V0 (and of A0 when one_layer_init = gaussian)", minimum=0),
    "one_layer_init": Choice(
        "product", "A0 = U0 V0^T (product) or N(0, variance) entries (gaussian)", options=("product", "gaussian")
    ),
    "lr": Float(1e-5, "GD step"),
    "t_end": Float(2.0, "flow time lr * steps to train to"),
    "record_every": Int(200, "steps between records", minimum=1),
    "hit_factor": Float(2.0, "report the first t with relative error below hit_factor x the noise floor"),
}


def relu_output_data(config: dict):
    """(X, Y, noise floor) of a config: X, W ~ N(0, 1), Y = relu(X W) + noise * N(0, 1)."""
    rng = np.random.default_rng(config["data_seed"])
    X = rng.standard_normal((config["N"], config["d"]))
    W = rng.standard_normal((config["d"], config["p"]))
    clean = np.maximum(X @ W, 0.0)
    noise = config["noise"] * rng.standard_normal(clean.shape)
    Y = clean + noise
    return X, Y, float(np.linalg.norm(noise) / np.linalg.norm(Y))


def relu_output_init(config: dict) -> tuple:
    """(U0, V0) for the two-layer model or (A0,) for the one-layer one (see the module docstring)."""
    r = np.random.default_rng(config["init_seed"])
    sd = math.sqrt(config["variance"])
    U0 = sd * r.standard_normal((config["d"], config["k"]))
    V0 = sd * r.standard_normal((config["p"], config["k"]))
    if config["layers"] == 2:
        return U0, V0
    if config["one_layer_init"] == "product":
        return (U0 @ V0.T,)
    return (sd * r.standard_normal((config["d"], config["p"])),)


def relu_output_gd(X, Y, params: tuple, lr: float, steps: int, record_every: int):
    """GD on 1/2 ||Y - relu(X M)||_F^2, M = A or U V^T; returns (recorded steps, relative errors, final
    params). Stops early (keeping what was recorded) when the error is no longer finite."""
    ny = float(np.linalg.norm(Y))
    two = len(params) == 2
    P = [np.array(p, dtype=np.float64) for p in params]
    recs, errs = [], []
    for j in range(steps + 1):
        M = P[0] @ P[1].T if two else P[0]
        Z = X @ M
        R = np.maximum(Z, 0.0) - Y
        if j % record_every == 0 or j == steps:
            recs.append(j)
            errs.append(float(np.linalg.norm(R)) / ny)
            if not math.isfinite(errs[-1]):
                break
        if j == steps:
            break
        G = X.T @ (R * (Z > 0))
        P = [P[0] - lr * (G @ P[1]), P[1] - lr * (G.T @ P[0])] if two else [P[0] - lr * G]
    return np.asarray(recs, dtype=np.int64), np.asarray(errs), P


def _check(config):
    if config["layers"] not in (1, 2):
        return "layers", f"must be 1 (relu(X A)) or 2 (relu(X U V^T)), got {config['layers']}"
    if config["t_end"] / config["lr"] > 1e8:
        return "t_end", f"t_end / lr = {config['t_end'] / config['lr']:.3g} steps; at most 1e8"
    return None


@register("relu_output", RELU_OUTPUT_FIELDS, check=_check, summary=("rel_error", "t_hit"))
def run_relu_output(config, threads, keep_params):
    """relu(X A) or relu(X U V^T) trained by GD to t_end (Tarmoun et al. 2021, section 5)."""
    X, Y, floor = relu_output_data(config)
    steps = int(round(config["t_end"] / config["lr"]))
    recs, errs, P = relu_output_gd(X, Y, relu_output_init(config), config["lr"], steps, config["record_every"])
    t = recs * config["lr"]
    below = np.flatnonzero(errs < config["hit_factor"] * floor)
    metrics = {
        "rel_error": float(errs[-1]),
        "noise_floor": floor,
        "steps": steps,
        "t_hit": float(t[below[0]]) if below.size else float("nan"),
    }
    trajectory = {"steps": recs, "t": t, "metric_rel_error": errs}
    params = dict(zip(("U", "V") if len(P) == 2 else ("A",), P)) if keep_params else None
    if not math.isfinite(errs[-1]):
        return Outcome(
            "diverged",
            metrics,
            trajectory,
            params,
            error=f"the relative error is no longer finite at step {int(recs[-1])}",
        )
    return Outcome("done", metrics, trajectory, params)
