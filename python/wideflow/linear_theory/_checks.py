"""Input checks of the linear-theory package: factor shapes, orthogonal matrices, per-mode values (the
generic checks are those of `wideflow._validate`: a wrong kind of value is a TypeError, a value out of range
a ValueError, and the message starts with the argument's name)."""

from __future__ import annotations

import numpy as np

from .._validate import float64_array


def _matrix(name, value):
    return float64_array(name, value, ndim=2)


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
    arr = float64_array(name, value)
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
    return float64_array(name, t, nonneg=True)
