"""Interpolants of the kernel and adaptive regimes: natural cubic splines, linear splines, the curvature
weight rho of an initialization law, and the rho-weighted spline (min int f''^2 / rho)."""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._validate import positive_int, real_number
from ._checks import _data, _min_dist_sorted, _points, _real_array


class NaturalCubicSpline:
    """Natural cubic spline through (x_j, y_j), extended linearly outside [x_1, x_n].

    Attributes: ``x``, ``y`` (sorted data), ``M`` (second derivatives S''(x_j); M_1 = M_n = 0),
    ``slope_left`` / ``slope_right`` (the slopes of the linear extensions).
    """

    def __init__(self, x, y):
        self.x, self.y = x, y
        h = np.diff(x)
        n = x.size
        M = np.zeros(n)
        if n > 2:
            # h_{i-1} M_{i-1} + 2 (h_{i-1} + h_i) M_i + h_i M_{i+1}
            #     = 6 [ (y_{i+1} - y_i)/h_i - (y_i - y_{i-1})/h_{i-1} ],   i = 2..n-1, M_1 = M_n = 0
            s = np.diff(y) / h
            rhs = 6.0 * np.diff(s)
            diag = 2.0 * (h[:-1] + h[1:])
            off = h[1:-1]
            M[1:-1] = _thomas(off, diag, off, rhs)
        self.M = M
        self._h = h
        self.slope_left = float((y[1] - y[0]) / h[0] - h[0] * (2 * M[0] + M[1]) / 6.0)
        self.slope_right = float((y[-1] - y[-2]) / h[-1] + h[-1] * (2 * M[-1] + M[-2]) / 6.0)

    def _locate(self, t):
        i = np.clip(np.searchsorted(self.x, t, side="right") - 1, 0, self.x.size - 2)
        return i, self.x[i], self.x[i + 1], self._h[i]

    def __call__(self, t):
        t = _points(t, "x")
        x, y, M = self.x, self.y, self.M
        i, x0, x1, h = self._locate(t)
        A, B = x1 - t, t - x0
        out = (
            M[i] * A**3 / (6 * h)
            + M[i + 1] * B**3 / (6 * h)
            + (y[i] / h - M[i] * h / 6) * A
            + (y[i + 1] / h - M[i + 1] * h / 6) * B
        )
        lo, hi = t < x[0], t > x[-1]
        out = np.where(lo, y[0] + self.slope_left * (t - x[0]), out)
        out = np.where(hi, y[-1] + self.slope_right * (t - x[-1]), out)
        return out

    def derivative(self, t, nu=1):
        """S'(t) (nu=1) or S''(t) (nu=2); the linear extension has S'' = 0."""
        t = _points(t, "x")
        nu = positive_int("nu", nu, minimum=1)
        if nu > 2:
            raise ValueError(f"nu: only 1 or 2 supported, got {nu}")
        x, y, M = self.x, self.y, self.M
        i, x0, x1, h = self._locate(t)
        A, B = x1 - t, t - x0
        if nu == 1:
            out = -M[i] * A**2 / (2 * h) + M[i + 1] * B**2 / (2 * h) + (y[i + 1] - y[i]) / h
            out = out - (M[i + 1] - M[i]) * h / 6
            out = np.where(t < x[0], self.slope_left, out)
            out = np.where(t > x[-1], self.slope_right, out)
        else:
            out = (M[i] * A + M[i + 1] * B) / h
            out = np.where((t < x[0]) | (t > x[-1]), 0.0, out)
        return out

    def __repr__(self):
        return f"NaturalCubicSpline(n={self.x.size}, hull=[{self.x[0]:g}, {self.x[-1]:g}])"


def _thomas(sub, diag, sup, rhs):
    """Solve a tridiagonal system (sub-, main, super-diagonal) by the Thomas algorithm."""
    n = diag.size
    c = np.empty(n)
    d = np.empty(n)
    c[0] = sup[0] / diag[0] if n > 1 else 0.0
    d[0] = rhs[0] / diag[0]
    for i in range(1, n):
        den = diag[i] - sub[i - 1] * c[i - 1]
        c[i] = sup[i] / den if i < n - 1 else 0.0
        d[i] = (rhs[i] - sub[i - 1] * d[i - 1]) / den
    out = np.empty(n)
    out[-1] = d[-1]
    for i in range(n - 2, -1, -1):
        out[i] = d[i] - c[i] * out[i + 1]
    return out


def natural_cubic_spline(x, y):
    """Natural cubic spline (NCS) interpolant, extended linearly outside the data hull.

    The NCS is the minimizer of ``int f''(x)^2 dx`` subject to ``f(x_j) = y_j``: the kernel-regime
    limit ``min int f''^2/rho`` for constant rho (uniform initialization). On [x_j, x_{j+1}],
    with h_j = x_{j+1} - x_j and M_j = S''(x_j),

        S(t) = M_j (x_{j+1}-t)^3/(6h_j) + M_{j+1} (t-x_j)^3/(6h_j)
               + (y_j/h_j - M_j h_j/6)(x_{j+1}-t) + (y_{j+1}/h_j - M_{j+1} h_j/6)(t-x_j),

    where M solves the tridiagonal system (own Thomas solve, no SciPy)
    ``h_{j-1} M_{j-1} + 2(h_{j-1}+h_j) M_j + h_j M_{j+1} = 6(s_j - s_{j-1})``, s_j the secant slopes,
    with natural ends M_1 = M_n = 0. Outside [x_1, x_n] the spline continues as the straight line
    with the end value and end slope (value, slope and -- since M = 0 there -- curvature continuous).

    Convention: the natural spline is *linear outside the data* (as in the paper: affine functions are
    free, so the minimizer has f'' = 0 beyond [x_1, x_n]). The exact m = infinity kernel interpolants
    (:func:`kernel_interpolant`) are NOT: they keep curvature outside the hull, so compare the two on
    [x_1, x_n] only (every distance in wideflow states its interval).

    Parameters: x (n >= 2 distinct abscissae, any order; sorted internally), y (same length).
    Returns a :class:`NaturalCubicSpline` (callable; ``.derivative(t, nu)``; attributes x, y, M).
    """
    x, y = _data(x, y, min_len=2)
    return NaturalCubicSpline(x, y)


class LinearInterpolant:
    """Piecewise-linear interpolant through sorted data with linear end extensions.

    Attributes: ``x``, ``y``, ``slopes`` (segment slopes), ``slope_left``, ``slope_right``.
    """

    def __init__(self, x, y):
        self.x, self.y = x, y
        self.slopes = np.diff(y) / np.diff(x)
        self.slope_left = float(self.slopes[0])
        self.slope_right = float(self.slopes[-1])

    def __call__(self, t):
        t = _points(t, "x")
        x, y = self.x, self.y
        out = np.interp(t, x, y)
        out = np.where(t < x[0], y[0] + self.slope_left * (t - x[0]), out)
        out = np.where(t > x[-1], y[-1] + self.slope_right * (t - x[-1]), out)
        return out

    def __repr__(self):
        return f"LinearInterpolant(n={self.x.size}, hull=[{self.x[0]:g}, {self.x[-1]:g}])"


def linear_interpolant(x, y):
    """Linear-spline interpolant: the adaptive-regime limit on the data hull.

    On [x_j, x_{j+1}]:  f(t) = y_j + (y_{j+1} - y_j)(t - x_j)/(x_{j+1} - x_j).  It is continuous,
    piecewise linear with kinks only at the x_j, and minimizes ``int |f''|`` among interpolants
    (Savarese et al.). Outside the hull the adaptive limit leaves the slopes undetermined; this
    interpolant *chooses* to continue the first and last segments (slopes (y_2-y_1)/(x_2-x_1) and
    (y_n-y_{n-1})/(x_n-x_{n-1})), i.e. no extra kinks outside [x_1, x_n].

    Parameters: x (n >= 2 distinct abscissae, any order), y (same length).
    Returns a :class:`LinearInterpolant`.
    """
    x, y = _data(x, y, min_len=2)
    return LinearInterpolant(x, y)


class Rho:
    """Curvature weight rho(e) = int |a|^3 p(a, -a e) da of an initialization law.

    Attributes: ``scheme``, ``params`` (dict of the parameters used), ``support`` ((lo, hi) or
    (-inf, inf)), ``total`` (= int rho(e) de = E[a^2], the mean squared inner weight).
    """

    def __init__(self, scheme, params, func, support, total):
        self.scheme = scheme
        self.params = dict(params)
        self._func = func
        self.support = support
        self.total = total

    def __call__(self, e):
        e = _points(e, "e")
        return self._func(e)

    def __repr__(self):
        inner = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Rho({self.scheme!r}, {inner})"


RHO_SCHEMES = ("gaussian", "uniform_knots", "box")
_RHO_IGNORED = ("outer_scale", "alpha", "seed", "dtype", "m")


def rho(scheme, **params):
    """Curvature weight ``rho(e) = int |a|^3 p(a, -a e) da`` for a ``ShallowReLU.init`` scheme.

    rho(e) = (density of knots e_i = -b_i/a_i at e) x E[a^2 | knot = e]. In the kernel regime the
    wide-net interpolant minimizes ``int f''(x)^2 / rho(x) dx`` subject to f(x_j) = y_j.
    With s = ``inner_scale`` (the init multiplies the base samples (a~, b~) by s, so rho scales as s^2):

    * ``"gaussian"``: (a, b) ~ N(0, diag(sigma_a^2, sigma_b^2)), default sigma_a = sigma_b = s;
      knots are Cauchy(0, sigma_b/sigma_a) and
      ``rho(e) = (2 sigma_a^3 sigma_b^3 / pi) / (sigma_b^2 + sigma_a^2 e^2)^2``
      (= 2 s^2 / (pi (1 + e^2)^2) for the isotropic init).
    * ``"uniform_knots"``: a = +-s equiprobable, e ~ U[-L, L]:
      ``rho(e) = s^2/(2L)`` on [-L, L] (closed), 0 outside.
    * ``"box"``: (a, b) ~ s * U([-1, 1]^2), p = 1/(4 s^2) on [-s, s]^2:
      ``rho(e) = (1/(4s^2)) * 2 int_0^{s min(1, 1/|e|)} a^3 da = s^2 min(1, e^-4) / 8``
      (derived; the s^2 factor checked against Monte Carlo in the tests).

    Keyword parameters: ``inner_scale`` (s, default 1), ``L`` (uniform_knots half-width, default
    2.0 as in ``ShallowReLU.init``; ignored by the other schemes), ``sigma_a``, ``sigma_b``
    (gaussian only; override s per coordinate). ``outer_scale``, ``alpha``, ``seed``, ``dtype`` and
    ``m`` are accepted and ignored (rho does not depend on them), so the keyword arguments of an
    ``init`` call can be passed through unchanged. Returns a callable :class:`Rho`.
    """
    if not isinstance(scheme, str):
        raise TypeError(f"scheme: expected a string, got {type(scheme).__name__}")
    if scheme not in RHO_SCHEMES:
        raise ValueError(f"scheme: unknown scheme {scheme!r}; expected one of {RHO_SCHEMES}")
    allowed = {"inner_scale", "L", "sigma_a", "sigma_b", *_RHO_IGNORED}
    for k in params:
        if k not in allowed:
            raise TypeError(f"{k}: unexpected keyword argument for rho(); allowed: {sorted(allowed)}")
    if scheme != "gaussian":
        for k in ("sigma_a", "sigma_b"):
            if k in params:
                raise TypeError(f"{k}: only meaningful for scheme='gaussian'")
    s = real_number("inner_scale", params.get("inner_scale", 1.0), positive=True)

    if scheme == "gaussian":
        sa = real_number("sigma_a", params.get("sigma_a", s), positive=True)
        sb = real_number("sigma_b", params.get("sigma_b", s), positive=True)
        num = 2.0 * sa**3 * sb**3 / math.pi

        def func(e):
            return num / (sb**2 + sa**2 * e**2) ** 2

        return Rho(scheme, {"sigma_a": sa, "sigma_b": sb}, func, (-math.inf, math.inf), sa**2)

    if scheme == "uniform_knots":
        L = real_number("L", params.get("L", 2.0), positive=True)
        level = s**2 / (2.0 * L)

        def func(e):
            return np.where(np.abs(e) <= L, level, 0.0)

        return Rho(scheme, {"inner_scale": s, "L": L}, func, (-L, L), s**2)

    # box
    def func(e):
        return s**2 / (8.0 * np.maximum(1.0, e**4))

    return Rho(scheme, {"inner_scale": s}, func, (-math.inf, math.inf), s**2 / 3.0)


class GridFunction:
    """A function given by values on a grid: linear between nodes, linear extension beyond.

    Attributes: ``grid``, ``values``, ``rho_values`` (rho at the nodes), ``x``, ``y`` (the data),
    ``affine_nodes`` (interior nodes where rho was treated as 0 and no kink is allowed).
    """

    def __init__(self, grid, values, rho_values, x, y, affine_nodes):
        self.grid, self.values = grid, values
        self.rho_values = rho_values
        self.x, self.y = x, y
        self.affine_nodes = affine_nodes
        self.slope_left = float((values[1] - values[0]) / (grid[1] - grid[0]))
        self.slope_right = float((values[-1] - values[-2]) / (grid[-1] - grid[-2]))

    def __call__(self, t):
        t = _points(t, "x")
        g, v = self.grid, self.values
        out = np.interp(t, g, v)
        out = np.where(t < g[0], v[0] + self.slope_left * (t - g[0]), out)
        out = np.where(t > g[-1], v[-1] + self.slope_right * (t - g[-1]), out)
        return out

    def __repr__(self):
        return f"GridFunction(nodes={self.grid.size}, grid=[{self.grid[0]:g}, {self.grid[-1]:g}])"


def rho_weighted_spline(x, y, rho, grid=(-8.0, 8.0), nodes=4001, rho_floor=1e-12, method="jumps"):
    """Minimizer of ``int f''(t)^2 / rho(t) dt`` subject to ``f(x_j) = y_j``, on a fine grid.

    Grid: the union of ``nodes`` uniform nodes on ``grid = (lo, hi)`` and the data x_j (uniform nodes
    closer than h/4 to a data point are dropped, so there are no tiny cells). f is continuous and
    piecewise linear on the grid t_0 < ... < t_N, with slope jumps (second differences)
    J_k = (f_{k+1}-f_k)/h_k - (f_k-f_{k-1})/h_{k-1} at the interior nodes. Since f'' ~ J_k / w_k on
    the dual cell w_k = (h_{k-1}+h_k)/2,

        int f''^2 / rho  ~  sum_k J_k^2 / (w_k rho(t_k)),     subject to f(x_j) = y_j.

    Equivalently f(t) = alpha_0 + alpha_1 t + sum_k J_k (t - t_k)_+ with the affine part free, so the
    problem is affine outside the data hull (natural end conditions) and with rho constant the
    solution converges to the natural cubic spline (error O(h^2)).

    Where rho(t_k) <= rho_floor * max(rho) the curvature is *forbidden*: J_k = 0 exactly (f is
    affine across such nodes; no knots exist there at m = infinity). Data that cannot be
    interpolated under this restriction (e.g. 3 non-collinear points in a rho = 0 region) raise
    ValueError.

    Solvers (same discrete problem, same minimizer):

    * ``method="jumps"`` (default): the KKT conditions give J_k = w_k rho_k sum_j mu_j (x_j - t_k)_+,
      and eliminating J leaves the dense (n+2) x (n+2) system
      ``[[A, B], [B^T, 0]] [mu; alpha] = [y; 0]``, A_ij = sum_k w_k rho_k (x_i - t_k)_+ (x_j - t_k)_+
      (a quadrature of the spline kernel int rho(s)(x_i - s)_+(x_j - s)_+ ds), B = [1, x_j]. Well
      conditioned at any grid size; J_k = 0 automatically where rho_k = 0.
    * ``method="kkt"``: the sparse KKT system in the node values f_k (scipy.sparse, imported lazily),
      second-difference matrix D, constraints f(x_j) = y_j and J_k = 0 where rho vanishes. Its
      condition number grows like N^4, so it loses accuracy beyond a few thousand nodes; kept as a
      cross-check.

    Parameters: x, y data (n >= 2 distinct points inside ``grid``); rho: a vectorized callable (e.g.
    from :func:`rho`) or a positive constant; grid: (lo, hi); nodes: uniform node count (>= 3).
    Returns a :class:`GridFunction` (exactly the discrete minimizer: linear between nodes, linear
    beyond the grid).
    """
    x, y = _data(x, y, min_len=2)
    try:
        lo, hi = grid
    except (TypeError, ValueError) as exc:
        raise TypeError(f"grid: expected a pair (lo, hi), got {grid!r}") from exc
    lo = real_number("grid", lo)
    hi = real_number("grid", hi)
    if not lo < hi:
        raise ValueError(f"grid: need lo < hi, got ({lo}, {hi})")
    if x[0] < lo or x[-1] > hi:
        raise ValueError(f"grid: data range [{x[0]}, {x[-1]}] is not inside the grid [{lo}, {hi}]")
    nodes = positive_int("nodes", nodes, minimum=3)
    rho_floor = real_number("rho_floor", rho_floor, nonneg=True)
    if not isinstance(method, str) or method not in ("jumps", "kkt"):
        raise ValueError(f"method: expected 'jumps' or 'kkt', got {method!r}")

    u = np.linspace(lo, hi, nodes)
    h = (hi - lo) / (nodes - 1)
    keep = _min_dist_sorted(x, u) > 0.25 * h
    t = np.union1d(u[keep], x)
    data_idx = np.searchsorted(t, x)

    if callable(rho):
        r = _real_array("rho", rho(t))
        if r.ndim == 0:
            r = np.full(t.shape, float(r))
        if r.shape != t.shape:
            raise ValueError(f"rho: callable returned shape {r.shape}, expected {t.shape}")
    else:
        c = real_number("rho", rho, positive=True)
        r = np.full(t.shape, c)
    if np.any(r < 0):
        raise ValueError("rho: must be >= 0 everywhere on the grid")
    rmax = float(r.max())
    if rmax <= 0:
        raise ValueError("rho: vanishes everywhere on the grid")

    N = t.size
    hk = np.diff(t)
    w = 0.5 * (hk[:-1] + hk[1:])
    rint = r[1:-1]
    free = rint > rho_floor * rmax
    fail = ValueError("rho: the data cannot be interpolated with zero curvature where rho vanishes")

    if method == "jumps":
        tk = t[1:-1][free]
        wr = (w * rint)[free]
        P = np.maximum(x[:, None] - tk[None, :], 0.0)  # (x_j - t_k)_+, n x K
        A = (P * wr) @ P.T
        B = np.column_stack([np.ones_like(x), x])
        n = x.size
        KKT = np.zeros((n + 2, n + 2))
        KKT[:n, :n] = A
        KKT[:n, n:] = B
        KKT[n:, :n] = B.T
        rhs = np.concatenate([y, [0.0, 0.0]])
        try:
            sol = np.linalg.solve(KKT, rhs)
            sol = sol + np.linalg.solve(KKT, rhs - KKT @ sol)
        except np.linalg.LinAlgError as exc:
            raise fail from exc
        mu, (c0, c1) = sol[:n], sol[n:]
        J = np.zeros(N - 2)
        J[free] = wr * (P.T @ mu)
        slopes = c1 + np.concatenate([[0.0], np.cumsum(J)])  # slope on [t_k, t_{k+1}]
        f = np.empty(N)
        f[0] = c0 + c1 * t[0]
        f[1:] = f[0] + np.cumsum(slopes * hk)
    else:
        import scipy.sparse as sp
        import scipy.sparse.linalg as spla

        rows = np.repeat(np.arange(N - 2), 3)
        cols = (np.arange(N - 2)[:, None] + np.arange(3)[None, :]).ravel()
        vals = np.column_stack([1.0 / hk[:-1], -(1.0 / hk[:-1] + 1.0 / hk[1:]), 1.0 / hk[1:]]).ravel()
        D = sp.csr_matrix((vals, (rows, cols)), shape=(N - 2, N))
        q = np.zeros(N - 2)
        q[free] = 1.0 / (w[free] * rint[free])
        Q = (D.T @ sp.diags(q) @ D).tocsc()
        Q = Q / abs(Q.diagonal()).max()
        E = sp.csr_matrix((np.ones(x.size), (np.arange(x.size), data_idx)), shape=(x.size, N))
        blocks = [E]
        if np.any(~free):
            blocks.append(D[np.flatnonzero(~free)] * h)
        C = sp.vstack(blocks).tocsr()
        rhs = np.concatenate([np.zeros(N), y, np.zeros(C.shape[0] - x.size)])
        K = sp.bmat([[Q, C.T], [C, None]], format="csc")
        with warnings.catch_warnings():
            warnings.simplefilter("error", spla.MatrixRankWarning)
            try:
                sol = spla.spsolve(K, rhs)
            except (spla.MatrixRankWarning, RuntimeError) as exc:
                raise fail from exc
        f = sol[:N]
    if not np.all(np.isfinite(f)) or np.max(np.abs(f[data_idx] - y)) > 1e-8 * (1 + np.abs(y).max()):
        raise fail
    affine = np.flatnonzero(~free) + 1
    return GridFunction(t, f, r, x, y, affine)
