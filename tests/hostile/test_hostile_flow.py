"""Issue 12, item 1: the gradient flow never hangs. Every C++ call is bounded (accepted steps, rejected
steps, about 0.5 s of wall time), a NaN or infinite step size ends the run as diverged with a message,
and tolerances the error control cannot resolve are refused up front, naming the argument."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

import wideflow as wf
from wideflow.training.flow import run_flow

FAMILIES = ("shallow", "deep", "factorization")


def _model(family):
    rng = np.random.default_rng(0)
    if family == "shallow":
        x = np.linspace(-1, 1, 12)
        return wf.ShallowReLU.init(64, seed=1), (x, np.sin(3 * x))
    if family == "deep":
        return wf.DeepNet.init([3, 8, 2], seed=1), (rng.standard_normal((10, 3)), rng.standard_normal((10, 2)))
    return wf.Factorization.init(4, 5, 3, scale=0.3, seed=1), (rng.standard_normal((4, 5)),)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("name", ["rtol", "atol"])
@pytest.mark.parametrize("value", [1e-200, 1e-320, 0.0, -1e-6, float("nan"), float("inf")])
def test_absurd_tolerance_is_refused_naming_it(family, name, value):
    model, data = _model(family)
    tol = {"rtol": 1e-6, "atol": 1e-9, name: value}
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        wf.train(model, *data, method="flow", t_end=1.0, **tol)
    assert time.perf_counter() - t0 < 2.0


@pytest.mark.parametrize("family", FAMILIES)
def test_cpp_call_with_nan_step_size_fails_fast_with_a_reason(family):
    """The old integrator looped forever here (initial step inf/inf = NaN, and NaN < 1e-14 is false)."""
    model, data = _model(family)
    engine = model._flow_engine(data, {"tableau": "dopri5"})
    t_out, loss_out = np.empty(10**6), np.empty(10**6)
    t0 = time.perf_counter()
    steps, reached, failed = engine.integrate(1.0, 1e-200, 1e-200, 10**6, t_out, loss_out)
    assert time.perf_counter() - t0 < 1.0
    assert failed and not reached
    assert "step size" in engine.failure()


@pytest.mark.parametrize("family", FAMILIES)
def test_driver_with_hostile_tolerances_ends_diverged_with_the_reason(family):
    """Even past the argument checks (run_flow called directly), the run ends as diverged, says why,
    and the model keeps its (finite) state."""
    model, data = _model(family)
    engine = model._flow_engine(data, {"tableau": "dopri5"})
    t0 = time.perf_counter()
    with pytest.warns(wf.DivergenceWarning, match="step size"):
        run = run_flow(engine, 1.0, rtol=1e-200, atol=1e-200, progress=False)
    assert time.perf_counter() - t0 < 2.0
    assert run.status == "diverged"
    assert np.isfinite(run.loss).all()


def test_every_cpp_call_returns_within_its_time_budget():
    """A valid but long flow (tight tolerance, far t_end) asked for 10^9 steps in one call comes back
    after about 0.5 s, neither reached nor failed, so the driver can look at Ctrl-C."""
    x = np.linspace(-1, 1, 200)
    net = wf.ShallowReLU.init(4000, seed=0)
    engine = net._flow_engine((x, np.sign(np.sin(4 * x))), {"tableau": "dopri5"})
    n = 10**7
    t_out, loss_out = np.empty(n), np.empty(n)
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        steps, reached, failed = engine.integrate(1e9, 1e-13, 1e-13, n, t_out, loss_out)
        times.append(time.perf_counter() - t0)
        assert not reached and not failed and steps < n
    assert max(times) < 1.5, times


def test_valid_tight_tolerances_still_accepted():
    model, data = _model("factorization")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = wf.train(model, *data, method="flow", t_end=0.5, rtol=1e-13, atol=1e-100)
    assert run.status == "completed"
