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
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from . import _core
from ._validate import (MAX_ELEMENTS, dtype_of, finite_matrix, model_array, positive_float, positive_int,
                        seed_value, threads_option)
from .training.flow import FlowEngine
from .training.gd import Engine
from .training.interrupt import Interrupt
from .training.progress import progress_bar
from .errors import ScheduleError
from .training.recording import metrics_option, record_steps
from .training.schedules import Schedule, as_schedule, valid_prefix

__all__ = ["Factorization", "OneLayer", "train_batch", "BatchRun", "imbalance_spectrum"]


# ---------------------------------------------------------------------------------------------- helpers


def _default_dtype(dtype, *arrays):
    if dtype is None:
        all32 = all(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in arrays)
        dtype = np.float32 if all32 else np.float64
    return dtype_of(dtype)


def _target(name: str, Y, shape: tuple[int, int], dtype) -> np.ndarray:
    if (isinstance(Y, np.ndarray) and Y.dtype == dtype and Y.shape == shape and Y.flags.c_contiguous
            and np.isfinite(Y).all()):
        return Y  # read only, for the length of the call: no copy needed
    Yc = finite_matrix(name, Y, dtype)
    if Yc.shape != shape:
        raise ValueError(f"{name}: expected shape {shape} (rows of U x rows of V), got {Yc.shape}")
    return Yc


def _gram_factor(W: np.ndarray) -> np.ndarray:
    """For W (p x k) with k > p: the triangular R (p x p) of the thin QR W^T = Qr R. Since W = R^T Qr^T,
    W^T S W = Qr (R S R^T) Qr^T, so W^T S W and R S R^T share their nonzero eigenvalues and their
    Frobenius norm for any symmetric S (here S = diag(I_m, -I_n))."""
    return np.linalg.qr(W.T, mode="r")


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


# ---------------------------------------------------------------------------------------------- models

class Factorization:
    """Two-layer linear model X = U V^T with U (m x k) and V (n x k).

    Parameters
    ----------
    U, V : array-like, shapes (m, k) and (n, k)
        The factors (copied). The dtype is float32 if both are float32 arrays (or `dtype="float32"`), else
        float64. Training updates `fac.U` and `fac.V` in place.
    """

    def __init__(self, U, V, *, dtype=None):
        dt = _default_dtype(dtype, U, V)
        self.U = finite_matrix("U", U, dt)
        self.V = finite_matrix("V", V, dt)
        if self.U.shape[1] != self.V.shape[1]:
            raise ValueError(f"U, V: widths differ (U has {self.U.shape[1]} columns, V has {self.V.shape[1]})")
        self._dtype = dt
        self._shapes = (self.U.shape, self.V.shape)

    def _check_arrays(self) -> None:
        """U and V are updated in place by the kernels: they must still be finite writeable C-contiguous
        arrays of the dtype and shapes the model was built with (the checks of every model)."""
        model_array("U", self.U, self._dtype, self._shapes[0])
        model_array("V", self.V, self._dtype, self._shapes[1])

    @classmethod
    def init(cls, m: int, n: int, k: int, scale: float = 1.0, seed=0, dtype="float64") -> "Factorization":
        """Gaussian initialization: U, V entries i.i.d. N(0, scale^2) (U drawn first, then V)."""
        m, n, k = (positive_int(name, v, maximum=MAX_ELEMENTS) for name, v in (("m", m), ("n", n), ("k", k)))
        if max(m, n) * k > MAX_ELEMENTS:
            raise ValueError(f"k: U and V would hold {max(m, n) * k} entries, more than {MAX_ELEMENTS}")
        scale = positive_float("scale", scale, allow_zero=True)
        seed = seed_value(seed)
        dt = dtype_of(dtype)
        rng = np.random.default_rng(seed)
        U = rng.standard_normal((m, k)) * scale
        V = rng.standard_normal((n, k)) * scale
        return cls(U.astype(dt), V.astype(dt), dtype=dt)

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, int]:
        """(m, n), the shape of X = U V^T."""
        return (self.U.shape[0], self.V.shape[0])

    @property
    def width(self) -> int:
        """The hidden width k."""
        return int(self.U.shape[1])

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    def __repr__(self) -> str:
        m, n = self.shape
        return f"Factorization(m={m}, n={n}, k={self.width}, dtype={self.dtype.name})"

    def copy(self) -> "Factorization":
        return Factorization(self.U, self.V, dtype=self.dtype)

    def state(self) -> dict:
        return {"U": self.U.copy(), "V": self.V.copy()}

    # ------------------------------------------------------------------ derived quantities
    def product(self) -> np.ndarray:
        """X = U V^T (m x n, in the model's dtype)."""
        return self.U @ self.V.T

    def imbalance(self) -> np.ndarray:
        """Q = U^T U - V^T V (k x k, float64): conserved by gradient flow, O(lr^2) change per GD step."""
        U = self.U.astype(np.float64)
        V = self.V.astype(np.float64)
        return U.T @ U - V.T @ V

    def imbalance_eigenvalues(self) -> np.ndarray:
        """Eigenvalues of Q, ascending (only the m + n that can be nonzero when k > m + n)."""
        return imbalance_spectrum(self.U, self.V)

    def loss(self, Y) -> float:
        """1/2 ||Y - U V^T||_F^2 (float64)."""
        Yc = _target("Y", Y, self.shape, np.float64)
        E = Yc - self.U.astype(np.float64) @ self.V.astype(np.float64).T
        return 0.5 * float(np.sum(E * E))

    def relative_error(self, Y) -> float:
        """||Y - U V^T||_F / ||Y||_F."""
        Yc = _target("Y", Y, self.shape, np.float64)
        return float(np.sqrt(2.0 * self.loss(Yc)) / np.linalg.norm(Yc))

    # ------------------------------------------------------------------ training
    def _gd_engine(self, data, options):
        if len(data) != 1:
            raise TypeError(f"train: a Factorization is trained on one target Y; got {len(data)} data arguments")
        threads = threads_option(options.pop("threads", None))
        metrics = metrics_option(options.pop("metrics", None), FAC_METRICS, "a Factorization")
        self._check_arrays()
        Y = _target("Y", data[0], self.shape, self.dtype)
        return _FactorizationGD(self, Y, threads, metrics)

    def _flow_engine(self, data, options):
        if len(data) != 1:
            raise TypeError(f"train: a Factorization is trained on one target Y; got {len(data)} data arguments")
        threads = threads_option(options.pop("threads", None))  # the integrator's vector operations
        metrics = metrics_option(options.pop("metrics", None), FAC_METRICS, "a Factorization")
        self._check_arrays()
        Y = _target("Y", data[0], self.shape, np.float64)
        return _FactorizationFlow(self, Y, metrics, options.pop("tableau"), threads)


FAC_METRICS = ("rel_error", "singular_values", "q_norm", "q_eig", "q_drift")


class _FactorizationGD(Engine):
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
        self._loss = None
        m, n = fac.shape
        self.cost = 4e-10 * m * n * fac.width + 1e-7

    def step_seconds_hint(self) -> float:
        return self.cost

    def loss(self) -> float:
        if self._loss is None:  # before the first chunk (a run of 0 steps)
            empty = np.empty(0)
            self._loss = float(_core.factorization.gd(self.fac.U, self.fac.V, self.Y, empty, empty, False, self.threads).loss)
        return self._loss

    def run(self, lrs, losses):
        r = _core.factorization.gd(self.fac.U, self.fac.V, self.Y, lrs, losses, self.keep_finite, self.threads)
        self._loss = float(r.loss)
        return int(r.steps_done), bool(r.diverged)

    def snapshot(self):
        return self.fac.state()

    def metrics(self):
        return _metrics(self.fac, self.Y64, self.ynorm, self.U0, self.V0, self.names)

    def loss_metrics(self, losses):
        return {"rel_error": _rel_error(losses, self.ynorm)}


def _rel_error(losses, ynorm):
    """||Y - X||_F / ||Y||_F = sqrt(2 L) / ||Y||_F from the recorded losses."""
    if not ynorm > 0:
        return np.full(np.shape(losses), np.nan)
    return np.sqrt(2.0 * np.maximum(np.asarray(losses, dtype=np.float64), 0.0)) / ynorm


def _metrics(fac: Factorization, Y64, ynorm, U0, V0, names=FAC_METRICS) -> dict:
    """The per-record diagnostics of a factorization run (GD or flow) named in `names`; NaN for a
    non-finite state (a diverged run with keep_finite=False, or products that overflow), which LAPACK
    cannot factor."""
    U = fac.U.astype(np.float64)
    V = fac.V.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        X = U @ V.T if ("rel_error" in names or "singular_values" in names) else None
        finite = bool(np.all(np.isfinite(U)) and np.all(np.isfinite(V)) and (X is None or np.all(np.isfinite(X))))
        if finite:
            try:
                out = {}
                if "rel_error" in names:
                    out["rel_error"] = float(np.linalg.norm(Y64 - X) / ynorm) if ynorm > 0 else np.nan
                if "singular_values" in names:
                    out["singular_values"] = np.linalg.svd(X, compute_uv=False)
                if "q_norm" in names:
                    out["q_norm"] = _q_norm(U, V)
                if "q_eig" in names:
                    out["q_eig"] = imbalance_spectrum(U, V)
                if "q_drift" in names:
                    out["q_drift"] = _q_drift(U, V, U0, V0)
                return out
            except np.linalg.LinAlgError:  # e.g. U^T U overflowed
                pass
    m, n = fac.shape
    k = fac.width
    nan = {"rel_error": np.nan, "singular_values": np.full(min(m, n), np.nan), "q_norm": np.nan,
           "q_eig": np.full(min(k, m + n), np.nan), "q_drift": np.nan}
    return {name: v for name, v in nan.items() if name in names}


class _FactorizationFlow(FlowEngine):
    """Gradient flow dU/dt = E V, dV/dt = E^T U by an adaptive Runge-Kutta pair in C++."""

    def __init__(self, fac: Factorization, Y: np.ndarray, metrics: tuple, tableau: str, threads: int = 0):
        self.fac, self.names, self.has_metrics = fac, metrics, bool(metrics)
        self.Y64 = np.ascontiguousarray(Y, dtype=np.float64)
        self.ynorm = float(np.linalg.norm(self.Y64))
        self.U0 = fac.U.astype(np.float64)
        self.V0 = fac.V.astype(np.float64)
        cls = _core.factorization.Flow64 if fac.dtype == np.float64 else _core.factorization.Flow32
        self.flow = cls(fac.U, fac.V, self.Y64, tableau, threads)

    def sync(self):
        self.flow.write_back(self.fac.U, self.fac.V)

    def snapshot(self):
        return self.fac.state()

    def metrics(self):
        return _metrics(self.fac, self.Y64, self.ynorm, self.U0, self.V0, self.names)

    def loss_metrics(self, losses):
        return {"rel_error": _rel_error(losses, self.ynorm)}


class OneLayer:
    """The one-layer baseline: X (m x n) trained directly on 1/2 ||Y - X||_F^2 (X+ = X + lr (Y - X)).

    Gradient flow gives X(t) = Y + (X0 - Y) e^{-t}. `wf.train(model, Y, lr=..., steps=...)` updates `model.X`
    in place and records ``rel_error`` and ``singular_values`` like a `Factorization`.
    """

    def __init__(self, X0, *, dtype=None):
        dt = _default_dtype(dtype, X0)
        self.X = finite_matrix("X0", X0, dt)

    @classmethod
    def zeros(cls, m: int, n: int, dtype="float64") -> "OneLayer":
        return cls(np.zeros((positive_int("m", m), positive_int("n", n))), dtype=dtype)

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape

    @property
    def dtype(self) -> np.dtype:
        return self.X.dtype

    def __repr__(self) -> str:
        return f"OneLayer(m={self.X.shape[0]}, n={self.X.shape[1]}, dtype={self.dtype.name})"

    def copy(self) -> "OneLayer":
        return OneLayer(self.X, dtype=self.dtype)

    def product(self) -> np.ndarray:
        """X itself (a copy), for symmetry with `Factorization.product`."""
        return self.X.copy()

    def state(self) -> dict:
        return {"X": self.X.copy()}

    def _gd_engine(self, data, options):
        if len(data) != 1:
            raise TypeError(f"train: a OneLayer model is trained on one target Y; got {len(data)} data arguments")
        metrics = metrics_option(options.pop("metrics", None), ("rel_error", "singular_values"), "a OneLayer model")
        options.pop("threads", None)  # accepted for symmetry; the kernel is serial
        Y = _target("Y", data[0], self.shape, self.dtype)
        return _OneLayerGD(self, Y, metrics)

    def _flow_engine(self, data, options):
        if len(data) != 1:
            raise TypeError(f"train: a OneLayer model is trained on one target Y; got {len(data)} data arguments")
        metrics = metrics_option(options.pop("metrics", None), ("rel_error", "singular_values"), "a OneLayer model")
        threads_option(options.pop("threads", None))
        options.pop("tableau")  # no Runge-Kutta: the flow is integrated in closed form
        return _OneLayerFlow(self, _target("Y", data[0], self.shape, np.float64), metrics)


class _OneLayerGD(Engine):
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

    def snapshot(self):
        return self.model.state()

    def metrics(self):
        return _one_layer_metrics(self.model.X.astype(np.float64), self.Y64, self.ynorm, self.names)

    def loss_metrics(self, losses):
        return {"rel_error": _rel_error(losses, self.ynorm)}


def _one_layer_metrics(X, Y64, ynorm, names) -> dict:
    """rel_error and singular_values of a OneLayer state X (those in `names`); NaN for a non-finite state
    (a diverged run kept with keep_finite=False), which LAPACK cannot factor."""
    if not np.all(np.isfinite(X)):
        nan = {"rel_error": np.nan, "singular_values": np.full(min(X.shape), np.nan)}
        return {name: v for name, v in nan.items() if name in names}
    out = {}
    if "rel_error" in names:
        out["rel_error"] = float(np.linalg.norm(Y64 - X) / ynorm) if ynorm > 0 else np.nan
    if "singular_values" in names:
        out["singular_values"] = np.linalg.svd(X, compute_uv=False)
    return out


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


class _OneLayerFlow(FlowEngine):
    """Gradient flow of a OneLayer model (exact: the closed form above)."""

    def __init__(self, model: OneLayer, Y: np.ndarray, metrics: tuple):
        self.model, self.names, self.has_metrics = model, metrics, bool(metrics)
        self.Y64, self.ynorm = Y, float(np.linalg.norm(Y))
        self.flow = _ExactOneLayerFlow(model.X, Y)

    def sync(self):
        self.model.X[...] = self.flow.state()

    def snapshot(self):
        return self.model.state()

    def metrics(self):
        return _one_layer_metrics(self.model.X.astype(np.float64), self.Y64, self.ynorm, self.names)

    def loss_metrics(self, losses):
        return {"rel_error": _rel_error(losses, self.ynorm)}


# ---------------------------------------------------------------------------------------------- batches

@dataclass
class BatchRun:
    """What `train_batch` returns (B runs, R recorded steps).

    Attributes
    ----------
    steps : (R,) recorded step indices (0 and the last step always included)
    t : (B, R) flow time of each run at each recorded step (sum of its step sizes so far)
    loss : (B, R) loss 1/2 ||Y - U V^T||_F^2; NaN after a run diverged
    rel_error : (B, R) ||Y - X||_F / ||Y||_F
    products : (B, R, m, n) X = U V^T at the recorded steps (float64), if requested, else None
    U, V : (B, m, k), (B, n, k) the final factors (the last finite state of a diverged run, unless
        keep_finite=False)
    status : (B,) "completed", "diverged", "interrupted" or "failed" (the schedule failed: ScheduleError.run)
    diverged_at : (B,) first non-finite step of each diverged run, -1 otherwise
    final_step : (B,) step of the state held in U, V
    """

    steps: np.ndarray
    t: np.ndarray
    loss: np.ndarray
    rel_error: np.ndarray
    products: np.ndarray | None
    U: np.ndarray
    V: np.ndarray
    status: np.ndarray
    diverged_at: np.ndarray
    final_step: np.ndarray
    wall_time: float = 0.0
    threads: int = 0
    info: dict = field(default_factory=dict)

    @property
    def batch_size(self) -> int:
        return int(self.U.shape[0])

    def singular_values(self) -> np.ndarray:
        """(B, R, min(m, n)) singular values of the recorded products (needs products=True)."""
        if self.products is None:
            raise ValueError("products: train_batch was called with products=False; no products were recorded")
        return np.linalg.svd(self.products, compute_uv=False)

    def __repr__(self) -> str:
        counts = {s: int(np.sum(self.status == s)) for s in ("completed", "diverged", "interrupted")}
        desc = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        return (f"BatchRun(runs={self.batch_size}, steps={int(self.steps[-1])}, {desc}, "
                f"wall_time={self.wall_time:.3g}s)")


def _stack(name: str, values, dtype) -> np.ndarray:
    """(B, r, c) C-contiguous finite copy from a 3-d array or a sequence of 2-d arrays."""
    try:
        if isinstance(values, np.ndarray):
            arr = np.array(values, dtype=dtype, copy=True)
        else:
            arr = np.array([np.asarray(v) for v in values], dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected a 3-d array or a list of 2-d arrays of one shape ({exc})") from exc
    if arr.ndim != 3:
        raise ValueError(f"{name}: expected a 3-d array (runs, rows, k) or a list of 2-d arrays, "
                         f"got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: is empty (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        b = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise ValueError(f"{name}: run {b} contains non-finite values")
    return np.ascontiguousarray(arr)


def _batch_dtype(dtype, Us, Vs):
    def is32(a):
        if isinstance(a, np.ndarray):
            return a.dtype == np.float32
        try:
            return len(a) > 0 and all(isinstance(x, np.ndarray) and x.dtype == np.float32 for x in a)
        except TypeError:
            return False

    if dtype is None:
        dtype = np.float32 if is32(Us) and is32(Vs) else np.float64
    return dtype_of(dtype)


def train_batch(Us, Vs, Y, lr, steps: int, *, record="log", record_points: int = 200, products: bool = False,
                keep_finite: bool = True, threads=None, progress=None, dtype=None,
                chunk_seconds: float = 0.2) -> BatchRun:
    """Train B independent factorizations X_b = U_b V_b^T by gradient descent in one C++ call per chunk.

    Parameters
    ----------
    Us, Vs : (B, m, k) and (B, n, k) arrays, or lists of B arrays of one shape (copied; not modified).
    Y : (m, n) target shared by all runs, or (B, m, n), one per run.
    lr : a positive number (all runs), a length-B array of positive numbers (one constant step size per
        run), or a schedule / callable of the step index shared by all runs.
    steps : number of GD steps of every run.
    record : "log", "all", an interval or a list of steps (as in `wf.train`); the loss and relative error
        of every run are kept there, and the products U V^T too if `products`.
    keep_finite : a run whose loss becomes non-finite stops and keeps its last finite state.
    threads : threads across runs (default: all available). Each run is done by one thread with the same
        code as a single run, so results are bitwise identical to `wf.train` run by run, for any thread
        count.
    Returns a `BatchRun`.
    """
    dt = _batch_dtype(dtype, Us, Vs)
    Us_ = _stack("Us", Us, dt)
    Vs_ = _stack("Vs", Vs, dt)
    B, m, k = Us_.shape
    if Vs_.shape[0] != B:
        raise ValueError(f"Vs: expected {B} runs (as many as Us), got {Vs_.shape[0]}")
    if Vs_.shape[2] != k:
        raise ValueError(f"Vs: widths differ from Us ({Vs_.shape[2]} vs {k} columns)")
    n = Vs_.shape[1]
    Ya = np.asarray(Y) if not isinstance(Y, np.ndarray) else Y
    if Ya.ndim == 2:
        Ys = _target("Y", Ya, (m, n), dt)
    elif Ya.ndim == 3:
        Ys = _stack("Y", Ya, dt)
        if Ys.shape != (B, m, n):
            raise ValueError(f"Y: expected shape ({m}, {n}) or ({B}, {m}, {n}), got {Ys.shape}")
    else:
        raise ValueError(f"Y: expected shape ({m}, {n}) or ({B}, {m}, {n}), got {Ya.shape}")
    if steps is None:
        raise TypeError("steps: the number of gradient-descent steps is required")
    steps = positive_int("steps", steps, minimum=0)
    record_points = positive_int("record_points", record_points, minimum=2)
    nthreads = threads_option(threads)
    chunk_seconds = positive_float("chunk_seconds", chunk_seconds)

    # step sizes: run_lr[b] * schedule(t)
    if isinstance(lr, (Schedule,)) or callable(lr):
        schedule, run_lr = as_schedule(lr), np.ones(B)
    elif isinstance(lr, numbers.Real) and not isinstance(lr, bool):
        schedule, run_lr = as_schedule(lr), np.ones(B)
    else:
        try:
            run_lr = np.array(lr, dtype=np.float64, copy=True).ravel()
        except (TypeError, ValueError) as exc:
            raise TypeError("lr: expected a positive number, a length-B array of them, or a schedule") from exc
        if run_lr.size != B:
            raise ValueError(f"lr: expected one step size per run ({B}), got {run_lr.size}")
        if not np.all(np.isfinite(run_lr) & (run_lr > 0)):
            raise ValueError("lr: step sizes must be > 0 and finite")
        schedule = as_schedule(1.0)
    run_lr = np.ascontiguousarray(run_lr, dtype=np.float64)

    rec = record_steps(record, steps, record_points)
    R = rec.size
    loss = np.full((B, R), np.nan)
    X_rec = np.full((B, R, m, n), np.nan) if products else None
    diverged = np.zeros(B, dtype=np.uint8)
    diverged_at = np.full(B, -1, dtype=np.int64)
    final_step = np.zeros(B, dtype=np.int64)
    steps_done = np.zeros(B, dtype=np.int64)
    t_cum = np.zeros(steps + 1)
    status = "completed"

    start = time.perf_counter()
    bar = progress_bar(progress, steps * B, "train_batch")
    step, chunk = 0, max(1, min(steps, 64))
    first = True
    sched_error = None
    with Interrupt() as intr:
        while first or step < steps:
            first = False
            if intr.hit:
                status = "interrupted"
                break
            stop = min(steps, step + chunk)
            lrs, sched_error = valid_prefix(schedule, step, stop)
            if sched_error is not None:  # run up to the failing step, then stop every run there
                if lrs.size == 0:
                    status = "failed"
                    break
                stop = step + lrs.size
            t_cum[step + 1: stop + 1] = t_cum[step] + np.cumsum(lrs)
            lo, hi = int(np.searchsorted(rec, step, side="left")), int(np.searchsorted(rec, stop, side="right"))
            rec_c = np.ascontiguousarray(rec[lo:hi] - step)
            loss_c = np.full((B, rec_c.size), np.nan)
            x_c = np.full((B, rec_c.size, m, n), np.nan) if products else np.empty((0,))
            was = diverged.copy()
            tick = time.perf_counter()
            _core.factorization.gd_batch(Us_, Vs_, Ys, run_lr, lrs, rec_c, loss_c, x_c, keep_finite, steps_done,
                                         diverged, nthreads)
            elapsed = time.perf_counter() - tick
            live = ~was.astype(bool)
            sel = np.flatnonzero(live)
            loss[np.ix_(sel, np.arange(lo, hi))] = loss_c[sel]
            if products:
                X_rec[sel, lo:hi] = x_c[sel]
            newly = live & diverged.astype(bool)
            diverged_at[newly] = step + steps_done[newly]
            final_step[live] = step + steps_done[live]
            if keep_finite:
                final_step[newly] = np.maximum(diverged_at[newly] - 1, 0)
            if bar is not None:
                bar.update((stop - step) * B)
            per_step = elapsed / max(stop - step, 1)
            want = int(chunk_seconds / per_step) if per_step > 0 else chunk * 4
            chunk = max(1, min(chunk * 4, want))
            step = stop
            if sched_error is not None:
                status = "failed"
                break
            if diverged.all():
                break
    if bar is not None:
        bar.close()
    if status in ("interrupted", "failed"):
        keep = rec <= step
        rec, loss = rec[keep], loss[:, keep]
        if products:
            X_rec = X_rec[:, keep]
    # recorded states after a divergence (the first non-finite one included) hold NaN already
    Y64 = Ys.astype(np.float64)
    ynorm = np.linalg.norm(Y64) if Ys.ndim == 2 else np.linalg.norm(Y64, axis=(1, 2))[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.sqrt(2.0 * loss) / ynorm
    t = run_lr[:, None] * t_cum[rec][None, :]
    st = np.full(B, status, dtype=object)
    st[diverged.astype(bool)] = "diverged"
    batch = BatchRun(steps=rec, t=t, loss=loss, rel_error=rel, products=X_rec, U=Us_, V=Vs_, status=st.astype(str),
                     diverged_at=diverged_at, final_step=final_step, wall_time=time.perf_counter() - start,
                     threads=nthreads or int(_core.threads_available()),
                     info={"tiny_path": bool(_core.factorization.tiny_path(m, n, k, np.dtype(dt).itemsize))})
    if sched_error is not None:
        raise ScheduleError(f"{sched_error}; every run stopped at step {step} (the runs so far are this "
                            "exception's .run)", batch) from (sched_error.__cause__ or sched_error)
    return batch
