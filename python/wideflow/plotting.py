"""Publication-quality plots for shallow ReLU networks (matplotlib, imported lazily).

Every function draws into a matplotlib Axes; `figure()` makes a figure without pyplot (no display
needed) and `save(fig, path)` writes PNG and PDF side by side.
"""

from __future__ import annotations

import os

import numpy as np

COLORS = {
    "pos": "#c0392b",
    "neg": "#2c6fbb",
    "data": "black",
    "cubic": "#27ae60",
    "linear": "#8e44ad",
    "rho": "#e67e22",
    "kernel": "#16a085",
}


def figure(ncols: int = 1, nrows: int = 1, width: float = 4.2, height: float = 3.2, **kw):
    """A (fig, axes) pair built without pyplot."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def save(fig, path: str) -> list[str]:
    """Write `path`.png and `path`.pdf (path without extension); returns the file names."""
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    out = []
    for ext in ("png", "pdf"):
        name = f"{path}.{ext}"
        fig.savefig(name, dpi=150)
        out.append(name)
    return out


def plot_fit(ax, x, y, curves: dict, *, pad: float = 0.3, points: int = 801, title: str | None = None):
    """Data points and curves {label: callable or (callable, style-dict)} on [min x - pad, max x + pad]."""
    grid = np.linspace(np.min(x) - pad, np.max(x) + pad, points)
    for label, spec in curves.items():
        fn, style = spec if isinstance(spec, tuple) else (spec, {})
        ax.plot(grid, fn(grid), label=label, lw=style.pop("lw", 1.6), **style)
    ax.plot(x, y, "o", color=COLORS["data"], ms=4, zorder=5, label="data")
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7, frameon=False)


def plot_loss(ax, runs: dict, *, time: bool = False):
    """Loss against step (or flow time t) on log axes for {label: Run}."""
    for label, run in runs.items():
        xs = run.t if time else np.maximum(run.steps, 1)
        ax.loglog(np.maximum(xs, 1e-12), np.maximum(run.loss, 1e-300), label=label)
    ax.set_xlabel("flow time t" if time else "step")
    ax.set_ylabel("loss")
    ax.legend(fontsize=7, frameon=False)


def plot_uv(ax, u, v, eps, x, *, signed: bool = False, trajectories=None, max_points: int = 4000, seed: int = 0):
    """uv diagram: one point per neuron at w_i = |c_i|(a_i, b_i) (or c_i (a_i, b_i) when signed), red for
    c_i > 0 and blue for c_i < 0, with the data lines u x_j + v = 0 through the origin.

    trajectories: optional list of (u, v) arrays over time (shape (T, m)) drawn as thin lines.
    """
    m = len(u)
    idx = np.arange(m)
    if m > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(m, max_points, replace=False))
    lim = 1.1 * max(np.max(np.abs(u[idx])), np.max(np.abs(v[idx])), 1e-12)
    for xj in x:  # data line: direction (1, -x_j)
        d = np.array([1.0, -xj]) / np.hypot(1.0, xj)
        ax.plot([-lim * d[0], lim * d[0]], [-lim * d[1], lim * d[1]], color="0.8", lw=0.6, zorder=0)
    if trajectories is not None:
        tu, tv = trajectories
        for i in idx[: min(len(idx), 300)]:
            ax.plot(tu[:, i], tv[:, i], color=COLORS["pos"] if eps[i] > 0 else COLORS["neg"], lw=0.4, alpha=0.4)
    pos = idx[eps[idx] > 0]
    neg = idx[eps[idx] <= 0]
    ax.scatter(u[pos], v[pos], s=4, color=COLORS["pos"], label="c > 0", zorder=3)
    ax.scatter(u[neg], v[neg], s=4, color=COLORS["neg"], label="c < 0", zorder=3)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("c·a" if signed else "u = |c| a")
    ax.set_ylabel("c·b" if signed else "v = |c| b")
    ax.legend(fontsize=7, frameon=False, loc="upper right")


def plot_knots(ax, steps, knots, x, *, weights=None, max_lines: int = 400, seed: int = 0, ylim=None):
    """Knot positions e_i(t) over (log) steps, with horizontal lines at the data points x_j.

    steps: (T,) step indices; knots: (T, m) array; weights: optional (m,) alpha values."""
    steps = np.maximum(np.asarray(steps), 1)
    m = knots.shape[1]
    idx = np.arange(m)
    if m > max_lines:
        idx = np.random.default_rng(seed).choice(m, max_lines, replace=False)
    for xj in x:
        ax.axhline(xj, color="0.75", lw=0.6, zorder=0)
    for i in idx:
        ax.semilogx(
            steps,
            knots[:, i],
            color="0.2",
            lw=0.4,
            alpha=0.35 if weights is None else float(np.clip(weights[i], 0.05, 1.0)),
        )
    lo, hi = (np.min(x) - 0.5, np.max(x) + 0.5) if ylim is None else ylim
    ax.set_ylim(lo, hi)
    ax.set_xlabel("step")
    ax.set_ylabel("knot e_i = -b_i/a_i")


# ----------------------------------------------------------------------------------------------------
# regime panels and width-scaling plots (Williams et al. 2019 reproduction)
# ----------------------------------------------------------------------------------------------------


def _curve(spec):
    fn, style = spec if isinstance(spec, tuple) else (spec, {})
    return fn, dict(style)


def plot_regime_panel(
    axes, x, y, panels, limits=None, *, pad: float = 0.3, points: int = 801, ylim=None, legend: str = "first"
):
    """One sub-plot per fitted net: the same data fitted across a regime parameter (e.g. the layer-scale
    ratio from kernel to adaptive, Williams et al. 2019, Figure 4 idea), with the limits overlaid.

    axes: a sequence (or array) of Axes, at least len(panels); unused ones are hidden.
    panels: list of (title, curves) with curves {label: callable or (callable, style-dict)} (the nets).
    limits: {label: callable or (callable, style-dict)} drawn in every panel beneath the nets
        (e.g. natural cubic spline, linear interpolant, rho-weighted spline).
    legend: "first" (legend in the first panel only), "all" or "none".
    """
    axes = list(np.ravel(np.asarray(axes, dtype=object)))
    if len(axes) < len(panels):
        raise ValueError(f"axes: {len(axes)} axes for {len(panels)} panels")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    grid = np.linspace(np.min(x) - pad, np.max(x) + pad, points)
    for k, (ax, (title, curves)) in enumerate(zip(axes, panels)):
        for label, spec in (limits or {}).items():
            fn, style = _curve(spec)
            style.setdefault("lw", 1.2)
            style.setdefault("zorder", 2)
            ax.plot(grid, fn(grid), label=label, **style)
        for label, spec in curves.items():
            fn, style = _curve(spec)
            style.setdefault("lw", 1.6)
            style.setdefault("zorder", 3)
            ax.plot(grid, fn(grid), label=label, **style)
        ax.plot(x, y, "o", color=COLORS["data"], ms=3.5, zorder=5, label="data")
        ax.set_title(title, fontsize=8)
        ax.tick_params(labelsize=7)
        if ylim is not None:
            ax.set_ylim(*ylim)
        if legend == "all" or (legend == "first" and k == 0):
            ax.legend(fontsize=6, frameon=False, loc="best")
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    for ax in axes[: len(panels)]:
        ax.set_xlabel("x", fontsize=8)
        ax.set_ylabel("f(x)", fontsize=8)


def fit_power_law(widths, values, *, lo=None, hi=None):
    """Least-squares fit of log(values) = slope * log(widths) + log(prefactor) over lo <= width <= hi
    (finite, positive values only). Returns (slope, prefactor); (nan, nan) with fewer than 2 points."""
    w = np.asarray(widths, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(w) & np.isfinite(v) & (w > 0) & (v > 0)
    if lo is not None:
        keep &= w >= lo
    if hi is not None:
        keep &= w <= hi
    if np.count_nonzero(keep) < 2:
        return float("nan"), float("nan")
    slope, icpt = np.polyfit(np.log(w[keep]), np.log(v[keep]), 1)
    return float(slope), float(np.exp(icpt))


def plot_scaling(
    ax,
    widths,
    values,
    *,
    spread=None,
    label: str = "",
    fit: bool = True,
    lo=None,
    hi=None,
    color=None,
    marker: str = "o",
    xlabel: str = "width m",
    ylabel: str = "distance",
):
    """Width-scaling plot on log-log axes: values (e.g. a distance to a limit) against widths, with
    optional spread (lower, upper) error bars and a dashed least-squares power-law fit over
    [lo, hi] whose slope goes into the legend. Returns (slope, prefactor) (nan if not fitted)."""
    w = np.asarray(widths, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    slope, pre = fit_power_law(w, v, lo=lo, hi=hi) if fit else (float("nan"), float("nan"))
    text = label
    if np.isfinite(slope):
        text = f"{label} (slope {slope:.2f})" if label else f"slope {slope:.2f}"
    if spread is not None:
        lower, upper = (np.asarray(s, dtype=np.float64) for s in spread)
        err = np.vstack([np.maximum(v - lower, 0.0), np.maximum(upper - v, 0.0)])
        line = ax.errorbar(w, v, yerr=err, fmt=marker + "-", color=color, ms=4, lw=1.0, capsize=2, label=text)[0]
    else:
        (line,) = ax.plot(w, v, marker + "-", color=color, ms=4, lw=1.0, label=text)
    if np.isfinite(slope):
        sel = (w >= (lo if lo is not None else w.min())) & (w <= (hi if hi is not None else w.max()))
        ws = np.geomspace(w[sel].min(), w[sel].max(), 50)
        ax.plot(ws, pre * ws**slope, "--", color=line.get_color(), lw=0.9, alpha=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, frameon=False)
    return slope, pre
