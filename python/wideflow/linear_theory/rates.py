"""End-to-end dynamics of X = U V^T and its rates: late GF and GD rates, and a rough GD stability bound."""

from __future__ import annotations

import numpy as np

from .._validate import float64_array, real_number
from ._checks import _matrix


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
    lam = real_number("lam", lam)
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
    sigma = float64_array("sigma", sigma)
    lam = float64_array("lam", lam)
    out = np.hypot(lam, 2.0 * sigma)
    return float(out) if out.ndim == 0 else out


def gd_rate(sigma, lam, lr):
    """Late rate of GD per unit GF time: near the optimum the residual ``r = sigma - x`` contracts by
    ``(1 - lr s)`` per step, so the rate is ``-ln(1 - lr s) / lr`` (``-ln|1 - lr s| / lr`` when
    ``1 < lr s < 2``; ``<= 0`` means GD is unstable, ``lr s >= 2``). Tends to s as lr -> 0."""
    lr = real_number("lr", lr, positive=True)
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
