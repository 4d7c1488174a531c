"""wideflow._core.random_features: streamed Gram sums of random ReLU features and their counter-based draws."""

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from . import _Real

_F64 = NDArray[np.float64]

class Scheme:
    gaussian: ClassVar[Scheme]
    uniform_knots: ClassVar[Scheme]
    box: ClassVar[Scheme]
    __members__: ClassVar[dict[str, Scheme]]
    def __init__(self, value: int) -> None: ...
    def __int__(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...

def wave_neurons() -> int: ...
def accumulate_arrays(
    a: NDArray[_Real], b: NDArray[_Real], begin: int, end: int, x: _F64, t: _F64, acc: _F64, threads: int = 0
) -> None: ...
def accumulate_draws(
    scheme: Scheme,
    seed: int,
    scale: float,
    L: float,
    offset: int,
    begin: int,
    end: int,
    x: _F64,
    t: _F64,
    acc: _F64,
    threads: int = 0,
) -> None: ...
def draw(scheme: Scheme, seed: int, scale: float, L: float, offset: int, count: int) -> tuple[_F64, _F64]: ...
