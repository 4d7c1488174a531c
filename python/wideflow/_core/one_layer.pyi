"""wideflow._core.one_layer: the one-layer baseline X trained directly on 1/2 ||Y - X||_F^2."""

import numpy as np
from numpy.typing import NDArray

from . import ChunkResult, _Real

def gd(X: NDArray[_Real], Y: NDArray[_Real], lr: NDArray[np.float64], losses: NDArray[np.float64]) -> ChunkResult: ...
