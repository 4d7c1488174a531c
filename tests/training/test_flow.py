"""Gradient flow (method="flow"): adaptive Runge-Kutta on the fused kernels."""

import numpy as np
import pytest

import wideflow as wf
from wideflow import _reference as R
from wideflow import datasets


@pytest.fixture
def data():
    return datasets.load("square10")


def small_net(m=64, dtype="float64", seed=3, **kw):
    kw.setdefault("inner_scale", 1.0)
    return wf.ShallowReLU.init(m, dtype=dtype, seed=seed, **kw)


def smooth_net(m=40, seed=0, dtype="float64", alpha=None):
    """Knots well outside the data hull [-1, 1], so no knot crosses a sample over short flow times and
    the flow is smooth (crossings make the right-hand side discontinuous and force tiny steps)."""
    rng = np.random.default_rng(seed)
    a = rng.choice([-1.0, 1.0], m) * rng.uniform(0.5, 1.5, m)
    knots = rng.choice([-1.0, 1.0], m) * rng.uniform(1.6, 3.0, m)
    c = rng.standard_normal(m)
    return wf.ShallowReLU(a, -a * knots, c, alpha=np.sqrt(m) if alpha is None else alpha, dtype=dtype)


def reference_flow(net, x, y, t_end, train="all"):
    """An independent integration: SciPy's DOP853 on the NumPy reference gradient."""
    from scipy.integrate import solve_ivp

    m = net.width
    inner = 0.0 if train == "outer" else 1.0
    outer = 0.0 if train == "inner" else 1.0

    def rhs(t, z):
        a, b, c = z[:m], z[m : 2 * m], z[2 * m :]
        _, ga, gb, gc = R.shallow_gradients(a, b, c, net.alpha, x, y)
        return -np.concatenate([inner * ga, inner * gb, outer * gc])

    z0 = np.concatenate([net.a, net.b, net.c])
    sol = solve_ivp(rhs, (0.0, t_end), z0, method="DOP853", rtol=1e-11, atol=1e-13)
    return sol.y[:, -1]


@pytest.mark.parametrize("tableau", ["dopri5", "bs32"])
def test_flow_matches_independent_integration(data, tableau):
    x, y = data
    net = smooth_net()
    ref = reference_flow(net, x, y, t_end=0.5)
    run = wf.train(net, x, y, method="flow", t_end=0.5, rtol=1e-9, atol=1e-12, tableau=tableau)
    assert run.status == "completed" and run.method == "flow"
    got = np.concatenate([net.a, net.b, net.c])
    assert np.max(np.abs(got - ref)) < 1e-6 * max(1.0, np.max(np.abs(ref)))
    assert run.t[0] == 0.0 and run.t[-1] == 0.5
    assert run.info["gradient_evals"] > run.info["accepted"] > 0


def test_flow_conserves_invariant_to_rtol_while_gd_drifts(data):
    """delta_i = c_i^2 - a_i^2 - b_i^2 is conserved by the flow; GD with a fixed step drifts O(lr) at a
    fixed flow time."""
    x, y = data
    base = small_net(m=100, inner_scale=0.5, seed=1)
    d0 = base.invariant()
    drift_flow = {}
    for rtol in (1e-4, 1e-7):
        net = base.copy()
        wf.train(net, x, y, method="flow", t_end=30.0, rtol=rtol, atol=rtol * 1e-3)
        drift_flow[rtol] = np.max(np.abs(net.invariant() - d0))
    drift_gd = {}
    for lr in (0.2, 0.1):
        net = base.copy()
        wf.train(net, x, y, lr=lr, steps=int(round(30.0 / lr)))
        drift_gd[lr] = np.max(np.abs(net.invariant() - d0))
    assert drift_flow[1e-7] < 1e-5
    assert drift_flow[1e-7] < drift_flow[1e-4]
    assert 1.6 < drift_gd[0.2] / drift_gd[0.1] < 2.4  # linear in lr
    assert drift_flow[1e-7] < 1e-2 * drift_gd[0.1]


def test_error_falls_with_rtol_as_the_order_predicts(data):
    """Global error of the adaptive pairs scales like rtol (tolerance proportionality): tightening rtol
    by 100x shrinks the error by one to three decades, and the 5th-order pair needs fewer steps than the
    3rd-order one at tight tolerances."""
    x, y = data
    net0 = smooth_net(seed=5, alpha=2.0)
    ref = reference_flow(net0, x, y, t_end=0.5)
    errs = []
    for rtol in (1e-4, 1e-6, 1e-8):
        net = net0.copy()
        wf.train(net, x, y, method="flow", t_end=0.5, rtol=rtol, atol=rtol * 1e-2)
        errs.append(np.max(np.abs(np.concatenate([net.a, net.b, net.c]) - ref)))
    for coarse, fine in zip(errs, errs[1:]):
        assert 10.0 < coarse / fine < 1e4
    steps = {}
    for tableau in ("dopri5", "bs32"):
        run = wf.train(net0.copy(), x, y, method="flow", t_end=0.5, rtol=1e-8, atol=1e-10, tableau=tableau)
        steps[tableau] = run.info["accepted"]
    assert steps["dopri5"] < steps["bs32"]


def test_flow_train_modes_and_float32(data):
    x, y = data
    net = small_net(m=50)
    a0, b0 = net.a.copy(), net.b.copy()
    wf.train(net, x, y, method="flow", t_end=5.0, train="outer")
    assert np.array_equal(net.a, a0) and np.array_equal(net.b, b0)
    n32 = small_net(m=50, dtype="float32")
    n64 = small_net(m=50, dtype="float64")
    wf.train(n32, x, y, method="flow", t_end=5.0, rtol=1e-5, atol=1e-7)
    wf.train(n64, x, y, method="flow", t_end=5.0, rtol=1e-5, atol=1e-7)
    assert n32.a.dtype == np.float32
    assert np.max(np.abs(n32.c - n64.c)) < 1e-3


def test_flow_records_requested_times_and_snapshots(data):
    x, y = data
    net = small_net(m=30)
    times = [0.5, 1.0, 2.5]
    run = wf.train(net, x, y, method="flow", t_end=4.0, record=times, snapshots=[1.0, 2.5])
    assert list(run.t) == [0.0, 0.5, 1.0, 2.5, 4.0]
    assert np.all(np.diff(run.steps) >= 0)
    assert [t for t, _ in run.snapshots] == [1.0, 2.5]
    assert run.loss[-1] == pytest.approx(R.shallow_gradients(net.a, net.b, net.c, net.alpha, x, y)[0], rel=1e-12)


@pytest.mark.slow
def test_flow_thread_count_does_not_change_bits(data):
    x, y = data
    nets = [small_net(m=300_000, seed=2) for _ in range(2)]
    for net, threads in zip(nets, (1, 2)):
        wf.train(net, x, y, method="flow", t_end=0.5, rtol=1e-4, threads=threads)
    assert np.array_equal(nets[0].a, nets[1].a) and np.array_equal(nets[0].c, nets[1].c)


def test_flow_bad_input(data):
    x, y = data
    net = small_net(m=10)
    with pytest.raises(TypeError, match="t_end"):
        wf.train(net, x, y, method="flow")
    with pytest.raises(ValueError, match="t_end"):
        wf.train(net, x, y, method="flow", t_end=-1.0)
    with pytest.raises(ValueError, match="rtol"):
        wf.train(net, x, y, method="flow", t_end=1.0, rtol=0.0)
    with pytest.raises(TypeError, match="lr"):
        wf.train(net, x, y, method="flow", t_end=1.0, lr=0.1)
    with pytest.raises(ValueError, match="tableau"):
        wf.train(net, x, y, method="flow", t_end=1.0, tableau="euler")
    with pytest.raises(TypeError, match="t_end"):
        wf.train(net, x, y, lr=0.1, steps=3, t_end=1.0)
    with pytest.raises(ValueError, match="record"):
        wf.train(net, x, y, method="flow", t_end=1.0, record=[2.0])


def test_gd_reports_flow_time(data):
    x, y = data
    run = wf.train(small_net(m=20), x, y, lr=wf.schedules.inverse_power(0.1, 0.5), steps=50, record="all")
    expected = np.concatenate([[0.0], np.cumsum(0.1 / np.sqrt(np.arange(50) + 1.0))])
    np.testing.assert_allclose(run.t, expected, rtol=1e-13)


# ---------------------------------------------------------------------------------------------- Factorization
def spectral_problem(seed=0, u0=0.6, v0=0.05):
    from wideflow import linear_theory as lt

    Y = np.random.default_rng(seed).standard_normal((5, 10))
    U0, V0 = lt.spectral_init(Y, 50, u0, v0, seed=seed)
    return Y, U0, V0


@pytest.mark.parametrize("rtol", [1e-6, 1e-9])
def test_factorization_flow_matches_closed_form_to_rtol(rtol):
    """Spectral init: X(t) = Phi diag(x_i(t)) Psi^T with the closed-form scalar modes (Tarmoun et al.)."""
    from wideflow import linear_theory as lt

    Y, U0, V0 = spectral_problem()
    times = [0.5, 1.0, 2.0, 4.0, 8.0]
    fac = wf.Factorization(U0, V0)
    run = wf.train(fac, Y, method="flow", t_end=8.0, rtol=rtol, atol=rtol * 1e-2, snapshots=times)
    scale = np.linalg.norm(Y)
    for t, snap in run.snapshots:
        X = snap["U"] @ snap["V"].T
        err = np.linalg.norm(X - lt.spectral_solution(t, Y, 0.6, 0.05)) / scale
        assert err < 50 * rtol, (t, err)


def test_factorization_flow_conserves_imbalance_while_gd_drifts():
    Y = np.random.default_rng(1).standard_normal((5, 10))
    base = wf.Factorization.init(5, 10, 50, scale=0.3, seed=1)
    Q0 = base.imbalance()
    fac = base.copy()
    run = wf.train(fac, Y, method="flow", t_end=10.0, rtol=1e-9, atol=1e-11, metrics=["q_drift"])
    drift_flow = np.linalg.norm(fac.imbalance() - Q0)
    assert drift_flow < 1e-7 * np.linalg.norm(Q0)
    assert run.metrics["q_drift"][-1] == pytest.approx(drift_flow, rel=1e-6, abs=1e-12)
    drifts = []
    for lr in (1e-2, 5e-3):
        g = base.copy()
        wf.train(g, Y, lr=lr, steps=int(round(10.0 / lr)), metrics=False)
        drifts.append(np.linalg.norm(g.imbalance() - Q0))
    assert 1.7 < drifts[0] / drifts[1] < 2.3  # O(lr) at fixed flow time
    assert drift_flow < 1e-3 * drifts[1]


def test_factorization_flow_thread_count_does_not_change_bits():
    """`threads` reaches the integrator (its vector operations run over fixed chunks of the state [U; V], so
    the state is large enough here for two threads to split it) and the bits do not depend on it."""
    Y = np.random.default_rng(3).standard_normal((200, 300))
    facs = [wf.Factorization.init(200, 300, 100, scale=0.1, seed=3) for _ in range(2)]
    runs = [wf.train(f, Y, method="flow", t_end=0.2, rtol=1e-6, threads=th) for f, th in zip(facs, (1, 2))]
    assert np.array_equal(facs[0].U, facs[1].U) and np.array_equal(facs[0].V, facs[1].V)
    assert np.array_equal(runs[0].loss, runs[1].loss)
    with pytest.raises(ValueError, match="threads"):
        wf.train(facs[0], Y, method="flow", t_end=0.1, threads=-1)


# ---------------------------------------------------------------------------------------------- DeepNet
def deep_problem(activation="linear", seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((40, 6))
    Y = rng.standard_normal((40, 3))
    ws = [0.4 * rng.standard_normal((5, 6)), 0.4 * rng.standard_normal((4, 5)), 0.4 * rng.standard_normal((3, 4))]
    return wf.DeepNet(ws, activation=activation), X, Y


def test_deep_linear_flow_conserves_matrix_invariants_while_gd_drifts():
    net0, X, Y = deep_problem("linear")
    G0 = net0.gram_invariants()
    net = net0.copy()
    run = wf.train(net, X, Y, method="flow", t_end=2.0, rtol=1e-10, atol=1e-12)
    assert run.status == "completed" and run.final_loss < run.loss[0]
    flow_drift = max(np.linalg.norm(g - g0) for g, g0 in zip(net.gram_invariants(), G0))
    assert flow_drift < 1e-8
    gd_drift = []
    for lr in (1e-3, 5e-4):
        g = net0.copy()
        wf.train(g, X, Y, lr=lr, steps=int(round(2.0 / lr)), metrics=False)
        gd_drift.append(max(np.linalg.norm(a - b) for a, b in zip(g.gram_invariants(), G0)))
    assert 1.7 < gd_drift[0] / gd_drift[1] < 2.3
    assert flow_drift < 1e-4 * gd_drift[1]
    # and the flow agrees with GD as lr -> 0 (GD error O(lr))
    g = net0.copy()
    wf.train(g, X, Y, lr=2e-3, steps=1000, metrics=False)
    diff = max(np.max(np.abs(a - b)) for a, b in zip(g.weights, net.weights))
    assert diff < 0.05 * max(np.max(np.abs(w)) for w in net.weights)


@pytest.mark.slow
def test_deep_leaky_flow_per_neuron_invariants():
    """Leaky ReLU is non-smooth where a pre-activation crosses 0, so the plain Runge-Kutta pair (events=False)
    needs loose tolerances there; the per-neuron invariants still hold to about the tolerance scale."""
    net, X, Y = deep_problem("leaky_relu", seed=2)
    inv0 = np.concatenate(net.neuron_invariants())
    run = wf.train(net, X, Y, method="flow", t_end=1.0, rtol=1e-6, atol=1e-8, record=[], events=False)
    assert run.status == "completed"
    assert np.max(np.abs(np.concatenate(net.neuron_invariants()) - inv0)) < 1e-3
