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
    a: NDArray[_Real],
    b: NDArray[_Real],
    c: NDArray[_Real],
    inv_alpha: float,
    x: _F64,
    y: _F64,
    pred: _F64,
    lr: _F64,
    scale_inner: float,
    scale_outer: float,
    losses: _F64,
    threads: int = 0,
) -> ChunkResult: ...
def gd_sorted(
    a: NDArray[_Real],
    b: NDArray[_Real],
    c: NDArray[_Real],
    inv_alpha: float,
    x: _F64,
    y: _F64,
    pred: _F64,
    lr: _F64,
    scale_inner: float,
    scale_outer: float,
    losses: _F64,
    threads: int,
    bins: NDArray[np.int32],
    bins_valid: bool,
) -> ChunkResult: ...

class Flow64(_FlowRun):
    def __init__(
        self,
        a: _F64,
        b: _F64,
        c: _F64,
        inv_alpha: float,
        x: _F64,
        y: _F64,
        scale_inner: float,
        scale_outer: float,
        tableau: str,
        threads: int = 0,
    ) -> None: ...
    def write_back(self, a: _F64, b: _F64, c: _F64) -> None: ...

class Flow32(_FlowRun):
    def __init__(
        self,
        a: NDArray[np.float32],
        b: NDArray[np.float32],
        c: NDArray[np.float32],
        inv_alpha: float,
        x: _F64,
        y: _F64,
        scale_inner: float,
        scale_outer: float,
        tableau: str,
        threads: int = 0,
    ) -> None: ...
    def write_back(self, a: NDArray[np.float32], b: NDArray[np.float32], c: NDArray[np.float32]) -> None: ...

class _EventFlowRun:
    """The exact (event-aware) flow of the shallow net: state [a; b; c] and per-neuron modes (bind_shallow_events.cpp)."""

    @property
    def t(self) -> float: ...
    @property
    def h(self) -> float: ...
    @property
    def accepted(self) -> int: ...
    @property
    def rejected(self) -> int: ...
    @property
    def evals(self) -> int: ...
    @property
    def events(self) -> int: ...
    @property
    def crossings(self) -> int: ...
    @property
    def sliding_entries(self) -> int: ...
    @property
    def sliding_exits(self) -> int: ...
    @property
    def sliding_now(self) -> int: ...
    @property
    def zeno(self) -> bool: ...
    @property
    def inside_steps(self) -> int: ...
    @property
    def cut_steps(self) -> int: ...
    @property
    def failure(self) -> str: ...
    def integrate(
        self,
        t_stop: float,
        rtol: float,
        atol: float,
        max_steps: int,
        rec_t: _F64,
        rec_k: int,
        rec_loss: _F64,
        rec_steps: NDArray[np.int64],
    ) -> tuple[int, bool, bool, int]: ...
    def loss(self) -> float: ...
    def sliding(self) -> tuple[NDArray[np.int64], _F64]: ...

class EventFlow64(_EventFlowRun):
    def __init__(
        self,
        a: _F64,
        b: _F64,
        c: _F64,
        inv_alpha: float,
        x: _F64,
        y: _F64,
        scale_inner: float,
        scale_outer: float,
        tableau: str,
        threads: int = 0,
        zeno_events: int = 1000,
        zeno_window: float = 1e-12,
    ) -> None: ...
    def write_back(self, a: _F64, b: _F64, c: _F64) -> None: ...

class EventFlow32(_EventFlowRun):
    def __init__(
        self,
        a: NDArray[np.float32],
        b: NDArray[np.float32],
        c: NDArray[np.float32],
        inv_alpha: float,
        x: _F64,
        y: _F64,
        scale_inner: float,
        scale_outer: float,
        tableau: str,
        threads: int = 0,
        zeno_events: int = 1000,
        zeno_window: float = 1e-12,
    ) -> None: ...
    def write_back(self, a: NDArray[np.float32], b: NDArray[np.float32], c: NDArray[np.float32]) -> None: ...
