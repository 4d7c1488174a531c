"""Closed-form theory for one- and two-layer linear models (Tarmoun et al. 2021; Du, Hu & Lee 2018).

Pure NumPy; SciPy is imported lazily inside the few functions that need it, so ``import wideflow`` stays fast.
These are the reference formulas the trained models are checked against, one idea per module: ``modes``
(one-layer and one-mode closed forms), ``spectral`` (spectral initialization), ``riccati`` (general
initialization), ``gd`` (GD identities and the NumPy loop), ``rates``, and ``schedules`` (the step-size
schedules and targets of Du, Hu & Lee 2018); every name is re-exported here.

Notation (docs page ``theory/tarmoun2021``):

* data ``Y`` (m x n) with SVD ``Y = Phi Sigma Psi^T``, ``Sigma = diag(sigma_1 >= ... >= sigma_r)``,
  ``r = min(m, n)``;
* two-layer model ``X = U V^T`` with ``U`` (m x k), ``V`` (n x k), residual ``E = Y - U V^T``;
* loss, everywhere in this module, ``L(U, V) = 1/2 ||Y - U V^T||_F^2`` (no 1/n), so gradient flow (GF) is
  ``U' = E V``, ``V' = E^T U`` and gradient descent (GD) with step ``lr`` is ``U+ = U + lr E V``,
  ``V+ = V + lr E^T U`` (simultaneous updates);
* imbalance ``Q = U^T U - V^T V`` (k x k), conserved by GF; ``Q = lam I`` is "lambda-balanced", ``lam = 0``
  "balanced";
* per spectral mode: ``x = u v``, ``lam = u^2 - v^2`` and the late rate ``s = sqrt(lam^2 + 4 sigma^2)``.

Time is gradient-flow time; GD with step ``lr`` after ``j`` steps sits at ``t = lr * j``.
"""

from __future__ import annotations

from .gd import factor_gd, gd_imbalance_update, imbalance
from .modes import hitting_time, one_layer, one_layer_hitting_time, saxe_logistic, scalar_mode, scalar_mode_uv
from .rates import end_to_end_rhs, gd_rate, gd_stability_bound, late_rate
from .riccati import balanced_init, lambda_balanced_init, lifted_A, riccati_solution
from .schedules import low_rank_target, nuclear_norm, schedule_practical, schedule_theorem
from .spectral import spectral_init, spectral_solution

__all__ = [
    "one_layer",
    "one_layer_hitting_time",
    "scalar_mode",
    "scalar_mode_uv",
    "hitting_time",
    "saxe_logistic",
    "spectral_init",
    "spectral_solution",
    "lifted_A",
    "riccati_solution",
    "balanced_init",
    "lambda_balanced_init",
    "imbalance",
    "gd_imbalance_update",
    "factor_gd",
    "end_to_end_rhs",
    "late_rate",
    "gd_rate",
    "gd_stability_bound",
    "schedule_theorem",
    "schedule_practical",
    "low_rank_target",
    "nuclear_norm",
]
