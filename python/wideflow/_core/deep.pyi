"""wideflow._core.deep: f(X) = W_L phi(... phi(X W_1^T + b_1) ...); evaluation, gradients, GD runs, flow."""

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from . import ChunkResult, _FlowRun, _Real

_F32 = NDArray[np.float32]
_F64 = NDArray[np.float64]

class Activation:
    linear: ClassVar[Activation]
    relu: ClassVar[Activation]
    leaky_relu: ClassVar[Activation]
    __members__: ClassVar[dict[str, Activation]]
    def __init__(self, value: int) -> None: ...
    def __int__(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...

def evaluate(
    weights: list[NDArray[_Real]],
    biases: list[NDArray[_Real]],
    activation: Activation,
    slope: float,
    X: NDArray[_Real],
    out: NDArray[_Real],
    threads: int = 0,
) -> None: ...
def loss(
    weights: list[NDArray[_Real]],
    biases: list[NDArray[_Real]],
    activation: Activation,
    slope: float,
    X: NDArray[_Real],
    Y: NDArray[_Real],
    offset: float = 0.0,
    threads: int = 0,
) -> float: ...
def gradients(
    weights: list[NDArray[_Real]],
    biases: list[NDArray[_Real]],
    activation: Activation,
    slope: float,
    X: NDArray[_Real],
    Y: NDArray[_Real],
    grad_w: list[NDArray[_Real]],
    grad_b: list[NDArray[_Real]],
    offset: float = 0.0,
    threads: int = 0,
) -> float: ...

class Trainer64:
    def run(self, lr: _F64, losses: _F64) -> ChunkResult: ...
    def loss(self) -> float: ...

class Trainer32:
    def run(self, lr: _F64, losses: _F64) -> ChunkResult: ...
    def loss(self) -> float: ...

def trainer(
    weights: list[NDArray[_Real]],
    biases: list[NDArray[_Real]],
    activation: Activation,
    slope: float,
    X: NDArray[_Real],
    Y: NDArray[_Real],
    offset: float,
    threads: int = 0,
) -> Trainer64 | Trainer32:
    """A GD run over the arrays: a Trainer64 for float64 ones, a Trainer32 for float32 ones."""

class Flow64(_FlowRun):
    def __init__(
        self,
        weights: list[_F64],
        biases: list[_F64],
        activation: Activation,
        slope: float,
        X: _F64,
        Y: _F64,
        offset: float,
        tableau: str,
        threads: int = 0,
    ) -> None: ...
    def write_back(self, weights: list[_F64], biases: list[_F64]) -> None: ...

class Flow32(_FlowRun):
    def __init__(
        self,
        weights: list[_F32],
        biases: list[_F32],
        activation: Activation,
        slope: float,
        X: _F32,
        Y: _F32,
        offset: float,
        tableau: str,
        threads: int = 0,
    ) -> None: ...
    def write_back(self, weights: list[_F32], biases: list[_F32]) -> None: ...

class _DeepEventFlowRun:
    """The event-aware flow of a ReLU / leaky-ReLU net: state [W_1..W_L; b_1..b_L] in double, the activation
    pattern, the sliding entries and their controls (bind_deep.cpp, deep_event_flow.hpp)."""

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
    def forward_evals(self) -> int: ...
    @property
    def events(self) -> int: ...
    @property
    def cut_steps(self) -> int: ...
    @property
    def zeno(self) -> bool: ...
    @property
    def crossings(self) -> int: ...
    @property
    def sliding_entries(self) -> int: ...
    @property
    def sliding_exits(self) -> int: ...
    def sliding(self) -> list[tuple[int, int, int, float]]: ...
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

class EventFlow64(_DeepEventFlowRun):
    def __init__(
        self,
        weights: list[_F64],
        biases: list[_F64],
        activation: Activation,
        slope: float,
        X: _F64,
        Y: _F64,
        offset: float,
        tableau: str,
        zeno_events: int = 1000,
        zeno_window: float = 1e-12,
    ) -> None: ...
    def write_back(self, weights: list[_F64], biases: list[_F64]) -> None: ...

class EventFlow32(_DeepEventFlowRun):
    def __init__(
        self,
        weights: list[_F32],
        biases: list[_F32],
        activation: Activation,
        slope: float,
        X: _F32,
        Y: _F32,
        offset: float,
        tableau: str,
        zeno_events: int = 1000,
        zeno_window: float = 1e-12,
    ) -> None: ...
    def write_back(self, weights: list[_F32], biases: list[_F32]) -> None: ...
