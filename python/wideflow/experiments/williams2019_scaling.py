"""Williams et al. 2019, section 5 of the report: width scaling of the kernel-regime limit, m = 10^2..10^8.

Two measurements on the 10 square-wave points, every distance a sup norm on the data hull [x_1, x_n] = [-1, 1]
(2001 uniform points; the limits are NOT compared outside the data, where the natural spline is linear and the
kernel interpolant is not):

1. The exact c-only limit at width m (what gradient descent on the outer weights converges to, exactly, from
   an antisymmetric init) against the m = infinity kernel interpolant K_inf of the init law, its
   rho-weighted spline, the natural cubic spline (NCS) and the linear interpolant; m = 10^2..10^8 (full mode),
   several seeds. It costs one streamed O(m n^2) pass per net (``wideflow.random_features``): m = 10^8 takes
   seconds and O(n P) memory.
2. Gradient descent with ALL layers trained in the kernel regime (alpha = m, first layer dominant), against
   its own c-only limit and the same m = infinity limits; m = 10^2..10^6.

Floors. The distance to K_inf has no floor (Monte Carlo rate m^-1/2). The distance to another limit X levels off
at the gap sup|K_inf - X| once the Monte Carlo error falls below it: for uniform knots the NCS / rho-spline floor
is the affine-part gap (K_inf penalizes the affine part, the spline does not); for Gaussian (a, b) the NCS floor
is the Gaussian-rho gap (rho ~ (1+e^2)^-2 is not constant) and the rho-spline floor the affine-part gap. The
predicted crossing width is m* = (floor / C)^(1/slope) with C m^slope the fit of the distance to K_inf.

    python -m wideflow.experiments.williams2019_scaling OUT_DIR [--quick]   # this part alone
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

from .. import datasets, limits, random_features
from ..shallow import ShallowReLU
from .williams2019 import (Config, _e, _even, _f, _Log, _pool_map, _table, learning_rate, references, train_long)

__all__ = ["run_conly", "run_gd", "summarize", "figure", "report_section", "checks", "reproduce_scaling", "save_rows",
           "load_rows",
           "SCHEMES", "FLOORS"]

SCHEMES = ("uniform_knots", "gaussian")
KEYS = ("kinf", "rho", "ncs", "linear")
NAMES = {"kinf": "K∞", "rho": "ρ-spline", "ncs": "NCS", "linear": "linear"}
# which gap each distance levels off at (None: no floor), per scheme
FLOORS = {
    "uniform_knots": {"kinf": None, "rho": "affine-part gap", "ncs": "affine-part gap", "linear": "not a kernel limit"},
    "gaussian": {"kinf": None, "rho": "affine-part gap", "ncs": "Gaussian-ρ gap", "linear": "not a kernel limit"},
}


def _grid(x, points: int = 2001):
    return np.linspace(float(np.min(x)), float(np.max(x)), points)


def _ref_values(refs, scheme, t):
    return {"kinf": refs[f"kinf_{scheme}"](t), "rho": refs[f"rho_{scheme}"](t), "ncs": refs["ncs"](t),
            "linear": refs["linear"](t)}


def _conly_job(args):
    scheme, m, seed, L, x, y, t, ref_vals = args
    t0 = time.perf_counter()
    o = random_features.outer_limit_at_width(m, x, y, t, scheme=scheme, seed=seed, L=L, threads=1)
    d = {k: float(np.max(np.abs(o.values - v))) for k, v in ref_vals.items()}
    return dict(scheme=scheme, m=m, seed=seed, residual=o.residual, cond=o.cond, wall=time.perf_counter() - t0, **d)


def run_conly(cfg: Config, refs: dict, log) -> list:
    """The exact c-only limit at every (scheme, width, seed) of `cfg` (streamed, never the n x m features)."""
    x, y = datasets.load("square10")
    t = _grid(x)
    jobs = []
    for scheme in SCHEMES:
        vals = _ref_values(refs, scheme, t)
        for k, m in enumerate(cfg.scaling_widths):
            for s in range(cfg.scaling_seeds):
                jobs.append((scheme, _even(m), 1000 * k + s + cfg.seed, cfg.L, x, y, t, vals))
    jobs.sort(key=lambda j: -j[1])  # widest first: balances the pool
    rows = _pool_map(_conly_job, jobs, cfg, log,
                     f"width scaling, exact c-only limits (m <= {max(cfg.scaling_widths):,}, streamed Gram)")
    return sorted(rows, key=lambda r: (SCHEMES.index(r["scheme"]), r["m"], r["seed"]))


def _gd_job(args):
    scheme, m, cfg, refs = args
    x, y = datasets.load("square10")
    t = _grid(x)
    s_in, s_out = cfg.gd_scales
    net = ShallowReLU.init(m, scheme=scheme, inner_scale=s_in, outer_scale=s_out, seed=cfg.seed, L=cfg.L,
                           antisymmetric=True)
    net0 = net.copy()
    fg = random_features.feature_gram(net0.a, net0.b, x, t)  # f0 = 0 exactly (antisymmetric doubling)
    conly = random_features.outer_limit(fg, y).values
    vals = _ref_values(refs, scheme, t)
    lr = learning_rate(net, x, eta_lambda=cfg.gd_eta_lambda, lr_bar_cap=cfg.lr_bar_cap)
    run = train_long(net, x, y, lr=lr, steps=cfg.gd_steps, tol=cfg.gd_loss_tol, threads=1)
    f = net(t)
    row = {k: float(np.max(np.abs(f - v))) for k, v in vals.items()}
    row["conly"] = float(np.max(np.abs(f - conly)))
    row["conly_kinf"] = float(np.max(np.abs(conly - vals["kinf"])))
    row["conly_ncs"] = float(np.max(np.abs(conly - vals["ncs"])))
    row.update(kmf=limits.knot_mass_fraction(net, x), median_knot=limits.median_knot_displacement(net0, net),
               drift=limits.invariant_drift(net0, net))
    return dict(scheme=scheme, m=m, lr=lr, alpha=net.alpha, steps=run.final_step, loss=run.final_loss,
                status=run.status, wall=run.wall_time, row=row)


def run_gd(cfg: Config, refs: dict, log) -> list:
    """GD with all layers trained in the kernel regime at the widths of `cfg.gd_runs`."""
    pairs = [(s, _even(m)) for s, widths in cfg.gd_runs for m in widths]
    jobs = sorted(((s, m, cfg, refs) for s, m in pairs), key=lambda j: -j[1])  # widest first
    what = f"width scaling, GD (all layers) in the kernel regime (m <= {max(m for _, m in pairs):,})"
    res = _pool_map(_gd_job, jobs, cfg, log, what)
    order = {pair: i for i, pair in enumerate(pairs)}
    return sorted(res, key=lambda r: order[(r["scheme"], r["m"])])


def summarize(rows, refs, cfg):
    """Per scheme: mean/min/max over seeds per width, slopes fitted over the WHOLE range and over the
    pre-floor range, floors and the predicted crossing widths m* = (floor / C)^(1/slope) of the K_inf fit."""
    from ..plotting import fit_power_law

    x, _ = datasets.load("square10")
    out = {}
    for scheme in SCHEMES:
        sel = [r for r in rows if r["scheme"] == scheme]
        widths = sorted({r["m"] for r in sel})
        table = {}
        for key in KEYS:
            vals = np.array([[r[key] for r in sel if r["m"] == m] for m in widths])
            table[key] = (vals.mean(1), vals.min(1), vals.max(1))
        slope_k, pre_k = fit_power_law(widths, table["kinf"][0])
        floors = {"rho": limits.distance(refs[f"kinf_{scheme}"], refs[f"rho_{scheme}"], x.min(), x.max())["sup"],
                  "ncs": limits.distance(refs[f"kinf_{scheme}"], refs["ncs"], x.min(), x.max())["sup"],
                  "linear": limits.distance(refs[f"kinf_{scheme}"], refs["linear"], x.min(), x.max())["sup"]}
        cross = {k: (floors[k] / pre_k) ** (1.0 / slope_k) if slope_k < 0 else math.nan for k in floors}
        slopes = {k: fit_power_law(widths, table[k][0])[0] for k in KEYS}
        # pre-floor fit: widths at least 10x below the crossing (the Monte Carlo error dominates there)
        slopes_pre = {"kinf": slope_k}
        for k in ("rho", "ncs"):
            slopes_pre[k] = fit_power_law(widths, table[k][0], hi=cross[k] / 10)[0] if np.isfinite(cross[k]) \
                else math.nan
        out[scheme] = dict(widths=widths, table=table, slopes=slopes, slopes_pre=slopes_pre, prefactor=pre_k,
                           floors=floors, cross=cross, seeds=cfg.scaling_seeds,
                           wall=float(sum(r["wall"] for r in sel)),
                           wall_max=max((r["wall"] for r in sel if r["m"] == widths[-1]), default=math.nan))
    return out


def figure(out_dir, summary, gd_rows, cfg):
    from .. import plotting

    C = plotting.COLORS
    fig, axes = plotting.figure(2, 1, width=5.0, height=4.1)
    for ax, scheme in zip(axes[0], SCHEMES):
        s = summary[scheme]
        w = np.array(s["widths"], dtype=float)
        curves = [("kinf", "vs m = ∞ kernel interpolant K_inf", C["neg"])]
        if scheme == "uniform_knots":
            curves.append(("ncs", "vs natural cubic spline (= ρ-spline)", C["cubic"]))
            title = f"uniform knots on [-{cfg.L:g}, {cfg.L:g}]"
        else:
            curves += [("ncs", "vs natural cubic spline", C["cubic"]),
                       ("rho", "vs ρ-spline, ρ ~ (1+e²)⁻²", C["rho"])]
            title = "Gaussian (a, b)"
        wf = np.geomspace(w[0], w[-1], 200)
        mc = s["prefactor"] * wf ** s["slopes"]["kinf"]  # the K_inf fit: the Monte Carlo error
        for key, label, color in curves:
            mean, lo, up = s["table"][key]
            slope = s["slopes"][key]
            plotting.plot_scaling(ax, w, mean, spread=(lo, up), label=f"{label} (slope {slope:.2f} over all m)",
                                  color=color, fit=False, ylabel="sup distance on the data hull [-1, 1]")
            if key == "kinf":
                ax.plot(wf, mc, "--", color=color, lw=0.9, alpha=0.8)
        floor_keys = [("ncs", C["cubic"])] + ([("rho", C["rho"])] if scheme == "gaussian" else [])
        for key, color in floor_keys:
            F, mstar = s["floors"][key], s["cross"][key]
            ax.axhline(F, color=color, lw=0.7, ls=":")
            ax.plot(wf, np.hypot(F, mc), "--", color=color, lw=0.9, alpha=0.8)  # floor model sqrt(F^2 + fit^2)
            high = scheme == "gaussian" and key == "ncs"  # the curves below it run through the left part
            ax.text(w[-1] if high else w[0], F * 1.15 if high else F / 1.15,
                    f"floor sup|K_inf − {NAMES[key]}| = {F:.2g} ({FLOORS[scheme][key]})", fontsize=6, color=color,
                    ha="right" if high else "left", va="bottom" if high else "top")
            if np.isfinite(mstar) and w[0] <= mstar <= w[-1]:
                ax.plot([mstar], [F], "v", color="black", mfc=color, ms=7, zorder=6)
        ax.plot(w, s["table"]["kinf"][0][0] * (w / w[0]) ** -0.5, color="0.75", lw=0.8, zorder=0, label="m^-1/2")
        gd = [g for g in gd_rows if g["scheme"] == scheme]
        if gd:
            ax.plot([g["m"] for g in gd], [g["row"]["kinf"] for g in gd], "s", mfc="none", color="black", ms=7,
                    label="GD, all layers, (σ_θ, σ_c) = ({:g}, {:g}): vs K_inf".format(*cfg.gd_scales))
            ax.plot([g["m"] for g in gd], [g["row"]["conly"] for g in gd], "x", color="black", ms=6,
                    label="GD, all layers: vs its own c-only limit")
        ax.set_title(f"{title}: exact c-only limit at width m\nmean and min–max of {s['seeds']} seeds; "
                     "▼ where the K_inf fit meets the floor", fontsize=8)
        ax.legend(fontsize=6, frameon=False, loc="upper right")
    return plotting.save(fig, os.path.join(out_dir, "width_scaling"))


def _scaling_table(summary):
    rows = []
    for scheme, s in summary.items():
        t = s["table"]
        for k, m in enumerate(s["widths"]):
            rows.append([scheme, f"{m:,}"] + [f"{t[key][0][k]:.2e} [{t[key][1][k]:.1e}, {t[key][2][k]:.1e}]"
                                               for key in KEYS])
    header = ["scheme", "m", "vs K∞ (mean [min, max])", "vs ρ-spline", "vs NCS", "vs linear"]
    return _table(header, rows)


def _slope_table(summary):
    rows = []
    for scheme, s in summary.items():
        wmin, wmax = s["widths"][0], s["widths"][-1]
        for key in KEYS:
            F = s["floors"].get(key)
            mstar = s["cross"].get(key, math.nan)
            floor = "none (Monte-Carlo rate, predicted −0.5)" if key == "kinf" else \
                f"{F:.2e} = sup|K∞ − {NAMES[key]}| ({FLOORS[scheme][key]})"
            meet = "—" if key in ("kinf", "linear") else (f"{mstar:,.0f}" if np.isfinite(mstar) else "n/a")
            last = s["table"][key][0][-1]
            ratio = "—" if key == "kinf" else f"{last / F:.2f}"
            rows.append([scheme, NAMES[key], f"{s['slopes'][key]:.3f}", _f(s["slopes_pre"].get(key), ".3f")
                         if key != "linear" else "—", f"{last:.2e}", floor, meet, ratio])
    header = ["scheme", "distance of the c-only limit to", f"slope, all m ∈ [{wmin:,}, {wmax:,}]",
              "slope before the floor (m ≤ m*/10)", f"mean at m = {wmax:,}", "floor", "meets floor at m* ≈",
              f"value / floor at m = {wmax:,}"]
    return _table(header, rows)


def _gd_table(gd_rows, uniform_kmf):
    rows = []
    for g in gd_rows:
        s = g["row"]
        rows.append([g["scheme"], f"{g['m']:,}", f"{g['steps']:,}", _e(g["lr"] / g["alpha"]), _e(g["loss"]),
                     _e(s["conly"]), _e(s["conly_kinf"]), _e(s["kinf"]), _e(s["ncs"]), _e(s["rho"]), _e(s["linear"]),
                     f"{_f(s['kmf'], '.2f')} ({uniform_kmf:.2f})", _e(s["median_knot"]), _e(s["drift"]), g["status"],
                     f"{g['wall']:.0f}"])
    header = ["scheme", "m", "steps", "η/α", "loss", "sup|f − own c-only limit|", "sup|c-only limit − K∞|",
              "sup|f − K∞|", "sup|f − NCS|", "sup|f − ρ-spline|", "sup|f − linear|", "knot mass (uniform)",
              "median knot move", "δ drift", "status", "train s"]
    return _table(header, rows)


def report_section(summary, gd_rows, cfg, number: int = 5) -> list:
    x, _ = datasets.load("square10")
    ukmf = limits.uniform_knot_mass_fraction(x)
    wall = {k: s["wall"] for k, s in summary.items()}
    lines = [
        f"## {number}. Width scaling of the kernel limit",
        "",
        "The exact c-only limit (what GD on c converges to) of a width-m net with antisymmetric doubling, from "
        "one streamed O(m n²) pass over drawn neurons (`wideflow.random_features.outer_limit_at_width`: only the "
        "10 × 10 Gram and the cross Gram on the 2001 evaluation points are formed, never the n × m features or "
        "the m parameters), against the m = ∞ kernel interpolant K∞, the ρ-weighted spline, the NCS and the "
        f"linear interpolant; {cfg.scaling_seeds} seeds per width. The limit does not depend on the layer scales "
        "or on α. All distances are sup norms on the data hull [−1, 1] (2001 points): outside the data the NCS "
        "is linear and K∞ is not, so they are not compared there. Compute: "
        + ", ".join(f"{k} {v:.0f} s in all" for k, v in wall.items())
        + f" (the widest single pass, m = {max(cfg.scaling_widths):,}: "
        + ", ".join(f"{k} {s['wall_max']:.1f} s" for k, s in summary.items()) + ", one thread).",
        "",
        _scaling_table(summary),
        "",
        "Fitted slopes of log(mean distance) against log m, floors and where each distance meets its floor "
        "(m* = the width where the K∞ fit C·m^slope equals the floor):",
        "",
        _slope_table(summary),
        "",
        "Reading: the distance to K∞ falls at the Monte Carlo rate m^{-1/2} over the whole range. The distance "
        "to the NCS (uniform knots) and to the ρ-spline (both laws) follows it until it meets the affine-part gap "
        "(the random-feature RKHS charges affine functions, the splines leave them free), then stays there; for "
        "Gaussian (a, b) the distance to the NCS meets the much larger Gaussian-ρ gap early (\"uniform ⇒ cubic\", "
        "\"Gaussian ⇒ weighted\").",
        "",
        "Full gradient descent (all layers) in the kernel regime, (σ_θ, σ_c) = ({:g}, {:g}), α = m, "
        .format(*cfg.gd_scales) + f"η = {cfg.gd_eta_lambda:g}/λ_max(JJᵀ at init), trained until the loss is ≤ {cfg.gd_loss_tol:g} (checked at "
        f"1, 3, 9, 27 × 10⁴ … steps) or {cfg.gd_steps:,} steps:",
        "",
        _gd_table(gd_rows, ukmf),
        "",
        "With α = m the first layer moves by the same relative amount at every width, so a converged GD net "
        "stays at a distance from its own c-only limit (column *sup|f − own c-only limit|*) that does not shrink "
        "with m; it is set by the scale separation (σ_θ/σ_c) and is the floor of the GD curve against K∞ once "
        "the c-only limit's own Monte Carlo error (column *sup|c-only limit − K∞|*) falls below it. A loss "
        "above the tolerance means the run hit the step cap on the slow directions of the ill-conditioned Gram.",
        "",
        "Figure: `width_scaling.png` (log–log; slopes fitted over the whole range in the legend; dashed: the K∞ "
        "fit C·m^slope and, for the other limits, sqrt(floor² + (C·m^slope)²); floors dotted; ▼ the crossing "
        "m*; GD-trained nets as black markers).",
        "",
    ]
    return lines


def checks(summary, gd_rows, cfg) -> list:
    lines = []
    for scheme, s in summary.items():
        sl = s["slopes"]["kinf"]
        ok = -0.6 < sl < -0.4
        lines.append(f"- {'PASS' if ok else 'NOT MET'}: {scheme}: the distance of the exact c-only limit to K∞ falls "
                     f"like m^-1/2: fitted slope {sl:.3f} over m ∈ [{s['widths'][0]:,}, {s['widths'][-1]:,}].")
        for key in ("rho", "ncs") if scheme == "gaussian" else ("ncs",):
            F, last = s["floors"][key], s["table"][key][0][-1]
            ok = abs(last / F - 1) < 0.25 and s["cross"][key] < s["widths"][-1]
            lines.append(f"- {'PASS' if ok else 'NOT MET'}: {scheme}: the distance to the {NAMES[key]} meets its "
                         f"floor {F:.2e} ({FLOORS[scheme][key]}) near m* ≈ {s['cross'][key]:,.0f}: "
                         f"{last:.2e} at m = {s['widths'][-1]:,}.")
    for scheme in SCHEMES:
        g = [r for r in gd_rows if r["scheme"] == scheme]
        if len(g) >= 2:
            d = [r["row"]["kinf"] for r in g]
            ok = d[-1] < d[0]
            lines.append(f"- {'PASS' if ok else 'NOT MET'}: {scheme}: GD-trained (all layers) kernel-regime nets "
                         "approach K∞ as m grows: sup|f − K∞| = "
                         + ", ".join(f"{v:.1e} (m = {r['m']:,}, loss {r['loss']:.0e})" for v, r in zip(d, g)) + ".")
    return lines


def save_rows(out_dir, rows, gd_rows) -> str:
    """The measured rows as JSON (scaling_rows.json), so the figure and tables can be redrawn without rerunning."""
    import json

    path = os.path.join(out_dir, "scaling_rows.json")
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump({"conly": rows, "gd": gd_rows}, fh, default=float)
    os.replace(path + ".tmp", path)
    return path


def load_rows(out_dir):
    import json

    with open(os.path.join(out_dir, "scaling_rows.json"), encoding="utf-8") as fh:
        d = json.load(fh)
    return d["conly"], d["gd"]


def reproduce_scaling(out_dir: str = "wideflow-out/williams2019-scaling", quick: bool = False, *,
                      config: Config | None = None, quiet: bool = False) -> str:
    """Run only the width-scaling part; writes width_scaling.png/.pdf and scaling.md into out_dir."""
    cfg = config if config is not None else (Config.quick() if quick else Config.full())
    os.makedirs(out_dir, exist_ok=True)
    log = _Log(quiet)
    t0 = time.perf_counter()
    x, y = datasets.load("square10")
    refs = references(x, y, cfg.L)
    rows = run_conly(cfg, refs, log)
    t1 = time.perf_counter()
    gd_rows = run_gd(cfg, refs, log)
    t2 = time.perf_counter()
    save_rows(out_dir, rows, gd_rows)
    summary = summarize(rows, refs, cfg)
    figs = figure(out_dir, summary, gd_rows, cfg)
    total = time.perf_counter() - t0
    path = os.path.join(out_dir, "scaling.md")
    head = [f"# Williams et al. 2019 — width scaling only (mode {cfg.mode}); total {total:.0f} s "
            f"(c-only limits {t1 - t0:.0f} s, GD {t2 - t1:.0f} s)", ""]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(head + report_section(summary, gd_rows, cfg) + ["## Checks", ""]
                           + checks(summary, gd_rows, cfg) + [""]))
    log(f"report: {path} ({len(figs)} figure files)")
    return path


if __name__ == "__main__":  # pragma: no cover
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    reproduce_scaling(args[0] if args else "wideflow-out/williams2019-scaling", quick="--quick" in sys.argv)
