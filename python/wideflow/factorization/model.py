"""The two-layer linear factorization X = U V^T (the model the Tarmoun et al. 2021 study trains)."""

from __future__ import annotations

import numpy as np

from .._validate import (
    MAX_ELEMENTS,
    dtype_of,
    finite_matrix,
    model_array,
    positive_float,
    positive_int,
    seed_value,
    threads_option,
)
from ..base import Model, data_args, infer_dtype, metrics_option
from .engines import _FactorizationFlow, _FactorizationGD
from .imbalance import imbalance_spectrum
from .metrics import FAC_METRICS

__all__ = ["Factorization"]


def target(name: str, Y, shape: tuple[int, int], dtype) -> np.ndarray:
    if (
        isinstance(Y, np.ndarray)
        and Y.dtype == dtype
        and Y.shape == shape
        and Y.flags.c_contiguous
        and np.isfinite(Y).all()
    ):
        return Y  # read only, for the length of the call: no copy needed
    Yc = finite_matrix(name, Y, dtype)
    if Yc.shape != shape:
        raise ValueError(f"{name}: expected shape {shape} (rows of U x rows of V), got {Yc.shape}")
    return Yc


class Factorization(Model):
    """Two-layer linear model X = U V^T with U (m x k) and V (n x k).

    Parameters
    ----------
    U, V : array-like, shapes (m, k) and (n, k)
        The factors (copied). The dtype is float32 if both are float32 arrays (or `dtype="float32"`), else
        float64. Training updates `fac.U` and `fac.V` in place.
    """

    def __init__(self, U, V, *, dtype=None):
        dt = infer_dtype(dtype, U, V)
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
    def init(cls, m: int, n: int, k: int, scale: float = 1.0, seed=0, dtype="float64") -> Factorization:
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

    def copy(self) -> Factorization:
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
        Yc = target("Y", Y, self.shape, np.float64)
        E = Yc - self.U.astype(np.float64) @ self.V.astype(np.float64).T
        return 0.5 * float(np.sum(E * E))

    def relative_error(self, Y) -> float:
        """||Y - U V^T||_F / ||Y||_F."""
        Yc = target("Y", Y, self.shape, np.float64)
        return float(np.sqrt(2.0 * self.loss(Yc)) / np.linalg.norm(Yc))

    # ------------------------------------------------------------------ training
    def _gd_engine(self, data, options):
        data_args(self, data, ("one target Y",))
        threads = threads_option(options.pop("threads", None))
        metrics = metrics_option(options.pop("metrics", None), FAC_METRICS, "a Factorization")
        self._check_arrays()
        Y = target("Y", data[0], self.shape, self.dtype)
        return _FactorizationGD(self, Y, threads, metrics)

    def _flow_engine(self, data, options):
        data_args(self, data, ("one target Y",))
        threads = threads_option(options.pop("threads", None))  # the integrator's vector operations
        metrics = metrics_option(options.pop("metrics", None), FAC_METRICS, "a Factorization")
        self._check_arrays()
        Y = target("Y", data[0], self.shape, np.float64)
        return _FactorizationFlow(self, Y, metrics, options.pop("tableau"), threads)
