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
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings

import numpy as np

import wideflow as wf

PAPER_DIMS = (1000, 100, 100, 10)


# ---------------------------------------------------------------------------------------------- configs
def _config(quick: bool) -> dict:
    if quick:
        return {"relu_m": 200, "relu_steps": 2000, "relu_record": 5, "mf_steps": 20000, "theorem_steps": 5000,
                "rank1_steps": 1000, "scaling_tau": 40.0}
    return {"relu_m": 1000, "relu_steps": 10000, "relu_record": 10, "mf_steps": 20000, "theorem_steps": 200000,
            "rank1_steps": 1000, "scaling_tau": 40.0}


# ---------------------------------------------------------------------------------------------- helpers
def relu_data(m: int = 1000, seed: int = 0):
    """x_i ~ N(0, I_1000); y_i from a random ReLU teacher of the paper's architecture (He variances)."""
    from ..datasets import teacher_student

    return teacher_student(PAPER_DIMS, m, seed)


def relu_init(kind: str, seed: int = 2) -> wf.DeepNet:
    """balanced: N(0, 1e-4/100), N(0, 1e-4/10), N(0, 1e-4) (variances; E||W_h||^2 = 0.1 each);
    unbalanced: N(0, 1e-4) for all three layers (E||W_h||^2 = 10, 1, 0.1)."""
    var = [1e-6, 1e-5, 1e-4] if kind == "balanced" else [1e-4, 1e-4, 1e-4]
    return wf.DeepNet.init(PAPER_DIMS, variance=var, activation="relu", seed=seed)


def low_rank_target(d1=40, d2=30, r=3, seed=0, sigma1=1.0):
    """M* = A B^T with Gaussian A, B, scaled so that sigma_1(M*) = sigma1."""
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((d1, r)) @ rng.standard_normal((r, d2))
    return M * (sigma1 / np.linalg.svd(M, compute_uv=False)[0])


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


def _rate(steps, err, lo, hi) -> float:
    """exp(slope) of log(err) against the step over the points with lo < err < hi (NaN if too few)."""
    sel = np.flatnonzero((err > lo) & (err < hi))
    if sel.size < 5:
        return float("nan")
    return float(np.exp(np.polyfit(np.asarray(steps)[sel], np.log(err[sel]), 1)[0]))


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
    M = low_rank_target()
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
    M = low_rank_target()
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
        with warnings.catch_warnings():  # the divergence warning is the expected outcome here
            warnings.simplefilter("ignore", RuntimeWarning)
            run = wf.train(net, one, one, lr=0.1, steps=2000, record="all", progress=False,
                           metrics=["layer_norms"])
        uf, vf = float(net.weights[1][0, 0]), float(net.weights[0][0, 0])
        scalar.append({"u0": u, "v0": v, "stable_at_start": 0.1 * (u * u + v * v) < 2, "status": run.status,
                       "diverged_at": run.diverged_at, "u": uf, "v": vf, "uv": uf * vf,
                       "u2_minus_v2_0": u * u - v * v, "u2_minus_v2_final": uf * uf - vf * vf,
                       "traj": np.stack([run.metrics["layer_norms"][:, 1], run.metrics["layer_norms"][:, 0]],
                                        axis=1).tolist(), "loss": run.loss.tolist()})
    M = low_rank_target()
    rng = np.random.default_rng(4)
    U0 = rng.standard_normal((40, 3)) * 1e-3
    V0 = rng.standard_normal((30, 3)) * 1e-3
    matrix = []
    for a, b in ((100.0, 100.0), (1000.0, 10.0), (3000.0, 10 / 3)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            run, U, V = train_factorization(a * U0, b * V0, M, 0.2, 5000, record="all")
        s = _mf_summary(run, U, V, M)
        s.update({"scale_U": a, "scale_V": b, "lr_times_norms0": 0.2 * float(np.sum((a * U0) ** 2) + np.sum((b * V0) ** 2)),
                  "loss": run.loss.tolist()})
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
            rate = _rate(run.steps, err, 1e-7, 1e-3)  # where the fast mode along a b^T can still dominate
            rate_tail = _rate(run.steps, err, 1e-13, 1e-9)  # asymptotic: the slowest mode
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
def _figure(ncols, nrows=1, width=4.2, height=3.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _save(fig, path) -> list:
    out = []
    for ext in ("png", "pdf"):
        fig.savefig(f"{path}.{ext}", dpi=150)
        out.append(os.path.basename(f"{path}.{ext}"))
    return out


def plot_relu3(res: dict, path: str) -> list:
    fig, ax = _figure(3, 2, width=4.0, height=3.0)
    style = {0.02: "-", 0.1: "--"}
    for row, kind in enumerate(("balanced", "unbalanced")):
        for r in res["runs"]:
            if r["init"] != kind:
                continue
            s = np.array(r["steps"])
            n = np.array(r["norms"])
            ls = style.get(r["eta"], ":")
            ax[row, 0].plot(s, n[:, 0] - n[:, 1], ls, color="C0", label=rf"$d_{{12}}$, $\eta$={r['eta']:g}")
            ax[row, 0].plot(s, n[:, 1] - n[:, 2], ls, color="C1", label=rf"$d_{{23}}$, $\eta$={r['eta']:g}")
            ax[row, 1].plot(s, n[:, 0] / n[:, 1], ls, color="C0", label=rf"$r_{{12}}$, $\eta$={r['eta']:g}")
            ax[row, 1].plot(s, n[:, 1] / n[:, 2], ls, color="C1", label=rf"$r_{{23}}$, $\eta$={r['eta']:g}")
            ax[row, 2].semilogy(s, r["loss"], ls, color="C2" if r["eta"] == 0.02 else "C3",
                                label=rf"$\eta$={r['eta']:g}")
        ax[row, 0].set_title(rf"{kind}: $\|W_h\|_F^2 - \|W_{{h+1}}\|_F^2$")
        ax[row, 1].set_title(rf"{kind}: $\|W_h\|_F^2 / \|W_{{h+1}}\|_F^2$")
        ax[row, 1].axhline(1.0, color="gray", lw=0.8)
        ax[row, 2].set_title(rf"{kind}: loss $\frac{{1}}{{2m}}\sum_i\|f(x_i)-y_i\|^2$")
        for a in ax[row]:
            a.set_xlabel("iteration")
            a.legend(fontsize=7, frameon=False)
    return _save(fig, path)


def plot_mf(res: dict, cex: dict, path: str) -> list:
    fig, ax = _figure(3, 1)
    for i, (name, run) in enumerate(res["curves"].items()):
        norms = run.metrics["layer_norms"]
        label = name.replace("delta", r"$\delta$")
        ax[0, 0].loglog(run.steps[1:], np.maximum(run.loss[1:], 1e-300), label=label, color=f"C{i}")
        ax[0, 1].semilogx(run.steps[1:], np.sqrt(norms[1:, 1] / norms[1:, 0]), color=f"C{i}", label=label)
        ax[0, 2].loglog(run.steps[1:], run.metrics["gram_invariants"][1:, 0], color=f"C{i}", label=label)
    ax[0, 0].set_title(r"loss $\frac{1}{2}\|UV^\top - M^*\|_F^2$")
    ax[0, 1].set_title(r"$\|U\|_F / \|V\|_F$")
    ax[0, 1].axhline(1.0, color="gray", lw=0.8)
    ax[0, 2].set_title(r"imbalance $\|U^\top U - V^\top V\|_F$")
    for a in ax[0]:
        a.set_xlabel("iteration")
        a.legend(fontsize=6, frameon=False)
    return _save(fig, path)


def plot_counterexample(cex: dict, path: str) -> list:
    fig, ax = _figure(2, 1)
    u = np.linspace(0.02, 12, 400)
    ax[0, 0].plot(u, 1 / u, color="gray", lw=0.8, label=r"$uv = 1$")
    th = np.linspace(0, np.pi / 2, 200)
    rad = math.sqrt(2 / 0.1)
    ax[0, 0].plot(rad * np.cos(th), rad * np.sin(th), "--", color="gray", lw=0.8, label=r"$\eta(u^2+v^2) = 2$")
    for i, s in enumerate(cex["scalar"]):
        t = np.sqrt(np.array(s["traj"]))
        ax[0, 0].plot(t[:, 0], t[:, 1], ".-", ms=2, color=f"C{i}", label=f"({s['u0']:g}, {s['v0']:.3g}): {s['status']}")
    ax[0, 0].set_xlim(0, 12)
    ax[0, 0].set_ylim(0, 5)
    ax[0, 0].set_xlabel("|u|")
    ax[0, 0].set_ylabel("|v|")
    ax[0, 0].set_title(r"scalar $\frac{1}{2}(uv-1)^2$, $\eta$ = 0.1")
    for i, m in enumerate(cex["matrix"]):
        loss = np.array(m["loss"])
        ax[0, 1].semilogy(np.arange(loss.size), np.maximum(loss, 1e-300), color=f"C{i}",
                          label=f"{m['scale_U']:g}U0, {m['scale_V']:.3g}V0: {m['status']}")
    ax[0, 1].set_xscale("symlog", linthresh=10)
    ax[0, 1].set_title(r"rank-3 MF, $\eta$ = 0.2, same product $U_0V_0^\top$")
    ax[0, 1].set_xlabel("iteration")
    for a in ax[0]:
        a.legend(fontsize=7, frameon=False)
    return _save(fig, path)


def plot_rank1(res: dict, path: str) -> list:
    fig, ax = _figure(1, 1, width=5.0)
    a = ax[0, 0]
    for i, r in enumerate(res["rows"]):
        s, e = np.array(r["steps"]), np.array(r["err"])
        a.semilogy(s, e, color=f"C{i}", label=rf"$\eta$={r['c_step']:g}/$\sigma_1$, $s_0$={r['s0']:g}")
        k = r["iters_to_1e-8"]
        if k is not None:
            ref = 1e-8 * r["theory_contraction"] ** (s - k)
            keep = (ref < 1e-1) & (ref > 1e-14)
            a.semilogy(s[keep], ref[keep], ":", color=f"C{i}")
    a.axhline(1e-8, color="gray", lw=0.8)
    a.set_ylim(1e-16, 10)
    a.set_xlabel("iteration")
    a.set_title(r"rank-1 MF: $\|uv^\top - M^*\|_F/\|M^*\|_F$ (dotted: $(1-\eta\sigma_1)^t$)")
    a.legend(fontsize=7, frameon=False)
    return _save(fig, path)


def plot_eta_scaling(res: dict, path: str) -> list:
    fig, ax = _figure(1, 1, width=4.5)
    a = ax[0, 0]
    lrs = np.array([r["lr"] for r in res["rows"]])
    d = np.array([r["drift"] for r in res["rows"]])
    a.loglog(lrs, d, "o-", label=f"measured (slope {res['slope']:.2f})")
    a.loglog(lrs, d[-1] * lrs / lrs[-1], "--", color="gray", label="slope 1 (gradient-flow limit)")
    a.set_xlabel(r"step size $\eta$")
    a.set_ylabel(rf"$\|D_T - D_0\|_F$ at flow time {res['tau']:g}")
    a.legend(fontsize=7, frameon=False)
    return _save(fig, path)


# ---------------------------------------------------------------------------------------------- report
def _fmt(x, digits=3) -> str:
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if not np.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.{digits}e}"
    return f"{x:.{digits + 1}g}"


def _table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(v) if not isinstance(v, str) else v for v in r) + " |")
    return "\n".join(lines)


def write_report(path, res, cfg, quick, wall, figures, timings) -> None:
    rl = res["relu3"]
    ident = res["identity"]
    sc = res["eta_scaling"]
    mf = res["mf"]
    cex = res["counterexample"]
    r1 = res["rank1"]
    L = []
    L.append("# Du, Hu & Lee (2018): layers are automatically balanced — reproduction\n")
    L.append(f"wideflow {wf.__version__}; {'--quick' if quick else 'full'} run, {wall:.0f} s on "
             f"{os.cpu_count()} cores ({wf.threads_available()} threads).\n")
    if quick:
        L.append(f"**Quick mode**: the ReLU experiment uses m = {cfg['relu_m']} points (paper: 1000) and "
                 f"{cfg['relu_steps']} iterations (paper: 10000), and the theorem-schedule run "
                 f"{cfg['theorem_steps']} steps (full: 200000); everything else is as in the full run.\n")
    L.append("Conventions: wideflow's loss is 1/2 sum ||f(x_i) - y_i||^2; the ReLU experiment quotes the mean loss "
             "1/(2m) sum and step sizes in mean-loss units (lr_wideflow = lr/m), as docs page reproductions assumes. "
             "N(0, s) denotes variance s. The factorization experiments use `wf.DeepNet` (linear, 2 layers) on "
             "identity inputs: W1 = V^T, W2 = U, X = I, Y = M*^T, so f(I) = (U V^T)^T and "
             "W2^T W2 - W1 W1^T = U^T U - V^T V.\n")

    L.append("## 1. Exact one-step identity (paper's 3-layer ReLU net, unbalanced init)\n")
    L.append(f"One GD step at lr = {ident['lr_mean']}/m. Theory: the change of ||W_h||^2 - ||W_h+1||^2 equals "
             "lr^2 (||G_h||^2 - ||G_h+1||^2) exactly (up to rounding).\n")
    L.append(_table(["pair", "measured change", "lr^2 (||G_h||^2 - ||G_h+1||^2)", "relative error",
                     "float64 rounding scale eps*||W||^2"],
                    [[r["pair"], r["measured"], r["predicted"], r["rel_error"], r["rounding_scale"]]
                     for r in ident["rows"]]))
    L.append("")

    L.append(f"## 2. 3-layer ReLU net (paper section 4): m = {rl['m']}, {rl['steps']} iterations\n")
    L.append("Data: x ~ N(0, I_1000), y from a random ReLU teacher of the same architecture (He variances). "
             "Balanced init: variances 1e-6, 1e-5, 1e-4 (E||W_h||^2 = 0.1 each); unbalanced: 1e-4 for all layers "
             "(E||W_h||^2 = 10, 1, 0.1). Theory (gradient flow): d12 = ||W1||^2 - ||W2||^2 and d23 are conserved, so "
             "once the norms grow the ratios r12, r23 tend to 1; GD adds an O(lr^2) drift per step.\n")
    hdr = ["init", "lr", "||W||^2 at t=0", "||W||^2 final", "d12: t=0 -> final", "d23: t=0 -> final",
           "max |change| d12, d23", "r12, r23 final", "loss t=0 -> final", "loss increases"]
    rows = []
    for r in rl["runs"]:
        rows.append([r["init"], r["eta"], ", ".join(_fmt(v) for v in r["norms0"]),
                     ", ".join(_fmt(v) for v in r["norms_final"]),
                     f"{_fmt(r['d12_0'])} -> {_fmt(r['d12_final'])}", f"{_fmt(r['d23_0'])} -> {_fmt(r['d23_final'])}",
                     f"{_fmt(r['max_change_d12'])}, {_fmt(r['max_change_d23'])}",
                     f"{_fmt(r['r12_final'])}, {_fmt(r['r23_final'])}",
                     f"{_fmt(r['loss0'])} -> {_fmt(r['final_loss'])}", r["spikes"]])
    L.append(_table(hdr, rows))
    L.append(f"\n'loss increases' counts increases between consecutive recorded losses (every {rl['record_every']} "
             "iterations). Expected: at lr = 0.02 the drift is small next to the norms, balanced ratios end near 1 and "
             "the unbalanced differences stay at their initial values (about 9 and 0.9) while the ratios move "
             "toward 1; at lr = 0.1 the drift is larger (O(lr^2) per step).\n")
    by = {(r["init"], r["eta"]): r for r in rl["runs"]}
    if ("balanced", 0.02) in by and ("balanced", 0.1) in by:
        a, b = by[("balanced", 0.02)], by[("balanced", 0.1)]
        L.append(f"Drift against lr (balanced, same number of iterations): max |change d12| = {_fmt(a['max_change_d12'])} "
                 f"at lr 0.02 vs {_fmt(b['max_change_d12'])} at lr 0.1 (ratio {_fmt(b['max_change_d12'] / a['max_change_d12'])}; "
                 "lr^2 ratio 25, lr ratio 5: the per-step drift is lr^2 (||G_h||^2 - ||G_h+1||^2) summed over "
                 "the iterations, so with the flow time 5x longer at lr = 0.1 the totals are not a pure power law).\n")
    L.append(f"![relu3]({figures['relu3'][0]})\n")

    L.append(f"## 3. Drift at fixed flow time against lr (rank-3 MF, tau = {sc['tau']:g})\n")
    L.append("Theory: the drift of D = U^T U - V^T V over a fixed flow time tau = lr * steps is about "
             "lr * integral ||G||^2 dt, i.e. linear in lr (O(lr^2) per step); halving lr halves it.\n")
    L.append(_table(["lr", "steps", "||D_T - D_0||_F", "drift / (steps lr^2)", "final loss"],
                    [[r["lr"], r["steps"], r["drift"], r["per_step_over_lr2"], r["final_loss"]] for r in sc["rows"]]))
    L.append(f"\nHalving ratios: {', '.join(_fmt(v) for v in sc['halving_ratios'])} (theory 2 as lr -> 0); fitted "
             f"log-log slope {sc['slope']:.3f} (theory 1); drift / (steps lr^2) approaches a constant as lr -> 0 "
             "(the O(lr^2) per-step drift).\n")
    L.append(f"![eta scaling]({figures['eta'][0]})\n")

    L.append("## 4. Asymmetric matrix factorization, rank 3 (40 x 30, sigma_1 = 1), init variance 1e-6\n")
    L.append(f"||M*||_* = {_fmt(mf['nuclear'])}. Theory (decaying steps, Theorem): GD converges to a global minimum "
             "that stays O(eps)-balanced, so ||U||_F^2 = ||V||_F^2 = ||M*||_* and ||U||/||V|| = 1 to ~1e-3. Practical "
             "schedule eta_t = 0.5 / (sigma_1 (1 + t/1000)^(1/2 + delta)); the theorem's own constant "
             "sqrt(eps)/(100 ||M*||_F^1.5) (eps = 1e-2) is far too small to leave the saddle at 0.\n")
    rows = []
    for name, s in mf["runs"].items():
        dev = s["ratio_U_V"] - 1.0
        ratio = f"1 {'+' if dev >= 0 else '-'} {abs(dev):.1e}" if abs(dev) < 1e-2 else _fmt(s["ratio_U_V"])
        rows.append([name, s["status"], s["steps"], s.get("sum_eta", s["flow_time"]), s["final_loss"], s["normU2"],
                     s["normV2"], s["nuclear"], ratio, s["imbalance0"], s["imbalance_final"]])
    L.append(_table(["schedule", "status", "steps", "sum eta_t", "final loss", "||U||^2", "||V||^2",
                     "theory ||M*||_*", "||U||/||V|| (theory 1)", "||U^TU-V^TV|| t=0", "final"], rows))
    th = mf["runs"]["theorem schedule (eps=1e-2, delta=1/2)"]
    L.append(f"\nTheorem constant: the loss stays at {_fmt(th['final_loss'])} (1/2 ||M*||_F^2 = {_fmt(th['half_norm2'])}) "
             f"after {th['steps']} steps, sum eta_t = {_fmt(th['sum_eta'])}, as docs theory/du2018 warns.\n")
    L.append(f"![mf]({figures['mf'][0]})\n")

    L.append("## 5. Constant-step counterexample (same product, different balance)\n")
    L.append("Theory: GD conserves u^2 - v^2 (U^TU - V^TV) up to O(lr^2), so it cannot rebalance; the local "
             "smoothness grows like u^2 + v^2 and a constant step is stable only if lr (u^2 + v^2) < 2.\n")
    rows = [[f"({s['u0']:g}, {s['v0']:.4g})", 0.1, s["stable_at_start"], s["status"], s["diverged_at"], s["uv"],
             s["u2_minus_v2_0"], s["u2_minus_v2_final"]] for s in cex["scalar"]]
    L.append(_table(["scalar (u0, v0)", "lr", "lr(u^2+v^2) < 2", "status", "diverged at", "final uv",
                     "u^2 - v^2 at t=0", "final"], rows))
    L.append("")
    rows = [[f"{m['scale_U']:g} U0, {m['scale_V']:.4g} V0", 0.2, m["lr_times_norms0"], m["status"], m["diverged_at"],
             m["final_loss"], m["imbalance0"], m["imbalance_final"]] for m in cex["matrix"]]
    L.append(_table(["rank-3 MF init (U0, V0 entries std 1e-3)", "lr", "lr(||U||^2+||V||^2) at t=0", "status",
                     "diverged at", "final loss", "||U^TU-V^TV|| t=0", "last finite"], rows))
    L.append(f"\n![counterexample]({figures['cex'][0]})\n")

    L.append(f"## 6. Rank-1 factorization, constant step: globally linear rate (100 x 80, sigma_1 = {r1['sigma1']:g})\n")
    L.append("Theory: after the escape phase the error contracts by about 1 - lr sigma_1 per step; the iteration "
             "count depends only logarithmically on the init scale s0 and scales like 1/lr; the limit is balanced, "
             "||u||^2 = ||v||^2 = sigma_1, and ||u||^2 - ||v||^2 keeps its tiny initial value.\n")
    rows = [[r["lr"], r["s0"], r["status"], r["iters_to_1e-8"], r["contraction_tail"], r["theory_contraction"],
             r["contraction"], r["theory_fast_mode"], r["normu2"], r["normv2"], r1["sigma1"], r["diff0"],
             r["diff_max_abs"]] for r in r1["rows"]]
    L.append(_table(["lr", "s0", "status", "iterations to rel. error 1e-8", "contraction, error 1e-9..1e-13",
                     "theory 1 - lr sigma_1", "contraction, error 1e-3..1e-7", "fast mode 1 - 2 lr sigma_1",
                     "||u||^2", "||v||^2", "theory", "||u||^2-||v||^2 t=0", "max |.|"], rows))
    L.append("\nThe error has a component along a b^T, which contracts by 1 - 2 lr sigma_1 per step, and components "
             "in the other tangent directions, which contract by 1 - lr sigma_1 (the globally linear rate). From a "
             "tiny init the second kind starts tiny, so the fast mode dominates the first decades of the decay; the "
             "asymptotic rate is the slow one.")
    L.append(f"\n![rank1]({figures['rank1'][0]})\n")
    L.append("Figures are written as PNG and PDF; all numbers are in results.json. Wall time per part: "
             + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + ".\n")
    with open(path, "w") as fh:
        fh.write("\n".join(L))


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
    with open(os.path.join(out_dir, "results.json"), "w") as fh:
        json.dump(_jsonable({"quick": quick, "config": cfg, "wall_s": wall, "timings_s": timings, **res}), fh)
    report = os.path.join(out_dir, "report.md")
    write_report(report, res, cfg, quick, wall, figures, timings)
    return report
