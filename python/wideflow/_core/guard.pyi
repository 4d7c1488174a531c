"""wideflow._core.guard: divergence-safety bounds of the shallow net's GD steps (wideflow/guard.hpp)."""

from typing import Any

import numpy as np
from numpy.typing import NDArray

def abs_max(v: NDArray[np.float64] | NDArray[np.float32], threads: int = 0) -> float: ...
def certify(
    problem: dict[str, Any], A: float, B: float, C: float, P: float, loss: float, lr: NDArray[np.float64]
) -> int: ...
def bounds_after(
    problem: dict[str, Any], A: float, B: float, C: float, lr: NDArray[np.float64], losses: NDArray[np.float64]
) -> tuple[float, float, float]: ...
