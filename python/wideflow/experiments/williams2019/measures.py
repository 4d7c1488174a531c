"""Measures of the Williams et al. 2019 study that the analysis takes from stored results: the limits on
the data (`references`), the measurement of a trained net against them (`measure`), where the knot mass
sits (`knot_clusters`), and whether a run stalled on a plateau (`stalled`)."""

from __future__ import annotations

import math

import numpy as np

from ... import limits
from ...sweeps.runner_shallow import HULL_POINTS, reference_limits

__all__ = ["references", "measure", "sups", "knot_clusters", "stalled", "closest", "row_of", "net_of"]


def references(x, y, L: float = 2.0) -> dict:
    """The limits every fit is compared with (callables): ncs, linear, rho_gaussian, rho_uniform_knots,
    kinf_gaussian, kinf_uniform_knots, k_theta, k_ntk (`wideflow.sweeps.runner_shallow.reference_limits`)."""
    return reference_limits(x, y, L)


def sups(f, gs: dict, x, points: int = HULL_POINTS) -> dict:
    """{key: sup|f - g| on [min x, max x]} for several g, evaluating f once (same grid as limits.distance)."""
    t = np.linspace(float(np.min(x)), float(np.max(x)), points)
    fv = np.asarray(f(t), dtype=np.float64)
    return {k: float(np.max(np.abs(fv - np.asarray(g(t), dtype=np.float64)))) for k, g in gs.items()}


def measure(net, net0, x, y, refs: dict, scheme: str, conly=None) -> dict:
    """Measurements of a trained net (sup distances on the data hull [x_1, x_n]) under the report's short
    names: ncs, rho, kinf, linear, conly (NaN without a c-only limit), kmf (knot mass fraction), median_knot,
    drift (max |delta_i(t) - delta_i(0)|), dead, dead0."""
    gs = {"ncs": refs["ncs"], "rho": refs[f"rho_{scheme}"], "kinf": refs[f"kinf_{scheme}"], "linear": refs["linear"]}
    if conly is not None:
        gs["conly"] = conly
    out = sups(net, gs, x)
    out.setdefault("conly", math.nan)
    out.update(
        {
            "kmf": limits.knot_mass_fraction(net, x),
            "median_knot": limits.median_knot_displacement(net0, net),
            "drift": limits.invariant_drift(net0, net),
            "dead": limits.dead_neurons(net, x),
            "dead0": limits.dead_neurons(net0, x),
        }
    )
    return out


# stored metric name -> the report's short name (the same names `measure` returns)
SHORT = {
    "dist_ncs_sup": "ncs",
    "dist_rho_sup": "rho",
    "dist_kinf_sup": "kinf",
    "dist_conly_sup": "conly",
    "dist_linear_sup": "linear",
    "knot_mass_fraction": "kmf",
    "median_knot_displacement": "median_knot",
    "invariant_drift": "drift",
    "dead_neurons": "dead",
    "dist_ktheta_sup": "k_theta",
    "dist_kntk_sup": "k_ntk",
    "dist_kc_sup": "kc",
}


def row_of(metrics: dict, prefix: str = "") -> dict:
    """A stored run's metrics (at the end, or with prefix "checkpoint_" at the checkpoint) by short name,
    with loss, step and dead0."""
    nan = math.nan
    row = {short: metrics.get(prefix + name, nan) for name, short in SHORT.items()}
    if prefix:
        row["loss"], row["step"] = metrics.get(prefix + "loss", nan), metrics.get(prefix + "step", 0)
    else:
        row["loss"], row["step"] = metrics.get("final_loss", nan), metrics.get("final_step", 0)
    row["dead0"] = metrics.get("dead_neurons_init", nan)
    for k in ("dead", "dead0", "step"):
        if isinstance(row[k], float) and math.isfinite(row[k]):
            row[k] = int(row[k])
    return row


def net_of(params: dict):
    """The ShallowReLU of a run's stored final parameters."""
    from ...shallow import ShallowReLU

    return ShallowReLU(params["a"], params["b"], params["c"], float(params["alpha"]))


def knot_clusters(net, x, *, frac: float = 0.9, tol: float = 0.02, hull_pad: float = 0.1):
    """Where the knot mass sits: greedy clusters (width tol) of the knots in the padded hull, heaviest
    first, until `frac` of the mass ||w_i|| is covered. Returns [(center, mass fraction), ...] by position."""
    e = net.knots()
    u, v, _ = net.uv()
    w = np.hypot(u, v)
    x = np.asarray(x, dtype=np.float64)
    keep = np.isfinite(e) & (e >= x.min() - hull_pad) & (e <= x.max() + hull_pad) & (w > 0)
    e, w = e[keep], w[keep]
    total = float(w.sum())
    if total == 0:
        return []
    centers: list[float] = []
    masses: list[float] = []
    covered = 0.0
    for i in np.argsort(-w):
        if covered >= frac * total:
            break
        for k, ctr in enumerate(centers):
            if abs(e[i] - ctr) <= tol:
                masses[k] += w[i]
                break
        else:
            centers.append(float(e[i]))
            masses.append(float(w[i]))
        covered += w[i]
    order = np.argsort(centers)
    return [(centers[k], masses[k] / total) for k in order]


def clusters_text(net, x) -> str:
    cl = knot_clusters(net, x)
    big = [(c, w) for c, w in cl if w >= 0.01]
    near = [c for c, _ in big if np.min(np.abs(np.asarray(x) - c)) <= 0.02]
    rest = sum(w for c, w in cl if w < 0.01)
    txt = ", ".join(f"e = {c:+.2f} ({100 * w:.0f}%)" for c, w in big)
    if rest > 0:
        txt += f" and {len(cl) - len(big)} small clusters ({100 * rest:.0f}%)"
    return f"{txt}; {len(near)} of these {len(big)} clusters lie within 0.02 of a data point"


def knot_free_fit(net, x, y, rel_weight: float = 1e-3):
    """The longest run of consecutive samples with no knot of a neuron that matters (|c_i a_i| at least
    `rel_weight` of the largest) strictly between them: there the net is affine, so its loss on those
    samples is at least that of their least-squares line. Returns (x_lo, x_hi, samples, least-squares
    loss 1/2 sum r^2 of that line), or None for fewer than 3 samples in the run (a line fits them)."""
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (net.a, net.b, net.c))
    w = np.abs(c * a)
    keep = (a != 0) & (w >= rel_weight * w.max()) if w.size and w.max() > 0 else np.zeros(a.size, bool)
    knots = -b[keep] / a[keep]
    order = np.argsort(x)
    xs, ys = np.asarray(x, dtype=np.float64)[order], np.asarray(y, dtype=np.float64)[order]
    # gap g (between xs[g] and xs[g + 1]) is open when no knot lies strictly inside it
    inside = [bool(np.any((knots > xs[g]) & (knots < xs[g + 1]))) for g in range(xs.size - 1)]
    best, start = (0, 0), 0
    for g, blocked in enumerate(inside + [True]):
        if blocked:
            if g - start > best[1] - best[0]:
                best = (start, g)
            start = g + 1
    lo, hi = best
    if hi - lo + 1 < 3:
        return None
    X = np.column_stack([xs[lo : hi + 1], np.ones(hi - lo + 1)])
    coef, *_ = np.linalg.lstsq(X, ys[lo : hi + 1], rcond=None)
    r = X @ coef - ys[lo : hi + 1]
    return float(xs[lo]), float(xs[hi]), hi - lo + 1, 0.5 * float(r @ r)


def stalled(steps, loss, tol: float) -> bool:
    """True if the loss changed by less than a factor 2 over the last 2/3 (in steps) of the run and is
    still well above the stopping tolerance (a plateau, not slow convergence)."""
    steps = np.asarray(steps)
    loss = np.asarray(loss)
    final_step, final_loss = int(steps[-1]), float(loss[-1])
    if final_step < 9 or final_loss <= 10 * tol:
        return False
    k = int(np.searchsorted(steps, final_step / 3))
    return bool(loss[min(k, loss.size - 1)] < 2 * final_loss)


def closest(row: dict, kernel_key: str = "conly") -> str:
    cand = {"c-only limit": row.get(kernel_key, math.nan), "NCS": row["ncs"], "linear": row["linear"]}
    cand = {k: v for k, v in cand.items() if np.isfinite(v)}
    return min(cand, key=lambda k: cand[k]) if cand else "-"
