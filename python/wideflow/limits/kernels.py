"""Kernels of wide shallow ReLU nets (Gaussian and uniform-knots inits), their minimum-RKHS-norm
interpolants, and the minimum-norm interpolant of the outer layer alone."""

from __future__ import annotations

import math

import numpy as np

from .._validate import callable_arg, real_number, same_length
from ._checks import _data, _params, _points, _unpack, _vector


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
    s2 = real_number("inner_scale", inner_scale, positive=True) ** 2
    s, t = _outer(x, xp)
    phi = _angle(s, t)
    return s2 * (np.abs(s - t) + (np.pi - phi) * (s * t + 1.0)) / (2.0 * np.pi)


def kernel_theta(x, xp, c2=1.0):
    """(a, b)-part of the NTK (training the first layer):

        K_theta(x, x') = E[c^2] E_theta[ 1[theta.X > 0] 1[theta.X' > 0] ] (x x' + 1)
                       = c2 (x x' + 1)(pi - phi) / (2 pi),

    for any rotation-invariant law of theta; ``c2`` = E[c^2]. Outer broadcasting as in kernel_c.
    """
    c2 = real_number("c2", c2, nonneg=True)
    s, t = _outer(x, xp)
    phi = _angle(s, t)
    return c2 * (s * t + 1.0) * (np.pi - phi) / (2.0 * np.pi)


def kernel_ntk(x, xp, inner_scale=1.0, outer_scale=1.0):
    """Infinite-width NTK of f = (1/sqrt m) sum c_i [theta_i.X]_+, theta ~ N(0, s_t^2 I), c ~ N(0, s_c^2):

        K(x, x') = K_c(x, x'; s_t) + K_theta(x, x'; c2 = s_c^2)
                 = s_t^2 ( |x-x'| + (pi-phi)(xx'+1) )/(2pi) + s_c^2 (xx'+1)(pi-phi)/(2pi).

    ``inner_scale`` = s_t, ``outer_scale`` = s_c. Outer broadcasting as in kernel_c.
    """
    sc = real_number("outer_scale", outer_scale, nonneg=True)
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
    L = real_number("L", L, positive=True)
    s2 = real_number("inner_scale", inner_scale, positive=True) ** 2
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
    L = real_number("L", L, positive=True)
    c2 = real_number("c2", c2, nonneg=True)
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
    sc = real_number("outer_scale", outer_scale, nonneg=True)
    return kernel_uniform_knots(x, xp, L, inner_scale=inner_scale) + kernel_theta_uniform_knots(x, xp, L, c2=sc**2)


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
    callable_arg("kernel", kernel)
    if f0 is not None:
        callable_arg("f0", f0)
    gram = np.asarray(kernel(x, x), dtype=np.float64)
    if gram.shape != (x.size, x.size):
        raise ValueError(
            f"kernel: kernel(x, x) returned shape {gram.shape}, expected {(x.size, x.size)} (outer broadcasting)"
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
    alpha = real_number("alpha", alpha, positive=True)
    x = _vector("x", x)
    y = _vector("y", y)
    same_length(("x", "y"), x, y)
    rcond = real_number("rcond", rcond, nonneg=True)

    Phi = np.maximum(x[:, None] * a[None, :] + b[None, :], 0.0) / alpha
    r0 = y - Phi @ c
    G = Phi @ Phi.T
    lam, _, rank, sv = np.linalg.lstsq(G, r0, rcond=rcond)
    lam = lam + np.linalg.lstsq(G, r0 - G @ lam, rcond=rcond)[0]
    c_star = c + Phi.T @ lam
    cond = float(sv[0] / sv[-1]) if sv[-1] > 0 else math.inf
    residual = float(np.max(np.abs(Phi @ c_star - y)))
    return OuterInterpolant(a, b, c_star, c, alpha, lam, G, cond, int(rank), residual)
