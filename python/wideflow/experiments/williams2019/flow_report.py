"""Section 6 of the Williams et al. 2019 report: gradient descent beside the exact gradient flow of the same
init at the same flow time, and the flow on the sinusoid far beyond the GD budget (all from the store)."""

from __future__ import annotations

import math

import numpy as np

from ... import datasets
from .._report import fmt, markdown_table, sci
from .measures import clusters_text, knot_free_fit, sups

COUNTERS = ("accepted", "rejected", "gradient_evals", "events", "sliding_entries", "sliding_exits", "sliding_at_end")


def _count(m: dict, key: str) -> str:
    v = m.get(key)
    return "—" if v is None else f"{int(v):,}"


def _gap(gd, flow, ds) -> float:
    if "net" not in gd or flow is None or "net" not in flow:
        return math.nan
    x, _ = datasets.load(ds)
    return sups(gd["net"], {"flow": flow["net"]}, x)["flow"]


def _label(e) -> str:
    r = e.get("regime")
    return f"{r.key} {r.scales}" if r is not None else e["id"]


def pair_table(pairs) -> str:
    rows = []
    for p in pairs:
        gd, fl = p["gd"], p["flow"]
        gm = gd["metrics"]
        fm = fl["metrics"] if fl else {}
        rows.append(
            [
                p["dataset"],
                _label(gd),
                gd["m"],
                fmt(gm.get("flow_time"), ".4g"),
                f"{gm['final_step']:,}",
                sci(gm["final_loss"]),
                sci(fm.get("final_loss")),
                sci(_gap(gd, fl, p["dataset"])),
                sci(gm["invariant_drift"]),
                sci(fm.get("invariant_drift")),
                fmt(gm["dist_linear_sup"], ".3f"),
                fmt(fm.get("dist_linear_sup"), ".3f"),
                fmt(gm["dist_ncs_sup"], ".3f"),
                fmt(fm.get("dist_ncs_sup"), ".3f"),
                _count(fm, "accepted"),
                _count(fm, "rejected"),
                _count(fm, "gradient_evals"),
                _count(fm, "events"),
                _count(fm, "sliding_at_end"),
                fl["status"] if fl else "not run",
            ]
        )
    header = [
        "data",
        "init",
        "m",
        "flow time t",
        "GD steps",
        "GD loss",
        "flow loss",
        "sup|f_GD − f_flow|",
        "GD δ drift",
        "flow δ drift",
        "GD sup|f−linear|",
        "flow sup|f−linear|",
        "GD sup|f−NCS|",
        "flow sup|f−NCS|",
        "RK accepted",
        "rejected",
        "gradient evals",
        "events",
        "sliding at end",
        "status",
    ]
    return markdown_table(header, rows)


def long_table(long_runs) -> str:
    rows = []
    for r in long_runs:
        m = r["metrics"]
        rows.append(
            [
                _label(r),
                r["m"],
                fmt(m.get("flow_time"), ".4g"),
                sci(m["final_loss"]),
                sci(m["invariant_drift"]),
                fmt(m["dist_linear_sup"], ".3f"),
                fmt(m["dist_ncs_sup"], ".3f"),
                fmt(m["knot_mass_fraction"], ".2f"),
            ]
            + [_count(m, k) for k in COUNTERS]
            + [r["status"]]
        )
    header = [
        "init (sine10)",
        "m",
        "flow time t",
        "loss",
        "δ drift",
        "sup|f−linear|",
        "sup|f−NCS|",
        "knot mass",
        "RK accepted",
        "rejected",
        "gradient evals",
        "events",
        "sliding entries",
        "sliding exits",
        "sliding at end",
        "status",
    ]
    return markdown_table(header, rows)


def _loss_at(r, t) -> float:
    ts, loss = np.asarray(r["t"]), np.asarray(r["loss"])
    k = int(np.searchsorted(ts, t))
    return float(loss[min(k, loss.size - 1)])


def sine10_findings(long_runs) -> list:
    """What the flow shows on sine10, generated from the stored numbers of the long flow runs."""
    x, y = datasets.load("sine10")
    out = []
    for r in long_runs:
        m = r["metrics"]
        T = float(m.get("flow_time", math.nan))
        lt10 = _loss_at(r, T / 10) if r["t"] is not None else math.nan
        trend = ("still falling" if m["final_loss"] < 0.5 * lt10 else "on a plateau") if math.isfinite(lt10) else "?"
        slide = m.get("sliding_at_end")
        slide_txt = (
            f"{int(slide)} neuron(s) are sliding along a data point at the end "
            f"({_count(m, 'sliding_entries')} entries, {_count(m, 'sliding_exits')} exits, "
            f"{_count(m, 'events')} events)"
            if slide is not None
            else "this flow does not report sliding (no event counters stored)"
        )
        where = clusters_text(r["net"], x) if "net" in r else "(no parameters stored)"
        best = "linear interpolant" if m["dist_linear_sup"] < m["dist_ncs_sup"] else "natural cubic spline"
        gap = knot_free_fit(r["net"], x, y) if "net" in r else None
        if gap is None:
            gap_txt = ""
        else:
            lo, hi, count, ls = gap
            ratio = m["final_loss"] / ls if ls > 0 else math.inf
            gap_txt = (
                f"; the net is affine on the {count} samples in [{lo:+.3f}, {hi:+.3f}] (no knot between them), and "
                f"the loss is {ratio:.6f} times that of their least-squares line ({ls:.10g})"
                + (
                    ": the rest of the loss is that line's residual, which no gradient force removes — a "
                    "stationary configuration that is not a minimum (a knot placed inside would lower the loss)"
                    if abs(ratio - 1.0) < 1e-3
                    else ""
                )
            )
        out.append(
            f"- {_label(r)}: at the longest time t = {T:.3g} the loss is {m['final_loss']:.3g} (at t/10: "
            f"{lt10:.3g}, so {trend}); {slide_txt}; the nearer limit is the {best} (sup|f − linear| = "
            f"{m['dist_linear_sup']:.3f}, sup|f − NCS| = {m['dist_ncs_sup']:.3f}); δ drift "
            f"{m['invariant_drift']:.1e}; 90% of the knot mass sits at {where}{gap_txt}."
        )
    return out


def section(pairs, long_runs, number: int = 6) -> list:
    lines = [f"## {number}. Gradient descent and the exact gradient flow", ""]
    if not pairs and not long_runs:
        return lines + ["No flow runs are stored.", ""]
    lines += [
        "Every GD run of this section is paired with the gradient flow dz/dt = −∇L(z) of the same init, "
        'integrated (`wf.train(..., method="flow")`, adaptive Runge–Kutta) to the flow time the GD run '
        "reached, t = Σ_k η_k. GD is the flow's explicit Euler discretization, so the two trained functions "
        "differ by O(η) where the flow is smooth; the flow conserves δ_i = c_i² − a_i² − b_i² (to about rtol), "
        "GD drifts by O(η²) per step. The ReLU flow is non-smooth: the gradient jumps when a knot crosses a "
        "data point, and a neuron may *slide* along one. Counters of the integrator (RK steps, gradient "
        "evaluations and, for an event-aware flow, events and sliding neurons) are stored with every run.",
        "",
        pair_table(pairs),
        "",
        "The long flow runs on the sinusoid, far beyond the GD budget:",
        "",
        long_table(long_runs),
        "",
        "### What the flow shows on sine10 (generated from the stored numbers)",
        "",
        *sine10_findings(long_runs),
        "",
        "Figure: `flow.png` (the GD and flow functions of each pair; the loss of the long flow runs against t).",
        "",
    ]
    return lines
