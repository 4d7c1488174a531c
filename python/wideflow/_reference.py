"""Pure-NumPy twins of the C++ kernels (slow, O(m n) memory; for tests and benchmarks).

Each function computes in the dtype of the parameters, exactly as the formulas read, with no fusion.
"""

from __future__ import annotations

import numpy as np


def shallow_forward(a, b, c, alpha, x):
    """f(x_j) = (1/alpha) sum_i c_i max(a_i x_j + b_i, 0)."""
    x = np.asarray(x, dtype=a.dtype)
    z = np.multiply.outer(x, a) + b  # (n, m)
    return (np.maximum(z, 0) @ c) / a.dtype.type(alpha)


def shallow_gradients(a, b, c, alpha, x, y):
    """(loss, dL/da, dL/db, dL/dc) for L = 1/2 sum_j (f(x_j) - y_j)^2 with relu'(z) = 1[z > 0]."""
    dt = a.dtype.type
    x = np.asarray(x, dtype=a.dtype)
    z = np.multiply.outer(x, a) + b
    act = np.maximum(z, 0)
    on = (z > 0).astype(a.dtype)
    f = (act @ c) / dt(alpha)
    r = f.astype(np.float64) - np.asarray(y, dtype=np.float64)
    rt = r.astype(a.dtype)
    ga = c / dt(alpha) * ((rt * x) @ on)
    gb = c / dt(alpha) * (rt @ on)
    gc = (rt @ act) / dt(alpha)
    return 0.5 * float(r @ r), ga, gb, gc


def shallow_gd(a, b, c, alpha, x, y, lrs, train="all"):
    """Plain GD: returns (a, b, c, losses) after len(lrs) steps (losses at the start of each step)."""
    a, b, c = a.copy(), b.copy(), c.copy()
    inner = 0.0 if train == "outer" else 1.0
    outer = 0.0 if train == "inner" else 1.0
    losses = []
    for lr in lrs:
        loss, ga, gb, gc = shallow_gradients(a, b, c, alpha, x, y)
        losses.append(loss)
        dt = a.dtype.type
        a, b, c = a - dt(lr * inner) * ga, b - dt(lr * inner) * gb, c - dt(lr * outer) * gc
    return a, b, c, np.array(losses)


def factorization_gd(U, V, Y, lrs):
    """Plain GD on 1/2 ||Y - U V^T||_F^2 (simultaneous updates, in the dtype of U):
    E = Y - U V^T; U <- U + lr E V; V <- V + lr E^T U. Returns (U, V, losses at the start of each step)."""
    U, V = U.copy(), V.copy()
    Y = np.asarray(Y, dtype=U.dtype)
    dt = U.dtype.type
    losses = []
    for lr in lrs:
        E = Y - U @ V.T
        losses.append(0.5 * float(np.sum(E.astype(np.float64) ** 2)))
        U, V = U + dt(lr) * (E @ V), V + dt(lr) * (E.T @ U)
    return U, V, np.array(losses)


def onelayer_gd(X, Y, lrs):
    """Plain GD on 1/2 ||Y - X||_F^2: X <- X + lr (Y - X). Returns (X, losses at the start of each step)."""
    X = X.copy()
    Y = np.asarray(Y, dtype=X.dtype)
    dt = X.dtype.type
    losses = []
    for lr in lrs:
        E = Y - X
        losses.append(0.5 * float(np.sum(E.astype(np.float64) ** 2)))
        X = X + dt(lr) * E
    return X, np.array(losses)
