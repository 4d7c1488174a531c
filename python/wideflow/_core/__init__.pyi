"""Typed stub of the compiled extension wideflow._core (cpp/src/): one submodule per model family.

Checked against the built module by tests/core/test_core_stub.py (every public name, both ways). The kernels
take NumPy arrays that they read or update in place: C-contiguous, of exactly the dtype named (no
conversion), already validated by the Python layer.
"""

from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from . import deep as deep
from . import factorization as factorization
from . import guard as guard
from . import one_layer as one_layer
from . import random_features as random_features
from . import shallow as shallow

# A parameter dtype: the kernels are compiled for float64 and float32 (all of a call's parameter arrays share it).
_Real = TypeVar("_Real", np.float64, np.float32)

def threads_available() -> int: ...
def openmp_enabled() -> bool: ...
def build_config() -> dict[str, Any]: ...
def isa() -> str: ...
def isa_info() -> dict[str, Any]: ...
def _set_isa(name: str) -> str: ...

class ChunkResult:
    """What one bounded call of a GD kernel reports (the same for every family)."""

    @property
    def steps_done(self) -> int: ...
    @property
    def diverged(self) -> bool: ...
    @property
    def loss(self) -> float:
        """Loss of the state handed back where the kernel evaluates it (factorization, one_layer), else NaN."""

class _FlowRun:
    """What every flow-run class (shallow/deep/factorization .Flow64 / .Flow32) has."""

    def integrate(
        self,
        t_stop: float,
        rtol: float,
        atol: float,
        max_steps: int,
        t_out: NDArray[np.float64],
        loss_out: NDArray[np.float64],
    ) -> tuple[int, bool, bool]: ...
    def loss(self) -> float: ...
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
    def failure(self) -> str: ...
