"""The `deep` runner: a fully-connected net f(X) = W_L phi(... phi(X W_1^T)) trained by GD or its flow.

Fields (defaults in brackets):

    dims [[10, 32, 32, 1]]   layer sizes d_0, ..., d_L (Du et al.'s 3-layer net: [1000, 100, 100, 10])
    activation ["relu"]      linear | relu | leaky_relu (negative_slope [0.01]); bias [false]
    init ["he"]              he: N(0, 2/d_in) before a ReLU, N(0, 1/d_in) otherwise;
                             balanced: every layer with E||W_h||_F^2 = init_norm2 [0.1]
                                 (variance init_norm2 / (d_h d_{h-1}); Du et al.'s balanced start);
                             equal_variance: every entry N(0, init_variance [1e-4]) (their unbalanced start);
                             variances: the list `variances` (one per layer)
    seed [0]                 init seed
    dataset ["teacher"]      teacher: x_i ~ N(0, I), y_i from a He-init teacher of the same sizes
                             (`wf.datasets.teacher_student`, `samples` [1000] points from `data_seed` [0]);
                             or a file { path = "data.npz" } with arrays X (N x d_0) and Y (N x d_L)
    dtype ["float64"]; lr [1e-4]; lr_units ["sum"]: "sum" gives wf.train the step lr for the loss
                             1/2 sum_i ||f(x_i) - y_i||^2; "mean": lr is the step of the mean loss (the
                             paper's units), so the step given is lr / N
    lr_power [0.0], steps [1000], record_points [200], and method / t_end / rtol / atol / tableau
    events [true]            method = flow on ReLU / leaky ReLU: the event-aware flow (kinks located,
                             sliding pre-activations held on 0; its counters stored); false: the plain
                             Runge-Kutta pair

Summary metrics: final_loss, initial_loss, final_step, diverged_at, flow_time, lr_step, train_time, and
the balancedness of Du et al.: for each layer h = 1..L the squared norm norm2_W<h> = ||W_h||_F^2 (and
norm2_W<h>_init); for each consecutive pair diff_<h> = ||W_h||^2 - ||W_{h+1}||^2 at the end, its drift
diff_<h>_drift = diff_<h>(end) - diff_<h>(init) (zero under gradient flow, O(lr^2) per GD step), and the
ratio ratio_<h> = ||W_h||_F / ||W_{h+1}||_F; max_diff_drift = max_h |diff_<h>_drift|.
With grad_norms = true [false] also grad_norm2_W<h>_init = ||dL/dW_h||_F^2 at init (for the one-step
identity Delta(||W_h||^2 - ||W_{h+1}||^2) = lr^2 (||G_h||^2 - ||G_{h+1}||^2)).
Trajectory: steps, t, loss and metric_layer_norms (the squared norms at each recorded step).
Params (side file): W1, ..., WL (and b1, ... with biases).
"""

from __future__ import annotations

import numpy as np

from .fields import Bool, Choice, DataSource, Float, FloatList, Int, IntList
from .runners import (
    EVENT_FIELDS,
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

DEEP_FIELDS = {
    "dims": IntList([10, 32, 32, 1], "layer sizes d_0, ..., d_L", minimum=1, min_length=2),
    "activation": Choice("relu", "phi after every layer but the last", options=("linear", "relu", "leaky_relu")),
    "negative_slope": Float(0.01, "slope of leaky_relu for z < 0", positive=False),
    "bias": Bool(False, "train zero-initialized biases too"),
    "init": Choice(
        "he", "initialization (see the runner's doc)", options=("he", "balanced", "equal_variance", "variances")
    ),
    "init_norm2": Float(0.1, "E||W_h||_F^2 of every layer for init = balanced"),
    "init_variance": Float(1e-4, "entry variance of every layer for init = equal_variance"),
    "variances": FloatList([], "per-layer entry variances for init = variances"),
    "seed": Int(0, "init seed", minimum=0),
    "dataset": DataSource(
        "teacher", "teacher or a file { path = ... } with arrays X, Y", names=("teacher",), keys=("X", "Y")
    ),
    "samples": Int(1000, "number of teacher-student points N", minimum=1),
    "data_seed": Int(0, "seed of the teacher-student data", minimum=0),
    "dtype": Choice("float64", "parameter dtype", options=("float64", "float32")),
    "lr": Float(1e-4, "step size (see lr_units)"),
    "lr_units": Choice(
        "sum", "'sum': the step is lr; 'mean': lr is the step of the mean loss (step lr / N)", options=("sum", "mean")
    ),
    "lr_power": Float(0.0, "0: constant step; p > 0: step / (1 + t)^p", positive=False),
    "steps": Int(1000, "GD steps", minimum=0),
    "record_points": Int(200, "about this many log-spaced recorded steps", minimum=2),
    **METHOD_FIELDS,
    **EVENT_FIELDS,
    "grad_norms": Bool(False, "also store grad_norm2_W<h>_init = ||dL/dW_h||_F^2 at init (the one-step identity)"),
}


def deep_identity(config: dict) -> dict:
    """`method_identity` without grad_norms at its default (older run ids stay valid)."""
    out = method_identity(config)
    if not out.get("grad_norms", False):
        out.pop("grad_norms", None)
    return out


DEEP_SUMMARY = ("final_loss", "diff_1", "diff_1_drift", "ratio_1", "max_diff_drift")


def _check_deep(config):
    L = len(config["dims"]) - 1
    if config["init"] == "variances" and len(config["variances"]) != L:
        return "variances", (
            f'init = "variances" needs {L} variances (one per layer of dims '
            f"{config['dims']}), got {len(config['variances'])}"
        )
    return None


def init_variances(config) -> list | None:
    """The per-layer entry variances of a deep config's init (None: wf.DeepNet.init's He default)."""
    dims, kind = config["dims"], config["init"]
    L = len(dims) - 1
    if kind == "he":
        return None
    if kind == "balanced":
        return [config["init_norm2"] / (dims[h] * dims[h + 1]) for h in range(L)]
    if kind == "equal_variance":
        return [config["init_variance"]] * L
    return list(config["variances"])


def deep_data(config):
    """(X, Y) of a deep config: the teacher-student construction or a user file."""
    from .. import datasets
    from .data import load

    if config["dataset"] == "teacher":
        return datasets.teacher_student(
            config["dims"], config["samples"], config["data_seed"], config["activation"], config["negative_slope"]
        )
    X, Y = load(config["dataset"], ("X", "Y"))
    return (X[:, None] if X.ndim == 1 else X), (Y[:, None] if Y.ndim == 1 else Y)


def balancedness(n0: np.ndarray, n1: np.ndarray) -> dict:
    """Du et al.'s layer balancedness from squared layer norms at init (n0) and at the end (n1)."""
    out = {}
    for h in range(n1.size):
        out[f"norm2_W{h + 1}"] = float(n1[h])
        out[f"norm2_W{h + 1}_init"] = float(n0[h])
    drifts = []
    for h in range(n1.size - 1):
        d1, d0 = n1[h] - n1[h + 1], n0[h] - n0[h + 1]
        out[f"diff_{h + 1}"] = float(d1)
        out[f"diff_{h + 1}_drift"] = float(d1 - d0)
        out[f"ratio_{h + 1}"] = float(np.sqrt(n1[h] / n1[h + 1])) if n1[h + 1] > 0 else float("inf")
        drifts.append(abs(d1 - d0))
    out["max_diff_drift"] = float(max(drifts)) if drifts else 0.0
    return out


@register("deep", DEEP_FIELDS, check=_check_deep, summary=DEEP_SUMMARY, identity=deep_identity)
def run_deep(config, threads, keep_params):
    """Deep fully-connected net trained by full-batch GD or integrated by its gradient flow."""
    from ..deep import DeepNet

    X, Y = deep_data(config)
    net = DeepNet.init(
        config["dims"],
        variance=init_variances(config),
        activation=config["activation"],
        seed=config["seed"],
        dtype=config["dtype"],
        bias=config["bias"],
        negative_slope=config["negative_slope"],
    )
    n0 = net.layer_norms()
    grads = {}
    if config["grad_norms"]:
        _, gw, _ = net.gradients(X, Y)
        grads = {
            f"grad_norm2_W{h + 1}_init": float(np.sum(np.asarray(g, dtype=np.float64) ** 2)) for h, g in enumerate(gw)
        }
    eta = config["lr"] / (X.shape[0] if config["lr_units"] == "mean" else 1.0)
    run = train_config(
        net, (X, Y), {**config, "_lr": lr_schedule(eta, config["lr_power"])}, threads, metrics=["layer_norms"]
    )  # cheap: L sums of squares per recorded step
    if run.status == "interrupted":
        return Outcome("interrupted", {}, {})
    metrics = run_metrics(run, eta if config["method"] == "gd" else float("nan"))
    metrics.update(balancedness(n0, net.layer_norms()))
    metrics.update(grads)
    params = None
    if keep_params:
        params = {f"W{h + 1}": w.copy() for h, w in enumerate(net.weights)}
        for h, b in enumerate(net.biases or []):
            params[f"b{h + 1}"] = b.copy()
    return outcome_of(run, metrics, trajectory_of(run), params)
