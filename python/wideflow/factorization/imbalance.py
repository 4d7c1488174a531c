"""The imbalance Q = U^T U - V^T V of a factorization X = U V^T (conserved by gradient flow): its spectrum,
norm and drift, without forming k x k matrices when the width k exceeds m + n."""

from __future__ import annotations

import numpy as np

__all__ = ["imbalance_spectrum"]


def _gram_factor(W: np.ndarray) -> np.ndarray:
    """For W (p x k) with k > p: the triangular R (p x p) of the thin QR W^T = Qr R. Since W = R^T Qr^T,
    W^T S W = Qr (R S R^T) Qr^T, so W^T S W and R S R^T share their nonzero eigenvalues and their
    Frobenius norm for any symmetric S (here S = diag(I_m, -I_n))."""
    R: np.ndarray = np.linalg.qr(W.T, mode="r")  # type: ignore[assignment]  # mode="r" returns R alone
    return R


def imbalance_spectrum(U, V) -> np.ndarray:
    """Eigenvalues (ascending) of Q = U^T U - V^T V, in float64.

    For k <= m + n all k eigenvalues; for k > m + n only the m + n that can be nonzero (Q = W^T J W with
    W = [U; V] has rank <= m + n), computed from a thin QR of W^T without forming the k x k matrix.
    """
    U = np.asarray(U, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    m, k = U.shape
    n = V.shape[0]
    if k <= m + n:
        return np.linalg.eigvalsh(U.T @ U - V.T @ V)
    R = _gram_factor(np.vstack([U, V]))
    J = np.concatenate([np.ones(m), -np.ones(n)])
    M = (R * J) @ R.T
    return np.linalg.eigvalsh(0.5 * (M + M.T))


def _q_norm(U, V) -> float:
    m, k = U.shape
    n = V.shape[0]
    if k <= m + n:
        return float(np.linalg.norm(U.T @ U - V.T @ V))
    R = _gram_factor(np.vstack([U, V]))
    J = np.concatenate([np.ones(m), -np.ones(n)])
    return float(np.linalg.norm((R * J) @ R.T))


def _q_drift(U, V, U0, V0) -> float:
    """||(U^T U - V^T V) - (U0^T U0 - V0^T V0)||_F without forming k x k matrices when k is large."""
    m, k = U.shape
    n = V.shape[0]
    if k <= 2 * (m + n):
        return float(np.linalg.norm((U.T @ U - V.T @ V) - (U0.T @ U0 - V0.T @ V0)))
    R = _gram_factor(np.vstack([U, V, U0, V0]))
    D = np.concatenate([np.ones(m), -np.ones(n), -np.ones(m), np.ones(n)])
    return float(np.linalg.norm((R * D) @ R.T))
