"""Du, Hu & Lee (2018): the step-size schedules of their rank-r theorem and a practical decaying one,
low-rank targets and the nuclear norm (kept apart from the Tarmoun closed forms; the du2018 study uses them)."""

from __future__ import annotations

import numpy as np

from .._validate import float64_array, positive_int, real_number
from ._checks import _haar_orthogonal, _matrix


def _delta(delta):
    delta = real_number("delta", delta)
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
    t = float64_array("t", t, nonneg=True)
    eps = real_number("eps", eps, positive=True)
    M_fro = real_number("M_fro", M_fro, positive=True)
    delta = _delta(delta)
    out = np.sqrt(eps) / (100.0 * (t + 1.0) ** (0.5 + delta) * M_fro**1.5)
    return float(out) if out.ndim == 0 else out


def schedule_practical(t, sigma1, c=0.5, t0=1000, delta=0.5):
    """Practical decaying schedule ``eta_t = c / (sigma1 (1 + t/t0)^{1/2+delta})`` with the theorem's
    functional form but a usable constant: converges to round-off-level loss within ~2e4 steps with small
    imbalance drift, for delta = 1/2 and 1/4 (docs theory/du2018). ``0 < delta <= 1/2``."""
    t = float64_array("t", t, nonneg=True)
    sigma1 = real_number("sigma1", sigma1, positive=True)
    c = real_number("c", c, positive=True)
    t0 = real_number("t0", t0, positive=True)
    delta = _delta(delta)
    out = c / (sigma1 * (1.0 + t / t0) ** (0.5 + delta))
    return float(out) if out.ndim == 0 else out


def low_rank_target(d1, d2, r, singular_values=None, seed=0):
    """A rank-r target ``M* = A diag(sv) B^T`` (d1 x d2), ``A``, ``B`` Haar-random orthonormal columns from
    ``seed``. ``singular_values``: r positive values (sorted descending); default ``None`` gives du2018's
    test setup instead: ``M* = G H^T`` with Gaussian G (d1 x r), H (d2 x r), scaled so ``sigma_1 = 1``."""
    d1 = positive_int("d1", d1)
    d2 = positive_int("d2", d2)
    r = positive_int("r", r)
    if r > min(d1, d2):
        raise ValueError(f"r: must be <= min(d1, d2) = {min(d1, d2)}, got {r}")
    rng = np.random.default_rng(seed)
    if singular_values is None:
        M = rng.standard_normal((d1, r)) @ rng.standard_normal((d2, r)).T
        return M / np.linalg.norm(M, 2)
    sv = float64_array("singular_values", singular_values, ndim=1, positive=True)
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
