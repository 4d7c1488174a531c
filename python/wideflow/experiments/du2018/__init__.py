"""Du, Hu & Lee (NeurIPS 2018): "Algorithmic regularization in learning deep homogeneous models: layers
are automatically balanced". `reproduce(out_dir, quick)` runs, over the public API:

1. the exact one-step identity Delta(||W_h||^2 - ||W_{h+1}||^2) = lr^2 (||G_h||^2 - ||G_{h+1}||^2) on the
   paper's 3-layer ReLU net;
2. paper section 4: the 3-layer ReLU net (x in R^1000, W1 100x1000, W2 100x100, W3 10x100, 1000 points)
   from balanced and unbalanced initializations, lr in {0.02, 0.1} (mean-loss units), with the differences
   and ratios of squared layer norms and the loss;
3. drift of the invariant at a fixed flow time against lr (gradient-flow limit: linear in lr);
4. asymmetric matrix factorization M* ~ U V^T (rank 3, 40 x 30) with the decaying schedule
   eta_t = c / (sigma_1 (1 + t/t0)^(1/2 + delta)), converging to a balanced solution (||U||^2 = ||V||^2 =
   ||M*||_*), next to constant steps and the theorem's (too small) constant;
5. the constant-step counterexample: from an unbalanced start with the same product, GD diverges;
6. rank-1 factorization with a constant step: the globally linear rate, contraction ~ 1 - lr sigma_1.

The factorization parts use `wf.DeepNet` with linear activation and 2 layers on identity inputs:
X = I (d2 samples), f(I) = I W1^T W2^T, so with W1 = V^T and W2 = U the loss is 1/2 ||U V^T - M*||_F^2
(Y = M*^T) and W2^T W2 - W1 W1^T = U^T U - V^T V.

Writes figures (PNG + PDF), results.json and report.md into out_dir. Docs pages: theory/du2018, reproductions.

Modules: `runs` (the experiments), `figures`, `report`.
"""

from __future__ import annotations

import json
import math
import os
import time

import numpy as np

from .. import _report
from . import figures as _figures
from .report import write_report
from .runs import (
    PAPER_DIMS,
    _config,
    counterexample,
    eta_scaling,
    factorization_net,
    mf_schedules,
    one_step_identity,
    rank1_rate,
    relu3,
    relu_data,
    relu_init,
    train_factorization,
)

plot_relu3, plot_mf = _figures.plot_relu3, _figures.plot_mf
plot_counterexample, plot_rank1, plot_eta_scaling = (_figures.plot_counterexample, _figures.plot_rank1,
                                                     _figures.plot_eta_scaling)

__all__ = ["reproduce", "relu_data", "relu_init", "factorization_net", "train_factorization", "PAPER_DIMS"]


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items() if k != "curves"}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj


def reproduce(out_dir, quick: bool = False, *, overrides: dict | None = None) -> str:
    """Run all experiments, write figures, results.json and report.md into out_dir; returns the report path.

    quick: the ReLU experiment on 200 points for 2000 iterations (about a minute on 2 cores in all);
    otherwise the paper's 1000 points and 10000 iterations (several minutes). overrides: config entries
    to replace (relu_m, relu_steps, relu_record, mf_steps, theorem_steps, rank1_steps, scaling_tau).
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    cfg = _config(quick)
    for key, value in (overrides or {}).items():
        if key not in cfg:
            raise ValueError(f"overrides: unknown entry {key!r}; expected one of {', '.join(cfg)}")
        cfg[key] = value
    t0 = time.perf_counter()
    res, timings = {}, {}

    def timed(name, fn, *args):
        t = time.perf_counter()
        res[name] = fn(*args)
        timings[name] = time.perf_counter() - t

    X, Y = relu_data(cfg["relu_m"])
    timed("identity", one_step_identity, X, Y)
    timed("relu3", relu3, cfg)
    timed("eta_scaling", eta_scaling, cfg["scaling_tau"])
    timed("mf", mf_schedules, cfg)
    timed("counterexample", counterexample)
    timed("rank1", rank1_rate, cfg["rank1_steps"])
    t = time.perf_counter()
    figures = {"relu3": plot_relu3(res["relu3"], os.path.join(out_dir, "relu3")),
               "eta": plot_eta_scaling(res["eta_scaling"], os.path.join(out_dir, "eta_scaling")),
               "mf": plot_mf(res["mf"], res["counterexample"], os.path.join(out_dir, "mf")),
               "cex": plot_counterexample(res["counterexample"], os.path.join(out_dir, "counterexample")),
               "rank1": plot_rank1(res["rank1"], os.path.join(out_dir, "rank1"))}
    timings["figures"] = time.perf_counter() - t
    wall = time.perf_counter() - t0
    _report.write_text(os.path.join(out_dir, "results.json"),
                       json.dumps(_jsonable({"quick": quick, "config": cfg, "wall_s": wall, "timings_s": timings,
                                             **res})))
    report = os.path.join(out_dir, "report.md")
    write_report(report, res, cfg, quick, wall, figures, timings)
    return report
