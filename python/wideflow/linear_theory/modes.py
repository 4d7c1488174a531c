"""Closed-form gradient flow of the one-layer model and of one spectral mode of X = U V^T
(x' = (sigma - x) sqrt(lam^2 + 4 x^2)), its hitting times, and the balanced (Saxe) logistic."""

from __future__ import annotations

import numpy as np

from .._validate import float64_array, real_number
from ._checks import _matrix, _times


def one_layer(t, Y, X0):
    """Gradient flow of the one-layer model ``L1(X) = 1/2 ||Y - X||_F^2``.

    ``X' = Y - X`` gives ``X(t) = Y + (X0 - Y) e^{-t}`` (rate 1 for X, 2 for the loss).

    Returns an array of shape ``np.shape(t) + Y.shape``.
    """
    t = _times("t", t)
    Y = _matrix("Y", Y)
    X0 = _matrix("X0", X0)
    if X0.shape != Y.shape:
        raise ValueError(f"X0: expected shape {Y.shape} (that of Y), got {X0.shape}")
    e = np.exp(-t)[..., None, None]
    return Y + (X0 - Y) * e


def one_layer_hitting_time(Y, X0, eps):
    """Time at which the one-layer relative error ``||Y - X(t)||_F / ||Y||_F`` falls to ``eps``.

    ``t_eps = ln( ||Y - X0||_F / (eps ||Y||_F) )``, clipped at 0 when ``X0`` is already that close.
    With ``X0 = 0`` this is ``ln(1/eps)``.
    """
    Y = _matrix("Y", Y)
    X0 = _matrix("X0", X0)
    if X0.shape != Y.shape:
        raise ValueError(f"X0: expected shape {Y.shape} (that of Y), got {X0.shape}")
    eps = real_number("eps", eps, positive=True)
    ny = np.linalg.norm(Y)
    if ny == 0:
        raise ValueError("Y: must be nonzero (the error is relative to ||Y||_F)")
    d = np.linalg.norm(Y - X0)
    if d <= eps * ny:
        return 0.0
    return float(np.log(d / (eps * ny)))


def _y_of_x(x, lam2):
    """``y = 2x + sqrt(4x^2 + lam^2)`` without cancellation (``= lam^2 / (sqrt(..) - 2x)`` for x < 0)."""
    r = np.sqrt(4.0 * x * x + lam2)
    with np.errstate(divide="ignore", invalid="ignore"):
        neg = lam2 / (r - 2.0 * x)
    return np.where(x >= 0, 2.0 * x + r, neg)


def _w_of_x(x, lam2):
    """``w = 2x - sqrt(4x^2 + lam^2) = -lam^2 / y`` without cancellation."""
    r = np.sqrt(4.0 * x * x + lam2)
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = -lam2 / (2.0 * x + r)
    return np.where(x <= 0, 2.0 * x - r, pos)


def _scalar_mode_nonneg_sigma(t, sigma, x0, lam2):
    """Closed form for sigma >= 0 (arrays already broadcast to a common shape)."""
    out = np.empty(t.shape)
    s = np.sqrt(lam2 + 4.0 * sigma * sigma)
    E = np.exp(-s * t)  # e^{-s t} in (0, 1]: never overflows
    omE = -np.expm1(-s * t)  # 1 - e^{-s t}, accurate for small s t
    yp = 2.0 * sigma + s  # y_+ > 0 whenever s > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ym = -lam2 / yp  # y_- = 2 sigma - s, written without cancellation

    gen = s > 0
    lam_pos = lam2 > 0
    # y-form: x0 >= sigma (any lam), or lam = 0 with x0 > 0 (Saxe logistic, exact)
    use_y = gen & ((x0 >= sigma) | (~lam_pos & (x0 > 0)))
    # w-form: x0 < sigma with lam != 0
    use_w = gen & lam_pos & (x0 < sigma)
    # lam = 0, sigma > 0, x0 <= 0: degenerate branch (stable manifold of the saddle X = 0), x -> 0
    use_rev = gen & ~lam_pos & (x0 <= 0)
    # sigma = 0 and lam = 0: x' = -2 x |x|
    use_alg = ~gen

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if np.any(use_y):
            i = use_y
            y0 = _y_of_x(x0[i], lam2[i])
            c0 = lam2[i] / (y0 * yp[i])
            a = y0 - ym[i]  # y0 - y_- > 0
            b = 4.0 * (x0[i] - sigma[i]) / (1.0 + c0)  # y0 - y_+  (>= 0 here, or lam = 0)
            D = a * omE[i] + 2.0 * s[i] * E[i]  # (y0 - y_-) - (y0 - y_+) e^{-st} > 0
            N = yp[i] * a - ym[i] * b * E[i]
            y = N / D
            out[i] = 0.25 * (y - lam2[i] / y)
        if np.any(use_w):
            i = use_w
            w0 = _w_of_x(x0[i], lam2[i])  # w0 < 0
            a = yp[i] - w0  # y_+ - w0 > 0
            b = 4.0 * (sigma[i] - x0[i]) * (-w0) / a  # y_- - w0 > 0 (x0 < sigma)
            D = a * omE[i] + 2.0 * s[i] * E[i]
            N = ym[i] * a - yp[i] * b * E[i]  # sum of two terms <= 0: no cancellation
            w = N / D
            out[i] = 0.25 * (w - lam2[i] / w)
        if np.any(use_rev):
            i = use_rev
            E2 = np.exp(-2.0 * sigma[i] * t[i])
            out[i] = sigma[i] * x0[i] * E2 / (x0[i] * E2 + (sigma[i] - x0[i]))
        if np.any(use_alg):
            i = use_alg
            out[i] = x0[i] / (1.0 + 2.0 * np.abs(x0[i]) * t[i])
    return out


def scalar_mode(t, sigma, x0, lam):
    """Exact gradient flow of one spectral mode: ``x' = (sigma - x) sqrt(lam^2 + 4 x^2)``.

    A mode ``u' = (sigma - uv) v``, ``v' = (sigma - uv) u`` conserves ``lam = u^2 - v^2`` and its product
    ``x = u v`` obeys the ODE above (since ``u^2 + v^2 = sqrt(lam^2 + 4 x^2)``). With
    ``y = (u + v)^2 = 2x + sqrt(4x^2 + lam^2)`` it becomes the scalar Riccati equation
    ``y' = -y^2/2 + 2 sigma y + lam^2/2`` with roots ``y_+- = 2 sigma +- s``, ``s = sqrt(lam^2 + 4 sigma^2)``,
    so that

        (y(t) - y_+) / (y(t) - y_-) = [(y0 - y_+) / (y0 - y_-)] e^{-s t},
        y(t) = [y_+ (y0 - y_-) - y_- (y0 - y_+) e^{-st}] / [(y0 - y_-) - (y0 - y_+) e^{-st}],
        x(t) = (y^2 - lam^2) / (4 y).

    Numerics: only ``e^{-st} <= 1`` is formed (no overflow at any t), ``y_- = -lam^2/y_+`` and the
    denominator is written as ``(y0 - y_-)(1 - e^{-st}) + 2 s e^{-st} > 0``. For ``x0 < sigma`` and
    ``lam != 0`` the same Moebius formula is applied to the conjugate root ``w = 2x - sqrt(4x^2 + lam^2)
    = -lam^2/y`` (solution ``w = [y_- (y_+ - w0) - y_+ (y_- - w0) e^{-st}] / [...]``), whose numerator
    never cancels, and ``x = (y + w)/4``. At ``lam = 0`` and ``x0 > 0`` the formula is exactly the Saxe
    logistic ``sigma x0 / (x0 (1 - e^{-2 sigma t}) + sigma e^{-2 sigma t})`` (see :func:`saxe_logistic`).

    Special cases (all exact):

    * ``lam = 0, x0 <= 0, sigma > 0`` (degenerate branch, e.g. ``u0 = -v0``: on the stable manifold of the
      saddle X = 0): ``x' = 2|x|(sigma - x)``, ``x(t) = sigma x0 e^{-2 sigma t} / (x0 e^{-2 sigma t} +
      sigma - x0) -> 0``; the mode is never learned. This is exact for the closed form but UNSTABLE for the
      ODE: u = -v is the stable manifold of a saddle, and any perturbation off it (lam != 0, from round-off
      in a solver or a GD step, or from the data) grows like e^{sigma t}, after which the mode is learned
      after all (x -> sigma) at a time of order log(1/|lam|) / sigma (``lam = 1e-12``: x = 0.99 sigma
      at t = 30).
      A numerical flow reproduces the branch only while it keeps u = -v exactly by symmetry; do not use it
      to validate an integrator or a GD run (wideflow's tests keep away from it).
    * ``sigma = 0, lam = 0``: ``x(t) = x0 / (1 + 2 |x0| t)`` (algebraic decay).
    * ``sigma < 0`` is mapped to ``sigma > 0`` by the symmetry ``(sigma, x) -> (-sigma, -x)``.

    With ``lam != 0`` every mode converges to sigma, and ``x(t)`` depends on the init only through
    ``(x0, lam)`` (and on lam only through lam^2). A ``lam^2`` that underflows to 0 is treated as 0.

    Parameters broadcast against each other; ``t >= 0``. Returns a float for scalar input, else an array.
    """
    t = _times("t", t)
    sigma = float64_array("sigma", sigma)
    x0 = float64_array("x0", x0)
    lam = float64_array("lam", lam)
    try:
        t, sigma, x0, lam = np.broadcast_arrays(t, sigma, x0, lam)
    except ValueError as exc:
        raise ValueError(f"t, sigma, x0, lam: shapes do not broadcast ({exc})") from exc
    flip = np.where(sigma < 0, -1.0, 1.0)
    t = np.array(t, dtype=np.float64)
    x = flip * _scalar_mode_nonneg_sigma(t, flip * sigma, flip * x0, lam * lam)
    return float(x) if x.ndim == 0 else x


def scalar_mode_uv(t, sigma, u0, v0):
    """Exact flow of one mode from factor values: ``x0 = u0 v0``, ``lam = u0^2 - v0^2``.

    Returns ``(x(t), lam)`` with ``x(t) = scalar_mode(t, sigma, u0 v0, u0^2 - v0^2)``; ``lam`` is conserved.
    ``u0 = -v0`` is the degenerate branch (``lam = 0``, ``x0 <= 0``, x -> 0): exact here, but the stable
    manifold of a saddle for the (u, v) ODE, so unstable for any numerical flow (see :func:`scalar_mode`).
    """
    u0 = float64_array("u0", u0)
    v0 = float64_array("v0", v0)
    lam = (u0 - v0) * (u0 + v0)
    x = scalar_mode(t, sigma, u0 * v0, lam)
    return x, (float(lam) if lam.ndim == 0 else lam)


def _hitting_time_scalar(sigma, x0, lam, eps):
    if sigma < 0:
        sigma, x0 = -sigma, -x0
    if abs(sigma - x0) < eps:
        return 0.0
    lam2 = lam * lam
    s = np.sqrt(lam2 + 4.0 * sigma * sigma)
    if s == 0.0:  # sigma = lam = 0: x = x0 / (1 + 2 |x0| t)
        return 0.5 * (1.0 / eps - 1.0 / abs(x0))
    if lam2 == 0.0 and x0 <= 0.0:  # degenerate branch: x -> 0 monotonically
        x1 = sigma - eps
        if x0 == 0.0 or x1 >= 0.0:
            return np.inf
        return float(np.log(x0 * (sigma - x1) / (x1 * (sigma - x0))) / (2.0 * sigma))
    # x(t) is monotone toward sigma; the target is the near edge of the eps-band
    x1 = sigma - eps if x0 < sigma else sigma + eps
    yp = 2.0 * sigma + s
    y0 = float(_y_of_x(np.float64(x0), lam2))
    y1 = float(_y_of_x(np.float64(x1), lam2))
    # t = (1/s) ln{ (y0 - y_+)(y1 - y_-) / [(y0 - y_-)(y1 - y_+)] }, with
    # y - y_+ = 4 (x - sigma) / (1 + lam^2/(y y_+)) and y - y_- = y + lam^2 / y_+
    ratio = abs(x0 - sigma) / eps
    c0 = lam2 / (y0 * yp)
    c1 = lam2 / (y1 * yp)
    val = np.log(ratio) + np.log1p(c1) - np.log1p(c0) + np.log((y1 + lam2 / yp) / (y0 + lam2 / yp))
    return float(val / s)


def hitting_time(sigma, x0, lam, eps):
    """Closed-form time until one mode satisfies ``|sigma - x(t)| < eps`` (see :func:`scalar_mode`).

    ``x(t)`` moves monotonically toward sigma, so with the band edge ``x1 = sigma -+ eps`` on the side of
    ``x0`` and ``y(x) = 2x + sqrt(4x^2 + lam^2)``:

        t_eps = (1/s) ln{ (y0 - y_+)(y(x1) - y_-) / [(y0 - y_-)(y(x1) - y_+)] },  s = sqrt(lam^2 + 4 sigma^2).

    It decreases strictly in |lam|, and ``t_eps |lam| -> ln(|sigma - x0| / eps)`` for ``|lam| -> inf`` (the
    one-layer flow sped up by |lam|). Returns 0 if ``|sigma - x0| < eps`` already, and ``inf`` on the
    degenerate branch (``lam = 0``, ``x0 <= 0``) when the mode never gets within eps. Arguments broadcast.
    """
    sigma = float64_array("sigma", sigma)
    x0 = float64_array("x0", x0)
    lam = float64_array("lam", lam)
    eps = float64_array("eps", eps, positive=True)
    out = np.vectorize(_hitting_time_scalar, otypes=[np.float64])(sigma, x0, lam, eps)
    return float(out) if out.ndim == 0 else out


def saxe_logistic(t, sigma, x0):
    """Balanced (``lam = 0``) mode of Saxe, McClelland & Ganguli: ``x' = 2 x (sigma - x)``.

    ``x(t) = sigma x0 e^{2 sigma t} / (sigma + x0 (e^{2 sigma t} - 1))``, evaluated in the overflow-free form
    ``sigma x0 / (x0 (1 - e^{-2 sigma t}) + sigma e^{-2 sigma t})``; time constant ``1/(2 sigma)``, plateau
    ``~ ln(sigma/x0) / (2 sigma)`` for small x0. ``sigma = 0`` gives ``x0 / (1 + 2 x0 t)``.
    Requires ``sigma >= 0`` and ``x0 >= 0`` (for ``x0 < 0`` the balanced two-layer mode is not this logistic;
    use :func:`scalar_mode` with ``lam = 0``).
    """
    t = _times("t", t)
    sigma = float64_array("sigma", sigma, nonneg=True)
    x0 = float64_array("x0", x0, nonneg=True)
    t, sigma, x0 = np.broadcast_arrays(t, sigma, x0)
    with np.errstate(divide="ignore", invalid="ignore"):
        E = np.exp(-2.0 * sigma * t)
        omE = -np.expm1(-2.0 * sigma * t)
        x = np.where(sigma > 0, sigma * x0 / (x0 * omE + sigma * E), x0 / (1.0 + 2.0 * x0 * t))
    x = np.where((x0 == 0), 0.0, x)
    return float(x) if x.ndim == 0 else x
