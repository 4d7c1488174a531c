"""Gradient descent on X = U V^T: the exact one-step change of the imbalance, and the checked entry point to
the NumPy reference loop (`wideflow._reference.factorization_gd`)."""

from __future__ import annotations

import numpy as np

from .._reference import factorization_gd
from .._validate import positive_int, real_number
from ._checks import _factors, _matrix


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
    lr = real_number("lr", lr, positive=True)
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
    steps = positive_int("steps", steps, minimum=0)
    if callable(lr):
        lrs = np.array([float(lr(j)) for j in range(steps)])
    else:
        lrs = np.full(steps, real_number("lr", lr, positive=True))
    U, V, _ = factorization_gd(U, V, Y, lrs)  # the one NumPy loop (wideflow._reference), in float64 here
    return U, V
