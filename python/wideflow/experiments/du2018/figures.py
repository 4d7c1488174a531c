"""Du, Hu & Lee 2018: the figures."""

from __future__ import annotations

import math

import numpy as np

from .._report import figure, save_figure


def plot_relu3(res: dict, path: str) -> list:
    fig, ax = figure(3, 2, width=4.0, height=3.0)
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
            ax[row, 2].semilogy(
                s, r["loss"], ls, color="C2" if r["eta"] == 0.02 else "C3", label=rf"$\eta$={r['eta']:g}"
            )
        ax[row, 0].set_title(rf"{kind}: $\|W_h\|_F^2 - \|W_{{h+1}}\|_F^2$")
        ax[row, 1].set_title(rf"{kind}: $\|W_h\|_F^2 / \|W_{{h+1}}\|_F^2$")
        ax[row, 1].axhline(1.0, color="gray", lw=0.8)
        ax[row, 2].set_title(rf"{kind}: loss $\frac{{1}}{{2m}}\sum_i\|f(x_i)-y_i\|^2$")
        for a in ax[row]:
            a.set_xlabel("iteration")
            a.legend(fontsize=7, frameon=False)
    return save_figure(fig, path)


def plot_mf(res: dict, cex: dict, path: str) -> list:
    fig, ax = figure(3, 1)
    for i, (name, run) in enumerate(res["curves"].items()):
        label = name.replace("delta", r"$\delta$")
        ax[0, 0].loglog(run.steps[1:], np.maximum(run.loss[1:], 1e-300), label=label, color=f"C{i}")
        ax[0, 1].loglog(run.steps[1:], np.maximum(run.rel_error[1:], 1e-300), color=f"C{i}", label=label)
        ax[0, 2].loglog(run.steps[1:], run.q_norm[1:], color=f"C{i}", label=label)
    ax[0, 0].set_title(r"loss $\frac{1}{2}\|UV^\top - M^*\|_F^2$")
    ax[0, 1].set_title(r"relative error $\|UV^\top - M^*\|_F / \|M^*\|_F$")
    ax[0, 2].set_title(r"imbalance $\|U^\top U - V^\top V\|_F$")
    for a in ax[0]:
        a.set_xlabel("iteration")
        a.legend(fontsize=6, frameon=False)
    return save_figure(fig, path)


def plot_counterexample(cex: dict, path: str) -> list:
    fig, ax = figure(2, 1)
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
        ax[0, 1].semilogy(
            np.arange(loss.size),
            np.maximum(loss, 1e-300),
            color=f"C{i}",
            label=f"{m['scale_U']:g}U0, {m['scale_V']:.3g}V0: {m['status']}",
        )
    ax[0, 1].set_xscale("symlog", linthresh=10)
    ax[0, 1].set_title(r"rank-3 MF, $\eta$ = 0.2, same product $U_0V_0^\top$")
    ax[0, 1].set_xlabel("iteration")
    for a in ax[0]:
        a.legend(fontsize=7, frameon=False)
    return save_figure(fig, path)


def plot_rank1(res: dict, path: str) -> list:
    fig, ax = figure(1, 1, width=5.0)
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
    return save_figure(fig, path)


def plot_eta_scaling(res: dict, path: str) -> list:
    fig, ax = figure(1, 1, width=4.5)
    a = ax[0, 0]
    lrs = np.array([r["lr"] for r in res["rows"]])
    d = np.array([r["drift"] for r in res["rows"]])
    a.loglog(lrs, d, "o-", label=f"measured (slope {res['slope']:.2f})")
    a.loglog(lrs, d[-1] * lrs / lrs[-1], "--", color="gray", label="slope 1 (gradient-flow limit)")
    a.set_xlabel(r"step size $\eta$")
    a.set_ylabel(rf"$\|D_T - D_0\|_F$ at flow time {res['tau']:g}")
    a.legend(fontsize=7, frameon=False)
    return save_figure(fig, path)
