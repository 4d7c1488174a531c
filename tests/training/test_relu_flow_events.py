"""The exact gradient flow of a ShallowReLU (method="flow", events=True): kinks located on the continuous
extension, Filippov sliding of knots on samples, records from the dense output.

Verified against what does not trust the integrator: an independent piecewise solve_ivp integration
with the sliding rule (wideflow._reference.shallow_relu_flow), gradient descent with lr -> 0, the
conservation law delta_i = c_i^2 - a_i^2 - b_i^2, and the global error against rtol.
"""

import warnings

import numpy as np
import pytest

import wideflow as wf
from wideflow import _reference as R
from wideflow import datasets
from wideflow.errors import DivergenceWarning


@pytest.fixture
def data():
    return datasets.load("square10")


def base_net(m=20, seed=1):
    return wf.ShallowReLU.init(m, inner_scale=1.0, outer_scale=1.0, seed=seed)


def on_data_net(x, m=12, seed=4):
    """Half of the knots placed exactly on samples at t = 0 (b_i = -a_i x_j)."""
    net = base_net(m, seed)
    j = np.arange(0, m, 2) % x.size
    net.b[::2] = -net.a[::2] * x[j]
    assert np.all(net.a[::2] * x[j] + net.b[::2] == 0.0)
    return net


def state(net):
    return np.concatenate([net.a, net.b, net.c])


def flow(net, x, y, t_end, rtol=1e-10, **kw):
    return wf.train(net, x, y, method="flow", t_end=t_end, rtol=rtol, atol=rtol * 1e-2, **kw)


@pytest.mark.parametrize("case", ["random", "on_data"])
def test_exact_flow_matches_independent_piecewise_reference(data, case):
    x, y = data
    net = base_net() if case == "random" else on_data_net(x)
    t_end = 200.0 if case == "random" else 50.0
    ar, br, cr, info = R.shallow_relu_flow(net.a, net.b, net.c, net.alpha, x, y, t_end)
    run = flow(net, x, y, t_end, rtol=1e-11)
    assert run.status == "completed"
    assert np.max(np.abs(state(net) - np.concatenate([ar, br, cr]))) < 1e-8
    assert run.info["sliding_entries"] > 0 and run.info["crossings"] > 0
    np.testing.assert_array_equal(run.info["sliding_sample"], info["sliding_sample"])
    on = info["sliding_sample"] >= 0
    assert on.any()
    np.testing.assert_allclose(run.info["sliding_lambda"][on], info["sliding_lambda"][on], rtol=1e-6)
    assert np.all((run.info["sliding_lambda"][on] > 0) & (run.info["sliding_lambda"][on] < 1))
    assert np.all(np.isnan(run.info["sliding_lambda"][~on]))
    # a sliding knot sits exactly on its sample
    j = run.info["sliding_sample"][on]
    assert np.all(net.a[on] * x[j] + net.b[on] == 0.0)
    assert run.info["sliding_at_end"] == on.sum()
    assert run.info["events"] == run.info["crossings"] + run.info["sliding_exits"]


def test_inner_training_matches_reference(data):
    x, y = data
    net = base_net(seed=2)
    c0 = net.c.copy()
    ar, br, cr, _ = R.shallow_relu_flow(net.a, net.b, net.c, net.alpha, x, y, 30.0, train="inner")
    flow(net, x, y, 30.0, rtol=1e-11, train="inner")
    assert np.array_equal(net.c, c0)
    assert np.max(np.abs(np.concatenate([net.a, net.b]) - np.concatenate([ar, br]))) < 1e-8


def test_outer_training_has_no_events_and_matches_plain_flow(data):
    x, y = data
    nets = [base_net(seed=3) for _ in range(2)]
    runs = [flow(n, x, y, 20.0, rtol=1e-10, train="outer", events=e) for n, e in zip(nets, (True, False))]
    assert runs[0].info["events"] == 0
    assert np.max(np.abs(nets[0].c - nets[1].c)) < 1e-8


def test_invariant_conserved_along_crossings_and_sliding(data):
    """delta_i = c_i^2 - a_i^2 - b_i^2 is exact along free and sliding motion: its drift is ~rtol."""
    x, y = data
    for rtol in (1e-8, 1e-10):
        net = base_net()
        d0 = net.invariant()
        run = flow(net, x, y, 200.0, rtol=rtol)
        assert run.info["sliding_entries"] > 5 and run.info["sliding_at_end"] >= 1
        drift = np.max(np.abs(net.invariant() - d0))
        assert drift < 10 * rtol * np.max(np.abs(d0))


@pytest.mark.parametrize("case", ["random", "on_data"])
def test_gd_converges_to_the_exact_flow_linearly_in_lr(data, case):
    x, y = data
    base = base_net() if case == "random" else on_data_net(x)
    t_end = 60.0
    ref = base.copy()
    run = flow(ref, x, y, t_end, rtol=1e-11)
    assert run.info["sliding_at_end"] >= 1
    lrs, errs = (2e-2, 1e-2, 5e-3, 2.5e-3), []
    for lr in lrs:
        net = base.copy()
        wf.train(net, x, y, lr=lr, steps=int(round(t_end / lr)))
        errs.append(np.max(np.abs(state(net) - state(ref))))
    # error ∝ lr (GD chatters across the sliding surfaces, so single ratios scatter about 2)
    slope = np.polyfit(np.log(lrs), np.log(errs), 1)[0]
    assert 0.8 < slope < 1.25, errs
    assert errs[-1] < 2e-3


@pytest.mark.parametrize("tableau, band", [("dopri5", (4.0, 8.0)), ("bs32", (2.5, 4.5))])
def test_global_error_order_with_crossings_and_sliding(data, tableau, band):
    """Global error against a tight reference: proportional to rtol (exponent ~1), and falling with the
    number of steps at the pair's order (5 for Dormand-Prince, 3 for Bogacki-Shampine): events cost no
    order."""
    x, y = data
    base = base_net()
    t_end = 60.0
    ar, br, cr, info = R.shallow_relu_flow(base.a, base.b, base.c, base.alpha, x, y, t_end, rtol=1e-13, atol=1e-15)
    assert info["sliding_entries"] > 5 and info["sliding_exits"] > 0
    ref = np.concatenate([ar, br, cr])
    rtols = [1e-7, 1e-8, 1e-9] if tableau == "dopri5" else [1e-6, 1e-7, 1e-8]
    errs, steps = [], []
    for rtol in rtols:
        net = base.copy()
        run = flow(net, x, y, t_end, rtol=rtol, tableau=tableau)
        errs.append(np.max(np.abs(state(net) - ref)))
        steps.append(run.info["accepted"])
    slope_rtol = np.polyfit(np.log(rtols), np.log(errs), 1)[0]
    order = -np.polyfit(np.log(steps), np.log(errs), 1)[0]
    assert 0.8 < slope_rtol < 1.3, (errs, steps)
    assert band[0] < order < band[1], (errs, steps)


def test_dense_records_do_not_end_steps(data):
    x, y = data
    times = np.linspace(0.0, 50.0, 101)
    runs = {}
    for rec in ("few", "many"):
        net = base_net()
        runs[rec] = flow(net, x, y, 50.0, rtol=1e-9, record=[0.0, 50.0] if rec == "few" else times)
    assert runs["many"].info["accepted"] == runs["few"].info["accepted"]
    assert runs["many"].info["gradient_evals"] == runs["few"].info["gradient_evals"]
    r = runs["many"]
    np.testing.assert_array_equal(r.t, times)
    assert np.all(np.diff(r.steps) >= 0) and r.steps[-1] == r.info["accepted"]
    # each recorded loss is the loss of the flow at that time (a run that ends there)
    for k in (7, 33, 80):
        net = base_net()
        end = flow(net, x, y, float(times[k]), rtol=1e-9)
        assert r.loss[k] == pytest.approx(end.loss[-1], rel=1e-6, abs=1e-9)
    assert r.loss[-1] == runs["few"].loss[-1]


def test_threads_do_not_change_bits(data):
    x, y = data
    nets = [wf.ShallowReLU.init(60_000, inner_scale=0.5, outer_scale=1.0, seed=5) for _ in range(2)]
    runs = [flow(net, x, y, 1.0, rtol=1e-6, threads=t) for net, t in zip(nets, (1, 2))]
    assert runs[0].info["events"] > 0
    for v in ("a", "b", "c"):
        assert np.array_equal(getattr(nets[0], v), getattr(nets[1], v))
    assert np.array_equal(runs[0].loss, runs[1].loss)
    assert runs[0].info["events"] == runs[1].info["events"]


def test_float32_events_follow_float64(data):
    x, y = data
    n64, n32 = base_net(), wf.ShallowReLU.init(20, inner_scale=1.0, outer_scale=1.0, seed=1, dtype="float32")
    r64 = flow(n64, x, y, 20.0, rtol=1e-6)
    r32 = flow(n32, x, y, 20.0, rtol=1e-5)
    assert r32.status == "completed" and n32.a.dtype == np.float32
    assert r32.info["sliding_entries"] == r64.info["sliding_entries"]
    assert np.max(np.abs(n32.c - n64.c)) < 1e-3


def test_zeno_protection_ends_the_run_with_its_status(data):
    """A run with more event-cut steps in a flow-time window than zeno_events ends as "zeno" (here forced
    with a wide window) instead of grinding on; the model keeps the state reached."""
    x, y = data
    net = base_net()
    with pytest.warns(DivergenceWarning, match="zeno"):
        run = flow(net, x, y, 200.0, zeno_events=3, zeno_window=1e3)
    assert run.status == "zeno" and run.info["error"].startswith("zeno")
    assert 0.0 < run.t[-1] < 200.0 and np.all(np.isfinite(state(net)))
    assert run.info["events"] >= 4


def test_dense_events_do_not_overflow_the_step(data):
    """Wide adaptive init (alpha = m): knots cross samples every few steps from t = 0, so almost every step is
    cut at an event. The controller's verdict is on the whole trial step while the step advanced only to the
    event; the trial step must not grow from cut to cut (it used to, by 5x each time, until it overflowed to
    inf at t ~ 13 and the run ended "diverged")."""
    x, y = data
    net = wf.ShallowReLU.init(
        3000, scheme="gaussian", inner_scale=0.1, outer_scale=1.0, alpha="m", seed=0, antisymmetric=True
    )
    d0 = net.invariant()
    run = flow(net, x, y, 20.0, rtol=1e-8)
    assert run.status == "completed" and run.t[-1] == 20.0
    assert run.info["events"] > 500 and run.info["accepted"] < 3 * run.info["events"]
    assert np.max(np.abs(net.invariant() - d0)) < 1e-7


def test_events_option_errors(data):
    x, y = data
    net = base_net(m=5)
    with pytest.raises(TypeError, match="events"):
        wf.train(net, x, y, method="flow", t_end=1.0, events="yes")
    with pytest.raises(ValueError, match="zeno_events"):
        wf.train(net, x, y, method="flow", t_end=1.0, zeno_events=0)
    with pytest.raises(ValueError, match="zeno_window"):
        wf.train(net, x, y, method="flow", t_end=1.0, zeno_window=-1.0)
    with pytest.raises(TypeError, match="events"):
        wf.train(net, x, y, lr=0.1, steps=2, events=True)
    with pytest.raises(TypeError, match="zeno_events"):
        wf.train(net, x, y, method="flow", t_end=1.0, events=False, zeno_events=5)


def test_events_false_is_the_plain_integrator(data):
    x, y = data
    net = base_net(m=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = flow(net, x, y, 0.5, rtol=1e-6, events=False)
    assert "events" not in run.info and run.status == "completed"
