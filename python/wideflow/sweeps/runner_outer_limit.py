"""The outer_limit runner: the exact c-only limit of a shallow ReLU net at width m, without training.

Training only the outer weights c of f(x) = (1/alpha) sum_i c_i [a_i x + b_i]_+ from an antisymmetric
init (f_0 = 0) is linear least squares, and gradient descent converges to the minimum-norm random-feature
interpolant. `wideflow.random_features.outer_limit_at_width` computes it from one streamed O(m n^2) pass
over drawn neurons (never the n x m features, nor the parameters), so m = 10^8 takes seconds. The width-
scaling section of the Williams et al. 2019 reproduction measures it against the m = infinity limits.

Fields (defaults in brackets): dataset ["square10"], width [1000] (even), scheme ["gaussian"]
(gaussian | uniform_knots; box has no closed-form limit here), inner_scale [1.0] (the limit does not
depend on it), L [2.0], seed [0].

Metrics (sup norms on the data hull [min x, max x], 2001 points): dist_kinf_sup (the m = infinity kernel
interpolant of the init law), dist_rho_sup (its rho-weighted spline), dist_ncs_sup (natural cubic spline),
dist_linear_sup (linear interpolant); residual (max_j |f*(x_j) - y_j|), cond (of the data Gram), rank,
train_time (seconds of the pass). No trajectory, no parameters.
"""

from __future__ import annotations

import time

import numpy as np

from .fields import Choice, Dataset, Float, Int
from .runner_shallow import hull_grid, reference_limits, shallow_data
from .runners import Outcome, register

OUTER_LIMIT_FIELDS = {
    "dataset": Dataset("square10", "built-in dataset name"),
    "width": Int(1000, "number of neurons m (even: antisymmetric doubling)", minimum=2),
    "scheme": Choice("gaussian", "init law of (a, b)", options=("gaussian", "uniform_knots")),
    "inner_scale": Float(1.0, "scale of (a, b) (the limit does not depend on it)"),
    "L": Float(2.0, "knot range [-L, L] of uniform_knots"),
    "seed": Int(0, "seed of the drawn neurons", minimum=0),
}


def _check(config):
    if config["width"] % 2:
        return "width", f"antisymmetric doubling needs an even width, got {config['width']}"
    return None


@register(
    "outer_limit",
    OUTER_LIMIT_FIELDS,
    check=_check,
    summary=("dist_kinf_sup", "dist_rho_sup", "dist_ncs_sup", "dist_linear_sup", "residual"),
)
def run_outer_limit(config, threads, keep_params):
    """The exact c-only (random-feature) limit at width m against the m = infinity limits."""
    from .. import random_features

    x, y = shallow_data(config["dataset"])
    t = hull_grid(x)
    tick = time.perf_counter()
    o = random_features.outer_limit_at_width(
        config["width"],
        x,
        y,
        t,
        scheme=config["scheme"],
        seed=config["seed"],
        inner_scale=config["inner_scale"],
        L=config["L"],
        threads=threads,
    )
    wall = time.perf_counter() - tick
    refs = reference_limits(x, y, config["L"])
    scheme = config["scheme"]
    values = np.asarray(o.values, dtype=np.float64)

    def sup(g) -> float:
        return float(np.max(np.abs(values - np.asarray(g(t), dtype=np.float64))))

    metrics = {
        "dist_kinf_sup": sup(refs[f"kinf_{scheme}"]),
        "dist_rho_sup": sup(refs[f"rho_{scheme}"]),
        "dist_ncs_sup": sup(refs["ncs"]),
        "dist_linear_sup": sup(refs["linear"]),
        "residual": float(o.residual),
        "cond": float(o.cond),
        "rank": int(o.rank),
        "train_time": wall,
    }
    return Outcome("done", metrics, {})
