"""Runtime CPU dispatch: every compiled instruction set agrees with the NumPy reference, gives the same
bits for every thread count, and (the kernels have fixed lanes and no FP contraction) the same bits as
every other instruction set; WIDEFLOW_ISA forces a lower set; build_info() says what runs."""

import os
import subprocess
import sys

import numpy as np
import pytest

import wideflow as wf
from wideflow import _core
from wideflow import _reference as R

INFO = wf.build_info()
ORDER = ["baseline", "avx2", "avx512"]
RUNNABLE = [isa for isa in INFO["isa_compiled"] if ORDER.index(isa) <= ORDER.index(INFO["isa_cpu"])]


@pytest.fixture
def isa():
    """Restore the import-time instruction set after a test switches it."""
    before = _core.isa()
    yield
    _core._set_isa(before)


def test_build_info_fields():
    for key in (
        "compiler",
        "flags",
        "kernel_flags",
        "native",
        "openmp",
        "isa",
        "isa_compiled",
        "isa_cpu",
        "isa_requested",
        "threads_available",
    ):
        assert key in INFO
    assert INFO["isa"] in ORDER and INFO["isa"] in INFO["isa_compiled"]
    assert INFO["isa_compiled"][0] == "baseline"
    assert INFO["openmp"] == wf.openmp_enabled()
    assert "-ffast-math" not in INFO["flags"] + INFO["kernel_flags"]
    if not INFO["isa_requested"]:  # no request: the best the CPU and the build allow
        best = min(ORDER.index(INFO["isa_cpu"]), ORDER.index(INFO["isa_compiled"][-1]))
        assert INFO["isa"] == ORDER[best]


def test_set_isa_rejects_unknown_and_unavailable(isa):
    with pytest.raises(ValueError, match="unknown instruction set"):
        _core._set_isa("sse9")
    higher = [s for s in ORDER if ORDER.index(s) > ORDER.index(RUNNABLE[-1])]
    for name in higher:
        with pytest.raises(ValueError, match="not available"):
            _core._set_isa(name)


def _train(kernel, n, dtype, threads, m=40_000, steps=5, seed=3):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1.2, 1.2, n))
    x[: n // 4] = np.round(x[: n // 4], 1)  # duplicates
    y = np.sin(3 * x)
    net = wf.ShallowReLU.init(m, seed=seed, dtype=dtype, alpha="sqrt")
    k = m // 5
    net.b[:k] = (-net.a[:k] * rng.choice(x, k)).astype(dtype)  # knots on (or next to) samples
    run = wf.train(net, x, y, lr=0.2, steps=steps, kernel=kernel, threads=threads, record="all")
    return net, run, x


CASES = [("direct", 10), ("sorted", 10), ("sorted", 24), ("sorted", 25), ("sorted", 700)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kernel,n", CASES)
def test_every_isa_same_bits_and_thread_independent(kernel, n, dtype, isa):
    results = {}
    for name in RUNNABLE:
        _core._set_isa(name)
        for threads in (1, 2):
            net, run, _ = _train(kernel, n, dtype, threads)
            results[name, threads] = (net.a.copy(), net.b.copy(), net.c.copy(), np.asarray(run.loss))
    ref = results[RUNNABLE[0], 1]
    for key, got in results.items():
        for g, r in zip(got, ref):
            np.testing.assert_array_equal(g, r, err_msg=f"{key} differs from {RUNNABLE[0]}, 1 thread")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("n", [1, 3, 15, 16])
def test_fused_path_edges_same_bits(n, dtype, isa):
    """The sorted kernel's fused small-n path at its edges: one sample tile shorter than a full one, the
    last n of the AVX-512 permute tables (15) and the first past them (16), and a width that is not a
    whole number of vectors (the last neurons go through the scalar tail of each lane group)."""
    results = {}
    for name in RUNNABLE:
        _core._set_isa(name)
        for threads in (1, 2):
            net, run, _ = _train("sorted", n, dtype, threads, m=10_007, steps=4)
            results[name, threads] = (net.a.copy(), net.b.copy(), net.c.copy(), np.asarray(run.loss))
    ref = results[RUNNABLE[0], 1]
    for key, got in results.items():
        for g, r in zip(got, ref):
            np.testing.assert_array_equal(g, r, err_msg=f"{key} differs from {RUNNABLE[0]}, 1 thread")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kernel,n", [("direct", 7), ("sorted", 9), ("sorted", 40)])
def test_every_isa_matches_reference(kernel, n, dtype, isa):
    tol = {"float64": 1e-10, "float32": 2e-4}[dtype]
    x = np.linspace(-1, 1, n)
    y = np.cos(2 * x)
    base = wf.ShallowReLU.init(999, seed=5, dtype=dtype, alpha="sqrt")
    a, b, c, losses = R.shallow_gd(
        base.a.astype(np.float64), base.b.astype(np.float64), base.c.astype(np.float64), base.alpha, x, y, [0.1] * 3
    )
    for name in RUNNABLE:
        _core._set_isa(name)
        net = base.copy()
        run = wf.train(net, x, y, lr=0.1, steps=3, kernel=kernel, record="all")
        np.testing.assert_allclose(run.loss[:3], losses, rtol=tol)
        for got, want in ((net.a, a), (net.b, b), (net.c, c)):
            assert np.max(np.abs(got - want)) <= tol * max(1.0, np.max(np.abs(want))), name
        grid = np.linspace(-1.3, 1.3, 301)
        want_f = R.shallow_forward(a, b, c, base.alpha, grid)
        for k in ("direct", "sorted"):
            assert np.max(np.abs(net(grid, kernel=k) - want_f)) <= 50 * tol * max(1.0, np.max(np.abs(want_f)))


def _isa_in_subprocess(value):
    env = dict(os.environ, WIDEFLOW_ISA=value)
    code = "import warnings, wideflow as wf; print(wf.build_info()['isa'])"
    out = subprocess.run(
        [sys.executable, "-W", "always", "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return out.stdout.strip(), out.stderr


@pytest.mark.parametrize("name", RUNNABLE)
def test_environment_variable_forces_a_lower_isa(name):
    got, err = _isa_in_subprocess(name)
    assert got == name
    assert "WIDEFLOW_ISA" not in err


def test_environment_variable_unknown_value_warns():
    got, err = _isa_in_subprocess("sse9")
    best = min(ORDER.index(INFO["isa_cpu"]), ORDER.index(INFO["isa_compiled"][-1]))
    assert got == ORDER[best]
    assert "unknown instruction set 'sse9'" in err
