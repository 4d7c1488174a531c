"""Spectral initialization: factors aligned with the SVD of Y decouple into independent modes, and the
exact flow from them."""

from __future__ import annotations

import numpy as np

from .._validate import positive_int
from ._checks import _haar_orthogonal, _matrix, _orthogonal, _per_mode, _times
from .modes import scalar_mode


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
    k = positive_int("k", k)
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
    p = r if k is None else min(r, positive_int("k", k))
    u = np.zeros(r)
    v = np.zeros(r)
    u[:p] = _per_mode("u0", u0, p)
    v[:p] = _per_mode("v0", v0, p)
    Phi, sig, PsiT = np.linalg.svd(Y, full_matrices=False)
    x = np.asarray(scalar_mode(t[..., None], sig, u * v, (u - v) * (u + v)))  # shape t.shape + (r,)
    return np.einsum("ir,...r,rj->...ij", Phi, x, PsiT)
