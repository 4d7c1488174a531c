"""wf.train on ShallowReLU: the C++ kernels against the NumPy reference, gradients, determinism, the flow
invariant, train modes, recording, divergence, Ctrl-C, and the checks on what train is given."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

import wideflow as wf
from wideflow import _reference as ref

RTOL = {"float64": 1e-12, "float32": 1e-5}
MODES = ("all", "outer", "inner")


def rel_err(got, want) -> float:
    """max |got - want| / max |want| (norm-wise relative error)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-300))


def ref_loss(net_or_params, x, y, alpha=None):
    if isinstance(net_or_params, wf.ShallowReLU):
        a, b, c, alpha = net_or_params.a, net_or_params.b, net_or_params.c, net_or_params.alpha
    else:
        a, b, c = net_or_params
    return ref.shallow_gradients(a, b, c, alpha, x, y)[0]


def params(net):
    return net.a.copy(), net.b.copy(), net.c.copy()


def assert_same_state(net, other):
    for k in "abc":
        np.testing.assert_array_equal(getattr(net, k), getattr(other, k), err_msg=k)


def train_quiet(*args, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(all="ignore"):
            run = wf.train(*args, **kw)
    return run, [w for w in caught if issubclass(w.category, RuntimeWarning) and "train:" in str(w.message)]


# ============================================================================ 1. C++ vs the NumPy reference
# (m, n): one neuron; widths off the SIMD width / block (256); one sample; n > 24 (the sorted kernel's
# binary search) and n >= 512 (its single-lane histogram).
CASES = [(1, 10), (255, 10), (257, 7), (1000, 1), (4099, 13), (300, 40), (1100, 600)]


def case_problem(m, n, dtype):
    rng = np.random.default_rng(1000 * m + n)
    x = rng.uniform(-2.0, 2.0, n)  # unsorted
    if n > 3:
        x[3] = x[0]  # duplicates
        x[-1] = x[1]
    y = np.sin(2.0 * x) + 0.3
    if m == 1:
        net = wf.ShallowReLU([0.8], [0.3], [0.5], alpha=1.0, dtype=dtype)  # knot at -0.375: active on data
        lr = 0.03
    else:
        net = wf.ShallowReLU.init(m, seed=m, dtype=dtype)  # alpha = m
        lr = 0.3 * m / n
    if m == 257:
        net.a[:4] = 0.0  # constant neurons (no knot)
        net.a[4] = -0.0
        # knots exactly on samples: z = a x + b is exactly 0 there (inactive by the relu'(0) = 0 convention)
        for i, j in ((5, 2), (6, 2), (7, 0), (8, 4)):
            net.b[i] = -(net.a[i] * net.dtype.type(x[j]))
            assert net.a[i] * net.dtype.type(x[j]) + net.b[i] == 0
    return net, x, y, lr


@pytest.mark.parametrize("steps", [1, 20])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("m, n", CASES)
def test_gd_matches_reference(m, n, mode, steps, kernel, dtype):
    net, x, y, lr = case_problem(m, n, dtype)
    a0, b0, c0 = params(net)
    run = wf.train(net, x, y, lr=lr, steps=steps, train=mode, kernel=kernel, record="all", progress=False)
    ra, rb, rc, rl = ref.shallow_gd(a0, b0, c0, net.alpha, x, y, [lr] * steps, train=mode)
    tol = RTOL[dtype]
    assert net.dtype == np.dtype(dtype)
    assert run.status == "completed"
    np.testing.assert_array_equal(run.steps, np.arange(steps + 1))
    assert rel_err(net.a, ra) <= tol
    assert rel_err(net.b, rb) <= tol
    assert rel_err(net.c, rc) <= tol
    final_ref = ref_loss((ra, rb, rc), x, y, net.alpha)
    assert rel_err(run.loss, np.append(rl, final_ref)) <= tol
    # the comparison is not vacuous: what trains moved, by more than the tolerance
    if mode != "outer":
        assert rel_err(net.a, a0) > 100 * tol
    if mode != "inner":
        assert rel_err(net.c, c0) > 100 * tol


def test_sample_order_does_not_matter(kernel, messy_data):
    x, y = messy_data
    perm = np.random.default_rng(0).permutation(x.size)
    n1 = wf.ShallowReLU.init(700, seed=1)
    n2 = n1.copy()
    r1 = wf.train(n1, x, y, lr=20.0, steps=30, kernel=kernel)
    r2 = wf.train(n2, x[perm], y[perm], lr=20.0, steps=30, kernel=kernel)
    for k in "abc":
        assert rel_err(getattr(n2, k), getattr(n1, k)) <= 1e-12
    assert rel_err(r2.loss, r1.loss) <= 1e-12


def test_kernels_agree_on_long_run(messy_data, dtype):
    x, y = messy_data
    nets = {k: wf.ShallowReLU.init(2000, seed=3, dtype=dtype) for k in ("direct", "sorted")}
    runs = {k: wf.train(net, x, y, lr=50.0, steps=200, kernel=k) for k, net in nets.items()}
    tol = 100 * RTOL[dtype]  # 200 steps: allow some amplification of rounding differences
    for p in "abc":
        assert rel_err(getattr(nets["sorted"], p), getattr(nets["direct"], p)) <= tol
    assert rel_err(runs["sorted"].loss, runs["direct"].loss) <= tol
    assert runs["direct"].final_loss < 0.5 * runs["direct"].loss[0]  # it did learn


# ============================================================================ 3. gradients
def _fd_gradient(net, x, y, h=1e-6):
    a, b, c = params(net)
    out = []
    for k, arr in enumerate((a, b, c)):
        g = np.empty_like(arr)
        for i in range(arr.size):
            vals = []
            for sgn in (1.0, -1.0):
                p = [a.copy(), b.copy(), c.copy()]
                p[k][i] += sgn * h
                vals.append(ref_loss(p, x, y, net.alpha))
            g[i] = (vals[0] - vals[1]) / (2 * h)
        out.append(g)
    return out


def _gradient_problem(square10):
    x, y = square10
    net = wf.ShallowReLU.init(7, seed=8, alpha=1.0, outer_scale=0.5)
    z = np.multiply.outer(x, net.a) + net.b
    assert np.abs(z).min() > 1e-2  # no kink within the finite-difference step
    assert (z > 0).any(axis=0).all()  # every neuron has a gradient
    return net, x, y


def test_first_step_is_minus_lr_times_gradient(square10, kernel):
    net, x, y = _gradient_problem(square10)
    g_fd = _fd_gradient(net, x, y)
    before = params(net)
    lr = 1e-3
    wf.train(net, x, y, lr=lr, steps=1, kernel=kernel)
    for name, p0, p1, g in zip("abc", before, params(net), g_fd):
        g_step = (p0 - p1) / lr
        assert np.max(np.abs(g_step - g)) <= 1e-7 * np.max(np.abs(g)), name


def test_first_step_decreases_loss_by_lr_grad_squared(square10, kernel):
    net, x, y = _gradient_problem(square10)
    g2 = sum(float(g @ g) for g in _fd_gradient(net, x, y))
    lr = 1e-7
    run = wf.train(net, x, y, lr=lr, steps=1, kernel=kernel, record="all")
    drop = run.loss[1] - run.loss[0]
    assert drop < 0
    np.testing.assert_allclose(drop, -lr * g2, rtol=1e-4)


# ============================================================================ 4. thread-count determinism
@pytest.mark.parametrize("n", [10, 40])
@pytest.mark.parametrize("mode", ["all", "outer"])
def test_threads_bitwise_identical(n, mode, kernel):
    m = 300_000  # many chunks for both kernels
    rng = np.random.default_rng(n)
    x = rng.uniform(-1.5, 1.5, n)
    y = np.sin(3 * x)
    out = []
    for threads in (1, 2, None):
        net = wf.ShallowReLU.init(m, seed=0)
        run = wf.train(net, x, y, lr=0.3 * m / n, steps=4, threads=threads, kernel=kernel, record="all")
        out.append((net, run))
    (n1, r1), (n2, r2), (nd, rd) = out
    assert r1.loss[-1] < r1.loss[0]
    assert_same_state(n1, n2)
    assert_same_state(n1, nd)
    np.testing.assert_array_equal(r1.loss, r2.loss)
    np.testing.assert_array_equal(r1.loss, rd.loss)


def test_threads_bitwise_identical_sorted_many_samples():
    m, n = 300_000, 600  # the sorted kernel's single-lane histogram path
    x = np.random.default_rng(1).uniform(-1.5, 1.5, n)
    y = np.cos(2 * x)
    nets = [wf.ShallowReLU.init(m, seed=1) for _ in range(2)]
    runs = [
        wf.train(net, x, y, lr=0.3 * m / n, steps=3, threads=t, kernel="sorted", record="all")
        for net, t in zip(nets, (1, 2))
    ]
    assert runs[0].loss[-1] < runs[0].loss[0]
    assert_same_state(nets[0], nets[1])
    np.testing.assert_array_equal(runs[0].loss, runs[1].loss)


# ============================================================================ 5. the flow invariant
def _invariant_net():
    return wf.ShallowReLU.init(20, seed=2, alpha=1.0, inner_scale=0.7, outer_scale=0.7)


def test_invariant_one_step_change_is_lr_squared(square10, kernel):
    x, y = square10
    net = _invariant_net()
    _, ga, gb, gc = ref.shallow_gradients(net.a, net.b, net.c, net.alpha, x, y)
    d0 = net.invariant()
    lr = 0.01
    wf.train(net, x, y, lr=lr, steps=1, kernel=kernel)
    predicted = lr**2 * (gc**2 - ga**2 - gb**2)
    assert np.max(np.abs(predicted)) > 1e-4  # a change well above rounding
    assert np.max(np.abs((net.invariant() - d0) - predicted)) <= 1e-9 * np.max(np.abs(predicted))


def test_invariant_drift_is_first_order_in_lr(square10, kernel):
    x, y = square10
    t_end = 1.0
    drift = {}
    for lr in (2e-3, 1e-3):
        net = _invariant_net()
        d0 = net.invariant()
        run = wf.train(net, x, y, lr=lr, steps=int(round(t_end / lr)), kernel=kernel)
        np.testing.assert_allclose(run.t[-1], t_end, rtol=1e-12)
        drift[lr] = np.linalg.norm(net.invariant() - d0)
    assert run.final_loss < 0.5 * run.loss[0]  # the parameters moved a lot ...
    assert drift[1e-3] < 1e-2 * np.linalg.norm(d0)  # ... the invariant barely
    assert 1.7 <= drift[2e-3] / drift[1e-3] <= 2.3


# ============================================================================ 6. train modes
@pytest.mark.parametrize("mode", ["outer", "inner"])
def test_train_mode_freezes_the_other_layer(mode, square10, kernel, dtype):
    x, y = square10
    net = wf.ShallowReLU.init(300, seed=4, dtype=dtype)
    a0, b0, c0 = params(net)
    run = wf.train(net, x, y, lr=30.0, steps=50, train=mode, kernel=kernel)
    assert run.final_loss < run.loss[0]
    if mode == "outer":
        np.testing.assert_array_equal(net.a, a0)
        np.testing.assert_array_equal(net.b, b0)
        assert not np.array_equal(net.c, c0)
    else:
        np.testing.assert_array_equal(net.c, c0)
        assert not np.array_equal(net.a, a0)
        assert not np.array_equal(net.b, b0)


def test_outer_converges_to_min_norm_solution(kernel):
    x = np.array([0.8, -1.5, 0.1, 1.6, -0.7])  # 5 distinct points, unsorted
    y = np.array([1.2, 0.5, 0.3, -0.4, -1.0])
    net = wf.ShallowReLU.init(50, scheme="uniform_knots", seed=3, alpha=1.0)
    phi = np.maximum(np.multiply.outer(x, net.a) + net.b, 0.0) / net.alpha  # (n, m) features
    gram = phi @ phi.T
    ev = np.linalg.eigvalsh(gram)
    assert ev[0] > 1e-3 * ev[-1]  # full row rank, modest condition number
    c0 = net.c.copy()
    c_star = c0 + phi.T @ np.linalg.solve(gram, y - net(x))
    lr = 1.0 / ev[-1]
    steps = int(np.ceil(40.0 / (lr * ev[0])))  # (1 - lr ev_min)^steps < e^-40
    run = wf.train(net, x, y, lr=lr, steps=steps, train="outer", kernel=kernel)
    assert run.status == "completed"
    assert np.max(np.abs(c_star - c0)) > 0.1  # c had a long way to go
    assert np.max(np.abs(net.c - c_star)) <= 1e-9 * np.max(np.abs(c_star))
    assert run.final_loss < 1e-20


# ============================================================================ 7. recording
def test_record_all(square10, kernel):
    x, y = square10
    net = wf.ShallowReLU.init(100, seed=0)
    a0, b0, c0 = params(net)
    lr, steps = 5.0, 37
    run = wf.train(net, x, y, lr=lr, steps=steps, record="all", kernel=kernel)
    np.testing.assert_array_equal(run.steps, np.arange(steps + 1))
    assert run.loss.shape == run.t.shape == (steps + 1,)
    _, _, _, rl = ref.shallow_gd(a0, b0, c0, net.alpha, x, y, [lr] * steps)
    assert rel_err(run.loss[:-1], rl) <= 1e-12
    assert abs(run.loss[0] - ref_loss((a0, b0, c0), x, y, net.alpha)) <= 1e-14 * run.loss[0]
    assert run.final_loss == run.loss[-1]
    assert run.final_step == steps
    np.testing.assert_allclose(run.final_loss, 0.5 * np.sum((net(x) - y) ** 2), rtol=1e-12)
    np.testing.assert_allclose(run.t, lr * np.arange(steps + 1), rtol=1e-14)


@pytest.mark.parametrize("steps, k", [(100, 10), (101, 10), (7, 3), (5, 1), (5, 50)])
def test_record_interval(square10, steps, k):
    x, y = square10
    run = wf.train(wf.ShallowReLU.init(50, seed=0), x, y, lr=1.0, steps=steps, record=k)
    expected = np.union1d(np.arange(0, steps + 1, k), [steps])
    np.testing.assert_array_equal(run.steps, expected)
    assert np.all(np.isfinite(run.loss)) and np.all(np.isfinite(run.t))


def test_record_list(square10):
    x, y = square10
    net = wf.ShallowReLU.init(50, seed=0)
    a0, b0, c0 = params(net)
    run = wf.train(net, x, y, lr=2.0, steps=30, record=[17, 3, 3, 25])
    np.testing.assert_array_equal(run.steps, [0, 3, 17, 25, 30])
    _, _, _, rl = ref.shallow_gd(a0, b0, c0, net.alpha, x, y, [2.0] * 30)
    assert rel_err(run.loss[:-1], rl[[0, 3, 17, 25]]) <= 1e-12


def test_record_log_default(square10):
    x, y = square10
    run = wf.train(wf.ShallowReLU.init(20, seed=0), x, y, lr=0.5, steps=3000, record_points=50)
    s = run.steps
    assert s[0] == 0 and s[-1] == 3000
    assert np.all(np.diff(s) > 0)
    assert 30 <= s.size <= 52
    big = s[s >= 50]
    gaps = np.diff(big) / big[:-1]  # geometric spacing: relative gaps about (3000)^(1/49) - 1 = 0.18
    assert gaps.max() < 0.25
    assert np.sum(s <= 30) >= 10  # the early steps are resolved too
    short = wf.train(wf.ShallowReLU.init(20, seed=0), x, y, lr=0.5, steps=150)
    np.testing.assert_array_equal(short.steps, np.arange(151))


def test_zero_steps(square10, kernel):
    x, y = square10
    net = wf.ShallowReLU.init(40, seed=0)
    before = params(net)
    run = wf.train(net, x, y, lr=1.0, steps=0, kernel=kernel)
    np.testing.assert_array_equal(run.steps, [0])
    assert run.status == "completed"
    for p0, k in zip(before, "abc"):
        np.testing.assert_array_equal(getattr(net, k), p0)
    np.testing.assert_allclose(run.final_loss, ref_loss(before, x, y, net.alpha), rtol=1e-14)


@pytest.mark.parametrize("schedule_kind", ["callable", "inverse_power", "constant"])
def test_schedules_flow_time_and_trajectory(square10, schedule_kind, kernel):
    x, y = square10
    steps = 60
    if schedule_kind == "callable":
        lr = lambda t: 4.0 + 3.0 * np.cos(t)  # noqa: E731
        etas = np.array([lr(t) for t in range(steps)])
    elif schedule_kind == "inverse_power":
        lr = wf.schedules.inverse_power(8.0, 0.6)
        etas = 8.0 / (1.0 + np.arange(steps)) ** 0.6
    else:
        lr = wf.schedules.constant(3.0)
        etas = np.full(steps, 3.0)
    net = wf.ShallowReLU.init(100, seed=1)
    a0, b0, c0 = params(net)
    run = wf.train(net, x, y, lr=lr, steps=steps, record=[5, 11, 40], kernel=kernel)
    t_all = np.concatenate([[0.0], np.cumsum(etas)])
    np.testing.assert_allclose(run.t, t_all[run.steps], rtol=1e-13)
    ra, rb, rc, rl = ref.shallow_gd(a0, b0, c0, net.alpha, x, y, etas)
    assert rel_err(net.a, ra) <= 1e-12 and rel_err(net.c, rc) <= 1e-12
    assert rel_err(run.loss[:-1], rl[run.steps[:-1]]) <= 1e-12


def test_snapshots_match_reference_and_fresh_runs(square10, kernel):
    x, y = square10
    lr, steps, want = 4.0, 40, [3, 10, 25]
    net = wf.ShallowReLU.init(120, seed=6)
    a0, b0, c0 = params(net)
    run = wf.train(net, x, y, lr=lr, steps=steps, snapshots=want, kernel=kernel)
    got = dict(run.snapshots)
    assert set(want) <= set(got)
    assert all(0 <= s <= steps for s in got)
    for s, snap in got.items():
        ra, rb, rc, _ = ref.shallow_gd(a0, b0, c0, net.alpha, x, y, [lr] * s)
        for k, r in zip("abc", (ra, rb, rc)):
            assert rel_err(snap[k], r) <= 1e-12, (s, k)
        fresh = wf.ShallowReLU(a0, b0, c0, net.alpha)
        wf.train(fresh, x, y, lr=lr, steps=s, kernel=kernel)
        for k in "abc":
            np.testing.assert_array_equal(snap[k], getattr(fresh, k))
    # snapshots are copies, not views of the live parameters
    assert not np.array_equal(got[3]["c"], net.c)


def test_recording_choices_do_not_change_the_trajectory(square10, kernel):
    """Chunk boundaries (set by recording and snapshots) leave the result bitwise unchanged."""
    x, y = square10
    finals = []
    for record, snaps in (("all", None), ("log", None), (7, [3, 50]), ([5, 77], "log"), (1000, 4)):
        net = wf.ShallowReLU.init(300, seed=0)
        run = wf.train(net, x, y, lr=10.0, steps=300, record=record, snapshots=snaps, kernel=kernel)
        finals.append((net, run.final_loss))
    for net, loss in finals[1:]:
        assert_same_state(net, finals[0][0])
        assert loss == finals[0][1]


def test_recorded_losses_do_not_depend_on_chunking(square10, kernel):
    """The loss recorded for a state is the same number whether or not a chunk ended there (chunk sizes
    follow wall-clock timing, so otherwise two identical calls could record different bits)."""
    x, y = square10
    runs = []
    for snaps in (None, list(range(1, 60))):  # snapshots force a chunk break at every step
        net = wf.ShallowReLU.init(100, seed=0)
        runs.append(wf.train(net, x, y, lr=5.0, steps=60, record="all", snapshots=snaps, kernel=kernel))
    np.testing.assert_allclose(runs[0].loss, runs[1].loss, rtol=1e-14)
    np.testing.assert_array_equal(runs[0].loss, runs[1].loss)


def test_training_is_in_place_and_keeps_dtype(square10, kernel, dtype):
    x, y = square10
    net = wf.ShallowReLU.init(64, seed=0, dtype=dtype)
    arrays = (net.a, net.b, net.c)
    view = net.c[:5]
    c_before = net.c.copy()
    wf.train(net, x, y, lr=5.0, steps=10, kernel=kernel)
    assert all(v is w for v, w in zip(arrays, (net.a, net.b, net.c)))
    assert all(v.dtype == np.dtype(dtype) for v in arrays)
    assert not np.array_equal(view, c_before[:5])  # the caller's view sees the update


# ============================================================================ 8. divergence
def _check_rolled_back(run, caught, net, make_net, x, y, lr, mode, kernel):
    assert run.status == "diverged"
    assert run.diverged_at is not None and run.diverged_at >= 1
    assert run.steps[-1] == run.diverged_at - 1
    assert any(f"step {run.diverged_at}" in str(w.message) for w in caught), [str(w.message) for w in caught]
    assert all(np.all(np.isfinite(v)) for v in (net.a, net.b, net.c))
    assert np.all(np.isfinite(run.loss)) and np.all(np.isfinite(run.t))
    assert np.isfinite(run.final_loss)
    fresh = make_net()
    fresh_run = wf.train(fresh, x, y, lr=lr, steps=run.diverged_at - 1, train=mode, kernel=kernel)
    assert_same_state(net, fresh)
    # (bitwise equality of recorded losses across chunkings is test_recorded_losses_do_not_depend_on_chunking)
    np.testing.assert_allclose(run.final_loss, fresh_run.final_loss, rtol=1e-14)
    np.testing.assert_allclose(run.final_loss, 0.5 * np.sum((net(x, kernel=kernel) - y) ** 2), rtol=1e-12)


def test_divergence_outer_geometric_blowup(positive_data, kernel):
    x, y = positive_data

    def make():
        return wf.ShallowReLU.init(100, seed=0, alpha=1.0)

    net = make()
    run, caught = train_quiet(net, x, y, lr=2.0, steps=1000, train="outer", kernel=kernel)
    assert run.diverged_at > 10  # several chunks before it broke: the replay is exercised
    _check_rolled_back(run, caught, net, make, x, y, 2.0, "outer", kernel)


@pytest.mark.parametrize("mode", ["all", "inner"])
def test_divergence_from_a_schedule(positive_data, mode, kernel):
    x, y = positive_data

    def make():
        return wf.ShallowReLU.init(100, seed=0, alpha=1.0)

    def lr(t):
        return 1e-3 if t < 7 else 1e300

    net = make()
    run, caught = train_quiet(net, x, y, lr=lr, steps=1000, train=mode, kernel=kernel, record="all")
    assert run.diverged_at == 8
    np.testing.assert_array_equal(run.steps, np.arange(8))
    _check_rolled_back(run, caught, net, make, x, y, lr, mode, kernel)


def test_divergence_at_first_step(positive_data, kernel):
    x, y = positive_data

    def make():
        return wf.ShallowReLU.init(100, seed=0, alpha=1.0)

    net = make()
    run, caught = train_quiet(net, x, y, lr=1e300, steps=50, kernel=kernel)
    assert run.diverged_at == 1
    np.testing.assert_array_equal(run.steps, [0])
    _check_rolled_back(run, caught, net, make, x, y, 1e300, "all", kernel)


def test_divergence_warning_is_a_runtime_warning(positive_data):
    x, y = positive_data
    net = wf.ShallowReLU.init(100, seed=0, alpha=1.0)
    with pytest.warns(RuntimeWarning, match=r"diverged at step \d+"):
        with np.errstate(all="ignore"):
            wf.train(net, x, y, lr=2.0, steps=1000, train="outer")


@pytest.mark.parametrize("mode, lr", [("outer", 2.0), ("all", lambda t: 1e-3 if t < 7 else 1e300)])
def test_divergence_keep_finite_false(positive_data, mode, lr, kernel):
    x, y = positive_data
    net = wf.ShallowReLU.init(100, seed=0, alpha=1.0)
    ref_net = net.copy()
    ref_run, _ = train_quiet(ref_net, x, y, lr=lr, steps=1000, train=mode, kernel=kernel)
    run, caught = train_quiet(net, x, y, lr=lr, steps=1000, train=mode, kernel=kernel, keep_finite=False, record="all")
    assert run.status == "diverged"
    assert run.diverged_at == ref_run.diverged_at
    assert run.steps[-1] == run.diverged_at
    assert np.isnan(run.final_loss)
    # the recorded trajectory up to the break is the same as with keep_finite=True
    np.testing.assert_allclose(run.loss[:-1][ref_run.steps], ref_run.loss, rtol=1e-14)
    # the model holds the first non-finite state: non-finite parameters or a non-finite loss
    with np.errstate(all="ignore"):
        finite_params = all(np.all(np.isfinite(v)) for v in (net.a, net.b, net.c))
        finite_state = finite_params and np.isfinite(0.5 * np.sum((net(x, kernel=kernel) - y) ** 2))
    assert not finite_state
    msgs = [str(w.message) for w in caught]
    assert any(f"step {run.diverged_at}" in m for m in msgs), msgs
    # the warning must not claim that the last finite state is the (non-finite) step it stopped at
    assert not any(f"last finite state, step {run.diverged_at}" in m for m in msgs), msgs


def test_initial_non_finite_loss(square10):
    x, y = square10
    net = wf.ShallowReLU([1e200, -1e200], [1e200, 1e200], [1e200, 1e200], alpha=1.0)
    before = params(net)
    run, caught = train_quiet(net, x, y, lr=0.1, steps=10)
    assert run.status == "diverged" and run.diverged_at == 0
    assert caught
    for p0, k in zip(before, "abc"):
        np.testing.assert_array_equal(getattr(net, k), p0)
    # nothing was trained: the record holds step 0 only
    np.testing.assert_array_equal(run.steps, [0])


def test_train_rejects_nonfinite_parameters(square10, kernel):
    """A NaN written into the public parameter arrays is bad input, not a divergence at step 1 that
    'keeps' a non-finite state."""
    x, y = square10
    net = wf.ShallowReLU.init(10, seed=0)
    net.a[3] = np.nan
    with pytest.raises(ValueError, match=r"^a\b"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wf.train(net, x, y, lr=0.1, steps=2, kernel=kernel)


def test_train_rejects_replaced_parameter_of_wrong_dtype(square10):
    x, y = square10
    net = wf.ShallowReLU.init(10, seed=0)
    net.c = net.c.astype(np.float32)
    with pytest.raises((TypeError, ValueError), match=r"^c\b"):
        wf.train(net, x, y, lr=0.1, steps=2)


# ============================================================================ 9. bad input
@pytest.fixture
def net10():
    return wf.ShallowReLU.init(10, seed=0)


def _unchanged(net, before):
    for p0, k in zip(before, "abc"):
        np.testing.assert_array_equal(getattr(net, k), p0)


@pytest.mark.parametrize(
    "data, exc, pattern",
    [
        ((np.zeros(3), np.zeros(4)), ValueError, r"^x and y: lengths differ"),
        ((np.array([0.0, np.nan]), np.zeros(2)), ValueError, r"^x\b"),
        ((np.array([0.0, np.inf]), np.zeros(2)), ValueError, r"^x\b"),
        ((np.zeros(2), np.array([1.0, -np.inf])), ValueError, r"^y\b"),
        ((np.zeros(2), np.array([np.nan, 1.0])), ValueError, r"^y\b"),
        ((np.zeros(0), np.zeros(0)), ValueError, r"^x\b"),
        ((np.zeros((2, 2)), np.zeros(4)), ValueError, r"^x\b"),
        ((np.zeros(2), ["a", "b"]), TypeError, r"^y\b"),
        ((np.zeros(3),), TypeError, r"data arguments"),
        ((np.zeros(3), np.zeros(3), np.zeros(3)), TypeError, r"data arguments"),
    ],
)
def test_train_bad_data(net10, data, exc, pattern):
    before = params(net10)
    with pytest.raises(exc, match=pattern):
        wf.train(net10, *data, lr=0.1, steps=3)
    _unchanged(net10, before)


@pytest.mark.parametrize(
    "lr, exc",
    [
        (0.0, ValueError),
        (-1.0, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        ("0.1", TypeError),
        (None, TypeError),
    ],
)
def test_train_bad_lr(net10, square10, lr, exc):
    x, y = square10
    before = params(net10)
    with pytest.raises(exc, match=r"^lr\b"):
        wf.train(net10, x, y, lr=lr, steps=3)
    _unchanged(net10, before)


@pytest.mark.parametrize("bad", [-0.5, 0.0, float("nan")])
def test_train_schedule_bad_value_names_lr_and_step(net10, square10, bad):
    x, y = square10
    with pytest.raises(ValueError, match=r"^lr\b.*step 5\b"):
        wf.train(net10, x, y, lr=lambda t: bad if t == 5 else 0.1, steps=10)


@pytest.mark.parametrize(
    "steps, exc",
    [
        (-1, ValueError),
        (2.5, TypeError),
        ("3", TypeError),
        (None, TypeError),
        (True, TypeError),
        (np.float64(3.0), TypeError),
    ],
)
def test_train_bad_steps(net10, square10, steps, exc):
    x, y = square10
    with pytest.raises(exc, match=r"^steps\b"):
        wf.train(net10, x, y, lr=0.1, steps=steps)


def test_train_accepts_numpy_integer_steps(net10, square10):
    x, y = square10
    run = wf.train(net10, x, y, lr=0.1, steps=np.int64(4))
    assert run.steps[-1] == 4


@pytest.mark.parametrize(
    "option, value, exc, pattern",
    [
        ("train", "middle", ValueError, r"^train\b"),
        ("kernel", "fft", ValueError, r"^kernel\b"),
        ("method", "adam", ValueError, r"^method\b"),
        ("threads", 0, ValueError, r"^threads\b"),
        ("threads", 1.5, TypeError, r"^threads\b"),
        ("record", 0, ValueError, r"^record\b"),
        ("record", "sometimes", ValueError, r"^record\b"),
        ("record", [3, 99], ValueError, r"^record\b"),
        ("record_points", 1, ValueError, r"^record_points\b"),
        ("snapshots", "often", ValueError, r"^snapshots\b"),
        ("snapshots", 1, ValueError, r"^snapshots\b"),
        ("snapshots", [3, 99], ValueError, r"^snapshots\b"),
        ("snapshots", ["a"], TypeError, r"^snapshots\b"),
        ("momentum", 0.9, TypeError, r"momentum"),
    ],
)
def test_train_bad_options(net10, square10, option, value, exc, pattern):
    x, y = square10
    before = params(net10)
    with pytest.raises(exc, match=pattern):
        wf.train(net10, x, y, lr=0.1, steps=10, **{option: value})
    _unchanged(net10, before)


def test_train_bad_model(square10):
    x, y = square10
    with pytest.raises(TypeError, match=r"^model\b"):
        wf.train(object(), x, y, lr=0.1, steps=3)


def test_schedule_constructors_check_arguments():
    with pytest.raises(ValueError, match=r"^eta0\b"):
        wf.schedules.inverse_power(-1.0, 0.5)
    with pytest.raises(ValueError, match=r"^power\b"):
        wf.schedules.inverse_power(1.0, -0.5)
    with pytest.raises(ValueError, match=r"^eta\b"):
        wf.schedules.constant(0.0)


# ============================================================================ 12. Ctrl-C
_CHILD = textwrap.dedent("""
    import signal, sys, warnings
    import numpy as np
    import wideflow as wf
    x = np.linspace(-1, 1, 50)
    y = np.sin(3 * x)
    net = wf.ShallowReLU.init(20000, seed=0)
    print("READY", flush=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = wf.train(net, x, y, lr=1.0, steps=10**9, progress=False, kernel=sys.argv[1])
    finite = all(np.isfinite(v).all() for v in (net.a, net.b, net.c))
    loss_now = 0.5 * float(np.sum((net(x) - y) ** 2))
    fresh = wf.ShallowReLU.init(20000, seed=0)
    wf.train(fresh, x, y, lr=1.0, steps=int(run.steps[-1]), progress=False, kernel=sys.argv[1])
    same = all(np.array_equal(getattr(net, k), getattr(fresh, k)) for k in "abc")
    restored = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    msg = [str(w.message) for w in caught if "interrupted" in str(w.message)]
    print("RESULT", run.status, int(run.steps[-1]), finite, bool(np.isfinite(run.loss).all()),
          abs(run.final_loss - loss_now) <= 1e-9 * loss_now, same, restored, len(msg), flush=True)
""")


@pytest.mark.slow
def test_ctrl_c_interrupts_and_keeps_state(kernel):
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, kernel], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "READY"
        time.sleep(0.8)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    line = [ln for ln in out.splitlines() if ln.startswith("RESULT")]
    assert line, out + err
    _, status, last, finite, loss_finite, loss_ok, same, restored, nmsg = line[0].split()
    assert status == "interrupted"
    assert int(last) > 0
    assert finite == "True" and loss_finite == "True"
    assert loss_ok == "True"  # run.final_loss is the loss of the state the model holds
    assert same == "True"  # that state is the state after run.steps[-1] steps
    assert restored == "True"  # the SIGINT handler is put back
    assert int(nmsg) == 1
