"""Du, Hu & Lee 2018: the experiments (each a function returning a dict of numbers and curves)."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np

import wideflow as wf

from ...errors import DivergenceWarning
from ...linear_theory import low_rank_target
from .._report import fit_rate

PAPER_DIMS = (1000, 100, 100, 10)


# ---------------------------------------------------------------------------------------------- configs
def _config(quick: bool) -> dict:
    if quick:
        return {"relu_m": 200, "relu_steps": 2000, "relu_record": 5, "mf_steps": 20000, "theorem_steps": 5000,
                "rank1_steps": 1000, "scaling_tau": 40.0}
    return {"relu_m": 1000, "relu_steps": 10000, "relu_record": 10, "mf_steps": 20000, "theorem_steps": 200000,
            "rank1_steps": 1000, "scaling_tau": 40.0}


def relu_data(m: int = 1000, seed: int = 0):
    """x_i ~ N(0, I_1000); y_i from a random ReLU teacher of the paper's architecture (He variances)."""
    from ...datasets import teacher_student

    return teacher_student(PAPER_DIMS, m, seed)


def relu_init(kind: str, seed: int = 2) -> wf.DeepNet:
    """balanced: N(0, 1e-4/100), N(0, 1e-4/10), N(0, 1e-4) (variances; E||W_h||^2 = 0.1 each);
    unbalanced: N(0, 1e-4) for all three layers (E||W_h||^2 = 10, 1, 0.1)."""
    var = [1e-6, 1e-5, 1e-4] if kind == "balanced" else [1e-4, 1e-4, 1e-4]
    return wf.DeepNet.init(PAPER_DIMS, variance=var, activation="relu", seed=seed)


def factorization_net(U, V) -> wf.DeepNet:
    """The 2-layer linear net with W1 = V^T, W2 = U: on X = I its output is (U V^T)^T."""
    return wf.DeepNet([np.asarray(V).T, np.asarray(U)], activation="linear")


def train_factorization(U, V, M, lr, steps, record="log", record_points=200):
    """GD on 1/2 ||U V^T - M||_F^2; returns (run, U, V) with U, V the final factors."""
    net = factorization_net(U, V)
    X = np.eye(M.shape[1])
    run = wf.train(net, X, M.T, lr=lr, steps=steps, record=record, record_points=record_points, progress=False,
                   metrics=True)
    return run, net.weights[1].copy(), net.weights[0].T.copy()


def _mf_summary(run, U, V, M):
    nuc = float(np.linalg.svd(M, compute_uv=False).sum())
    nu, nv = float(np.sum(U * U)), float(np.sum(V * V))
    imb = run.metrics["gram_invariants"][:, 0]
    return {"status": run.status, "diverged_at": run.diverged_at, "steps": run.final_step,
            "flow_time": float(run.t[-1]), "loss0": float(run.loss[0]), "final_loss": run.final_loss,
            "normU2": nu, "normV2": nv, "nuclear": nuc, "ratio_U_V": math.sqrt(nu / nv) if nv > 0 else math.inf,
            "imbalance0": float(imb[0]), "imbalance_final": float(imb[-1]),
            "imbalance_max": float(np.max(imb))}


def contraction(steps, err, lo, hi) -> float:
    """The contraction factor per step, exp(-rate) of the exponential fit of err over lo < err < hi."""
    return float(math.exp(-fit_rate(steps, err, lo, hi)))


def _spikes(loss) -> int:
    return int(np.sum(np.diff(np.asarray(loss)) > 0))


# ---------------------------------------------------------------------------------------------- experiments
def one_step_identity(X, Y, lr_mean=0.1, seed=2) -> dict:
    """Delta(||W_h||^2 - ||W_{h+1}||^2) after one GD step against lr^2 (||G_h||^2 - ||G_{h+1}||^2)."""
    m = X.shape[0]
    net = relu_init("unbalanced", seed)
    lr = lr_mean / m
    _, gw, _ = net.gradients(X, Y)
    n0 = net.layer_norms()
    wf.train(net, X, Y, lr=lr, steps=1, progress=False, metrics=False)
    n1 = net.layer_norms()
    g2 = np.array([float(np.sum(g * g)) for g in gw])
    rows = []
    for h in range(2):
        measured = (n1[h] - n1[h + 1]) - (n0[h] - n0[h + 1])
        predicted = lr**2 * (g2[h] - g2[h + 1])
        rows.append({"pair": f"{h + 1}{h + 2}", "measured": float(measured), "predicted": float(predicted),
                     "rel_error": float(abs(measured - predicted) / abs(predicted)),
                     "rounding_scale": float(np.finfo(float).eps * n0.max())})
    return {"lr_mean": lr_mean, "rows": rows}


def relu3(cfg: dict, lrs=(0.02, 0.1)) -> dict:
    """Paper section 4: balanced / unbalanced inits, mean-loss step sizes `lrs` (lr = eta / m)."""
    m, steps = cfg["relu_m"], cfg["relu_steps"]
    X, Y = relu_data(m)
    out = {"m": m, "steps": steps, "record_every": cfg["relu_record"], "runs": []}
    for kind in ("balanced", "unbalanced"):
        for eta in lrs:
            net = relu_init(kind)
            t0 = time.perf_counter()
            run = wf.train(net, X, Y, lr=eta / m, steps=steps, record=cfg["relu_record"], metrics=["layer_norms"])
            norms = run.metrics["layer_norms"]
            d12, d23 = norms[:, 0] - norms[:, 1], norms[:, 1] - norms[:, 2]
            out["runs"].append({
                "init": kind, "eta": eta, "status": run.status, "wall_s": time.perf_counter() - t0,
                "steps": run.steps.tolist(), "loss": (run.loss / m).tolist(), "norms": norms.tolist(),
                "norms0": norms[0].tolist(), "norms_final": norms[-1].tolist(),
                "d12_0": float(d12[0]), "d23_0": float(d23[0]),
                "d12_final": float(d12[-1]), "d23_final": float(d23[-1]),
                "max_change_d12": float(np.max(np.abs(d12 - d12[0]))),
                "max_change_d23": float(np.max(np.abs(d23 - d23[0]))),
                "r12_final": float(norms[-1, 0] / norms[-1, 1]), "r23_final": float(norms[-1, 1] / norms[-1, 2]),
                "loss0": float(run.loss[0] / m), "final_loss": float(run.final_loss / m),
                "spikes": _spikes(run.loss)})
    return out


def eta_scaling(tau=40.0, lrs=(0.2, 0.1, 0.05, 0.025, 0.0125)) -> dict:
    """Drift ||D_T - D_0||_F of D = U^T U - V^T V at fixed flow time tau against the step size."""
    M = low_rank_target(40, 30, 3, seed=0)
    rng = np.random.default_rng(5)
    U0 = rng.standard_normal((40, 3)) * 1e-3
    V0 = rng.standard_normal((30, 3)) * 1e-3
    rows = []
    for lr in lrs:
        steps = int(round(tau / lr))
        run, U, V = train_factorization(U0, V0, M, lr, steps)
        drift = float(run.metrics["gram_drift"][-1, 0])
        rows.append({"lr": lr, "steps": steps, "drift": drift, "per_step_over_lr2": drift / (steps * lr**2),
                     "final_loss": run.final_loss})
    d = np.array([r["drift"] for r in rows])
    slope = float(np.polyfit(np.log(lrs), np.log(d), 1)[0])
    return {"tau": tau, "rows": rows, "halving_ratios": (d[:-1] / d[1:]).tolist(), "slope": slope}


def mf_schedules(cfg: dict) -> dict:
    """Rank-3 asymmetric MF from a small init (variance 1e-6): constant steps, the practical decaying
    schedule c/(sigma_1 (1 + t/1000)^(1/2 + delta)) for delta in {1/2, 1/4}, and the theorem's constant."""
    M = low_rank_target(40, 30, 3, seed=0)
    sigma1 = float(np.linalg.svd(M, compute_uv=False)[0])
    rng = np.random.default_rng(3)
    U0 = rng.standard_normal((40, 3)) * 1e-3
    V0 = rng.standard_normal((30, 3)) * 1e-3
    steps = cfg["mf_steps"]
    runs = {}
    curves = {}
    for lr in (0.2, 0.1, 0.05):
        run, U, V = train_factorization(U0, V0, M, lr, steps)
        runs[f"constant {lr:g}"] = _mf_summary(run, U, V, M)
        curves[f"constant {lr:g}"] = run
    for delta in (0.5, 0.25):
        sched = wf.schedules.inverse_power(0.5 / sigma1, 0.5 + delta, t0=1000.0)
        run, U, V = train_factorization(U0, V0, M, sched, steps)
        key = f"decaying delta={delta:g}"
        runs[key] = _mf_summary(run, U, V, M) | {"sum_eta": float(run.t[-1])}
        curves[key] = run
    # the theorem's schedule sqrt(eps) / (100 (t+1)^(1/2+delta) ||M||_F^(3/2)), eps = 1e-2, delta = 1/2
    eps = 1e-2
    c = math.sqrt(eps) / (100 * np.linalg.norm(M) ** 1.5)
    run, U, V = train_factorization(U0, V0, M, wf.schedules.inverse_power(c, 1.0), cfg["theorem_steps"])
    runs["theorem schedule (eps=1e-2, delta=1/2)"] = _mf_summary(run, U, V, M) | {"sum_eta": float(run.t[-1]),
                                                                                "half_norm2": 0.5 * float(np.sum(M * M))}
    return {"sigma1": sigma1, "nuclear": float(np.linalg.svd(M, compute_uv=False).sum()), "runs": runs,
            "curves": curves}


def counterexample() -> dict:
    """Scalar f(u, v) = 1/2 (uv - 1)^2 with lr = 0.1 and the matrix case of the rank-3 setup with lr = 0.2:
    same product, different balance; stability needs lr (u^2 + v^2) < 2."""
    scalar = []
    one = np.ones((1, 1))
    for u, v in ((0.01, 0.01), (3.0, 1 / 300), (10.0, 0.001)):
        net = wf.DeepNet([np.array([[v]]), np.array([[u]])], activation="linear")
        # the divergence (and the overflow of the diverging state's norms) is the expected outcome here
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", DivergenceWarning)
            run = wf.train(net, one, one, lr=0.1, steps=2000, record="all", progress=False,
                           metrics=["layer_norms"])
        uf, vf = float(net.weights[1][0, 0]), float(net.weights[0][0, 0])
        scalar.append({"u0": u, "v0": v, "stable_at_start": 0.1 * (u * u + v * v) < 2, "status": run.status,
                       "diverged_at": run.diverged_at, "u": uf, "v": vf, "uv": uf * vf,
                       "u2_minus_v2_0": u * u - v * v, "u2_minus_v2_final": uf * uf - vf * vf,
                       "traj": np.stack([run.metrics["layer_norms"][:, 1], run.metrics["layer_norms"][:, 0]],
                                        axis=1).tolist(), "loss": run.loss.tolist()})
    M = low_rank_target(40, 30, 3, seed=0)
    rng = np.random.default_rng(4)
    U0 = rng.standard_normal((40, 3)) * 1e-3
    V0 = rng.standard_normal((30, 3)) * 1e-3
    matrix = []
    for a, b in ((100.0, 100.0), (1000.0, 10.0), (3000.0, 10 / 3)):
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", DivergenceWarning)
            run, U, V = train_factorization(a * U0, b * V0, M, 0.2, 5000, record="all")
        s = _mf_summary(run, U, V, M)
        norms0 = float(np.sum((a * U0) ** 2) + np.sum((b * V0) ** 2))
        s.update({"scale_U": a, "scale_V": b, "lr_times_norms0": 0.2 * norms0, "loss": run.loss.tolist()})
        matrix.append(s)
    return {"scalar": scalar, "matrix": matrix}


def rank1_rate(steps=1000, sigma1=5.0) -> dict:
    """Rank-1 MF M* = sigma1 a b^T (100 x 80), init N(0, s0^2/d): iterations to relative error 1e-8 and the
    contraction factor of the error after the escape phase, against 1 - lr sigma1."""
    d1, d2 = 100, 80
    rng = np.random.default_rng(6)
    a = rng.standard_normal(d1)
    b = rng.standard_normal(d2)
    M = sigma1 * np.outer(a / np.linalg.norm(a), b / np.linalg.norm(b))
    normM = np.linalg.norm(M)
    rows = []
    for c_step in (0.05, 0.2):
        for s0 in (1e-2, 1e-4):
            lr = c_step / sigma1
            r = np.random.default_rng(7)
            u0 = r.standard_normal((d1, 1)) * s0 / math.sqrt(max(d1, d2))
            v0 = r.standard_normal((d2, 1)) * s0 / math.sqrt(max(d1, d2))
            run, U, V = train_factorization(u0, v0, M, lr, steps, record="all")
            err = np.sqrt(2 * np.maximum(run.loss, 0)) / normM
            hit = np.flatnonzero(err < 1e-8)
            # per-step contraction of the error, fitted on two windows after the escape phase
            rate = contraction(run.steps, err, 1e-7, 1e-3)  # where the fast mode along a b^T can still dominate
            rate_tail = contraction(run.steps, err, 1e-13, 1e-9)  # asymptotic: the slowest mode
            norms = run.metrics["layer_norms"]
            diff = norms[:, 1] - norms[:, 0]  # ||u||^2 - ||v||^2
            rows.append({"c_step": c_step, "lr": lr, "s0": s0, "status": run.status,
                         "iters_to_1e-8": int(run.steps[hit[0]]) if hit.size else None,
                         "contraction": rate, "contraction_tail": rate_tail, "theory_contraction": 1 - lr * sigma1,
                         "theory_fast_mode": 1 - 2 * lr * sigma1,
                         "normu2": float(norms[-1, 1]), "normv2": float(norms[-1, 0]),
                         "diff0": float(diff[0]), "diff_max_abs": float(np.max(np.abs(diff))),
                         "err": err.tolist(), "steps": run.steps.tolist()})
    return {"sigma1": sigma1, "rows": rows}


# ---------------------------------------------------------------------------------------------- figures
