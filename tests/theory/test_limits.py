"""Tests for wideflow.limits: analytic limits (splines, rho, kernels) and measurements on nets."""

from __future__ import annotations

import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import integrate
from scipy.interpolate import CubicSpline

from wideflow import datasets, limits


def square10():
    return datasets.load("square10")  # sign(0) := +1


def sample_init(scheme, m, rng, inner_scale=1.0, L=2.0):
    """(a, b) drawn the way ShallowReLU.init draws them (base samples times inner_scale)."""
    s = inner_scale
    if scheme == "gaussian":
        return s * rng.standard_normal(m), s * rng.standard_normal(m)
    if scheme == "uniform_knots":
        a = s * rng.choice([-1.0, 1.0], m)
        e = rng.uniform(-L, L, m)
        return a, -a * e
    if scheme == "box":
        return s * rng.uniform(-1, 1, m), s * rng.uniform(-1, 1, m)
    raise AssertionError(scheme)


# ------------------------------------------------------------------------------------------ import


def test_package_imports_without_scipy():
    """limits (a package of splines, kernels, measures) and linear_theory import SciPy only inside the few
    functions that need it."""
    code = (
        "import sys\n"
        "import wideflow.limits as m, wideflow.linear_theory as lt\n"
        "assert 'scipy' not in sys.modules, 'scipy imported at module level'\n"
        "assert callable(m.natural_cubic_spline) and callable(lt.riccati_solution)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------------------------- splines


def test_ncs_matches_scipy_on_hull():
    x, y = square10()
    ncs = limits.natural_cubic_spline(x, y)
    ref = CubicSpline(x, y, bc_type="natural")
    t = np.linspace(-1, 1, 2001)
    assert np.max(np.abs(ncs(t) - ref(t))) < 1e-12
    assert np.max(np.abs(ncs.derivative(t) - ref(t, 1))) < 1e-11
    assert np.max(np.abs(ncs.derivative(t, 2) - ref(t, 2))) < 1e-10
    assert np.max(np.abs(ncs(x) - y)) < 1e-14
    # unsorted input, random data, non-uniform spacing
    rng = np.random.default_rng(3)
    xr = np.sort(rng.uniform(-2, 3, 17))
    yr = rng.standard_normal(17)
    perm = rng.permutation(17)
    ncs2 = limits.natural_cubic_spline(xr[perm], yr[perm])
    t2 = np.linspace(xr[0], xr[-1], 3001)
    assert np.max(np.abs(ncs2(t2) - CubicSpline(xr, yr, bc_type="natural")(t2))) < 1e-12


def test_ncs_is_linear_outside_hull():
    x, y = square10()
    ncs = limits.natural_cubic_spline(x, y)
    ref = CubicSpline(x, y, bc_type="natural")
    # end slopes are the spline's slopes at the ends (value and slope continuous)
    assert abs(ncs.slope_left - ref(x[0], 1)) < 1e-12
    assert abs(ncs.slope_right - ref(x[-1], 1)) < 1e-12
    for side, t in (("left", np.linspace(-4, -1, 50)), ("right", np.linspace(1, 4, 50))):
        v = ncs(t)
        assert np.max(np.abs(np.diff(v, 2))) < 1e-12, side  # affine
    t = np.array([-3.0, 2.5])
    expected = [y[0] + ncs.slope_left * (-3.0 - x[0]), y[-1] + ncs.slope_right * (2.5 - x[-1])]
    assert np.allclose(ncs(t), expected, atol=1e-13)
    # the output keeps the input's shape
    assert ncs(np.zeros((3, 4))).shape == (3, 4)


def test_linear_interpolant():
    x, y = square10()
    lin = limits.linear_interpolant(x[::-1], y[::-1])
    assert np.max(np.abs(lin(x) - y)) == 0
    mid = 0.5 * (x[:-1] + x[1:])
    assert np.allclose(lin(mid), 0.5 * (y[:-1] + y[1:]), atol=1e-15)
    assert lin.slope_left == pytest.approx((y[1] - y[0]) / (x[1] - x[0]))
    assert lin(-2.0) == pytest.approx(y[0] + lin.slope_left * (-2.0 - x[0]))
    assert lin(3.0) == pytest.approx(y[-1] + lin.slope_right * (3.0 - x[-1]))


def test_rho_weighted_spline_constant_rho_converges_to_ncs():
    x, y = square10()
    ncs = limits.natural_cubic_spline(x, y)
    errs = []
    for nodes in (1001, 4001, 16001):
        g = limits.rho_weighted_spline(x, y, 1.0, nodes=nodes)
        assert np.max(np.abs(g(x) - y)) < 1e-8
        assert np.all(np.isin(x, g.grid))  # data are grid nodes
        errs.append(limits.distance(g, ncs, -1, 1)["sup"])
    assert errs[0] > errs[1] > errs[2]
    assert errs[1] < 1e-3 and errs[2] < 5e-5
    assert errs[0] / errs[1] > 8 and errs[1] / errs[2] > 8  # second order
    # the constant's value does not matter, and the fit is affine outside the hull
    g = limits.rho_weighted_spline(x, y, 7.5, nodes=16001)
    assert limits.distance(g, ncs, -1, 1)["sup"] < 5e-5
    t = np.linspace(2, 6, 9)
    assert np.max(np.abs(np.diff(g(t), 2))) < 1e-9


def test_rho_weighted_spline_solvers_agree():
    x, y = square10()
    r = limits.rho("gaussian", inner_scale=0.8)
    # same discrete problem; the node-value KKT system conditions like N^4, so compare on a
    # moderate grid
    g1 = limits.rho_weighted_spline(x, y, r, nodes=401, method="jumps")
    g2 = limits.rho_weighted_spline(x, y, r, nodes=401, method="kkt")
    assert np.array_equal(g1.grid, g2.grid)
    hull = np.abs(g1.grid) <= 1
    assert np.max(np.abs(g1.values - g2.values)[hull]) < 1e-6
    assert np.max(np.abs(g1.values - g2.values)) < 1e-5 * np.max(np.abs(g1.values))


def test_rho_weighted_spline_zero_rho_is_affine():
    x, y = square10()
    r = limits.rho("uniform_knots", L=1.0)  # support exactly the data hull
    g = limits.rho_weighted_spline(x, y, r, nodes=2001)
    assert g.affine_nodes.size > 0
    assert np.all(np.abs(g.grid[g.affine_nodes]) > 1.0)
    assert np.max(np.abs(g(x) - y)) < 1e-8
    ncs = limits.natural_cubic_spline(x, y)
    assert limits.distance(g, ncs, -1, 1)["sup"] < 2e-3
    # data outside the support of rho cannot be interpolated without curvature there
    with pytest.raises(ValueError, match="rho"):
        limits.rho_weighted_spline(x, y, limits.rho("uniform_knots", L=0.5), nodes=801)


def test_gaussian_rho_spline_differs_from_ncs():
    x, y = square10()
    ncs = limits.natural_cubic_spline(x, y)
    g = limits.rho_weighted_spline(x, y, limits.rho("gaussian"))
    assert np.max(np.abs(g(x) - y)) < 1e-8
    gap = limits.distance(g, ncs, -1, 1)["sup"]
    assert 0.01 < gap < 0.2
    # a constant rho reproduces the NCS on the same grid, so the gap is not discretization error
    assert limits.distance(limits.rho_weighted_spline(x, y, 1.0), ncs, -1, 1)["sup"] < gap / 50


# ----------------------------------------------------------------------------------------- rho


RHO_CASES = [
    ("gaussian", {"inner_scale": 1.0}),
    ("gaussian", {"inner_scale": 0.5}),
    ("uniform_knots", {"inner_scale": 1.5, "L": 2.0}),
    ("box", {"inner_scale": 1.0}),
    ("box", {"inner_scale": 2.0}),
]


@pytest.mark.parametrize("scheme,params", RHO_CASES)
def test_rho_matches_monte_carlo(scheme, params):
    """rho(e) de = E[a^2 ; knot in de]: a^2-weighted knot histogram of sampled (a, b)."""
    rng = np.random.default_rng(11)
    N = 400_000
    a, b = sample_init(scheme, N, rng, params["inner_scale"], params.get("L", 2.0))
    e = -b / a
    r = limits.rho(scheme, **params)
    edges = np.linspace(-3, 3, 31)
    width = edges[1] - edges[0]
    idx = np.digitize(e, edges) - 1
    for k in range(edges.size - 1):
        v = np.where(idx == k, a**2, 0.0) / width
        mc, sd = v.mean(), v.std() / math.sqrt(N)
        exact = integrate.quad(r, edges[k], edges[k + 1], limit=200)[0] / width
        assert abs(mc - exact) <= 5 * sd + 1e-12, (k, mc, exact, sd)


def test_rho_matches_quadrature_of_definition():
    # Gaussian with sigma_a != sigma_b: p(a, b) = N(a; 0, sa^2) N(b; 0, sb^2)
    sa, sb = 0.7, 1.8
    r = limits.rho("gaussian", sigma_a=sa, sigma_b=sb)

    def p_gauss(a, b):
        return math.exp(-0.5 * (a / sa) ** 2 - 0.5 * (b / sb) ** 2) / (2 * math.pi * sa * sb)

    for e in (-3.0, -0.4, 0.0, 1.1, 5.0):
        val = integrate.quad(lambda a, e=e: abs(a) ** 3 * p_gauss(a, -a * e), -np.inf, np.inf)[0]
        assert r(e) == pytest.approx(val, rel=1e-8)
    # box: p = 1/(4 s^2) on [-s, s]^2 -> rho = s^2 min(1, e^-4)/8
    s = 1.7
    r = limits.rho("box", inner_scale=s)
    for e in (-2.5, -1.0, -0.3, 0.0, 0.8, 4.0):
        amax = s * min(1.0, 1.0 / abs(e)) if e != 0 else s
        val = integrate.quad(lambda a: abs(a) ** 3 / (4 * s * s), -amax, amax)[0]
        assert r(e) == pytest.approx(val, rel=1e-10)
    assert r(0.0) == pytest.approx(s**2 / 8)
    # total mass int rho = E[a^2]
    for scheme, params in RHO_CASES:
        r = limits.rho(scheme, **params)
        lo, hi = r.support
        pts = None if math.isinf(hi) else [lo, hi]
        lo_i, hi_i = (-np.inf, np.inf) if pts is None else (lo - 1, hi + 1)
        tot = integrate.quad(r, lo_i, hi_i, points=pts, limit=200)[0]
        assert tot == pytest.approx(r.total, rel=1e-7)
    # uniform knots: level s^2/(2L) on the closed support, 0 outside
    r = limits.rho("uniform_knots", inner_scale=2.0, L=4.0)
    assert np.allclose(r([-4.0, 0.0, 4.0]), 0.5) and np.all(r([-4.01, 9.0]) == 0)


def test_rho_accepts_init_keywords():
    r = limits.rho("gaussian", inner_scale=2.0, outer_scale=0.1, alpha="m", seed=3, L=2.0)
    assert r(0.0) == pytest.approx(2 * 4.0 / math.pi)
    with pytest.raises(TypeError, match="sigmaa"):
        limits.rho("gaussian", sigmaa=1.0)
    with pytest.raises(TypeError, match="sigma_a"):
        limits.rho("box", sigma_a=1.0)


# ------------------------------------------------------------------------------------- kernels


def test_uniform_knot_kernel_matches_quadrature():
    L = 2.0
    pts = np.array([-3.0, -2.0, -1.3, -0.2, 0.0, 0.7, 1.9, 2.0, 2.6])
    K = limits.kernel_uniform_knots(pts, pts, L)
    assert K.shape == (pts.size, pts.size)
    for i, s in enumerate(pts):
        for j, t in enumerate(pts):

            def integrand(e, s=s, t=t):  # E over a = +-1 (prob 1/2), e ~ U[-L, L] (density 1/(2L))
                up = max(s - e, 0.0) * max(t - e, 0.0)
                down = max(e - s, 0.0) * max(e - t, 0.0)
                return 0.5 * (up + down) / (2 * L)

            brk = [p for p in (s, t) if -L < p < L]
            val = integrate.quad(integrand, -L, L, points=brk or None)[0]
            assert K[i, j] == pytest.approx(val, rel=1e-10, abs=1e-14), (s, t)
    # the spec's closed form on [-L, L]
    lo, hi = -1.3, 0.7
    d = hi - lo
    spec = ((lo + L) ** 3 / 3 + d * (lo + L) ** 2 / 2 + (L - hi) ** 3 / 3 + d * (L - hi) ** 2 / 2) / (4 * L)
    assert limits.kernel_uniform_knots(lo, hi, L) == pytest.approx(spec, rel=1e-14)
    assert limits.kernel_uniform_knots(0.3, -0.5, L, inner_scale=3.0) == pytest.approx(
        9 * limits.kernel_uniform_knots(0.3, -0.5, L)
    )


def test_kernel_c_and_theta_match_monte_carlo():
    rng = np.random.default_rng(5)
    N = 400_000
    theta = rng.standard_normal((N, 2))
    pts = np.array([-2.0, -0.6, 0.0, 0.45, 1.7])
    z = theta[:, :1] * pts[None, :] + theta[:, 1:]  # theta . X, shape (N, 5)
    feat = np.maximum(z, 0.0)
    ind = (z > 0).astype(float)
    Kc = limits.kernel_c(pts, pts)
    Kt = limits.kernel_theta(pts, pts, c2=2.0)
    for i in range(pts.size):
        for j in range(pts.size):
            v = feat[:, i] * feat[:, j]
            assert abs(v.mean() - Kc[i, j]) <= 5 * v.std() / math.sqrt(N)
            w = 2.0 * ind[:, i] * ind[:, j] * (pts[i] * pts[j] + 1)
            assert abs(w.mean() - Kt[i, j]) <= 5 * w.std() / math.sqrt(N) + 1e-12
    # closed form with the angle, and the NTK is their sum
    s, t = 0.3, -1.2
    nX, nXp = math.hypot(s, 1), math.hypot(t, 1)
    phi = math.acos((s * t + 1) / (nX * nXp))
    ref = nX * nXp / (2 * math.pi) * (math.sin(phi) + (math.pi - phi) * math.cos(phi))
    assert limits.kernel_c(s, t) == pytest.approx(ref, rel=1e-13)
    assert limits.kernel_ntk(pts, pts, 1.5, 0.4) == pytest.approx(
        2.25 * Kc + limits.kernel_theta(pts, pts, c2=0.16), rel=1e-13
    )
    # outer broadcasting: shapes multiply
    assert limits.kernel_c(np.zeros((2, 3)), np.zeros(4)).shape == (2, 3, 4)


@pytest.mark.parametrize(
    "kernel",
    [
        limits.kernel_c,
        limits.kernel_theta,
        limits.kernel_ntk,
        lambda s, t: limits.kernel_uniform_knots(s, t, L=2.0),
    ],
    ids=["c", "theta", "ntk", "uniform_knots"],
)
def test_kernel_interpolants_interpolate(kernel):
    x, y = square10()
    f = limits.kernel_interpolant(x, y, kernel)
    assert np.max(np.abs(f(x) - y)) < 1e-9
    assert f.cond > 10 and f.lam.shape == (10,)
    f0 = lambda t: 0.3 * np.sin(3 * t)  # noqa: E731
    g = limits.kernel_interpolant(x, y, kernel, f0=f0)
    assert np.max(np.abs(g(x) - y)) < 1e-9
    t = np.linspace(-1, 1, 7)
    assert np.allclose(g(t), f0(t) + kernel(t, x) @ g.lambda_)


def test_uniform_knot_kernel_interpolant_approaches_ncs():
    x, y = square10()
    ncs = limits.natural_cubic_spline(x, y)
    gaps = []
    for L in (1.0, 2.0, 4.0, 8.0):
        f = limits.kernel_interpolant(x, y, lambda s, t, L=L: limits.kernel_uniform_knots(s, t, L))
        gaps.append(limits.distance(f, ncs, -1, 1)["sup"])
    assert all(g1 > g2 for g1, g2 in zip(gaps, gaps[1:])), gaps
    assert gaps[0] > 1e-2 and gaps[-1] < 2e-3


def test_kernel_c_interpolant_is_gaussian_rho_spline_up_to_affine_cost():
    # same weight rho ~ (1+e^2)^-2, so much closer to each other than either is to the NCS
    x, y = square10()
    fk = limits.kernel_interpolant(x, y, limits.kernel_c)
    fr = limits.rho_weighted_spline(x, y, limits.rho("gaussian"))
    ncs = limits.natural_cubic_spline(x, y)
    d_kr = limits.distance(fk, fr, -1, 1)["sup"]
    assert d_kr < 0.5 * limits.distance(fr, ncs, -1, 1)["sup"]
    assert d_kr < 0.5 * limits.distance(fk, ncs, -1, 1)["sup"]


# --------------------------------------------------------------------- min-norm outer interpolant


def test_min_norm_outer_interpolant_equals_gradient_descent_on_c():
    rng = np.random.default_rng(1)
    n, m = 5, 60
    x = np.linspace(-1, 1, n)
    y = np.sin(2 * x) + 0.3
    a, b, c0 = 2 * rng.standard_normal(m), 2 * rng.standard_normal(m), rng.standard_normal(m)
    alpha = float(m)
    lim = limits.min_norm_outer_interpolant(a, b, c0, alpha, x, y)
    assert np.max(np.abs(lim(x) - y)) < 1e-10

    # plain gradient descent on c only, L = 1/2 sum (f(x_j) - y_j)^2
    Phi = np.maximum(np.outer(x, a) + b, 0.0) / alpha
    eta = 1.0 / np.linalg.eigvalsh(Phi @ Phi.T).max()
    c = c0.copy()
    for _ in range(60_000):
        c -= eta * (Phi.T @ (Phi @ c - y))
    assert np.max(np.abs(c - lim.c)) < 1e-8
    assert np.max(np.abs(lim.c - c0)) > 1.0  # the init matters: not the min-norm c from zero
    t = np.linspace(-2, 2, 41)
    manual = np.maximum(np.outer(t, a) + b, 0.0) @ c / alpha
    assert np.max(np.abs(lim(t) - manual)) < 1e-8


def test_min_norm_outer_interpolant_wide_and_duck_typed():
    x, y = square10()
    rng = np.random.default_rng(0)
    m = 100_000
    a, b = sample_init("uniform_knots", m, rng, L=2.0)
    c = rng.standard_normal(m)
    lim = limits.min_norm_outer_interpolant(a, b, c, m, x, y)
    assert lim.residual < 1e-9 and lim.rank == 10
    assert np.max(np.abs(lim(x) - y)) < 1e-9
    # near the m = infinity uniform-knots kernel interpolant (Monte-Carlo error ~ m^-1/2)
    kern = limits.kernel_interpolant(x, y, lambda s, t: limits.kernel_uniform_knots(s, t, 2.0))
    assert limits.distance(lim, kern, -1, 1)["sup"] < 0.03
    net = SimpleNamespace(a=a[:500], b=b[:500], c=c[:500], alpha=500.0)
    l1 = limits.min_norm_outer_interpolant(net, x, y)
    l2 = limits.min_norm_outer_interpolant(a[:500], b[:500], c[:500], 500.0, x, y)
    assert np.array_equal(l1.c, l2.c)


# ----------------------------------------------------------------------------------- measurements


def test_distance():
    d = limits.distance(np.sin, lambda t: np.zeros_like(t), 0.0, math.pi, points=4001)
    assert d["sup"] == pytest.approx(1.0, abs=1e-6)
    assert d["l2"] == pytest.approx(math.sqrt(math.pi / 2), rel=1e-3)
    assert d["interval"] == (0.0, math.pi) and d["points"] == 4001


def test_kernel_interpolant_is_not_linear_outside_the_data_unlike_the_ncs():
    """The documented convention: NCS linear beyond the hull, the min-RKHS-norm interpolant curved there."""
    x, y = square10()
    ncs = limits.natural_cubic_spline(x, y)
    f = limits.kernel_interpolant(x, y, lambda s, t: limits.kernel_uniform_knots(s, t, L=2.0))
    assert limits.distance(f, ncs, -1, 1)["sup"] < 1e-2  # close on the hull
    t, h = np.linspace(1.05, 1.95, 181), 1e-4
    curv = (f(t + h) - 2 * f(t) + f(t - h)) / h**2
    assert 3.4 < np.max(np.abs(curv)) < 4.0  # 3.7
    assert 1.6 < abs(f(2.0) - ncs(2.0)) < 1.8  # 1.7
    np.testing.assert_allclose(ncs.derivative(t, 2), 0.0)


def test_knot_mass_fraction_and_uniform_reference():
    x = np.array([0.0, 0.5, 1.0])
    # knots e = -b/a: 0.0 (mass 2), 0.51 (mass |c| * hypot(a, b)), 0.3 (off data), 5.0 (outside hull)
    a = np.array([1.0, -1.0, 2.0, 1.0, 0.0])
    b = np.array([0.0, 0.51, -0.6, -5.0, 1.0])
    c = np.array([2.0, 1.0, 1.0, 7.0, 9.0])
    mass = np.abs(c) * np.hypot(a, b)
    frac = limits.knot_mass_fraction(a, b, c, x, tol=0.02, hull_pad=0.1)
    assert frac == pytest.approx((mass[0] + mass[1]) / (mass[0] + mass[1] + mass[2]))
    net = SimpleNamespace(a=a, b=b, c=c, alpha=1.0)
    assert limits.knot_mass_fraction(net, x, tol=0.02) == frac
    assert limits.knot_mass_fraction(net, x=x) == frac
    # uniform spread: |union [x_j +- tol] within [x_1 - pad, x_n + pad]| / |padded hull|
    assert limits.uniform_knot_mass_fraction([0.0, 1.0], tol=0.1, hull_pad=0.1) == pytest.approx(0.4 / 1.2)
    assert limits.uniform_knot_mass_fraction([0.0, 0.1], tol=0.1, hull_pad=0.05) == pytest.approx(1.0)
    xs, _ = square10()
    u = limits.uniform_knot_mass_fraction(xs)
    assert u == pytest.approx(10 * 0.04 / 2.2)


def test_knot_displacement_drift_dead():
    a0, b0 = np.array([1.0, 2.0, 0.0, -1.0]), np.array([0.5, 1.0, 1.0, 0.0])
    a1, b1 = np.array([1.0, 1.0, 1.0, -2.0]), np.array([0.0, 1.0, 1.0, 1.0])
    with np.errstate(all="raise"):
        d = limits.knot_displacement(a0, b0, a1, b1)
    assert np.allclose(d[[0, 1, 3]], [0.5, 0.5, 0.5]) and np.isnan(d[2])
    n0 = SimpleNamespace(a=a0, b=b0, c=np.ones(4), alpha=1.0)
    n1 = SimpleNamespace(a=a1, b=b1, c=np.array([1.0, 2.0, 1.0, 1.0]), alpha=1.0)
    assert np.array_equal(limits.knot_displacement(n0, n1), d, equal_nan=True)
    assert limits.median_knot_displacement(n0, n1) == pytest.approx(0.5)
    # delta = c^2 - a^2 - b^2; the drift is the largest per-neuron change
    d0 = 1 - a0**2 - b0**2
    d1 = n1.c**2 - a1**2 - b1**2
    assert limits.invariant_drift(n0, n1) == pytest.approx(np.max(np.abs(d1 - d0)))
    assert limits.invariant_drift(a0, b0, n0.c, a1, b1, n1.c) == limits.invariant_drift(n0, n1)
    # dead on the data: a x + b <= 0 for every x_j (a kink at a sample counts as inactive)
    x = np.array([-1.0, 0.0, 1.0])
    a = np.array([1.0, 1.0, -1.0, 0.0, 0.0, 1.0])
    b = np.array([-1.0, -0.5, -1.0, 0.0, 0.1, -2.0])
    assert limits.dead_neurons(a, b, x) == 4  # neurons 0 (kink at x_n), 2 (kink at x_1), 3, 5
    assert limits.dead_neurons(SimpleNamespace(a=a, b=b, c=a), x) == 4


def test_savarese_norm_known_functions():
    # |x| = [x]_+ + [-x]_+ : int|f''| = 2, f'(-inf) + f'(+inf) = 0 -> R = 2
    assert limits.savarese_norm([1.0, -1.0], [0.0, 0.0], [1.0, 1.0], 1.0) == pytest.approx(2.0)
    # x = [x]_+ - [-x]_+ : the two kinks cancel (grouped), slopes 1 + 1 -> R = 2
    det = limits.savarese_norm([1.0, -1.0], [0.0, 0.0], [1.0, -1.0], 1.0, details=True)
    assert det["curvature"] == 0.0 and det["ungrouped"] == pytest.approx(2.0)
    assert det["R"] == pytest.approx(2.0)
    # same knot from rescaled neurons (2a, 2b, c/2) plus alpha: f = 3 [x - 0.3]_+ / 2
    net = SimpleNamespace(a=np.array([1.0, 2.0]), b=np.array([-0.3, -0.6]), c=np.array([2.0, 0.5]), alpha=2.0)
    assert limits.savarese_norm(net) == pytest.approx(1.5)
    # hat function [x+1]_+ - 2[x]_+ + [x-1]_+: int|f''| = 4, slopes at infinity 0
    hat = limits.savarese_norm([1.0, 1.0, 1.0], [1.0, 0.0, -1.0], [1.0, -2.0, 1.0], 1.0, details=True)
    assert hat["R"] == pytest.approx(4.0) and hat["slope_left"] == 0 and hat["slope_right"] == pytest.approx(0.0)
    # a constant neuron (a = 0) adds nothing
    assert limits.savarese_norm([1.0, 0.0], [0.0, 3.0], [1.0, 5.0], 1.0) == pytest.approx(1.0)


# -------------------------------------------------------------------------------------- bad input


def test_bad_inputs_name_the_argument():
    x, y = square10()
    with pytest.raises(ValueError, match="y"):
        limits.natural_cubic_spline(x, y[:-1])
    with pytest.raises(ValueError, match="x"):
        limits.natural_cubic_spline([0.0, 1.0, 1.0], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="x"):
        limits.natural_cubic_spline([0.0, np.nan], [0.0, 1.0])
    with pytest.raises(ValueError, match="x"):
        limits.linear_interpolant([0.0], [1.0])
    with pytest.raises(TypeError, match="y"):
        limits.linear_interpolant([0.0, 1.0], ["a", "b"])
    with pytest.raises(ValueError, match="scheme"):
        limits.rho("cauchy")
    with pytest.raises(TypeError, match="scheme"):
        limits.rho(3)
    with pytest.raises(ValueError, match="inner_scale"):
        limits.rho("gaussian", inner_scale=-1.0)
    with pytest.raises(ValueError, match="L"):
        limits.rho("uniform_knots", L=0.0)
    with pytest.raises(ValueError, match="grid"):
        limits.rho_weighted_spline(x * 10, y, 1.0)
    with pytest.raises(ValueError, match="nodes"):
        limits.rho_weighted_spline(x, y, 1.0, nodes=2)
    with pytest.raises(ValueError, match="method"):
        limits.rho_weighted_spline(x, y, 1.0, method="dense")
    with pytest.raises(ValueError, match="rho"):
        limits.rho_weighted_spline(x, y, lambda e: -np.ones_like(e))
    with pytest.raises(ValueError, match="L"):
        limits.kernel_uniform_knots(x, x, L=-2.0)
    with pytest.raises(ValueError, match="xp"):
        limits.kernel_c(x, [0.0, np.inf])
    with pytest.raises(TypeError, match="kernel"):
        limits.kernel_interpolant(x, y, "c")
    with pytest.raises(ValueError, match="x"):
        limits.kernel_interpolant([0.0, 0.0], [1.0, 2.0], limits.kernel_c)
    a = np.ones(4)
    with pytest.raises(ValueError, match="c"):
        limits.min_norm_outer_interpolant(a, a, np.ones(3), 1.0, x, y)
    with pytest.raises(ValueError, match="alpha"):
        limits.min_norm_outer_interpolant(a, a, a, 0.0, x, y)
    with pytest.raises(ValueError, match="y"):
        limits.min_norm_outer_interpolant(a, a, a, 1.0, x, y[:3])
    with pytest.raises(TypeError, match="y"):
        limits.min_norm_outer_interpolant(SimpleNamespace(a=a, b=a, c=a, alpha=1.0), x)
    with pytest.raises(ValueError, match="b1"):
        limits.knot_displacement(a, a, a, np.ones(5))
    with pytest.raises(ValueError, match="tol"):
        limits.knot_mass_fraction(a, a, a, x, tol=-1.0)
    with pytest.raises(ValueError, match="hi"):
        limits.distance(np.sin, np.cos, 1.0, 0.0)
    with pytest.raises(TypeError, match="g"):
        limits.distance(np.sin, 3.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        limits.savarese_norm(a, a, a, -1.0)
    with pytest.raises(ValueError, match="x"):
        limits.dead_neurons(a, a, [])


# ------------------------------------------------------------------------ uniform-knots NTK


def test_uniform_knots_ntk_matches_a_1e7_feature_monte_carlo():
    """The tangent kernel sum over parameters of (df/dp)(x) (df/dp)(x') per neuron, averaged over 10^7 drawn
    neurons (|a| = s, random sign, e ~ U[-L, L], c ~ N(0, s_c^2)), streamed in blocks, against
    kernel_ntk_uniform_knots; and its first-layer part is not the rotation-invariant kernel_theta."""
    rng = np.random.default_rng(12)
    pts = np.array([-2.6, -0.8, 0.1, 0.7, 1.9])  # inside and outside [-L, L]
    L, s, sc = 2.0, 1.3, 0.7
    N, B = 10_000_000, 500_000
    XX = np.multiply.outer(pts, pts) + 1.0
    means = []
    for _ in range(N // B):
        a = np.where(rng.random(B) < 0.5, -s, s)
        b = -a * rng.uniform(-L, L, B)
        c = sc * rng.standard_normal(B)
        z = np.multiply.outer(pts, a) + b
        phi = np.maximum(z, 0.0)  # df/dc
        g = (z > 0) * c  # df/db; df/da = g x
        means.append(np.stack([phi @ phi.T, (g @ g.T) * XX]) / B)
    means = np.array(means)  # (blocks, 2, P, P)
    mc = means.mean(0)
    se = means.std(0, ddof=1) / np.sqrt(means.shape[0])
    Kc = limits.kernel_uniform_knots(pts, pts, L, inner_scale=s)
    Kt = limits.kernel_theta_uniform_knots(pts, pts, L, c2=sc**2)
    assert np.all(np.abs(mc[0] - Kc) <= 5 * se[0] + 1e-12)
    assert np.all(np.abs(mc[1] - Kt) <= 5 * se[1] + 1e-12)
    full = limits.kernel_ntk_uniform_knots(pts, pts, L, inner_scale=s, outer_scale=sc)
    np.testing.assert_allclose(full, Kc + Kt, rtol=1e-14)
    assert np.max(np.abs(mc.sum(0) - full)) < 5e-3 * np.max(full)
    # kernel_theta assumes a rotation-invariant theta: far outside the Monte Carlo error here
    wrong = limits.kernel_theta(pts, pts, c2=sc**2)
    assert np.max(np.abs(wrong - mc[1]) / (se[1] + 1e-12)) > 50


def test_uniform_knots_theta_kernel_closed_form_and_quadrature():
    L = 1.5
    for x, xp in [(-0.4, 0.9), (1.2, 1.2), (-2.0, 0.3), (2.0, 2.5), (-1.0, -1.4)]:
        lo, hi = min(x, xp), max(x, xp)
        # (1/2) int_{-L}^{L} (1[e < lo] + 1[e > hi]) de / (2L) (x x' + 1), by quadrature
        q = (
            0.5
            * (
                integrate.quad(lambda e, lo=lo: float(e < lo), -L, L, points=[lo])[0]
                + integrate.quad(lambda e, hi=hi: float(e > hi), -L, L, points=[hi])[0]
            )
            / (2 * L)
            * (x * xp + 1)
        )
        assert limits.kernel_theta_uniform_knots(x, xp, L, c2=2.0) == pytest.approx(2.0 * q, rel=1e-10, abs=1e-12)
    # symmetric, independent of the order; x = x' inside: (1/2)(1 + 0) ... = (x^2 + 1) / 2 * P(e != x)
    K = limits.kernel_theta_uniform_knots(np.array([-1.0, 0.0, 0.5]), np.array([-1.0, 0.0, 0.5]), L)
    np.testing.assert_allclose(K, K.T)
    np.testing.assert_allclose(np.diag(K), 0.5 * (np.array([1.0, 0.0, 0.5]) ** 2 + 1))


def test_uniform_knots_ntk_interpolant_interpolates_and_tends_to_ncs_when_c_is_small():
    x, y = square10()
    L = 2.0
    ntk = limits.kernel_interpolant(x, y, lambda s, t: limits.kernel_ntk_uniform_knots(s, t, L, 1.0, 1.0))
    np.testing.assert_allclose(ntk(x), y, atol=1e-9)
    # with a tiny outer scale the first-layer part vanishes: back to the c-only interpolant
    conly = limits.kernel_interpolant(x, y, lambda s, t: limits.kernel_uniform_knots(s, t, L))
    tiny = limits.kernel_interpolant(x, y, lambda s, t: limits.kernel_ntk_uniform_knots(s, t, L, 1.0, 1e-4))
    assert limits.distance(tiny, conly, -1, 1)["sup"] < 1e-3
    # with O(1) scales the step-feature part pulls the fit away from the cubic (a tension spline)
    assert limits.distance(ntk, conly, -1, 1)["sup"] > 0.05
