"""The GD and gradient-flow engines of a `Factorization` (the `wideflow.base` contract over the fused C++
kernels)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import _core
from ..base import FlowEngine, GDEngine, by_dtype
from .metrics import _metrics, _rel_error

if TYPE_CHECKING:
    from .model import Factorization


class _Reports:
    """What both engines of a Factorization report: the snapshot, the metrics of the current state (relative
    error, singular values, imbalance spectrum and drift) and the relative error of recorded losses."""

    fac: Factorization
    Y64: np.ndarray
    ynorm: float
    U0: np.ndarray
    V0: np.ndarray
    names: tuple

    def snapshot(self):
        return self.fac.state()

    def metrics(self):
        return _metrics(self.fac, self.Y64, self.ynorm, self.U0, self.V0, self.names)

    def loss_metrics(self, losses):
        return {"rel_error": _rel_error(losses, self.ynorm)}


class _FactorizationGD(_Reports, GDEngine):
    """Fused GD on a Factorization: U and V are updated in place by the C++ kernel, which also keeps the
    last finite state when a run diverges (no checkpoint needed)."""

    keeps_finite = True
    keep_finite = True  # set by the driver

    def __init__(self, fac: Factorization, Y: np.ndarray, threads: int, metrics: tuple):
        self.fac, self.Y, self.threads = fac, Y, threads
        self.names, self.has_metrics = metrics, bool(metrics)
        self.ynorm = float(np.sqrt(np.sum(np.square(Y, dtype=np.float64))))
        if metrics:
            self.Y64 = Y.astype(np.float64)
            self.U0 = fac.U.astype(np.float64)
            self.V0 = fac.V.astype(np.float64)
        self._loss: float | None = None
        m, n = fac.shape
        self.cost = 4e-10 * m * n * fac.width + 1e-7

    def step_seconds_hint(self) -> float:
        return self.cost

    def loss(self) -> float:
        if self._loss is None:  # before the first chunk (a run of 0 steps)
            empty = np.empty(0)
            self._loss = float(
                _core.factorization.gd(self.fac.U, self.fac.V, self.Y, empty, empty, False, self.threads).loss
            )
        return self._loss

    def run(self, lrs, losses):
        r = _core.factorization.gd(self.fac.U, self.fac.V, self.Y, lrs, losses, self.keep_finite, self.threads)
        self._loss = float(r.loss)
        return int(r.steps_done), bool(r.diverged)


class _FactorizationFlow(_Reports, FlowEngine):
    """Gradient flow dU/dt = E V, dV/dt = E^T U by an adaptive Runge-Kutta pair in C++."""

    def __init__(self, fac: Factorization, Y: np.ndarray, metrics: tuple, tableau: str, threads: int = 0):
        self.fac, self.names, self.has_metrics = fac, metrics, bool(metrics)
        self.Y64 = np.ascontiguousarray(Y, dtype=np.float64)
        self.ynorm = float(np.linalg.norm(self.Y64))
        self.U0 = fac.U.astype(np.float64)
        self.V0 = fac.V.astype(np.float64)
        cls = by_dtype(fac.dtype, _core.factorization.Flow64, _core.factorization.Flow32)
        self.flow = cls(fac.U, fac.V, self.Y64, tableau, threads)

    def sync(self):
        self.flow.write_back(self.fac.U, self.fac.V)
