"""knot_free_fit: the samples on which a net is affine, and the least-squares bound on its loss there."""

import numpy as np
import pytest

import wideflow as wf
from wideflow.experiments.williams2019.measures import knot_free_fit


def test_knot_free_run_and_its_least_squares_line_bound_the_loss():
    x = np.linspace(-1.0, 1.0, 10)
    y = np.sin(np.pi * x)
    # knots at -0.5 and +0.5 (and a negligible neuron with a knot at 0, below the weight threshold)
    net = wf.ShallowReLU(np.array([1.0, -1.0, 1.0]), np.array([0.5, 0.5, 0.0]), np.array([2.0, -2.0, 1e-9]), 1.0)
    lo, hi, count, ls = knot_free_fit(net, x, y)
    inner = x[(x > -0.5) & (x < 0.5)]
    assert (lo, hi, count) == (inner[0], inner[-1], inner.size) == (pytest.approx(-1 / 3), pytest.approx(1 / 3), 4)
    A = np.column_stack([inner, np.ones(inner.size)])
    coef, *_ = np.linalg.lstsq(A, np.sin(np.pi * inner), rcond=None)
    assert ls == pytest.approx(0.5 * np.sum((A @ coef - np.sin(np.pi * inner)) ** 2), rel=1e-12)
    # the net is affine there, so its loss on those samples is at least the line's
    sel = (x > -0.5) & (x < 0.5)
    assert 0.5 * np.sum((net(x[sel]) - y[sel]) ** 2) >= ls


def test_no_run_of_three_samples_gives_none():
    x = np.linspace(-1.0, 1.0, 5)
    knots = (x[:-1] + x[1:]) / 2  # a knot in every gap
    net = wf.ShallowReLU(np.ones(knots.size), -knots, np.ones(knots.size), 1.0)
    assert knot_free_fit(net, x, x**2) is None
