"""Built-in one-dimensional datasets (Williams et al. 2019; docs page reproductions).

    square10: x_j = linspace(-1, 1, 10), y_j = sign(sin(pi x_j + 0.3)) with sign(0) := +1
    sine10:   the same x_j, y_j = sin(pi x_j)
    sine10_2: the same x_j, y_j = sin(2 pi x_j)
    random_square<n>_s<seed>, random_sine<n>_s<seed>: n points x_j ~ U[-1, 1] (sorted) with the same targets

`load(name)` returns (x, y) as float64 arrays.
"""

from __future__ import annotations

import re

import numpy as np

NAMES = ("square10", "sine10", "sine10_2")
_RANDOM = re.compile(r"^random_(square|sine)(\d+)_s(\d+)$")


def _square(x):
    y = np.sign(np.sin(np.pi * x + 0.3))
    y[y == 0] = 1.0
    return y


def load(name: str):
    """(x, y) for a built-in dataset name (see the module docstring)."""
    if not isinstance(name, str):
        raise TypeError(f"dataset: expected a name, got {type(name).__name__}")
    if name in ("square10", "sine10", "sine10_2"):
        x = np.linspace(-1.0, 1.0, 10)
        if name == "square10":
            return x, _square(x)
        return x, np.sin((2.0 if name == "sine10_2" else 1.0) * np.pi * x)
    m = _RANDOM.match(name)
    if m:
        kind, n, seed = m.group(1), int(m.group(2)), int(m.group(3))
        if n < 1:
            raise ValueError(f"dataset: {name!r} needs at least one point")
        x = np.sort(np.random.default_rng(seed).uniform(-1.0, 1.0, n))
        return x, (_square(x) if kind == "square" else np.sin(np.pi * x))
    raise ValueError(
        f"dataset: unknown name {name!r}; expected one of {', '.join(NAMES)} or "
        "random_square<n>_s<seed> / random_sine<n>_s<seed>"
    )


def teacher_student(dims, samples: int, seed: int = 0, activation: str = "relu", negative_slope: float = 0.01):
    """Du, Hu & Lee's (2018) teacher-student data for a deep net of layer sizes dims = (d_0, ..., d_L):
    inputs x_i ~ N(0, I_{d_0}) (i = 1..samples, drawn from `seed`) and targets y_i = teacher(x_i), the
    teacher a `wf.DeepNet` of the same sizes and activation with He variances (2/d_in before a ReLU,
    1/d_in for the last layer) drawn from seed + 1. Returns (X, Y), float64, shapes (samples, d_0) and
    (samples, d_L)."""
    from ._validate import positive_int
    from .deep import DeepNet

    samples = positive_int("samples", samples)
    dims = list(dims)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((samples, positive_int("dims", dims[0]) if dims else 0))
    teacher = DeepNet.init(dims, activation=activation, negative_slope=negative_slope, seed=seed + 1)
    return X, teacher(X)


def gaussian_matrix(m: int, n: int, seed: int = 0) -> np.ndarray:
    """An m x n matrix of i.i.d. N(0, 1) entries from `seed` (Tarmoun et al.'s target Y)."""
    return np.random.default_rng(seed).standard_normal((m, n))
