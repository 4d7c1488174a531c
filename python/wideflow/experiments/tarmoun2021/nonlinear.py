"""Tarmoun et al. 2021, section 5: the nonlinear experiment Y = relu(X W) + noise, one layer against two
(small NumPy models: they are not wideflow models)."""

from __future__ import annotations

import math

import numpy as np

from .._report import figure, first_below, fmt, markdown_table
from .config import NonlinearConfig, png


def _relu_gd(X, Y, params, lr, steps, record_every, two_layer):
    """GD on 1/2 ||Y - relu(X M)||_F^2 with M = A (one-layer) or U V^T (two-layer); returns (steps, rel err)."""
    ny = np.linalg.norm(Y)
    recs, errs = [], []
    if two_layer:
        U, V = (p.copy() for p in params)
    else:
        A = params[0].copy()
    for j in range(steps + 1):
        M = U @ V.T if two_layer else A
        Z = X @ M
        F = np.maximum(Z, 0.0)
        R = F - Y
        if j % record_every == 0 or j == steps:
            recs.append(j)
            errs.append(np.linalg.norm(R) / ny)
            if not np.isfinite(errs[-1]):
                break
        if j == steps:
            break
        G = X.T @ (R * (Z > 0))  # dL/dM
        if two_layer:
            U, V = U - lr * (G @ V), V - lr * (G.T @ U)
        else:
            A = A - lr * G
    return np.array(recs), np.array(errs)


def nonlinear(cfg: NonlinearConfig, out_dir, lines, summary):
    rng = np.random.default_rng(cfg.seed)
    X = rng.standard_normal((cfg.N, cfg.d))
    W = rng.standard_normal((cfg.d, cfg.p))
    clean = np.maximum(X @ W, 0.0)
    noise = cfg.noise * rng.standard_normal(clean.shape)
    Y = clean + noise
    floor = np.linalg.norm(noise) / np.linalg.norm(Y)
    steps = int(round(cfg.t_end / cfg.lr))
    fig, ax = figure(1, 1, width=5.6, height=4.0)
    a = ax[0, 0]
    rows = []
    for i, var in enumerate(cfg.variances):
        r = np.random.default_rng(cfg.seed + 1 + i)
        sd = math.sqrt(var)
        U0 = sd * r.standard_normal((cfg.d, cfg.k))
        V0 = sd * r.standard_normal((cfg.p, cfg.k))
        A0 = U0 @ V0.T if cfg.one_layer_init == "product" else sd * r.standard_normal((cfg.d, cfg.p))
        s2, e2 = _relu_gd(X, Y, (U0, V0), cfg.lr, steps, cfg.record_every, True)
        s1, e1 = _relu_gd(X, Y, (A0,), cfg.lr, steps, cfg.record_every, False)
        t2, t1 = s2 * cfg.lr, s1 * cfg.lr
        a.semilogy(t2, e2, color=f"C{i}", label=f"relu(X U Vᵀ), var {var:g}")
        a.semilogy(t1, e1, color=f"C{i}", ls="--", lw=1, label=f"relu(X A), var {var:g}")
        level = 2 * floor
        rows.append([f"{var:g}", fmt(first_below(t2, e2, level), ".4f"), fmt(first_below(t1, e1, level), ".4f"),
                     f"{e2[-1]:.3e}", f"{e1[-1]:.3e}"])
    a.axhline(floor, color="k", ls=":", lw=1, label="noise floor ‖ε‖/‖Y‖")
    a.set_xlabel("t = lr · step")
    a.set_ylabel("‖Y − f(X)‖_F / ‖Y‖_F")
    a.set_title(f"nonlinear: N={cfg.N}, d={cfg.d}, p={cfg.p}, k={cfg.k}, lr={cfg.lr:g}")
    a.legend(fontsize=7)
    f_nl = png(fig, out_dir, "tarmoun2021_nonlinear")
    lines += ["## 5. Nonlinear experiment (docs page reproductions)", "",
              f"X ({cfg.N} x {cfg.d}), W ({cfg.d} x {cfg.p}) ~ N(0, 1); Y = relu(X W) + {cfg.noise:g}·N(0, 1); "
              f"two-layer relu(X U Vᵀ) (k = {cfg.k}) against one-layer relu(X A) with A0 = "
              f"{'U0 V0ᵀ' if cfg.one_layer_init == 'product' else 'N(0, var)'}; GD lr = {cfg.lr:g} to "
              f"t = {cfg.t_end:g} ({steps} steps, NumPy). Noise floor ‖ε‖/‖Y‖ = {floor:.2e}; "
              "times are the first t with relative error < 2 × floor.", "",
              markdown_table(["init variance", "two-layer t(2·floor)", "one-layer t(2·floor)", "two-layer final error",
                       "one-layer final error"], rows), "", f"![nonlinear]({f_nl})", ""]
