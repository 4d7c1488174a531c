"""Input checks of the linear-theory package (every message names the argument)."""

from __future__ import annotations

import numbers

import numpy as np


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
