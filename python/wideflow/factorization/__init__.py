"""Two-layer linear factorization X = U V^T and its one-layer baseline (Tarmoun et al. 2021).

    L(U, V) = 1/2 ||Y - U V^T||_F^2,   E = Y - U V^T,   GD:  U+ = U + lr E V,  V+ = V + lr E^T U

`Factorization` holds U (m x k) and V (n x k) in NumPy arrays that `wf.train(fac, Y, ...)` updates in place
through a fused C++ kernel; `OneLayer` trains X directly on 1/2 ||Y - X||^2 (X+ = X + lr (Y - X)), the
baseline the paper compares with. `train_batch` runs many independent small problems of one shape (seeds x
init scales x step sizes) in one C++ call per chunk, parallel across runs; every run is bitwise equal to
the same run trained alone, for any thread count.

Diagnostics recorded by `wf.train` (`run.metrics`) at each recorded step. ``rel_error`` is always there (it
follows from the recorded loss, at no cost); the others only when asked for (``metrics=True`` for all, or a
list of names), since each costs a chunk break at every recorded step (~10 us) plus its own work:

* ``rel_error``        ||Y - X||_F / ||Y||_F = sqrt(2 L) / ||Y||_F                          free
* ``singular_values``  the min(m, n) singular values of X, descending                        an SVD of X (m x n)
* ``q_norm``           ||Q||_F for the imbalance Q = U^T U - V^T V (conserved by gradient flow)  O(k^2 (m + n)),
                       or a QR of [U; V]^T when k > m + n
* ``q_eig``            eigenvalues of Q, ascending; when k > m + n only the m + n that can be  an eigensolve
                       nonzero (Q has rank <= m + n; the other k - m - n are exactly 0)        (and that QR)
* ``q_drift``          ||Q(t) - Q(0)||_F, the O(lr) drift of the imbalance under GD            as q_norm

One idea per module: ``model`` (`Factorization`), ``one_layer`` (`OneLayer`), ``imbalance`` (the imbalance
Q and its spectrum), ``metrics`` (the recorded diagnostics), ``engines`` (the GD and flow engines of a
Factorization) and ``batch`` (`train_batch`); the public names are re-exported here.
"""

from __future__ import annotations

from .batch import BatchRun, train_batch
from .imbalance import _q_drift as _q_drift
from .imbalance import _q_norm as _q_norm
from .imbalance import imbalance_spectrum
from .metrics import FAC_METRICS as FAC_METRICS
from .metrics import _metrics as _metrics
from .metrics import _one_layer_metrics as _one_layer_metrics
from .model import Factorization
from .one_layer import OneLayer

__all__ = ["Factorization", "OneLayer", "train_batch", "BatchRun", "imbalance_spectrum"]
