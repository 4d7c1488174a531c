"""Measurements on a trained net: distances to a limit, knot mass, knot displacement, invariant drift,
dead neurons and the Savarese norm."""

from __future__ import annotations

import math

import numpy as np

from .._validate import callable_arg, positive_int, real_number
from ._checks import _knots, _min_dist_sorted, _params, _unpack, _vector


def distance(f, g, lo, hi, points=2001):
    """Sup and L2 distances between two functions on [lo, hi], sampled at ``points`` uniform points t_k:

        sup = max_k |f(t_k) - g(t_k)|,
        l2  = sqrt( (hi - lo) * mean_k (f(t_k) - g(t_k))^2 )   (~ ( int_lo^hi (f - g)^2 )^(1/2)).

    f, g: callables (interpolants from this module, a ShallowReLU net, ...). Returns
    ``dict(sup=..., l2=..., interval=(lo, hi), points=points)``: every distance carries the interval it was
    measured on. Limits that differ in their convention outside the data (the natural spline is linear there,
    kernel interpolants are not) should be compared on the data hull [x_1, x_n].
    """
    callable_arg("f", f)
    callable_arg("g", g)
    lo = real_number("lo", lo)
    hi = real_number("hi", hi)
    if not lo < hi:
        raise ValueError(f"hi: need lo < hi, got lo={lo}, hi={hi}")
    points = positive_int("points", points, minimum=2)
    t = np.linspace(lo, hi, points)
    fv = np.asarray(f(t), dtype=np.float64).reshape(-1)
    gv = np.asarray(g(t), dtype=np.float64).reshape(-1)
    if fv.shape != t.shape:
        raise ValueError(f"f: returned {fv.size} values for {t.size} points")
    if gv.shape != t.shape:
        raise ValueError(f"g: returned {gv.size} values for {t.size} points")
    d = fv - gv
    return {
        "sup": float(np.max(np.abs(d))),
        "l2": float(np.sqrt(np.mean(d**2) * (hi - lo))),
        "interval": (lo, hi),
        "points": points,
    }


def knot_mass_fraction(a, b=None, c=None, x=None, *, tol=0.02, hull_pad=0.1):
    """Fraction of knot mass sitting within ``tol`` of a data point.

    Each neuron with a_i != 0 has knot e_i = -b_i/a_i and mass ||w_i|| = |c_i| sqrt(a_i^2 + b_i^2)
    (w_i = |c_i| (a_i, b_i), the reduced parameter). Over the knots in the padded hull
    H = [x_1 - hull_pad, x_n + hull_pad]:

        fraction = sum_{e_i in H, min_j |e_i - x_j| <= tol} ||w_i||  /  sum_{e_i in H} ||w_i||.

    Neurons with a_i = 0 have no knot and are ignored; NaN if no mass lies in H.
    Call as ``knot_mass_fraction(a, b, c, x)`` or ``knot_mass_fraction(net, x)``.
    Compare with :func:`uniform_knot_mass_fraction`.
    """
    a, b, c, x = _unpack("knot_mass_fraction", (a, b, c, x), [("net", ("a", "b", "c")), "x"])
    a, b, c = _params(("a", "b", "c"), a, b, c)
    x = np.sort(_vector("x", x))
    tol = real_number("tol", tol, nonneg=True)
    pad = real_number("hull_pad", hull_pad, nonneg=True)
    nz = a != 0
    e = -b[nz] / a[nz]
    mass = np.abs(c[nz]) * np.hypot(a[nz], b[nz])
    inside = (e >= x[0] - pad) & (e <= x[-1] + pad)
    total = float(mass[inside].sum())
    if total == 0:
        return math.nan
    near = _min_dist_sorted(x, e) <= tol
    return float(mass[inside & near].sum() / total)


def uniform_knot_mass_fraction(x, tol=0.02, hull_pad=0.1):
    """The knot-mass fraction a uniform knot spread over the padded hull would give:

        | union_j [x_j - tol, x_j + tol]  intersect  H |  /  |H|,   H = [x_1 - hull_pad, x_n + hull_pad]

    (exact interval-union length). NaN if H has zero length.
    """
    x = np.sort(_vector("x", x))
    tol = real_number("tol", tol, nonneg=True)
    pad = real_number("hull_pad", hull_pad, nonneg=True)
    H0, H1 = x[0] - pad, x[-1] + pad
    if H1 <= H0:
        return math.nan
    lo = np.clip(x - tol, H0, H1)
    hi = np.clip(x + tol, H0, H1)
    covered = 0.0
    cur_lo, cur_hi = lo[0], hi[0]
    for l, h in zip(lo[1:], hi[1:]):
        if l > cur_hi:
            covered += cur_hi - cur_lo
            cur_lo, cur_hi = l, h
        else:
            cur_hi = max(cur_hi, h)
    covered += cur_hi - cur_lo
    return float(covered / (H1 - H0))


def knot_displacement(a0, b0=None, a1=None, b1=None):
    """Per-neuron knot motion |e_i(t) - e_i(0)|, e_i = -b_i/a_i.

    NaN-safe: where a_i = 0 at either time the knot is at infinity (the neuron is constant in x)
    and the displacement is NaN; no division warning is raised. Call as
    ``knot_displacement(a0, b0, a1, b1)`` or ``knot_displacement(net0, net1)``.
    """
    a0, b0, a1, b1 = _unpack("knot_displacement", (a0, b0, a1, b1), [("net", ("a", "b")), ("net", ("a", "b"))])
    a0, b0, a1, b1 = _params(("a0", "b0", "a1", "b1"), a0, b0, a1, b1)
    return np.abs(_knots(a1, b1) - _knots(a0, b0))


def median_knot_displacement(a0, b0=None, a1=None, b1=None):
    """median_i |e_i(t) - e_i(0)| over neurons with finite knots at both times (NaN if none).

    Same call forms as :func:`knot_displacement`.
    """
    a0, b0, a1, b1 = _unpack("median_knot_displacement", (a0, b0, a1, b1), [("net", ("a", "b")), ("net", ("a", "b"))])
    d = knot_displacement(a0, b0, a1, b1)
    d = d[np.isfinite(d)]
    return float(np.median(d)) if d.size else math.nan


def invariant_drift(a0, b0=None, c0=None, a1=None, b1=None, c1=None):
    """max_i |delta_i(t) - delta_i(0)|, delta_i = c_i^2 - a_i^2 - b_i^2 (exactly conserved by gradient
    flow; GD drifts by O(eta^2) per step). Call with six arrays or ``invariant_drift(net0, net1)``.
    """
    a0, b0, c0, a1, b1, c1 = _unpack(
        "invariant_drift", (a0, b0, c0, a1, b1, c1), [("net", ("a", "b", "c")), ("net", ("a", "b", "c"))]
    )
    a0, b0, c0, a1, b1, c1 = _params(("a0", "b0", "c0", "a1", "b1", "c1"), a0, b0, c0, a1, b1, c1)
    d0 = c0**2 - a0**2 - b0**2
    d1 = c1**2 - a1**2 - b1**2
    return float(np.max(np.abs(d1 - d0)))


def dead_neurons(a, b=None, x=None):
    """Number of neurons inactive on every data point: #{ i : a_i x_j + b_i <= 0 for all j }
    (the convention 1[t > 0]: a kink exactly at a sample is inactive there). Such neurons get zero
    gradient forever. Since a_i x + b_i is monotone in x, only min(x) and max(x) are checked.
    Call as ``dead_neurons(a, b, x)`` or ``dead_neurons(net, x)``.
    """
    a, b, x = _unpack("dead_neurons", (a, b, x), [("net", ("a", "b")), "x"])
    a, b = _params(("a", "b"), a, b)
    x = _vector("x", x)
    lo, hi = x.min(), x.max()
    alive = (a * lo + b > 0) | (a * hi + b > 0)
    return int(np.count_nonzero(~alive))


def savarese_norm(a, b=None, c=None, alpha=None, *, knot_tol=1e-12, details=False):
    """Savarese et al. function-space norm of the net's function f:

        R(f) = max( int |f''|,  |f'(-inf) + f'(+inf)| ),

    with f'' = sum_e J_e delta(x - e), J_e = sum_{i: e_i = e} c_i |a_i| / alpha the slope jump at each
    DISTINCT knot. Computed exactly from the function, not the weights: neurons whose knots agree
    (|e_i - e_k| <= knot_tol * max(1, |e|) after sorting, chained) are grouped before taking absolute
    values, so e.g. x = [x]_+ - [-x]_+ has int|f''| = 0, not 2. (The ungrouped sum_i |c_i||a_i|/alpha
    is an upper bound, returned in ``details``.) Slopes at infinity come from the neurons active
    there: f'(+inf) = sum_{a_i > 0} c_i a_i / alpha, f'(-inf) = sum_{a_i < 0} c_i a_i / alpha;
    neurons with a_i = 0 are constant and contribute nothing.

    Call as ``savarese_norm(a, b, c, alpha)`` or ``savarese_norm(net)``. Returns R as a float, or with
    ``details=True`` a dict with keys R, curvature, slope_left, slope_right, ungrouped.
    """
    a, b, c, alpha = _unpack("savarese_norm", (a, b, c, alpha), [("net", ("a", "b", "c", "alpha"))])
    a, b, c = _params(("a", "b", "c"), a, b, c)
    alpha = real_number("alpha", alpha, positive=True)
    knot_tol = real_number("knot_tol", knot_tol, nonneg=True)
    nz = a != 0
    e = -b[nz] / a[nz]
    jump = c[nz] * np.abs(a[nz]) / alpha
    order = np.argsort(e, kind="stable")
    e, jump = e[order], jump[order]
    if e.size:
        gap = np.diff(e)
        scale = np.maximum(1.0, np.maximum(np.abs(e[:-1]), np.abs(e[1:])))
        new_group = np.concatenate([[True], gap > knot_tol * scale])
        group_id = np.cumsum(new_group) - 1
        per_knot = np.bincount(group_id, weights=jump)
        curvature = float(np.sum(np.abs(per_knot)))
    else:
        curvature = 0.0
    slope_right = float(np.sum(c[a > 0] * a[a > 0]) / alpha)
    slope_left = float(np.sum(c[a < 0] * a[a < 0]) / alpha)
    R = max(curvature, abs(slope_left + slope_right))
    if details:
        return {
            "R": R,
            "curvature": curvature,
            "slope_left": slope_left,
            "slope_right": slope_right,
            "ungrouped": float(np.sum(np.abs(jump))),
        }
    return R
