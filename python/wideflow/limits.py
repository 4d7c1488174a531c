"""Analytic limits of wide shallow univariate ReLU nets, and measurements on trained nets.

Notation (Williams et al. 2019; docs page ``theory/williams2019``)::

    f(x) = (1/alpha) * sum_i c_i [a_i x + b_i]_+ ,   theta_i = (a_i, b_i),  X = (x, 1)
    knot e_i = -b_i / a_i ,  slope jump at e_i = c_i |a_i| / alpha
    delta_i = c_i^2 - a_i^2 - b_i^2                      (conserved by gradient flow)
    rho(e) = int |a|^3 p(a, -a e) da                     (curvature weight of the init law p)

Kernel regime (first layer dominant, or only ``c`` trained) -> the interpolant minimizing
``int f''^2 / rho`` (a natural cubic spline when rho is constant), or exactly the minimum-RKHS-norm
kernel interpolant; adaptive regime (second layer dominant) -> the linear-spline interpolant.

This module is pure NumPy (SciPy is imported lazily, inside the few functions that need it) and does
not import any other wideflow module, so it can be used on its own. Everything is float64.

Contents
--------
Interpolants (each returns a callable object ``f(t) -> ndarray`` with useful attributes):
    natural_cubic_spline, linear_interpolant, rho, rho_weighted_spline,
    kernel_c, kernel_theta, kernel_ntk (Gaussian / rotation-invariant init), kernel_uniform_knots,
    kernel_theta_uniform_knots, kernel_ntk_uniform_knots (uniform-knots init), kernel_interpolant,
    min_norm_outer_interpolant
Measurements on a net (arrays ``a, b, c, alpha`` or any object with those attributes):
    distance, knot_mass_fraction, uniform_knot_mass_fraction, knot_displacement,
    median_knot_displacement, invariant_drift, dead_neurons, savarese_norm
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

__all__ = [
    "natural_cubic_spline",
    "linear_interpolant",
    "rho",
    "rho_weighted_spline",
    "kernel_c",
    "kernel_theta",
    "kernel_ntk",
    "kernel_uniform_knots",
    "kernel_theta_uniform_knots",
    "kernel_ntk_uniform_knots",
    "kernel_interpolant",
    "min_norm_outer_interpolant",
    "distance",
    "knot_mass_fraction",
    "uniform_knot_mass_fraction",
    "knot_displacement",
    "median_knot_displacement",
    "invariant_drift",
    "dead_neurons",
    "savarese_norm",
    "NaturalCubicSpline",
    "LinearInterpolant",
    "Rho",
    "GridFunction",
    "KernelInterpolant",
    "OuterInterpolant",
]

RHO_SCHEMES = ("gaussian", "uniform_knots", "box")


# --------------------------------------------------------------------------------------------------
# input checks (kept local so the module imports standalone)
# --------------------------------------------------------------------------------------------------


def _real_array(name, values):
    """float64 array of any shape, all finite; TypeError/ValueError naming `name`."""
    if values is None:
        raise TypeError(f"{name}: expected an array of real numbers, got None")
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name}: expected an array of real numbers, got {type(values).__name__}")
    arr = np.asarray(values)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected an array of real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr.ravel()))[0])
        raise ValueError(f"{name}: contains a non-finite value at flat index {bad}")
    return arr


def _vector(name, values, *, min_len=1):
    """1-d float64 copy of `values` (a scalar becomes length 1), finite, at least `min_len` long."""
    arr = np.array(_real_array(name, values), dtype=np.float64, copy=True)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d array, got shape {arr.shape}")
    if arr.size < min_len:
        if arr.size == 0:
            raise ValueError(f"{name}: is empty")
        raise ValueError(f"{name}: needs at least {min_len} points, got {arr.size}")
    return arr


def _scalar(name, value, *, positive=False, nonnegative=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        try:
            arr = np.asarray(value)
        except Exception:  # pragma: no cover - exotic objects
            arr = None
        if arr is None or arr.ndim != 0 or arr.dtype.kind not in "iuf":
            raise TypeError(f"{name}: expected a real number, got {value!r}")
        value = arr.item()
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}: must be finite, got {value}")
    if positive and not value > 0:
        raise ValueError(f"{name}: must be > 0, got {value}")
    if nonnegative and not value >= 0:
        raise ValueError(f"{name}: must be >= 0, got {value}")
    return value


def _int(name, value, *, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {value}")
    return value


def _same_length(names, *arrays):
    n0 = len(arrays[0])
    for nm, arr in zip(names[1:], arrays[1:]):
        if len(arr) != n0:
            raise ValueError(
                f"{nm}: length {len(arr)} does not match {names[0]} (length {n0})"
            )


def _data(x, y, *, min_len=2, xname="x", yname="y"):
    """Sorted copies of interpolation data; duplicates in x are rejected."""
    x = _vector(xname, x, min_len=min_len)
    y = _vector(yname, y, min_len=1)
    _same_length((xname, yname), x, y)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if x.size > 1 and np.any(np.diff(x) == 0):
        dup = x[np.flatnonzero(np.diff(x) == 0)[0]]
        raise ValueError(f"{xname}: duplicate abscissa {dup!r}; interpolation points must be distinct")
    return x, y


def _points(values, name="x"):
    """Evaluation points: any shape, finite."""
    return _real_array(name, values)


def _callable(name, f):
    if not callable(f):
        raise TypeError(f"{name}: expected a callable, got {type(f).__name__}")
    return f


def _is_net(obj):
    return all(hasattr(obj, k) for k in ("a", "b", "c")) and not isinstance(obj, np.ndarray)


def _unpack(func, values, groups):
    """Duck-typed argument parsing for the measurement functions.

    `values` are the positional slots of the public signature, in order; `groups` is a list whose
    items are either ``("net", (field, ...))`` -- filled by ONE net-like object (attributes
    ``.a .b .c [.alpha]``) or by ``len(fields)`` separate arrays -- or a plain argument name.
    The non-None values are consumed left to right, so ``knot_mass_fraction(net, x)`` and
    ``knot_mass_fraction(a, b, c, x)`` (and keyword forms of the trailing arguments) both work.
    Returns a flat list of values in group order.
    """
    vals = [v for v in values if v is not None]
    out = []
    k = 0
    for group in groups:
        if isinstance(group, tuple) and group[0] == "net":
            fields = group[1]
            if k < len(vals) and _is_net(vals[k]):
                net = vals[k]
                k += 1
                for fld in fields:
                    if not hasattr(net, fld):
                        raise TypeError(f"{func}: net object has no attribute {fld!r}")
                    out.append(getattr(net, fld))
            else:
                for fld in fields:
                    if k >= len(vals):
                        raise TypeError(f"{func}: missing argument {fld!r}")
                    out.append(vals[k])
                    k += 1
        else:
            if k >= len(vals):
                raise TypeError(f"{func}: missing argument {group!r}")
            out.append(vals[k])
            k += 1
    if k != len(vals):
        raise TypeError(f"{func}: {len(vals) - k} unexpected extra positional argument(s)")
    return out


def _params(names, *arrays):
    """Validate per-neuron parameter vectors (same length, finite, float64)."""
    vecs = [_vector(nm, arr) for nm, arr in zip(names, arrays)]
    _same_length(names, *vecs)
    return vecs


def _knots(a, b):
    """e_i = -b_i/a_i, NaN where a_i == 0 (the neuron is constant in x: no knot)."""
    e = np.full(a.shape, np.nan)
    nz = a != 0
    e[nz] = -b[nz] / a[nz]
    return e


def _min_dist_sorted(xs, t):
    """min_j |t - xs_j| for sorted xs."""
    idx = np.searchsorted(xs, t)
    left = xs[np.clip(idx - 1, 0, xs.size - 1)]
    right = xs[np.clip(idx, 0, xs.size - 1)]
    return np.minimum(np.abs(t - left), np.abs(t - right))


# --------------------------------------------------------------------------------------------------
# A. interpolants
# --------------------------------------------------------------------------------------------------


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
        nu = _int("nu", nu, minimum=1)
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
    s = _scalar("inner_scale", params.get("inner_scale", 1.0), positive=True)

    if scheme == "gaussian":
        sa = _scalar("sigma_a", params.get("sigma_a", s), positive=True)
        sb = _scalar("sigma_b", params.get("sigma_b", s), positive=True)
        num = 2.0 * sa**3 * sb**3 / math.pi

        def func(e):
            return num / (sb**2 + sa**2 * e**2) ** 2

        return Rho(scheme, {"sigma_a": sa, "sigma_b": sb}, func, (-math.inf, math.inf), sa**2)

    if scheme == "uniform_knots":
        L = _scalar("L", params.get("L", 2.0), positive=True)
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
    lo = _scalar("grid", lo)
    hi = _scalar("grid", hi)
    if not lo < hi:
        raise ValueError(f"grid: need lo < hi, got ({lo}, {hi})")
    if x[0] < lo or x[-1] > hi:
        raise ValueError(f"grid: data range [{x[0]}, {x[-1]}] is not inside the grid [{lo}, {hi}]")
    nodes = _int("nodes", nodes, minimum=3)
    rho_floor = _scalar("rho_floor", rho_floor, nonnegative=True)
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
        c = _scalar("rho", rho, positive=True)
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
        vals = np.column_stack(
            [1.0 / hk[:-1], -(1.0 / hk[:-1] + 1.0 / hk[1:]), 1.0 / hk[1:]]
        ).ravel()
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


# ----------------------------------------------------------------------------- kernels


def _outer(x, xp):
    s = _points(x, "x")
    t = _points(xp, "xp")
    return s.reshape(s.shape + (1,) * t.ndim), t.reshape((1,) * s.ndim + t.shape)


def _angle(s, t):
    """phi = angle between X = (s, 1) and X' = (t, 1), computed stably as atan2(|s - t|, s t + 1)
    (|X x X'| = |s - t|, X . X' = s t + 1)."""
    return np.arctan2(np.abs(s - t), s * t + 1.0)


def kernel_c(x, xp, inner_scale=1.0):
    """c-only (random-feature) kernel, the degree-1 arc-cosine kernel:

        K_c(x, x') = E_{theta ~ N(0, s^2 I_2)} [theta.X]_+ [theta.X']_+
                   = s^2 |X||X'| (sin phi + (pi - phi) cos phi) / (2 pi)
                   = s^2 ( |x - x'| + (pi - phi)(x x' + 1) ) / (2 pi),

    X = (x, 1), cos phi = (x x' + 1)/(|X||X'|), s = ``inner_scale`` (default 1: theta ~ N(0, I_2)).
    phi is computed as atan2(|x - x'|, x x' + 1) (accurate for nearby points).
    Outer broadcasting: the result has shape ``shape(x) + shape(xp)`` (a Gram matrix for 1-d inputs).
    """
    s2 = _scalar("inner_scale", inner_scale, positive=True) ** 2
    s, t = _outer(x, xp)
    phi = _angle(s, t)
    return s2 * (np.abs(s - t) + (np.pi - phi) * (s * t + 1.0)) / (2.0 * np.pi)


def kernel_theta(x, xp, c2=1.0):
    """(a, b)-part of the NTK (training the first layer):

        K_theta(x, x') = E[c^2] E_theta[ 1[theta.X > 0] 1[theta.X' > 0] ] (x x' + 1)
                       = c2 (x x' + 1)(pi - phi) / (2 pi),

    for any rotation-invariant law of theta; ``c2`` = E[c^2]. Outer broadcasting as in kernel_c.
    """
    c2 = _scalar("c2", c2, nonnegative=True)
    s, t = _outer(x, xp)
    phi = _angle(s, t)
    return c2 * (s * t + 1.0) * (np.pi - phi) / (2.0 * np.pi)


def kernel_ntk(x, xp, inner_scale=1.0, outer_scale=1.0):
    """Infinite-width NTK of f = (1/sqrt m) sum c_i [theta_i.X]_+, theta ~ N(0, s_t^2 I), c ~ N(0, s_c^2):

        K(x, x') = K_c(x, x'; s_t) + K_theta(x, x'; c2 = s_c^2)
                 = s_t^2 ( |x-x'| + (pi-phi)(xx'+1) )/(2pi) + s_c^2 (xx'+1)(pi-phi)/(2pi).

    ``inner_scale`` = s_t, ``outer_scale`` = s_c. Outer broadcasting as in kernel_c.
    """
    sc = _scalar("outer_scale", outer_scale, nonnegative=True)
    return kernel_c(x, xp, inner_scale=inner_scale) + kernel_theta(x, xp, c2=sc**2)


def kernel_uniform_knots(x, xp, L, inner_scale=1.0):
    """c-only kernel of the ``uniform_knots`` init (a = +-s equiprobable, knot e ~ U[-L, L]):

        K(x, x') = E_{a, e} [a(x - e)]_+ [a(x' - e)]_+
                 = s^2 [ G(lo + L) + G(L - hi) ] / (4L),   G(t) = t^3/3 + d t^2/2,

    lo = min(x, x'), hi = max(x, x'), d = hi - lo, valid for x, x' in [-L, L] (it is the spec's
    formula ``[(lo+L)^3/3 + d(lo+L)^2/2 + (L-hi)^3/3 + d(L-hi)^2/2]/(4L)``, constant 1/(4L) =
    P(a) * density(e) = (1/2)(1/(2L)), verified by quadrature). For points outside [-L, L] the
    e-integrals are clipped to the support:
    a = +1 term ``G(lo+L) - G(max(0, lo-L))`` if lo > -L else 0; a = -1 term
    ``G(L-hi) - G(max(0, -L-hi))`` if hi < L else 0. Piecewise cubic (a cubic-spline RKHS).
    Outer broadcasting as in kernel_c.
    """
    L = _scalar("L", L, positive=True)
    s2 = _scalar("inner_scale", inner_scale, positive=True) ** 2
    s, t = _outer(x, xp)
    lo, hi = np.minimum(s, t), np.maximum(s, t)
    d = hi - lo

    def G(u):
        return u**3 / 3.0 + d * u**2 / 2.0

    plus = np.where(lo > -L, G(lo + L) - G(np.maximum(0.0, lo - L)), 0.0)
    minus = np.where(hi < L, G(L - hi) - G(np.maximum(0.0, -L - hi)), 0.0)
    return s2 * (plus + minus) / (4.0 * L)


def kernel_theta_uniform_knots(x, xp, L, c2=1.0):
    """First-layer (a, b) part of the NTK for the ``uniform_knots`` init (|a| = s, random sign, knot
    e ~ U[-L, L], b = -a e, E[c^2] = ``c2``):

        K_theta(x, x') = E[c^2] E[ 1[a x + b > 0] 1[a x' + b > 0] ] (x x' + 1)
                       = c2 * (1/2) [ P(e < min(x, x')) + P(e > max(x, x')) ] * (x x' + 1),

    P(e < lo) = clip((lo + L)/(2L), 0, 1), P(e > hi) = clip((L - hi)/(2L), 0, 1). Derivation: the gradient of
    c [a x + b]_+ in (a, b) is c 1[a(x - e) > 0] (x, 1), so a pair of points contributes c^2 (x x' + 1) when
    both are active; with a > 0 (probability 1/2) both are active iff e < min(x, x'), with a < 0 iff
    e > max(x, x'). It does not depend on s (only the signs of a enter). This is NOT ``kernel_theta``: that
    formula, (pi - phi)/(2 pi), holds for rotation-invariant laws of theta only. Up to the alpha scaling:
    the finite-width tangent kernel of f = (1/alpha) sum c_i [a_i x + b_i]_+ is (m / alpha^2) times this
    in expectation. Outer broadcasting as in :func:`kernel_c`.
    """
    L = _scalar("L", L, positive=True)
    c2 = _scalar("c2", c2, nonnegative=True)
    s, t = _outer(x, xp)
    lo, hi = np.minimum(s, t), np.maximum(s, t)
    p_left = np.clip((lo + L) / (2.0 * L), 0.0, 1.0)
    p_right = np.clip((L - hi) / (2.0 * L), 0.0, 1.0)
    return c2 * 0.5 * (p_left + p_right) * (s * t + 1.0)


def kernel_ntk_uniform_knots(x, xp, L, inner_scale=1.0, outer_scale=1.0):
    """Infinite-width NTK of the ``uniform_knots`` init, both layers trained (alpha = sqrt(m); up to the
    alpha scaling for other alpha): c-only part plus first-layer part,

        K(x, x') = kernel_uniform_knots(x, x'; L, s) + kernel_theta_uniform_knots(x, x'; L, c2 = s_c^2),

    s = ``inner_scale`` (|a|), s_c = ``outer_scale`` (c ~ N(0, s_c^2)). Its minimum-norm interpolant is
    ``kernel_interpolant(x, y, lambda s, t: kernel_ntk_uniform_knots(s, t, L, ...))`` (plus f0 when the init
    is not antisymmetric). Outer broadcasting as in :func:`kernel_c`.
    """
    sc = _scalar("outer_scale", outer_scale, nonnegative=True)
    return (kernel_uniform_knots(x, xp, L, inner_scale=inner_scale)
            + kernel_theta_uniform_knots(x, xp, L, c2=sc**2))


class KernelInterpolant:
    """f(t) = f0(t) + sum_j lambda_j K(t, x_j).

    Attributes: ``x``, ``y``, ``kernel``, ``f0``, ``lam`` (alias ``lambda_``: the coefficients),
    ``gram`` (K(X, X)), ``cond`` (2-norm condition number of the Gram matrix).
    """

    def __init__(self, x, y, kernel, f0, lam, gram, cond):
        self.x, self.y = x, y
        self.kernel, self.f0 = kernel, f0
        self.lam = self.lambda_ = lam
        self.gram, self.cond = gram, cond

    def __call__(self, t):
        t = _points(t, "x")
        flat = t.ravel()
        out = np.asarray(self.kernel(flat, self.x), dtype=np.float64) @ self.lam
        if self.f0 is not None:
            out = out + np.asarray(self.f0(flat), dtype=np.float64).reshape(flat.shape)
        return out.reshape(t.shape)

    def __repr__(self):
        return f"KernelInterpolant(n={self.x.size}, cond={self.cond:.3g})"


def kernel_interpolant(x, y, kernel, f0=None):
    """Minimum-RKHS-norm interpolant (the m = infinity kernel-regime limit):

        f = f0 + argmin { ||g||_K : g(x_j) = y_j - f0(x_j) } = f0 + sum_j lambda_j K(., x_j),
        lambda = K(X, X)^{-1} (y - f0(X)).

    Not linear outside the data: unlike the natural cubic spline (and the rho-weighted spline, whose affine
    part is free), the minimum-RKHS-norm interpolant pays for affine functions, so it keeps curvature
    beyond [x_1, x_n]. For the uniform-knots kernel with L = 2 on the 10 square-wave points it agrees with
    the natural spline to 6.7e-3 on the hull [-1, 1], but |f''| reaches 3.7 on [1.05, 1.95] and f departs
    from the spline's linear extension by 1.7 at x = 2 (L = 4: |f''| <= 1.0 there, 0.53 at x = 2). Compare
    kernel limits with splines on the data hull only.

    ``kernel(s, t)`` must follow the outer-broadcasting convention of :func:`kernel_c` (1-d inputs ->
    Gram matrix), e.g. ``kernel_c`` or ``lambda s, t: kernel_uniform_knots(s, t, L=2)``. ``f0`` is an
    optional callable (the initial function; None means 0). The Gram matrix is solved with a dense
    LU solve plus one step of iterative refinement (these 10-point Gram matrices are ill-conditioned;
    ``cond`` is reported). Returns a :class:`KernelInterpolant`.
    """
    x, y = _data(x, y, min_len=1)
    _callable("kernel", kernel)
    if f0 is not None:
        _callable("f0", f0)
    gram = np.asarray(kernel(x, x), dtype=np.float64)
    if gram.shape != (x.size, x.size):
        raise ValueError(
            f"kernel: kernel(x, x) returned shape {gram.shape}, expected {(x.size, x.size)} "
            "(outer broadcasting)"
        )
    if not np.all(np.isfinite(gram)):
        raise ValueError("kernel: Gram matrix has non-finite entries")
    r = y.copy()
    if f0 is not None:
        f0x = np.asarray(f0(x), dtype=np.float64).reshape(-1)
        if f0x.shape != x.shape or not np.all(np.isfinite(f0x)):
            raise ValueError("f0: must return finite values of the same length as x")
        r = r - f0x
    try:
        lam = np.linalg.solve(gram, r)
        lam = lam + np.linalg.solve(gram, r - gram @ lam)
    except np.linalg.LinAlgError as exc:
        raise ValueError("kernel: Gram matrix K(x, x) is singular") from exc
    cond = float(np.linalg.cond(gram))
    return KernelInterpolant(x, y, kernel, f0, lam, gram, cond)


class OuterInterpolant:
    """The finite net with outer weights c* = c0 + Phi^T (Phi Phi^T)^+ (y - f0(x)).

    Callable: f(t) = (1/alpha) sum_i c*_i [a_i t + b_i]_+. Attributes: ``a``, ``b``, ``c`` (= c*),
    ``c0``, ``alpha``, ``lam`` (the n Gram coefficients), ``gram``, ``cond``, ``rank``,
    ``residual`` (max_j |f(x_j) - y_j|).
    """

    def __init__(self, a, b, c, c0, alpha, lam, gram, cond, rank, residual):
        self.a, self.b, self.c, self.c0, self.alpha = a, b, c, c0, alpha
        self.lam, self.gram, self.cond, self.rank = lam, gram, cond, rank
        self.residual = residual

    def __call__(self, t):
        t = _points(t, "x")
        return _eval_net(self.a, self.b, self.c, self.alpha, t)

    def __repr__(self):
        return f"OuterInterpolant(m={self.a.size}, cond={self.cond:.3g}, rank={self.rank})"


def _eval_net(a, b, c, alpha, t, chunk_elems=1 << 22):
    flat = t.ravel()
    out = np.empty(flat.size)
    step = max(1, chunk_elems // max(1, a.size))
    for i in range(0, flat.size, step):
        tt = flat[i : i + step]
        out[i : i + step] = np.maximum(tt[:, None] * a[None, :] + b[None, :], 0.0) @ c
    return (out / alpha).reshape(t.shape)


def min_norm_outer_interpolant(a, b=None, c=None, alpha=None, x=None, y=None, *, rcond=1e-13):
    """Exact limit of gradient flow/descent on the outer weights c alone (random-feature regression).

    Features phi_i(x) = [a_i x + b_i]_+ / alpha, Phi = (phi_i(x_j))_{j,i} (n x m), f = Phi c. GD on
    L(c) = 1/2 ||Phi c - y||^2 from c0 only moves c inside row(Phi), so it converges to the
    least-norm correction

        c* = c0 + Phi^T (Phi Phi^T)^+ (y - Phi c0),      f*(t) = (1/alpha) sum_i c*_i [a_i t + b_i]_+ .

    Only the n x n Gram matrix G = Phi Phi^T = (1/alpha^2) sum_i [theta_i.X_j]_+ [theta_i.X_k]_+ is
    factored (cost O(n^2 m), so m = 1e5 with n = 10 is cheap). G is badly conditioned, so lambda =
    G^+ r uses ``numpy.linalg.lstsq`` with ``rcond`` (singular values of G below rcond * sigma_max
    are treated as zero; default 1e-13 ~ float64 round-off of G), followed by one step of iterative
    refinement. If G is rank deficient and y is not reachable, this is the least-squares limit GD
    reaches (c0 plus the min-norm least-squares correction). Like the m = infinity kernel interpolant, it
    is not linear outside the data (its knots extend over the whole support of the init law). For very wide
    nets (m up to 1e8 and beyond) use ``wideflow.random_features``, which streams the Gram in C++ and never
    forms the n x m feature matrix.

    Call as ``min_norm_outer_interpolant(a, b, c, alpha, x, y)`` or
    ``min_norm_outer_interpolant(net, x, y)`` with a net exposing ``.a .b .c .alpha``.
    Returns an :class:`OuterInterpolant` (callable on new points; ``.c`` is c*).
    """
    a, b, c, alpha, x, y = _unpack(
        "min_norm_outer_interpolant", (a, b, c, alpha, x, y), [("net", ("a", "b", "c", "alpha")), "x", "y"]
    )
    a, b, c = _params(("a", "b", "c"), a, b, c)
    alpha = _scalar("alpha", alpha, positive=True)
    x = _vector("x", x)
    y = _vector("y", y)
    _same_length(("x", "y"), x, y)
    rcond = _scalar("rcond", rcond, nonnegative=True)

    Phi = np.maximum(x[:, None] * a[None, :] + b[None, :], 0.0) / alpha
    r0 = y - Phi @ c
    G = Phi @ Phi.T
    lam, _, rank, sv = np.linalg.lstsq(G, r0, rcond=rcond)
    lam = lam + np.linalg.lstsq(G, r0 - G @ lam, rcond=rcond)[0]
    c_star = c + Phi.T @ lam
    cond = float(sv[0] / sv[-1]) if sv[-1] > 0 else math.inf
    residual = float(np.max(np.abs(Phi @ c_star - y)))
    return OuterInterpolant(a, b, c_star, c, alpha, lam, G, cond, int(rank), residual)


# --------------------------------------------------------------------------------------------------
# B. measurements on a trained net
# --------------------------------------------------------------------------------------------------


def distance(f, g, lo, hi, points=2001):
    """Sup and L2 distances between two functions on [lo, hi], sampled at ``points`` uniform points t_k:

        sup = max_k |f(t_k) - g(t_k)|,
        l2  = sqrt( (hi - lo) * mean_k (f(t_k) - g(t_k))^2 )   (~ ( int_lo^hi (f - g)^2 )^(1/2)).

    f, g: callables (interpolants from this module, a ShallowReLU net, ...). Returns
    ``dict(sup=..., l2=..., interval=(lo, hi), points=points)``: every distance carries the interval it was
    measured on. Limits that differ in their convention outside the data (the natural spline is linear there,
    kernel interpolants are not) should be compared on the data hull [x_1, x_n].
    """
    _callable("f", f)
    _callable("g", g)
    lo = _scalar("lo", lo)
    hi = _scalar("hi", hi)
    if not lo < hi:
        raise ValueError(f"hi: need lo < hi, got lo={lo}, hi={hi}")
    points = _int("points", points, minimum=2)
    t = np.linspace(lo, hi, points)
    fv = np.asarray(f(t), dtype=np.float64).reshape(-1)
    gv = np.asarray(g(t), dtype=np.float64).reshape(-1)
    if fv.shape != t.shape:
        raise ValueError(f"f: returned {fv.size} values for {t.size} points")
    if gv.shape != t.shape:
        raise ValueError(f"g: returned {gv.size} values for {t.size} points")
    d = fv - gv
    return {"sup": float(np.max(np.abs(d))), "l2": float(np.sqrt(np.mean(d**2) * (hi - lo))), "interval": (lo, hi),
            "points": points}


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
    tol = _scalar("tol", tol, nonnegative=True)
    pad = _scalar("hull_pad", hull_pad, nonnegative=True)
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
    tol = _scalar("tol", tol, nonnegative=True)
    pad = _scalar("hull_pad", hull_pad, nonnegative=True)
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
    a0, b0, a1, b1 = _unpack(
        "knot_displacement", (a0, b0, a1, b1), [("net", ("a", "b")), ("net", ("a", "b"))]
    )
    a0, b0, a1, b1 = _params(("a0", "b0", "a1", "b1"), a0, b0, a1, b1)
    return np.abs(_knots(a1, b1) - _knots(a0, b0))


def median_knot_displacement(a0, b0=None, a1=None, b1=None):
    """median_i |e_i(t) - e_i(0)| over neurons with finite knots at both times (NaN if none).

    Same call forms as :func:`knot_displacement`.
    """
    a0, b0, a1, b1 = _unpack(
        "median_knot_displacement", (a0, b0, a1, b1), [("net", ("a", "b")), ("net", ("a", "b"))]
    )
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
    alpha = _scalar("alpha", alpha, positive=True)
    knot_tol = _scalar("knot_tol", knot_tol, nonnegative=True)
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
