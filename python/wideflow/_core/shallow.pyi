"""wideflow._core.shallow: f(x) = inv_alpha * sum_i c_i max(a_i x + b_i, 0); evaluation, fused GD, flow."""

import numpy as np
from numpy.typing import NDArray

from . import ChunkResult, _FlowRun, _Real

_F64 = NDArray[np.float64]

def residual_loss(pred: _F64, y: _F64) -> float: ...
def evaluate(
    a: NDArray[_Real], b: NDArray[_Real], c: NDArray[_Real], inv_alpha: float, x: _F64, out: _F64, threads: int = 0
) -> None: ...
def evaluate_sorted(
    a: NDArray[_Real], b: NDArray[_Real], c: NDArray[_Real], inv_alpha: float, x: _F64, out: _F64, threads: int = 0
) -> None: ...
def gd_direct(
    a: NDArray[_Real], b: NDArray[_Real], c: NDArray[_Real], inv_alpha: float, x: _F64, y: _F64, pred: _F64,
    lr: _F64, scale_inner: float, scale_outer: float, losses: _F64, threads: int = 0,
) -> ChunkResult: ...
def gd_sorted(
    a: NDArray[_Real], b: NDArray[_Real], c: NDArray[_Real], inv_alpha: float, x: _F64, y: _F64, pred: _F64,
    lr: _F64, scale_inner: float, scale_outer: float, losses: _F64, threads: int, bins: NDArray[np.int32],
    bins_valid: bool,
) -> ChunkResult: ...

class Flow64(_FlowRun):
    def __init__(
        self, a: _F64, b: _F64, c: _F64, inv_alpha: float, x: _F64, y: _F64, scale_inner: float,
        scale_outer: float, tableau: str, threads: int = 0,
    ) -> None: ...
    def write_back(self, a: _F64, b: _F64, c: _F64) -> None: ...

class Flow32(_FlowRun):
    def __init__(
        self, a: NDArray[np.float32], b: NDArray[np.float32], c: NDArray[np.float32], inv_alpha: float, x: _F64,
        y: _F64, scale_inner: float, scale_outer: float, tableau: str, threads: int = 0,
    ) -> None: ...
    def write_back(self, a: NDArray[np.float32], b: NDArray[np.float32], c: NDArray[np.float32]) -> None: ...
