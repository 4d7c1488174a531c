"""The exact c-only (random-feature, minimum-norm) limit of a shallow ReLU net at any width, streamed.

Training only the outer weights c of f(x) = (1/alpha) sum_i c_i [a_i x + b_i]_+ is linear least squares in
the features phi_i(x) = [a_i x + b_i]_+, so gradient descent from c0 converges to the minimum-norm correction

    f*(t) = f0(t) + K_m(t, X) K_m(X, X)^+ (y - f0(X)),     K_m(s, t) = (1/m) sum_i phi_i(s) phi_i(t)

(the 1/alpha^2 and the 1/m normalization cancel). Only the n x n data Gram K_m(X, X) and the P x n cross
Gram K_m(T, X) on the evaluation points T are needed; both come from ONE streamed O(m n^2 + m log P) pass in
C++ (``cpp/include/wideflow/gram.hpp``) that never forms the n x m feature matrix. For drawn features
(:func:`drawn_feature_gram`, :func:`outer_limit_at_width`) not even the parameters are stored: neuron i of a
seed is a pure function of (seed, i) (a counter-based SplitMix64 generator), generated block by block, so
m = 10^8 costs O(n P) memory. Results are bitwise identical for any thread count. NumPy twins:
``wideflow._reference.feature_draws`` / ``feature_gram``.

    outer_limit_at_width(10**8, x, y, t, scheme="uniform_knots", seed=0, L=2.0).values   # f*(t)
"""

from __future__ import annotations

import math

import numpy as np

from . import _core
from ._validate import choice, finite_vector, positive_float, positive_int, threads_option

__all__ = [
    "SCHEMES",
    "draw_features",
    "feature_gram",
    "drawn_feature_gram",
    "outer_limit",
    "outer_limit_at_width",
    "FeatureGram",
    "OuterLimit",
]

SCHEMES = ("gaussian", "uniform_knots", "box")
_CALL_NEURONS = 1 << 22  # neurons per C++ call (~0.1-0.5 s): Ctrl-C is seen between calls


class FeatureGram:
    """Mean-normalized Gram matrices of `count` ReLU features phi_i(x) = [a_i x + b_i]_+.

    ``gram[j, k] = (1/count) sum_i phi_i(x_j) phi_i(x_k)`` (n x n), ``cross[p, j] = (1/count) sum_i
    phi_i(t_p) phi_i(x_j)`` (P x n, in the order of ``points``; None without points), ``x``, ``points``,
    ``count``.
    """

    def __init__(self, gram, cross, x, points, count):
        self.gram, self.cross, self.x, self.points, self.count = gram, cross, x, points, count

    def __repr__(self):
        P = 0 if self.points is None else self.points.size
        return f"FeatureGram(count={self.count}, n={self.x.size}, points={P})"


class OuterLimit:
    """The c-only limit f* on the evaluation points: ``values`` (= f*(points)), ``points``, ``lam`` (the n
    coefficients of K_m(., X)), ``gram`` (K_m(X, X), mean-normalized), ``cond`` (its 2-norm condition
    number), ``rank``, ``residual`` (max_j |f*(x_j) - y_j|), ``width`` and the :class:`FeatureGram`."""

    def __init__(self, values, points, lam, fg, cond, rank, residual, width):
        self.values, self.points, self.lam, self.feature_gram = values, points, lam, fg
        self.gram, self.cond, self.rank, self.residual, self.width = fg.gram, cond, rank, residual, width

    def __repr__(self):
        return f"OuterLimit(width={self.width}, cond={self.cond:.3g}, residual={self.residual:.2g})"


def _scheme_id(scheme):
    return _core.random_features.Scheme.__members__[choice("scheme", scheme, SCHEMES)]


def _seed(seed):
    seed = positive_int("seed", seed, minimum=0)
    if seed >= 2**64:
        raise ValueError(f"seed: must be < 2**64, got {seed}")
    return seed


def draw_features(count, scheme="gaussian", *, seed=0, inner_scale=1.0, L=2.0, offset=0):
    """(a, b) of the drawn neurons offset .. offset + count - 1 (float64), exactly those the streamed pass uses.

    Laws (s = inner_scale): ``gaussian`` (a, b) ~ N(0, s^2 I) by Box-Muller; ``uniform_knots`` |a| = s with a
    random sign and knots e = -b/a ~ U[-L, L]; ``box`` (a, b) ~ U([-s, s]^2) -- the laws of
    ``ShallowReLU.init`` (a different random stream: these are counter-based, a pure function of (seed, i)).
    """
    count = positive_int("count", count, minimum=0)
    sid = _scheme_id(scheme)
    s = positive_float("inner_scale", inner_scale)
    L = positive_float("L", L)
    offset = positive_int("offset", offset, minimum=0)
    return _core.random_features.draw(sid, _seed(seed), s, L, offset, count)


def _points(points):
    if points is None:
        return None, np.empty(0), None
    t = finite_vector("points", points, allow_empty=True)
    order = np.argsort(t, kind="stable")
    return t, np.ascontiguousarray(t[order]), order


def _finish(acc, x, t_user, t_sorted, order, count):
    n, P = x.size, t_sorted.size
    gram = acc[: n * n].reshape(n, n) / count
    cross = None
    if t_user is not None:
        h = acc[n * n :].reshape(P + 1, 4, n)
        # forward rows: a neuron in row r is active for p >= r (prefix sums, rows 0..p);
        # backward rows: active for p < r (suffix sums, rows p+1..P)
        fwd = np.cumsum(h[:, :2], axis=0)[:P]
        bwd = np.cumsum(h[::-1, 2:], axis=0)[::-1][1:]
        S, B = fwd[:, 0] + bwd[:, 0], fwd[:, 1] + bwd[:, 1]
        sorted_cross = (t_sorted[:, None] * S + B) / count
        cross = np.empty_like(sorted_cross)
        cross[order] = sorted_cross
    return FeatureGram(gram, cross, x, t_user, count)


def _stream(call, count, n, P):
    acc = np.zeros(n * n + (4 * n * (P + 1) if P else 0))
    wave = _core.random_features.wave_neurons()
    step = max(1, _CALL_NEURONS // wave) * wave
    for begin in range(0, count, step):
        call(begin, min(count, begin + step), acc)
    return acc


def feature_gram(a, b, x, points=None, *, threads=None) -> FeatureGram:
    """Gram matrices of the features of given neurons (a, b float32 or float64 arrays, never copied to n x m).

    Returns a :class:`FeatureGram` with ``gram`` = (1/m) Phi Phi^T and ``cross`` = (1/m) Phi(T) Phi^T, Phi the
    n x m feature matrix on x; a net's own Gram is ``gram * m / alpha**2``.
    """
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    for name, arr in (("a", a), ("b", b)):
        if arr.dtype not in (np.float32, np.float64) or arr.ndim != 1:
            raise TypeError(f"{name}: expected a 1-d float32 or float64 array, got {arr.dtype} {arr.shape}")
        if arr.size == 0:
            raise ValueError(f"{name}: is empty")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: contains a non-finite value")
    if a.size != b.size:
        raise ValueError(f"a and b: lengths differ (a={a.size}, b={b.size})")
    if a.dtype != b.dtype:
        raise TypeError(f"b: dtype {b.dtype} differs from a's {a.dtype}")
    x = finite_vector("x", x)
    t_user, t, order = _points(points)
    th = threads_option(threads)
    acc = _stream(
        lambda lo, hi, acc: _core.random_features.accumulate_arrays(a, b, lo, hi, x, t, acc, th), a.size, x.size, t.size
    )
    return _finish(acc, x, t_user, t, order, a.size)


def drawn_feature_gram(
    count, x, points=None, *, scheme="gaussian", seed=0, inner_scale=1.0, L=2.0, threads=None
) -> FeatureGram:
    """Gram matrices of `count` drawn features (:func:`draw_features`), generated block by block inside the
    pass: memory O(n^2 + n P) for any count. Same result as ``feature_gram(*draw_features(count, ...), x,
    points)`` (bitwise: the same blocks, the same order)."""
    count = positive_int("count", count)
    sid = _scheme_id(scheme)
    s = positive_float("inner_scale", inner_scale)
    L = positive_float("L", L)
    seed = _seed(seed)
    x = finite_vector("x", x)
    t_user, t, order = _points(points)
    th = threads_option(threads)
    acc = _stream(
        lambda lo, hi, acc: _core.random_features.accumulate_draws(sid, seed, s, L, 0, lo, hi, x, t, acc, th),
        count,
        x.size,
        t.size,
    )
    return _finish(acc, x, t_user, t, order, count)


def outer_limit(fg: FeatureGram, y, *, f0_data=None, f0_points=None, rcond=1e-13, width=None) -> OuterLimit:
    """The minimum-norm c-only limit from a :class:`FeatureGram`: lambda = G^+ (y - f0(X)) by least squares
    (singular values below ``rcond * sigma_max`` dropped, one step of iterative refinement, as
    ``limits.min_norm_outer_interpolant``), values f*(t_p) = f0(t_p) + sum_j cross[p, j] lambda_j.
    ``f0_data`` / ``f0_points``: the initial function on x / on the points (None: f0 = 0, e.g. antisymmetric
    doubling)."""
    y = finite_vector("y", y)
    if y.size != fg.x.size:
        raise ValueError(f"y: length {y.size} does not match x (length {fg.x.size})")
    rcond = positive_float("rcond", rcond, allow_zero=True)
    r0 = y.copy()
    if f0_data is not None:
        r0 -= finite_vector("f0_data", f0_data)
    G = fg.gram
    lam, _, rank, sv = np.linalg.lstsq(G, r0, rcond=rcond)
    lam = lam + np.linalg.lstsq(G, r0 - G @ lam, rcond=rcond)[0]
    cond = float(sv[0] / sv[-1]) if sv[-1] > 0 else math.inf
    residual = float(np.max(np.abs(G @ lam - r0)))
    values = None
    if fg.cross is not None:
        values = fg.cross @ lam
        if f0_points is not None:
            values = values + finite_vector("f0_points", f0_points, allow_empty=True)
    return OuterLimit(values, fg.points, lam, fg, cond, int(rank), residual, width if width else fg.count)


def outer_limit_at_width(
    m, x, y, points, *, scheme="gaussian", seed=0, inner_scale=1.0, L=2.0, rcond=1e-13, threads=None
) -> OuterLimit:
    """The exact c-only limit of a width-m net with antisymmetric doubling (m/2 drawn neurons, each paired
    with (a, b, -c), so f0 = 0 exactly and the Gram is that of the m/2 distinct features), on `points`.

    Cost O(m n^2 / 2 + m log P) time, O(n P) memory, for any m (10^8 takes seconds). The limit does not
    depend on the outer scale, on alpha or on inner_scale (features scale out); it does depend on the law.
    """
    m = positive_int("m", m, minimum=2)
    if m % 2:
        raise ValueError(f"m: antisymmetric doubling needs an even width, got {m}")
    fg = drawn_feature_gram(m // 2, x, points, scheme=scheme, seed=seed, inner_scale=inner_scale, L=L, threads=threads)
    return outer_limit(fg, y, rcond=rcond, width=m)
