"""General initialization: the exact flow of X = U V^T through the lifted matrix Riccati equation, and the
(lambda-)balanced initializations it applies to."""

from __future__ import annotations

import numpy as np

from .._validate import positive_int, real_number
from ._checks import _factors, _haar_orthogonal, _matrix, _orthogonal, _times


def lifted_A(Y, lam):
    """The lifted matrix ``A = S + (lam/2) J``, ``S = [[0, Y], [Y^T, 0]]``, ``J = diag(I_m, -I_n)``.

    With ``W = [U; V]`` and ``P = W W^T = [[U U^T, X], [X^T, V V^T]]``, lambda-balanced GF (``Q = lam I``, or
    more generally ``P J P = lam P``) is ``P' = A P + P A - P^2``. Spectrum: ``+-sqrt(sigma_i^2 + lam^2/4)``
    for ``i <= r`` plus ``sign(m - n) lam/2`` with multiplicity ``|m - n|``.
    """
    Y = _matrix("Y", Y)
    lam = real_number("lam", lam)
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
        raise ValueError(
            f"restart: K(dt) lost positive definiteness over a step of {dt:g}; use a smaller restart interval"
        ) from exc
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
    from scipy.linalg import eigh  # lazy

    t = _times("t_eval", t_eval)
    Y, U0, V0 = _factors(Y, U0, V0, Uname="U0", Vname="V0")
    restart = real_number("restart", restart, positive=True)
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
                "pass lam explicitly if P0 J P0 = lam P0 holds"
            )
    else:
        lam = real_number("lam", lam)
        resid = W0 @ ((Q0 - lam * np.eye(k)) @ W0.T)
        if np.linalg.norm(resid) > 1e-8 * (scale * scale + abs(lam) * scale) + 1e-300:
            raise ValueError("lam: P0 J P0 != lam P0, i.e. the init is not lambda-balanced for this lam")

    w, Qe = eigh(lifted_A(Y, lam))
    flat = t.reshape(-1)
    order = np.argsort(flat, kind="stable")
    out = np.empty((flat.size, m, n))
    W = W0
    j = 0  # W is the factor at grid time j * restart
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
    k = positive_int("k", k)
    m, n = X0.shape
    A, S, BT = np.linalg.svd(X0, full_matrices=False)
    r = S.size
    if k < r:
        if S[k] > 1e-12 * max(S[0], 1e-300):
            raise ValueError(
                f"k: must be >= rank(X0) (X0 has {int(np.sum(S > 1e-12 * S[0]))} nonzero singular values, k = {k})"
            )
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
    lam = real_number("lam", lam)
    m = positive_int("m", m)
    k = V0.shape[1]
    M = V0.T @ V0 + lam * np.eye(k)
    mu, Z = np.linalg.eigh(M)
    tol = 1e-12 * max(np.max(np.abs(mu)), 1e-300)
    if mu[0] < -tol:
        raise ValueError(
            f"lam: V0^T V0 + lam I is not positive semidefinite (lam = {lam}, needs lam >= {-(mu[0] - lam):.6g})"
        )
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
            raise ValueError(
                f"m: V0^T V0 + lam I has rank > m = {m}; a lambda-balanced U0 with {m} rows "
                "does not exist (lam > 0 needs k <= m)"
            )
        top = slice(k - m, k)
        U0 = O @ (np.sqrt(mu[top])[:, None] * Z[:, top].T)
    return U0, V0.copy()
