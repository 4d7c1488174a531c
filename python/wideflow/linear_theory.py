"""Closed-form theory for one- and two-layer linear models (Tarmoun et al. 2021; Du, Hu & Lee 2018).

Pure NumPy; SciPy is imported lazily inside the few functions that need it, so ``import wideflow`` stays fast.
Nothing here depends on other wideflow modules: these are the reference formulas the trained models are
checked against.

Notation (docs page ``theory/tarmoun2021``):

* data ``Y`` (m x n) with SVD ``Y = Phi Sigma Psi^T``, ``Sigma = diag(sigma_1 >= ... >= sigma_r)``,
  ``r = min(m, n)``;
* two-layer model ``X = U V^T`` with ``U`` (m x k), ``V`` (n x k), residual ``E = Y - U V^T``;
* loss, everywhere in this module, ``L(U, V) = 1/2 ||Y - U V^T||_F^2`` (no 1/n), so gradient flow (GF) is
  ``U' = E V``, ``V' = E^T U`` and gradient descent (GD) with step ``lr`` is ``U+ = U + lr E V``,
  ``V+ = V + lr E^T U`` (simultaneous updates);
* imbalance ``Q = U^T U - V^T V`` (k x k), conserved by GF; ``Q = lam I`` is "lambda-balanced", ``lam = 0``
  "balanced";
* per spectral mode: ``x = u v``, ``lam = u^2 - v^2`` and the late rate ``s = sqrt(lam^2 + 4 sigma^2)``.

Time is gradient-flow time; GD with step ``lr`` after ``j`` steps sits at ``t = lr * j``.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "one_layer",
    "one_layer_hitting_time",
    "scalar_mode",
    "scalar_mode_uv",
    "hitting_time",
    "saxe_logistic",
    "spectral_init",
    "spectral_solution",
    "lifted_A",
    "riccati_solution",
    "balanced_init",
    "lambda_balanced_init",
    "imbalance",
    "gd_imbalance_update",
    "factor_gd",
    "end_to_end_rhs",
    "late_rate",
    "gd_rate",
    "gd_stability_bound",
    "schedule_theorem",
    "schedule_practical",
    "low_rank_target",
    "nuclear_norm",
]


# ----------------------------------------------------------------------------------------------------------
# input checks (local on purpose: this module imports nothing else from wideflow)
# ----------------------------------------------------------------------------------------------------------

def _real_array(name, value, *, ndim=None, nonneg=False, positive=False):
    """A float64 copy of ``value``; finite; optionally of a fixed ndim and sign. Errors name ``name``."""
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{name}: expected real numbers, got {type(value).__name__}")
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected real numbers ({exc})") from exc
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains non-finite values")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name}: must be > 0")
    if nonneg and np.any(arr < 0):
        raise ValueError(f"{name}: must be >= 0")
    return arr


def _real(name, value, *, nonneg=False, positive=False):
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        if not (isinstance(value, np.ndarray) and value.ndim == 0):
            raise ValueError(f"{name}: expected a real number, got {type(value).__name__}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name}: must be finite, got {v}")
    if positive and v <= 0:
        raise ValueError(f"{name}: must be > 0, got {v}")
    if nonneg and v < 0:
        raise ValueError(f"{name}: must be >= 0, got {v}")
    return v


def _int(name, value, *, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValueError(f"{name}: expected an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {value}")
    return int(value)


def _matrix(name, value):
    return _real_array(name, value, ndim=2)


def _factors(Y, U, V, *, Yname="Y", Uname="U", Vname="V"):
    """Check ``Y`` (m x n), ``U`` (m x k), ``V`` (n x k) and return float64 copies."""
    Y = _matrix(Yname, Y)
    U = _matrix(Uname, U)
    V = _matrix(Vname, V)
    m, n = Y.shape
    if U.shape[0] != m:
        raise ValueError(f"{Uname}: expected {m} rows (Y is {m} x {n}), got shape {U.shape}")
    if V.shape[0] != n:
        raise ValueError(f"{Vname}: expected {n} rows (Y is {m} x {n}), got shape {V.shape}")
    if U.shape[1] != V.shape[1]:
        raise ValueError(f"{Uname}, {Vname}: widths differ ({U.shape[1]} vs {V.shape[1]})")
    return Y, U, V


def _orthogonal(name, R, k):
    R = _matrix(name, R)
    if R.shape != (k, k):
        raise ValueError(f"{name}: expected shape ({k}, {k}), got {R.shape}")
    if np.max(np.abs(R.T @ R - np.eye(k))) > 1e-10:
        raise ValueError(f"{name}: must be orthogonal (R^T R = I)")
    return R


def _haar_orthogonal(rng, rows, cols):
    """A Haar-random matrix with orthonormal columns (rows >= cols)."""
    G = rng.standard_normal((rows, cols))
    Qm, Rm = np.linalg.qr(G)
    d = np.sign(np.diag(Rm))
    d[d == 0] = 1.0
    return Qm * d


def _per_mode(name, value, p):
    """A length-``p`` vector from a scalar or a length <= p array (missing trailing modes are 0)."""
    arr = _real_array(name, value)
    if arr.ndim == 0:
        return np.full(p, float(arr))
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a scalar or a 1-d array, got shape {arr.shape}")
    if arr.size > p:
        raise ValueError(f"{name}: expected at most {p} per-mode values, got {arr.size}")
    out = np.zeros(p)
    out[: arr.size] = arr
    return out


def _times(name, t):
    return _real_array(name, t, nonneg=True)


# ----------------------------------------------------------------------------------------------------------
# one-layer model
# ----------------------------------------------------------------------------------------------------------

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
    eps = _real("eps", eps, positive=True)
    ny = np.linalg.norm(Y)
    if ny == 0:
        raise ValueError("Y: must be nonzero (the error is relative to ||Y||_F)")
    d = np.linalg.norm(Y - X0)
    if d <= eps * ny:
        return 0.0
    return float(np.log(d / (eps * ny)))


# ----------------------------------------------------------------------------------------------------------
# one spectral mode
# ----------------------------------------------------------------------------------------------------------

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
    E = np.exp(-s * t)                 # e^{-s t} in (0, 1]: never overflows
    omE = -np.expm1(-s * t)            # 1 - e^{-s t}, accurate for small s t
    yp = 2.0 * sigma + s               # y_+ > 0 whenever s > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ym = -lam2 / yp                # y_- = 2 sigma - s, written without cancellation

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
            a = y0 - ym[i]                                  # y0 - y_- > 0
            b = 4.0 * (x0[i] - sigma[i]) / (1.0 + c0)      # y0 - y_+  (>= 0 here, or lam = 0)
            D = a * omE[i] + 2.0 * s[i] * E[i]              # (y0 - y_-) - (y0 - y_+) e^{-st} > 0
            N = yp[i] * a - ym[i] * b * E[i]
            y = N / D
            out[i] = 0.25 * (y - lam2[i] / y)
        if np.any(use_w):
            i = use_w
            w0 = _w_of_x(x0[i], lam2[i])                    # w0 < 0
            a = yp[i] - w0                                   # y_+ - w0 > 0
            b = 4.0 * (sigma[i] - x0[i]) * (-w0) / a         # y_- - w0 > 0 (x0 < sigma)
            D = a * omE[i] + 2.0 * s[i] * E[i]
            N = ym[i] * a - yp[i] * b * E[i]                 # sum of two terms <= 0: no cancellation
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
    sigma = _real_array("sigma", sigma)
    x0 = _real_array("x0", x0)
    lam = _real_array("lam", lam)
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
    u0 = _real_array("u0", u0)
    v0 = _real_array("v0", v0)
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
    if s == 0.0:                                  # sigma = lam = 0: x = x0 / (1 + 2 |x0| t)
        return 0.5 * (1.0 / eps - 1.0 / abs(x0))
    if lam2 == 0.0 and x0 <= 0.0:                 # degenerate branch: x -> 0 monotonically
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
    val = (np.log(ratio) + np.log1p(c1) - np.log1p(c0)
           + np.log((y1 + lam2 / yp) / (y0 + lam2 / yp)))
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
    sigma = _real_array("sigma", sigma)
    x0 = _real_array("x0", x0)
    lam = _real_array("lam", lam)
    eps = _real_array("eps", eps, positive=True)
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
    sigma = _real_array("sigma", sigma, nonneg=True)
    x0 = _real_array("x0", x0, nonneg=True)
    t, sigma, x0 = np.broadcast_arrays(t, sigma, x0)
    with np.errstate(divide="ignore", invalid="ignore"):
        E = np.exp(-2.0 * sigma * t)
        omE = -np.expm1(-2.0 * sigma * t)
        x = np.where(sigma > 0, sigma * x0 / (x0 * omE + sigma * E), x0 / (1.0 + 2.0 * x0 * t))
    x = np.where((x0 == 0), 0.0, x)
    return float(x) if x.ndim == 0 else x


# ----------------------------------------------------------------------------------------------------------
# spectral initialization: decoupled modes
# ----------------------------------------------------------------------------------------------------------

def spectral_init(Y, k, u0, v0, R=None, seed=None):
    """Spectral initialization ``U0 = Phi Ubar0 R^T``, ``V0 = Psi Vbar0 R^T``.

    ``Y = Phi Sigma Psi^T`` is the full SVD (``np.linalg.svd``); ``Ubar0`` (m x k) and ``Vbar0`` (n x k) are
    rectangular-diagonal with entries ``u_i(0)``, ``v_i(0)`` for ``i < p = min(m, n, k)``. ``u0``/``v0``: a
    scalar (all p modes) or per-mode arrays of length <= p (missing trailing modes get 0). ``R`` in O(k):
    given explicitly, or Haar-random from ``seed`` when ``R is None`` and ``seed`` is given, else the
    identity. Under GF the structure persists and ``X(t) = Phi diag(x_i(t)) Psi^T``
    (:func:`spectral_solution`). Returns ``(U0, V0)``.
    """
    Y = _matrix("Y", Y)
    k = _int("k", k)
    m, n = Y.shape
    p = min(m, n, k)
    u = _per_mode("u0", u0, p)
    v = _per_mode("v0", v0, p)
    if R is None:
        R = np.eye(k) if seed is None else _haar_orthogonal(np.random.default_rng(seed), k, k)
    else:
        R = _orthogonal("R", R, k)
    Phi, _, PsiT = np.linalg.svd(Y)
    Ub = np.zeros((m, k))
    Vb = np.zeros((n, k))
    Ub[np.arange(p), np.arange(p)] = u
    Vb[np.arange(p), np.arange(p)] = v
    return Phi @ Ub @ R.T, PsiT.T @ Vb @ R.T


def spectral_solution(t, Y, u0, v0, k=None):
    """Exact GF from :func:`spectral_init`: ``X(t) = Phi diag(x_i(t)) Psi^T``.

    ``x_i(t) = scalar_mode(t, sigma_i, u_i v_i, u_i^2 - v_i^2)``; the choice of R does not matter. ``u0``,
    ``v0`` as in :func:`spectral_init`; give the same ``k`` when ``k < min(m, n)`` (modes ``i >= k`` stay 0).
    Returns an array of shape ``np.shape(t) + Y.shape``.
    """
    t = _times("t", t)
    Y = _matrix("Y", Y)
    m, n = Y.shape
    r = min(m, n)
    p = r if k is None else min(r, _int("k", k))
    u = np.zeros(r)
    v = np.zeros(r)
    u[:p] = _per_mode("u0", u0, p)
    v[:p] = _per_mode("v0", v0, p)
    Phi, sig, PsiT = np.linalg.svd(Y, full_matrices=False)
    x = np.asarray(scalar_mode(t[..., None], sig, u * v, (u - v) * (u + v)))   # shape t.shape + (r,)
    return np.einsum("ir,...r,rj->...ij", Phi, x, PsiT)


# ----------------------------------------------------------------------------------------------------------
# general initialization: the lifted matrix Riccati equation
# ----------------------------------------------------------------------------------------------------------

def lifted_A(Y, lam):
    """The lifted matrix ``A = S + (lam/2) J``, ``S = [[0, Y], [Y^T, 0]]``, ``J = diag(I_m, -I_n)``.

    With ``W = [U; V]`` and ``P = W W^T = [[U U^T, X], [X^T, V V^T]]``, lambda-balanced GF (``Q = lam I``, or
    more generally ``P J P = lam P``) is ``P' = A P + P A - P^2``. Spectrum: ``+-sqrt(sigma_i^2 + lam^2/4)``
    for ``i <= r`` plus ``sign(m - n) lam/2`` with multiplicity ``|m - n|``.
    """
    Y = _matrix("Y", Y)
    lam = _real("lam", lam)
    m, n = Y.shape
    A = np.zeros((m + n, m + n))
    A[:m, m:] = Y
    A[m:, :m] = Y.T
    A[np.arange(m), np.arange(m)] = 0.5 * lam
    A[np.arange(m, m + n), np.arange(m, m + n)] = -0.5 * lam
    return A


def _riccati_factor_step(w, Qe, W, dt):
    """W(t + dt) with ``W W^T = P``: ``G = e^{A dt} W``, ``K = I + W^T (int_0^dt e^{2 A tau} dtau) W``,
    ``W+ = G L^{-T}`` with ``K = L L^T`` (so ``W+ W+^T = G K^{-1} G^T``)."""
    x = w * dt
    small = np.abs(x) < 1e-8
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(small, dt * (1.0 + x), np.expm1(2.0 * x) / (2.0 * np.where(small, 1.0, w)))
    B = Qe.T @ W
    G = Qe @ (np.exp(x)[:, None] * B)
    K = np.eye(W.shape[1]) + B.T @ (f[:, None] * B)
    try:
        L = np.linalg.cholesky(K)
    except np.linalg.LinAlgError as exc:
        raise ValueError(f"restart: K(dt) lost positive definiteness over a step of {dt:g}; "
                         "use a smaller restart interval") from exc
    return np.linalg.solve(L, G.T).T


def riccati_solution(t_eval, Y, U0, V0, lam=None, restart=0.25):
    """Exact GF of ``X = U V^T`` for lambda-balanced inits (``Q = U^T U - V^T V = lam I``; ``lam = 0``:
    balanced, any k), via the lifted Riccati equation ``P' = A P + P A - P^2`` (:func:`lifted_A`).

    Closed form, ``W0 = [U0; V0]``:

        K(t) = I_k + W0^T (int_0^t e^{2 A tau} dtau) W0,   P(t) = e^{At} W0 K(t)^{-1} W0^T e^{At},

    with ``int_0^t e^{2 A tau} dtau = sum_j q_j q_j^T (e^{2 a_j t} - 1)/(2 a_j)`` over the eigenpairs of A;
    ``X(t)`` is the top-right m x n block of ``P(t)``. One-shot evaluation is ill-conditioned for large t,
    so the semigroup property is used: every ``restart`` time units the factor is reset to
    ``W = G L^{-T}`` (``G = e^{A dt} W``, ``K = L L^T`` Cholesky), on a fixed grid ``0, restart, 2 restart,
    ...``; each requested time is reached by one final partial step from the grid point below it.

    ``lam=None`` infers lam from ``Q0`` and raises ``ValueError`` unless ``Q0`` is a multiple of I (relative
    tolerance 1e-8). An explicit ``lam`` only needs the weaker condition the equation uses, ``P0 J P0 = lam
    P0`` (i.e. ``W0 (Q0 - lam I) W0^T = 0``), which is checked. Feasibility of ``Q = lam I``: ``lam > 0``
    needs ``k <= m``, ``lam < 0`` needs ``k <= n``.

    Returns an array of shape ``np.shape(t_eval) + (m, n)``.
    """
    from scipy.linalg import eigh   # lazy

    t = _times("t_eval", t_eval)
    Y, U0, V0 = _factors(Y, U0, V0, Uname="U0", Vname="V0")
    restart = _real("restart", restart, positive=True)
    m, n = Y.shape
    k = U0.shape[1]
    Q0 = U0.T @ U0 - V0.T @ V0
    scale = np.linalg.norm(U0) ** 2 + np.linalg.norm(V0) ** 2
    W0 = np.vstack([U0, V0])
    if lam is None:
        lam = float(np.trace(Q0) / k)
        if np.linalg.norm(Q0 - lam * np.eye(k)) > 1e-8 * max(scale, 1e-300) + 1e-300:
            raise ValueError(
                "U0, V0: Q0 = U0^T U0 - V0^T V0 is not a multiple of the identity (not lambda-balanced); "
                "pass lam explicitly if P0 J P0 = lam P0 holds")
    else:
        lam = _real("lam", lam)
        resid = W0 @ ((Q0 - lam * np.eye(k)) @ W0.T)
        if np.linalg.norm(resid) > 1e-8 * (scale * scale + abs(lam) * scale) + 1e-300:
            raise ValueError("lam: P0 J P0 != lam P0, i.e. the init is not lambda-balanced for this lam")

    w, Qe = eigh(lifted_A(Y, lam))
    flat = t.reshape(-1)
    order = np.argsort(flat, kind="stable")
    out = np.empty((flat.size, m, n))
    W = W0
    j = 0                     # W is the factor at grid time j * restart
    for idx in order:
        ti = flat[idx]
        jt = int(np.floor(ti / restart))
        while j < jt:
            W = _riccati_factor_step(w, Qe, W, restart)
            j += 1
        dt = ti - j * restart
        Wt = _riccati_factor_step(w, Qe, W, dt) if dt > 0 else W
        out[idx] = Wt[:m] @ Wt[m:].T
    return out.reshape(t.shape + (m, n))


def balanced_init(X0, k, R=None):
    """Balanced factors of ``X0 = A S B^T`` (thin SVD): ``U0 = A S^{1/2} R^T``, ``V0 = B S^{1/2} R^T``
    (padded with zero columns up to width k), so ``U0 V0^T = X0`` and ``Q0 = U0^T U0 - V0^T V0 = 0``.

    ``R`` in O(k) (default identity). Needs ``k >= rank(X0)``. Returns ``(U0, V0)``.
    """
    X0 = _matrix("X0", X0)
    k = _int("k", k)
    m, n = X0.shape
    A, S, BT = np.linalg.svd(X0, full_matrices=False)
    r = S.size
    if k < r:
        if S[k] > 1e-12 * max(S[0], 1e-300):
            raise ValueError(f"k: must be >= rank(X0) (X0 has {int(np.sum(S > 1e-12 * S[0]))} nonzero "
                             f"singular values, k = {k})")
        A, S, BT, r = A[:, :k], S[:k], BT[:k], k
    R = np.eye(k) if R is None else _orthogonal("R", R, k)
    sq = np.sqrt(S)
    U0 = np.zeros((m, k))
    V0 = np.zeros((n, k))
    U0[:, :r] = A * sq
    V0[:, :r] = BT.T * sq
    return U0 @ R.T, V0 @ R.T


def lambda_balanced_init(V0, lam, m, O=None, seed=None):
    """Lambda-balanced factors: ``U0 = O (V0^T V0 + lam I)^{1/2}``, so ``Q0 = U0^T U0 - V0^T V0 = lam I``.

    ``V0`` (n x k) is kept; ``O`` (m x k, orthonormal columns, needs ``k <= m``) is given, Haar-random from
    ``seed``, or the first k columns of ``I_m``. When ``k > m``, ``V0^T V0 + lam I`` must have rank <= m
    (e.g. ``lam = 0`` with ``rank(V0) <= m``) and ``U0 = O_m D^{1/2} Z^T`` from its eigendecomposition.
    Requires ``V0^T V0 + lam I >= 0`` (``lam >= -sigma_min(V0)^2``).

    Mirror for ``lam < 0`` with a free U0 (m x k, ``k <= n``): since swapping the factors negates Q,
    ``V0, U0 = lambda_balanced_init(U0, -lam, n)`` gives ``V0 = O (U0^T U0 - lam I)^{1/2}`` and
    ``Q0 = lam I``. Returns ``(U0, V0)``.
    """
    V0 = _matrix("V0", V0)
    lam = _real("lam", lam)
    m = _int("m", m)
    k = V0.shape[1]
    M = V0.T @ V0 + lam * np.eye(k)
    mu, Z = np.linalg.eigh(M)
    tol = 1e-12 * max(np.max(np.abs(mu)), 1e-300)
    if mu[0] < -tol:
        raise ValueError(f"lam: V0^T V0 + lam I is not positive semidefinite (lam = {lam}, "
                         f"needs lam >= {-(mu[0] - lam):.6g})")
    mu = np.clip(mu, 0.0, None)
    p = min(m, k)
    if O is None:
        O = np.eye(m)[:, :p] if seed is None else _haar_orthogonal(np.random.default_rng(seed), m, p)
    else:
        O = _matrix("O", O)
        if O.shape != (m, p):
            raise ValueError(f"O: expected shape ({m}, {p}), got {O.shape}")
        if np.max(np.abs(O.T @ O - np.eye(p))) > 1e-10:
            raise ValueError("O: columns must be orthonormal")
    if k <= m:
        U0 = O @ ((Z * np.sqrt(mu)) @ Z.T)
    else:
        if np.any(mu[: k - m] > tol):
            raise ValueError(f"m: V0^T V0 + lam I has rank > m = {m}; a lambda-balanced U0 with {m} rows "
                             "does not exist (lam > 0 needs k <= m)")
        top = slice(k - m, k)
        U0 = O @ (np.sqrt(mu[top])[:, None] * Z[:, top].T)
    return U0, V0.copy()


# ----------------------------------------------------------------------------------------------------------
# gradient descent: exact identities and a reference loop
# ----------------------------------------------------------------------------------------------------------

def imbalance(U, V):
    """``Q = U^T U - V^T V`` (k x k), conserved by gradient flow."""
    U = _matrix("U", U)
    V = _matrix("V", V)
    if U.shape[1] != V.shape[1]:
        raise ValueError(f"U, V: widths differ ({U.shape[1]} vs {V.shape[1]})")
    return U.T @ U - V.T @ V


def gd_imbalance_update(U, V, Y, lr):
    """Exact change of Q in one GD step: ``Q+ - Q = lr^2 (V^T E^T E V - U^T E E^T U)``, ``E = Y - U V^T``.

    (The first-order terms cancel: ``Q`` is conserved by GF and drifts only at O(lr^2) per step.)
    """
    Y, U, V = _factors(Y, U, V)
    lr = _real("lr", lr, positive=True)
    E = Y - U @ V.T
    EV = E @ V
    ETU = E.T @ U
    return lr * lr * (EV.T @ EV - ETU.T @ ETU)


def factor_gd(U, V, Y, lr, steps):
    """Reference NumPy GD on ``1/2 ||Y - U V^T||_F^2`` with simultaneous updates.

    ``E = Y - U V^T``; ``U <- U + lr E V``, ``V <- V + lr E^T U``. ``lr``: a positive number or a callable
    ``lr(step)`` (e.g. a Du-Hu-Lee schedule). Inputs are not modified. Returns the final ``(U, V)``.
    """
    Y, U, V = _factors(Y, U, V)
    steps = _int("steps", steps, minimum=0)
    if callable(lr):
        sched = lr
    else:
        lr0 = _real("lr", lr, positive=True)
        sched = None
    for j in range(steps):
        eta = lr0 if sched is None else float(sched(j))
        E = Y - U @ V.T
        U, V = U + eta * (E @ V), V + eta * (E.T @ U)
    return U, V


# ----------------------------------------------------------------------------------------------------------
# end-to-end dynamics and rates
# ----------------------------------------------------------------------------------------------------------

def end_to_end_rhs(X, Y, lam=0.0):
    """Right-hand side of the end-to-end flow of ``X = U V^T`` (``E = Y - X``):

        X' = [ (lam/2) I + (X X^T + (lam^2/4) I)^{1/2} ] E + E [ -(lam/2) I + (X^T X + (lam^2/4) I)^{1/2} ].

    It equals the factor flow ``U U^T E + E V V^T`` for balanced inits (``Q = 0``, any k; then it is
    ``(X X^T)^{1/2} E + E (X^T X)^{1/2}``, Arora-Cohen-Hazan N = 2) and for ``Q = lam I`` with ``k = m``
    (``lam > 0``) or ``k = n`` (``lam < 0``); otherwise ``U U^T`` carries lam-dependent null-space terms.
    The square roots are built from the thin SVD of X, so rank-deficient X gives no spurious sqrt(round-off).
    """
    Y = _matrix("Y", Y)
    X = _matrix("X", X)
    if X.shape != Y.shape:
        raise ValueError(f"X: expected shape {Y.shape} (that of Y), got {X.shape}")
    lam = _real("lam", lam)
    E = Y - X
    A, s, BT = np.linalg.svd(X, full_matrices=False)
    c = 0.5 * abs(lam)
    # sqrt(s^2 + c^2) - c without cancellation
    g = s * s / (np.sqrt(s * s + c * c) + c) if c > 0 else s
    left = (0.5 * lam + c) * E + A @ (g[:, None] * (A.T @ E))
    right = (c - 0.5 * lam) * E + ((E @ BT.T) * g) @ BT
    return left + right


def late_rate(sigma, lam):
    """Asymptotic GF rate of one mode: ``sigma - x(t) ~ e^{-s t}``, ``s = sqrt(lam^2 + 4 sigma^2)`` (the loss
    decays at 2s; the Hessian at the optimum has eigenvalues {0, s})."""
    sigma = _real_array("sigma", sigma)
    lam = _real_array("lam", lam)
    out = np.hypot(lam, 2.0 * sigma)
    return float(out) if out.ndim == 0 else out


def gd_rate(sigma, lam, lr):
    """Late rate of GD per unit GF time: near the optimum the residual ``r = sigma - x`` contracts by
    ``(1 - lr s)`` per step, so the rate is ``-ln(1 - lr s) / lr`` (``-ln|1 - lr s| / lr`` when
    ``1 < lr s < 2``; ``<= 0`` means GD is unstable, ``lr s >= 2``). Tends to s as lr -> 0."""
    lr = _real("lr", lr, positive=True)
    s = np.asarray(late_rate(sigma, lam))
    h = lr * s
    with np.errstate(divide="ignore"):
        # log1p where 1 - h would round; for h >= 1/2, 1 - h is exact (Sterbenz)
        out = np.where(h < 0.5, -np.log1p(-np.minimum(h, 0.5)) / lr, -np.log(np.abs(1.0 - h)) / lr)
    return float(out) if np.ndim(out) == 0 else out


def gd_stability_bound(U, V):
    """Rough largest stable GD step ``2 / (lambda_max(U U^T) + lambda_max(V V^T))`` (the Hessian's top
    eigenvalue near a minimizer is about the denominator; per mode this is ``2 / s``)."""
    U = _matrix("U", U)
    V = _matrix("V", V)
    d = np.linalg.norm(U, 2) ** 2 + np.linalg.norm(V, 2) ** 2
    if d == 0:
        return np.inf
    return float(2.0 / d)


# ----------------------------------------------------------------------------------------------------------
# Du, Hu & Lee (2018): step-size schedules and targets
# ----------------------------------------------------------------------------------------------------------

def _delta(delta):
    delta = _real("delta", delta)
    if not 0.0 < delta <= 0.5:
        raise ValueError(f"delta: must satisfy 0 < delta <= 1/2, got {delta}")
    return delta


def schedule_theorem(t, eps, M_fro, delta=0.5):
    """Du-Hu-Lee rank-r schedule (reconstructed): ``eta_t = sqrt(eps) / (100 (t+1)^{1/2+delta} ||M*||_F^{3/2})``,
    ``t = 0, 1, 2, ...``, ``0 < delta <= 1/2`` (sum eta_t^2 < inf keeps the imbalance drift O(eps);
    sum eta_t = inf lets GD reach the optimum).

    Warning (docs theory/du2018): these constants are far too conservative in practice. With ``eps = 1e-2`` and
    2e5 steps, ``sum eta_t`` stays tiny for both delta = 1/2 and 1/4, GD never leaves the saddle at 0 and the
    loss stays at ``1/2 ||M*||_F^2`` (escaping a scale-sigma_0 init needs ``sum eta_t ~ log(1/sigma_0) /
    sigma_1``). Use :func:`schedule_practical` for experiments.
    """
    t = _real_array("t", t, nonneg=True)
    eps = _real("eps", eps, positive=True)
    M_fro = _real("M_fro", M_fro, positive=True)
    delta = _delta(delta)
    out = np.sqrt(eps) / (100.0 * (t + 1.0) ** (0.5 + delta) * M_fro ** 1.5)
    return float(out) if out.ndim == 0 else out


def schedule_practical(t, sigma1, c=0.5, t0=1000, delta=0.5):
    """Practical decaying schedule ``eta_t = c / (sigma1 (1 + t/t0)^{1/2+delta})`` with the theorem's
    functional form but a usable constant: converges to round-off-level loss within ~2e4 steps with small
    imbalance drift, for delta = 1/2 and 1/4 (docs theory/du2018). ``0 < delta <= 1/2``."""
    t = _real_array("t", t, nonneg=True)
    sigma1 = _real("sigma1", sigma1, positive=True)
    c = _real("c", c, positive=True)
    t0 = _real("t0", t0, positive=True)
    delta = _delta(delta)
    out = c / (sigma1 * (1.0 + t / t0) ** (0.5 + delta))
    return float(out) if out.ndim == 0 else out


def low_rank_target(d1, d2, r, singular_values=None, seed=0):
    """A rank-r target ``M* = A diag(sv) B^T`` (d1 x d2), ``A``, ``B`` Haar-random orthonormal columns from
    ``seed``. ``singular_values``: r positive values (sorted descending); default ``None`` gives du2018's
    test setup instead: ``M* = G H^T`` with Gaussian G (d1 x r), H (d2 x r), scaled so ``sigma_1 = 1``."""
    d1 = _int("d1", d1)
    d2 = _int("d2", d2)
    r = _int("r", r)
    if r > min(d1, d2):
        raise ValueError(f"r: must be <= min(d1, d2) = {min(d1, d2)}, got {r}")
    rng = np.random.default_rng(seed)
    if singular_values is None:
        M = rng.standard_normal((d1, r)) @ rng.standard_normal((d2, r)).T
        return M / np.linalg.norm(M, 2)
    sv = _real_array("singular_values", singular_values, ndim=1, positive=True)
    if sv.size != r:
        raise ValueError(f"singular_values: expected {r} values, got {sv.size}")
    sv = np.sort(sv)[::-1]
    A = _haar_orthogonal(rng, d1, r)
    B = _haar_orthogonal(rng, d2, r)
    return (A * sv) @ B.T


def nuclear_norm(M):
    """``||M||_* = sum_i sigma_i(M)``; a balanced optimum has ``||U||_F^2 = ||V||_F^2 = ||M*||_*``."""
    M = _matrix("M", M)
    return float(np.sum(np.linalg.svd(M, compute_uv=False)))
