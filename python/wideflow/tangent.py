"""The tangent kernel of a shallow ReLU net on its data, and the step size it allows.

For f(x) = (1/alpha) sum_i c_i [a_i x + b_i]_+ the Jacobian of the outputs on the data X = (x_1..x_n)
with respect to the trained parameters gives the n x n Gram matrix (docs theory/williams2019)

    J J^T = (1/alpha^2) sum_i ( [theta_i.X]_+ [theta_i.X']_+          (c part: train "outer" or "all")
                               + c_i^2 1_i 1_i' (X.X' + 1) )          (theta = (a, b) part: "inner" or "all")

with theta_i.x = a_i x + b_i and 1_i the indicator of the active side. Gradient descent on the
linearized model is stable for eta * lambda_max(J J^T) < 2, which `learning_rate` turns into a rule.

    eta = wf.tangent.learning_rate(net, x)        # min(1 / lambda_max, 2e-3 * alpha)
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["tangent_gram", "learning_rate"]

_TRAIN = ("all", "outer", "inner")


def tangent_gram(net, x, train: str = "all") -> np.ndarray:
    """n x n Gram matrix J J^T of the trained parameters (`train`: "all", "outer" = c, "inner" = (a, b))
    at the net's current state: the tangent kernel on the data (formula in the module docstring)."""
    if train not in _TRAIN:
        raise ValueError(f"train: unknown value {train!r}; expected one of {', '.join(map(repr, _TRAIN))}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x: expected a non-empty 1-d array of data points, got shape {x.shape}")
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (net.a, net.b, net.c))
    z = np.multiply.outer(x, a) + b
    G = np.zeros((x.size, x.size))
    if train in ("all", "outer"):
        P = np.maximum(z, 0.0) / net.alpha
        G += P @ P.T
    if train in ("all", "inner"):
        A = (z > 0) * (c / net.alpha)
        G += (A @ A.T) * (np.multiply.outer(x, x) + 1.0)
    return G


def learning_rate(net, x, train: str = "all", *, eta_lambda: float = 1.0, lr_bar_cap: float | None = 2e-3) -> float:
    """Step size eta = min(eta_lambda / lambda_max(J J^T at the current state), lr_bar_cap * alpha).

    The first term keeps the collective (linearized) dynamics stable (eta lambda_max < 2); the second caps
    each neuron's step when the second layer dominates, where collective stability does not keep
    per-neuron steps small (docs guide/training). With train="outer" the model is linear in c and only the
    first term applies; lr_bar_cap=None (or 0) drops the cap.
    """
    if not (isinstance(eta_lambda, (int, float)) and math.isfinite(eta_lambda) and eta_lambda > 0):
        raise ValueError(f"eta_lambda: expected a positive finite number, got {eta_lambda!r}")
    lam = float(np.linalg.eigvalsh(tangent_gram(net, x, train))[-1])
    eta = eta_lambda / lam if lam > 0 else math.inf
    if train != "outer" and lr_bar_cap:
        eta = min(eta, lr_bar_cap * net.alpha)
    if not math.isfinite(eta):
        raise ValueError("learning_rate: the tangent kernel vanishes on the data (all neurons dead?)")
    return eta
