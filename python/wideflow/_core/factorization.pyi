"""wideflow._core.factorization: GD and gradient flow of Y ~ U V^T on 1/2 ||Y - U V^T||_F^2."""

import numpy as np
from numpy.typing import NDArray

from . import ChunkResult, _FlowRun, _Real

_F32 = NDArray[np.float32]
_F64 = NDArray[np.float64]

def gd(
    U: NDArray[_Real],
    V: NDArray[_Real],
    Y: NDArray[_Real],
    lr: _F64,
    losses: _F64,
    keep_finite: bool = False,
    threads: int = 0,
) -> ChunkResult: ...
def gd_batch(
    Us: NDArray[_Real],
    Vs: NDArray[_Real],
    Ys: NDArray[_Real],
    run_lr: _F64,
    step_lr: _F64,
    rec: NDArray[np.int64],
    rec_loss: _F64,
    rec_x: _F64,
    keep_finite: bool,
    steps_done: NDArray[np.int64],
    diverged: NDArray[np.uint8],
    threads: int = 0,
) -> None: ...
def tiny_path(m: int, n: int, k: int, itemsize: int = 8) -> bool: ...

class Flow64(_FlowRun):
    def __init__(self, U: _F64, V: _F64, Y: _F64, tableau: str, threads: int = 0) -> None: ...
    def write_back(self, U: _F64, V: _F64) -> None: ...

class Flow32(_FlowRun):
    def __init__(self, U: _F32, V: _F32, Y: _F64, tableau: str, threads: int = 0) -> None: ...
    def write_back(self, U: _F32, V: _F32) -> None: ...
