"""Williams et al. 2019, section 5 of the report: width scaling of the kernel-regime limit, m = 10^2..10^8.

Two measurements on the 10 square-wave points, every distance a sup norm on the data hull [x_1, x_n] = [-1, 1]
(2001 uniform points; the limits are NOT compared outside the data, where the natural spline is linear and the
kernel interpolant is not):

1. The exact c-only limit at width m (the `outer_limit` runner: what gradient descent on the outer weights
   converges to, exactly, from an antisymmetric init) against the m = infinity kernel interpolant K_inf of the
   init law, its rho-weighted spline, the natural cubic spline (NCS) and the linear interpolant, several seeds.
2. Gradient descent with ALL layers trained in the kernel regime (alpha = m, first layer dominant), against
   its own c-only limit and the same m = infinity limits.

Floors. The distance to K_inf has no floor (Monte Carlo rate m^-1/2). The distance to another limit X levels off
at the gap sup|K_inf - X| once the Monte Carlo error falls below it: for uniform knots the NCS / rho-spline floor
is the affine-part gap (K_inf penalizes the affine part, the spline does not); for Gaussian (a, b) the NCS floor
is the Gaussian-rho gap (rho ~ (1+e^2)^-2 is not constant) and the rho-spline floor the affine-part gap. The
predicted crossing width is m* = (floor / C)^(1/slope) with C m^slope the fit of the distance to K_inf.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ... import datasets, limits
from .._report import check, fit_power_law, fmt, markdown_table, save_figure, sci
from .._report import figure as _figure
from .config import SCHEMES

__all__ = ["summarize", "figure", "report_section", "checks", "KEYS", "FLOORS"]

KEYS = ("kinf", "rho", "ncs", "linear")
NAMES = {"kinf": "K∞", "rho": "ρ-spline", "ncs": "NCS", "linear": "linear"}
# which gap each distance levels off at (None: no floor), per scheme
FLOORS = {
    "uniform_knots": {"kinf": None, "rho": "affine-part gap", "ncs": "affine-part gap", "linear": "not a kernel limit"},
    "gaussian": {"kinf": None, "rho": "affine-part gap", "ncs": "Gaussian-ρ gap", "linear": "not a kernel limit"},
}


def summarize(rows, refs):
    """Per scheme: mean/min/max over seeds per width, slopes fitted over the WHOLE range and over the
    pre-floor range, floors and the predicted crossing widths m* = (floor / C)^(1/slope) of the K_inf fit."""
    x, _ = datasets.load("square10")
    out = {}
    for scheme in SCHEMES:
        sel = [r for r in rows if r["scheme"] == scheme]
        widths = sorted({r["m"] for r in sel})
        if not widths:
            continue
        table = {}
        for key in KEYS:
            vals = [[r[key] for r in sel if r["m"] == m] for m in widths]
            table[key] = (
                np.array([np.mean(v) for v in vals]),
                np.array([np.min(v) for v in vals]),
                np.array([np.max(v) for v in vals]),
            )
        slope_k, pre_k = fit_power_law(widths, table["kinf"][0])
        floors = {
            "rho": limits.distance(refs[f"kinf_{scheme}"], refs[f"rho_{scheme}"], x.min(), x.max())["sup"],
            "ncs": limits.distance(refs[f"kinf_{scheme}"], refs["ncs"], x.min(), x.max())["sup"],
            "linear": limits.distance(refs[f"kinf_{scheme}"], refs["linear"], x.min(), x.max())["sup"],
        }
        cross = {k: (floors[k] / pre_k) ** (1.0 / slope_k) if slope_k < 0 else math.nan for k in floors}
        slopes = {k: fit_power_law(widths, table[k][0])[0] for k in KEYS}
        # pre-floor fit: widths at least 10x below the crossing (the Monte Carlo error dominates there)
        slopes_pre = {"kinf": slope_k}
        for k in ("rho", "ncs"):
            slopes_pre[k] = (
                fit_power_law(widths, table[k][0], hi=cross[k] / 10)[0] if np.isfinite(cross[k]) else math.nan
            )
        out[scheme] = dict(
            widths=widths,
            table=table,
            slopes=slopes,
            slopes_pre=slopes_pre,
            prefactor=pre_k,
            floors=floors,
            cross=cross,
            seeds=len({r["seed"] for r in sel}),
            wall=float(sum(r["wall"] for r in sel)),
            wall_max=max((r["wall"] for r in sel if r["m"] == widths[-1]), default=math.nan),
        )
    return out


def figure(out_dir, summary, gd_rows, L: float = 2.0):
    from ... import plotting

    C = plotting.COLORS
    schemes = [s for s in SCHEMES if s in summary]
    if not schemes:
        return []
    fig, axes = _figure(len(schemes), 1, width=5.0, height=4.1)
    for ax, scheme in zip(axes[0], schemes):
        s = summary[scheme]
        w = np.array(s["widths"], dtype=float)
        curves = [("kinf", "vs m = ∞ kernel interpolant K_inf", C["neg"])]
        if scheme == "uniform_knots":
            curves.append(("ncs", "vs natural cubic spline (= ρ-spline)", C["cubic"]))
            title = f"uniform knots on [-{L:g}, {L:g}]"
        else:
            curves += [("ncs", "vs natural cubic spline", C["cubic"]), ("rho", "vs ρ-spline, ρ ~ (1+e²)⁻²", C["rho"])]
            title = "Gaussian (a, b)"
        wf = np.geomspace(w[0], w[-1], 200)
        mc = s["prefactor"] * wf ** s["slopes"]["kinf"]  # the K_inf fit: the Monte Carlo error
        for key, label, color in curves:
            mean, lo, up = s["table"][key]
            slope = s["slopes"][key]
            plotting.plot_scaling(
                ax,
                w,
                mean,
                spread=(lo, up),
                label=f"{label} (slope {slope:.2f} over all m)",
                color=color,
                fit=False,
                ylabel="sup distance on the data hull [-1, 1]",
            )
            if key == "kinf":
                ax.plot(wf, mc, "--", color=color, lw=0.9, alpha=0.8)
        floor_keys = [("ncs", C["cubic"])] + ([("rho", C["rho"])] if scheme == "gaussian" else [])
        for key, color in floor_keys:
            F, mstar = s["floors"][key], s["cross"][key]
            ax.axhline(F, color=color, lw=0.7, ls=":")
            ax.plot(wf, np.hypot(F, mc), "--", color=color, lw=0.9, alpha=0.8)  # floor model sqrt(F^2 + fit^2)
            high = scheme == "gaussian" and key == "ncs"  # the curves below it run through the left part
            ax.text(
                w[-1] if high else w[0],
                F * 1.15 if high else F / 1.15,
                f"floor sup|K_inf − {NAMES[key]}| = {F:.2g} ({FLOORS[scheme][key]})",
                fontsize=6,
                color=color,
                ha="right" if high else "left",
                va="bottom" if high else "top",
            )
            if np.isfinite(mstar) and w[0] <= mstar <= w[-1]:
                ax.plot([mstar], [F], "v", color="black", mfc=color, ms=7, zorder=6)
        ax.plot(w, s["table"]["kinf"][0][0] * (w / w[0]) ** -0.5, color="0.75", lw=0.8, zorder=0, label="m^-1/2")
        gd = [g for g in gd_rows if g["scheme"] == scheme]
        if gd:
            ax.plot(
                [g["m"] for g in gd],
                [g["row"]["kinf"] for g in gd],
                "s",
                mfc="none",
                color="black",
                ms=7,
                label="GD, all layers, (σ_θ, σ_c) = ({:g}, {:g}): vs K_inf".format(*gd[0]["scales"]),
            )
            ax.plot(
                [g["m"] for g in gd],
                [g["row"]["conly"] for g in gd],
                "x",
                color="black",
                ms=6,
                label="GD, all layers: vs its own c-only limit",
            )
        ax.set_title(
            f"{title}: exact c-only limit at width m\nmean and min–max of {s['seeds']} seeds; "
            "▼ where the K_inf fit meets the floor",
            fontsize=8,
        )
        ax.legend(fontsize=6, frameon=False, loc="upper right")
    return save_figure(fig, os.path.join(out_dir, "width_scaling"))


def _scaling_table(summary):
    rows = []
    for scheme, s in summary.items():
        t = s["table"]
        for k, m in enumerate(s["widths"]):
            rows.append(
                [scheme, f"{m:,}"] + [f"{t[key][0][k]:.2e} [{t[key][1][k]:.1e}, {t[key][2][k]:.1e}]" for key in KEYS]
            )
    header = ["scheme", "m", "vs K∞ (mean [min, max])", "vs ρ-spline", "vs NCS", "vs linear"]
    return markdown_table(header, rows)


def _slope_table(summary):
    rows: list = []
    wmin = wmax = 0
    for scheme, s in summary.items():
        wmin, wmax = s["widths"][0], s["widths"][-1]
        for key in KEYS:
            F = s["floors"].get(key)
            mstar = s["cross"].get(key, math.nan)
            floor = (
                "none (Monte-Carlo rate, predicted −0.5)"
                if key == "kinf"
                else f"{F:.2e} = sup|K∞ − {NAMES[key]}| ({FLOORS[scheme][key]})"
            )
            meet = "—" if key in ("kinf", "linear") else (f"{mstar:,.0f}" if np.isfinite(mstar) else "n/a")
            last = s["table"][key][0][-1]
            ratio = "—" if key == "kinf" else f"{last / F:.2f}"
            rows.append(
                [
                    scheme,
                    NAMES[key],
                    f"{s['slopes'][key]:.3f}",
                    fmt(s["slopes_pre"].get(key), ".3f") if key != "linear" else "—",
                    f"{last:.2e}",
                    floor,
                    meet,
                    ratio,
                ]
            )
    header = [
        "scheme",
        "distance of the c-only limit to",
        f"slope, all m ∈ [{wmin:,}, {wmax:,}]",
        "slope before the floor (m ≤ m*/10)",
        f"mean at m = {wmax:,}",
        "floor",
        "meets floor at m* ≈",
        f"value / floor at m = {wmax:,}",
    ]
    return markdown_table(header, rows)


def _gd_table(gd_rows, uniform_kmf):
    rows = []
    for g in gd_rows:
        s = g["row"]
        rows.append(
            [
                g["scheme"],
                f"{g['m']:,}",
                f"{g['steps']:,}",
                sci(g["lr"] / g["alpha"]),
                sci(g["loss"]),
                sci(s["conly"]),
                sci(s["conly_kinf"]),
                sci(s["kinf"]),
                sci(s["ncs"]),
                sci(s["rho"]),
                sci(s["linear"]),
                f"{fmt(s['kmf'], '.2f')} ({uniform_kmf:.2f})",
                sci(s["median_knot"]),
                sci(s["drift"]),
                g["status"],
            ]
        )
    header = [
        "scheme",
        "m",
        "steps",
        "η/α",
        "loss",
        "sup|f − own c-only limit|",
        "sup|c-only limit − K∞|",
        "sup|f − K∞|",
        "sup|f − NCS|",
        "sup|f − ρ-spline|",
        "sup|f − linear|",
        "knot mass (uniform)",
        "median knot move",
        "δ drift",
        "status",
    ]
    return markdown_table(header, rows)


def report_section(summary, gd_rows, number: int = 5) -> list:
    if not summary and not gd_rows:
        return [
            f"## {number}. Width scaling of the kernel limit",
            "",
            "No runs of the width sections are stored yet.",
            "",
        ]
    x, _ = datasets.load("square10")
    ukmf = limits.uniform_knot_mass_fraction(x)
    seeds = sorted({s["seeds"] for s in summary.values()})
    widths = sorted({w for s in summary.values() for w in s["widths"]})
    lines = [
        f"## {number}. Width scaling of the kernel limit",
        "",
        "The exact c-only limit (what GD on c converges to) of a width-m net with antisymmetric doubling, from "
        "one streamed O(m n²) pass over drawn neurons (`wideflow.random_features.outer_limit_at_width`: only the "
        "10 × 10 Gram and the cross Gram on the 2001 evaluation points are formed, never the n × m features or "
        "the m parameters), against the m = ∞ kernel interpolant K∞, the ρ-weighted spline, the NCS and the "
        f"linear interpolant; {'/'.join(map(str, seeds)) or 'no'} seeds per width, m from "
        f"{widths[0] if widths else 0:,} to {widths[-1] if widths else 0:,}. The limit does not depend on the "
        "layer scales or on α. All distances are sup norms on the data hull [−1, 1] (2001 points): outside the "
        "data the NCS is linear and K∞ is not, so they are not compared there (compute times: section Provenance).",
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
        'Gaussian (a, b) the distance to the NCS meets the much larger Gaussian-ρ gap early ("uniform ⇒ cubic", '
        '"Gaussian ⇒ weighted").',
        "",
        *_gd_intro(gd_rows),
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


def _gd_intro(gd_rows) -> list:
    if not gd_rows:
        return ["No GD width runs are stored."]
    g = gd_rows[0]
    return [
        f"Full gradient descent (all layers) in the kernel regime, (σ_θ, σ_c) = ({g['scales'][0]:g}, "
        f"{g['scales'][1]:g}), α = m, η = {g['eta_lambda']:g}/λ_max(JJᵀ at init), trained until the loss is ≤ "
        f"{g['loss_tol']:g} (checked at 1, 3, 9, 27 × 10⁴ … steps) or {g['max_steps']:,} steps:"
    ]


def checks(summary, gd_rows) -> list:
    lines = []
    for scheme, s in summary.items():
        sl = s["slopes"]["kinf"]
        ok = -0.6 < sl < -0.4
        lines.append(
            f"- {check(ok)}: {scheme}: the distance of the exact c-only limit to K∞ falls "
            f"like m^-1/2: fitted slope {sl:.3f} over m ∈ [{s['widths'][0]:,}, {s['widths'][-1]:,}]."
        )
        for key in ("rho", "ncs") if scheme == "gaussian" else ("ncs",):
            F, last = s["floors"][key], s["table"][key][0][-1]
            ok = abs(last / F - 1) < 0.25 and s["cross"][key] < s["widths"][-1]
            lines.append(
                f"- {check(ok)}: {scheme}: the distance to the {NAMES[key]} meets its "
                f"floor {F:.2e} ({FLOORS[scheme][key]}) near m* ≈ {s['cross'][key]:,.0f}: "
                f"{last:.2e} at m = {s['widths'][-1]:,}."
            )
    for scheme in SCHEMES:
        g = [r for r in gd_rows if r["scheme"] == scheme]
        if len(g) >= 2:
            d = [r["row"]["kinf"] for r in g]
            ok = d[-1] < d[0]
            lines.append(
                f"- {check(ok)}: {scheme}: GD-trained (all layers) kernel-regime nets "
                "approach K∞ as m grows: sup|f − K∞| = "
                + ", ".join(f"{v:.1e} (m = {r['m']:,}, loss {r['loss']:.0e})" for v, r in zip(d, g))
                + "."
            )
    return lines
