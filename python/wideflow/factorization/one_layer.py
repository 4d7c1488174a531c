"""The one-layer baseline X trained directly on 1/2 ||Y - X||_F^2, with its GD engine (a fused C++ loop) and
its gradient flow in closed form."""

from __future__ import annotations

import numpy as np

from .. import _core
from .._validate import finite_matrix, positive_int, threads_option
from ..base import FlowEngine, GDEngine, Model, data_args, infer_dtype, metrics_option
from .metrics import ONE_LAYER_METRICS, _one_layer_metrics, _rel_error
from .model import target

__all__ = ["OneLayer"]


class OneLayer(Model):
    """The one-layer baseline: X (m x n) trained directly on 1/2 ||Y - X||_F^2 (X+ = X + lr (Y - X)).

    Gradient flow gives X(t) = Y + (X0 - Y) e^{-t}. `wf.train(model, Y, lr=..., steps=...)` updates `model.X`
    in place and records ``rel_error`` and ``singular_values`` like a `Factorization`.
    """

    def __init__(self, X0, *, dtype=None):
        dt = infer_dtype(dtype, X0)
        self.X = finite_matrix("X0", X0, dt)

    @classmethod
    def zeros(cls, m: int, n: int, dtype="float64") -> OneLayer:
        return cls(np.zeros((positive_int("m", m), positive_int("n", n))), dtype=dtype)

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape

    @property
    def dtype(self) -> np.dtype:
        return self.X.dtype

    def __repr__(self) -> str:
        return f"OneLayer(m={self.X.shape[0]}, n={self.X.shape[1]}, dtype={self.dtype.name})"

    def copy(self) -> OneLayer:
        return OneLayer(self.X, dtype=self.dtype)

    def product(self) -> np.ndarray:
        """X itself (a copy), for symmetry with `Factorization.product`."""
        return self.X.copy()

    def state(self) -> dict:
        return {"X": self.X.copy()}

    def _gd_engine(self, data, options):
        data_args(self, data, ("one target Y",))
        metrics = metrics_option(options.pop("metrics", None), ONE_LAYER_METRICS, "a OneLayer model")
        options.pop("threads", None)  # accepted for symmetry; the kernel is serial
        Y = target("Y", data[0], self.shape, self.dtype)
        return _OneLayerGD(self, Y, metrics)

    def _flow_engine(self, data, options):
        data_args(self, data, ("one target Y",))
        metrics = metrics_option(options.pop("metrics", None), ONE_LAYER_METRICS, "a OneLayer model")
        threads_option(options.pop("threads", None))
        options.pop("tableau")  # no Runge-Kutta: the flow is integrated in closed form
        return _OneLayerFlow(self, target("Y", data[0], self.shape, np.float64), metrics)


class _Reports:
    """What both engines of a OneLayer model report (snapshot, metrics of the current state, relative error
    of recorded losses)."""

    model: OneLayer
    Y64: np.ndarray
    ynorm: float
    names: tuple

    def snapshot(self):
        return self.model.state()

    def metrics(self):
        return _one_layer_metrics(self.model.X.astype(np.float64), self.Y64, self.ynorm, self.names)

    def loss_metrics(self, losses):
        return {"rel_error": _rel_error(losses, self.ynorm)}


class _OneLayerGD(_Reports, GDEngine):
    def __init__(self, model: OneLayer, Y: np.ndarray, metrics: tuple):
        self.model, self.Y = model, Y
        self.names, self.has_metrics = metrics, bool(metrics)
        self.Y64 = Y.astype(np.float64)
        self.ynorm = float(np.linalg.norm(self.Y64))
        self._loss = None

    def step_seconds_hint(self) -> float:
        return 1e-9 * self.model.X.size + 1e-7

    def loss(self):
        if self._loss is None:
            empty = np.empty(0)
            self._loss = float(_core.one_layer.gd(self.model.X, self.Y, empty, empty).loss)
        return self._loss

    def run(self, lrs, losses):
        r = _core.one_layer.gd(self.model.X, self.Y, lrs, losses)
        self._loss = float(r.loss)
        return int(r.steps_done), bool(r.diverged)

    def checkpoint_nbytes(self):
        return self.model.X.nbytes

    def checkpoint(self, into=None):
        if into is None:
            return [self.model.X.copy(), self._loss]
        np.copyto(into[0], self.model.X)
        into[1] = self._loss
        return into

    def restore(self, ck):
        self.model.X[...] = ck[0]
        self._loss = ck[1]


class _ExactOneLayerFlow:
    """The one-layer gradient flow in closed form, X(t) = Y + (X0 - Y) e^{-t}, with the interface of the
    C++ flow-run objects: `integrate` reaches any stop time in one exact step (no error to control)."""

    def __init__(self, X0: np.ndarray, Y: np.ndarray):
        self.X0, self.Y = X0.astype(np.float64), Y
        self.E0 = self.X0 - Y
        self.t = 0.0
        self.accepted = self.rejected = self.evals = 0

    def state(self) -> np.ndarray:
        return self.Y + self.E0 * np.exp(-self.t)

    def loss(self) -> float:
        return 0.5 * float(np.sum(self.E0 * self.E0)) * float(np.exp(-2.0 * self.t))

    def integrate(self, t_stop, rtol, atol, max_steps, t_out, loss_out):
        self.t = float(t_stop)
        t_out[0], loss_out[0] = self.t, self.loss()
        self.accepted += 1
        return 1, True, False


class _OneLayerFlow(_Reports, FlowEngine):
    """Gradient flow of a OneLayer model (exact: the closed form above)."""

    def __init__(self, model: OneLayer, Y: np.ndarray, metrics: tuple):
        self.model, self.names, self.has_metrics = model, metrics, bool(metrics)
        self.Y64, self.ynorm = Y, float(np.linalg.norm(Y))
        self.flow = _ExactOneLayerFlow(model.X, Y)

    def sync(self):
        self.model.X[...] = self.flow.state()
