"""Shared fixtures for the shallow-network and training tests.

Parametrized fixtures:
  kernel -> "direct", "sorted"   (the two shallow GD / evaluation kernels)
  dtype  -> "float64", "float32"
Data fixtures:
  square10 -> (x, y): x = linspace(-1, 1, 10), y = sign(sin(pi x + 0.3)) with sign(0) := +1
  positive_data -> (x, y): samples on [0.1, 1] with targets far above a small-init net (GD blows up
                   instead of killing neurons when the step is huge)
"""

from __future__ import annotations

import numpy as np
import pytest

from wideflow import datasets

KERNELS = ("direct", "sorted")
DTYPES = ("float64", "float32")


@pytest.fixture(params=KERNELS)
def kernel(request) -> str:
    return request.param


@pytest.fixture(params=DTYPES)
def dtype(request) -> str:
    return request.param


@pytest.fixture
def square10():
    return datasets.load("square10")


@pytest.fixture
def positive_data():
    x = np.linspace(0.1, 1.0, 8)
    return x, 5.0 + x


@pytest.fixture
def messy_data():
    """Unsorted samples with duplicated x values (13 samples, 4 of them repeats)."""
    rng = np.random.default_rng(11)
    x = rng.uniform(-2.0, 2.0, 13)
    x[[3, 7, 8, 12]] = x[[0, 1, 1, 5]]
    y = np.sin(2.0 * x) + 0.3
    return x, y
