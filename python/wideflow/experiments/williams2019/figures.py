"""The figures of the Williams et al. 2019 study, drawn from stored runs (curves, snapshots, parameters)."""

from __future__ import annotations

import math
import os

import numpy as np

from ... import datasets
from ...recording import Run
from .._report import figure, save_figure
from .measures import closest


def _fn(xs, ys):
    xs, ys = np.asarray(xs), np.asarray(ys)
    return lambda t: np.interp(t, xs, ys)


def _run(e) -> Run:
    return Run(steps=np.asarray(e["steps"]), t=np.asarray(e["t"]), loss=np.asarray(e["loss"]))


def regimes(out_dir, dataset, results, refs, checkpoint: int) -> list[str]:
    from ... import plotting

    x, y = datasets.load(dataset)
    rows = [r for r in results if r["dataset"] == dataset]
    if not rows:
        return []
    ncols = 4
    fig, axes = figure(ncols, int(math.ceil(len(rows) / ncols)), width=3.3, height=2.7)
    C = plotting.COLORS
    panels = []
    for r in rows:
        rg, e, cv = r["regime"], r["end"], r["curves"]
        title = f"{rg.label} {rg.scales}\nloss {e['loss']:.1e} @ {e['step']:,} steps; closest: {closest(e)}"
        curves = {}
        if "conly" in cv:
            curves["c-only limit (this init)"] = (
                _fn(cv["x"], cv["conly"]),
                {"color": C["kernel"], "lw": 1.0, "ls": "-."},
            )
        if "checkpoint" in cv:
            curves[f"net @ {checkpoint:,} epochs"] = (_fn(cv["x"], cv["checkpoint"]), {"color": "0.6", "lw": 1.2})
        curves["net at end"] = (_fn(cv["x"], cv["end"]), {"color": "black", "lw": 1.4})
        panels.append((title, curves))
    lims = {
        "natural cubic spline": (refs["ncs"], {"color": C["cubic"], "ls": "--"}),
        "linear interpolant": (refs["linear"], {"color": C["linear"], "ls": ":", "lw": 1.6}),
    }
    plotting.plot_regime_panel(axes, x, y, panels, lims, ylim=(float(np.min(y)) - 0.9, float(np.max(y)) + 0.9))
    fig.suptitle(
        f"{dataset}: kernel (left, first layer dominant) to adaptive (right), width m = {rows[0]['m']}, "
        "alpha = m, full-batch GD",
        fontsize=9,
    )
    return save_figure(fig, os.path.join(out_dir, f"regimes_{dataset}"))


def _pick(results, dataset, key):
    return next((r for r in results if r["dataset"] == dataset and r["regime"].key == key), None)


def uv(out_dir, results) -> list[str]:
    from ... import plotting

    x, _ = datasets.load("square10")
    pair = [_pick(results, "square10", k) for k in ("kernel-unif", "adaptive-0.1")]
    if any(r is None or not r["snaps"] or "net" not in r for r in pair):
        return []
    fig, axes = figure(2, 1, width=4.2, height=4.0)
    for ax, r in zip(axes[0], pair):
        snaps = r["snaps"]
        tu = np.array([np.abs(s["c"]) * s["a"] for _, s in snaps])
        tv = np.array([np.abs(s["c"]) * s["b"] for _, s in snaps])
        u, v, eps = r["net"].uv()
        plotting.plot_uv(ax, u, v, eps, x, trajectories=(tu, tv), max_points=1500)
        ax.set_title(
            f"{r['regime'].label} {r['regime'].scales}: final w_i, paths over {snaps[-1][0]:,} steps", fontsize=8
        )
    return save_figure(fig, os.path.join(out_dir, "uv_square10"))


def knots(out_dir, results, checkpoint: int) -> list[str]:
    from ... import plotting

    x, _ = datasets.load("square10")
    pair = [_pick(results, "square10", k) for k in ("kernel-unif", "adaptive-0.1")]
    if any(r is None or not r["snaps"] or "net" not in r for r in pair):
        return []
    fig, axes = figure(2, 1, width=4.4, height=3.2)
    for ax, r in zip(axes[0], pair):
        snaps = r["snaps"]
        steps = np.array([s for s, _ in snaps])
        with np.errstate(divide="ignore", invalid="ignore"):
            kn = np.array([np.where(st["a"] != 0, -st["b"] / st["a"], np.nan) for _, st in snaps])
        u, v, _ = r["net"].uv()
        mass = np.hypot(u, v)
        w = 0.08 + 0.92 * mass / mass.max() if mass.max() > 0 else None
        plotting.plot_knots(ax, steps, kn, x, weights=w, max_lines=300)
        ax.plot(
            np.full(len(x), steps.max() * 1.6),
            x,
            "<",
            color=plotting.COLORS["pos"],
            ms=4,
            clip_on=False,
            label="data points x_j",
        )
        ax.set_xlim(0.8, steps.max() * 2.0)
        ax.axvline(checkpoint, color="0.5", ls=":", lw=0.8)
        ax.legend(fontsize=6, frameon=False, loc="lower left")
        ax.set_title(f"{r['regime'].label} {r['regime'].scales} (line darkness ~ final |w_i|)", fontsize=8)
    return save_figure(fig, os.path.join(out_dir, "knots_square10"))


def losses(out_dir, results, datasets_, checkpoint: int) -> list[str]:
    from ... import plotting

    sets = [ds for ds in datasets_ if any(r["dataset"] == ds for r in results)]
    if not sets:
        return []
    fig, axes = figure(len(sets), 1, width=4.6, height=3.4)
    for ax, ds in zip(axes[0], sets):
        runs = {f"{r['regime'].label} {r['regime'].scales}": _run(r) for r in results if r["dataset"] == ds}
        plotting.plot_loss(ax, runs)
        ax.axvline(checkpoint, color="0.5", ls=":", lw=0.8)
        ax.set_title(f"{ds}: loss (dotted: the paper's {checkpoint:,} epochs)", fontsize=8)
        ax.legend(fontsize=6, frameon=False)
    return save_figure(fig, os.path.join(out_dir, "loss_curves"))


def trained_sets(out_dir, ts_rows, refs) -> list[str]:
    from ... import plotting

    if not ts_rows:
        return []
    x, y = datasets.load("square10")
    C = plotting.COLORS
    inits = list(dict.fromkeys((r["key"], r["label"]) for r in ts_rows))
    fig, axes = figure(len(inits), 1, width=3.6, height=3.0)
    colors = {"outer": C["kernel"], "inner": C["rho"], "all": "black"}
    panels = []
    for key, label in inits:
        rows = [r for r in ts_rows if r["key"] == key]
        curves = {
            f"train={r['train']} (loss {r['end']['loss']:.0e})": (
                _fn(r["curves"]["x"], r["curves"]["end"]),
                {"color": colors[r["train"]]},
            )
            for r in rows
        }
        panels.append((f"{label} {rows[0]['scales']}", curves))
    lims = {
        "natural cubic spline": (refs["ncs"], {"color": C["cubic"], "ls": "--"}),
        "linear interpolant": (refs["linear"], {"color": C["linear"], "ls": ":", "lw": 1.6}),
        "NTK interpolant (K_c + K_theta)": (refs["k_ntk"], {"color": "0.6", "ls": "-.", "lw": 1.0}),
    }
    plotting.plot_regime_panel(axes, x, y, panels, lims, legend="all", ylim=(-1.9, 1.9))
    fig.suptitle(f"square10, width m = {ts_rows[0]['m']}: which parameters are trained", fontsize=9)
    return save_figure(fig, os.path.join(out_dir, "trained_sets"))


def flow(out_dir, pairs, long_runs) -> list[str]:
    """GD next to the flow (same init, same flow time), and the long flow runs on the sinusoid."""
    from ... import plotting

    pairs = [p for p in pairs if p["flow"] is not None]
    if not pairs and not long_runs:
        return []
    sets = [ds for ds in ("square10", "sine10") if any(p["dataset"] == ds for p in pairs)]
    ncols = max(1, len(sets)) + (1 if long_runs else 0)
    fig, axes = figure(ncols, 1, width=4.4, height=3.4)
    C = plotting.COLORS
    for ax, ds in zip(axes[0], sets):
        x, y = datasets.load(ds)
        for k, p in enumerate(p for p in pairs if p["dataset"] == ds):
            color = f"C{k}"
            g, f = p["gd"]["curves"], p["flow"]["curves"]
            label = p["regime"].scales if p["regime"] else p["gd"]["id"]
            ax.plot(g["x"], g["end"], "-", color=color, lw=1.2, label=f"{label} GD")
            ax.plot(f["x"], f["end"], "--", color=color, lw=1.2, label=f"{label} flow")
        ax.plot(x, y, "o", color=C["data"], ms=3.5, zorder=5)
        ax.set_title(f"{ds}: GD (solid) and the flow at the same time (dashed)", fontsize=8)
        ax.legend(fontsize=6, frameon=False)
    if long_runs:
        ax = axes[0, -1]
        for k, r in enumerate(long_runs):
            label = r["regime"].scales if r["regime"] else r["id"]
            ax.loglog(
                np.maximum(r["t"], 1e-12),
                np.maximum(r["loss"], 1e-300),
                color=f"C{k}",
                label=f"sine10 {label}: flow to t = {r['t'][-1]:.3g}",
            )
        ax.set_xlabel("flow time t")
        ax.set_ylabel("loss")
        ax.set_title("the long flow runs on the sinusoid", fontsize=8)
        ax.legend(fontsize=6, frameon=False)
    return save_figure(fig, os.path.join(out_dir, "flow"))
