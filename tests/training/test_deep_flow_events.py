"""The event-aware gradient flow of ReLU / leaky-ReLU deep nets (method="flow", events=True): kinks where a
hidden pre-activation changes sign located on the continuous extension, Filippov sliding detected and
reported.

Verified against what does not trust the integrator: an independent piecewise solve_ivp integration with
event location and its own one-sided rates (wideflow._reference.deep_relu_flow), gradient descent with
lr -> 0, the per-neuron conservation law, and gradient descent staying on a detected sliding surface.
"""

import warnings

import numpy as np
import pytest

import wideflow as wf
from wideflow import _reference as R
from wideflow.errors import DivergenceWarning


def problem(seed, activation="relu", dtype="float64"):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(6, 2))
    Y = rng.normal(size=(6, 1))
    ws = [0.8 * rng.normal(size=(4, 2)), 0.8 * rng.normal(size=(3, 4)), 0.8 * rng.normal(size=(1, 3))]
    bs = [0.3 * rng.normal(size=4), 0.3 * rng.normal(size=3), np.zeros(1)]
    net = wf.DeepNet([w.astype(dtype) for w in ws], activation=activation, biases=[b.astype(dtype) for b in bs])
    return net, ws, bs, X, Y


def flow(net, X, Y, t_end, rtol=1e-11, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        return wf.train(net, X, Y, method="flow", t_end=t_end, rtol=rtol, atol=rtol * 1e-2, progress=False, **kw)


def pre_activation(net, X, layer, sample, unit):
    a = X
    for h in range(layer):
        z = a @ net.weights[h].T + net.biases[h]
        a = np.maximum(z, 0) if net.activation == "relu" else np.where(z > 0, z, net.negative_slope * z)
    return float(z[sample, unit])


@pytest.mark.parametrize("seed, activation", [(0, "relu"), (0, "leaky_relu"), (1, "leaky_relu"), (4, "leaky_relu")])
def test_events_up_to_the_first_sliding_match_the_independent_reference(seed, activation):
    """The reference integrates up to the first sliding entry; the flow there agrees with it, and just past
    it the same entry is sliding."""
    net, ws, bs, X, Y = problem(seed, activation)
    w_ref, b_ref, info = R.deep_relu_flow(ws, X, Y, 3.0, activation=activation, biases=bs)
    assert info["sliding"] is not None and info["events"] >= 2
    T = info["t"]
    g = net.copy()
    run = flow(g, X, Y, T)
    # the transversal crossings (the kink reached at T may already count as the sliding entry)
    assert run.status == "completed" and run.info["crossings"] - run.info["sliding_entries"] == info["events"]
    assert max(np.max(np.abs(a - b)) for a, b in zip(w_ref, g.weights)) < 1e-9
    assert max(np.max(np.abs(a - b)) for a, b in zip(b_ref, g.biases)) < 1e-9
    past = flow(net, X, Y, T * (1 + 1e-6) + 1e-9)
    assert past.info["sliding_entries"] == 1 and past.info["sliding_at_end"] == 1
    ((s),) = past.info["sliding"]
    assert (s["layer"], s["sample"], s["unit"]) == info["sliding"] and 0.0 <= s["lambda"] <= 1.0


@pytest.mark.parametrize("seed, events", [(1, 4), (4, 7)])
def test_transversal_crossings_to_t_end_match_the_reference(seed, events):
    """Seed 4 has a unit whose last active entry turns off: held at z = 0 there (rate 0), not sliding."""
    net, ws, bs, X, Y = problem(seed, "relu")
    run = flow(net, X, Y, 3.0)
    assert run.status == "completed" and run.info["events"] == events and run.info["sliding"] == []
    w_ref, b_ref, info = R.deep_relu_flow(ws, X, Y, 3.0, activation="relu", biases=bs)
    assert info["events"] == events and info["sliding"] is None
    assert max(np.max(np.abs(a - b)) for a, b in zip(w_ref, net.weights)) < 1e-9
    assert run.final_loss == pytest.approx(float(R.deep_gradients(w_ref, X, Y, "relu", 0.0, b_ref)[0]), rel=1e-9)


@pytest.mark.parametrize("seed, activation, sliding", [(1, "relu", 0), (2, "relu", 2), (3, "leaky_relu", 2)])
def test_gd_converges_to_the_event_flow_linearly_in_lr(seed, activation, sliding):
    """Through transversal crossings and through sliding (the coupled equivalent controls)."""
    net0, _, _, X, Y = problem(seed, activation)
    f = net0.copy()
    run = flow(f, X, Y, 3.0, rtol=1e-10)
    assert run.status == "completed" and run.info["sliding_entries"] == sliding
    err = []
    for lr in (2e-4, 1e-4):
        g = net0.copy()
        wf.train(g, X, Y, lr=lr, steps=int(round(3.0 / lr)), metrics=False)
        err.append(max(np.max(np.abs(a - b)) for a, b in zip(g.weights, f.weights)))
    assert 1.8 < err[0] / err[1] < 2.2
    assert err[1] < 1e-3


@pytest.mark.parametrize("seed, activation", [(1, "relu"), (1, "leaky_relu"), (3, "relu"), (5, "leaky_relu")])
def test_neuron_invariants_are_conserved_through_events(seed, activation):
    """Each unit is 1-homogeneous for any fixed pattern value, the sliding controls included."""
    net, _, _, X, Y = problem(seed, activation)
    inv0 = np.concatenate(net.neuron_invariants())
    run = flow(net, X, Y, 3.0, rtol=1e-9)
    assert run.info["events"] >= 4
    assert np.max(np.abs(np.concatenate(net.neuron_invariants()) - inv0)) < 1e-7


def test_sliding_entries_stay_on_their_surface_and_gradient_descent_chatters_around_it():
    net, _, _, X, Y = problem(2, "relu")
    run = flow(net, X, Y, 3.0)
    assert run.status == "completed" and run.info["sliding_at_end"] == 2
    for s in run.info["sliding"]:
        assert abs(pre_activation(net, X, s["layer"], s["sample"], s["unit"])) < 1e-9
        assert 0.0 <= s["lambda"] <= 1.0
    # GD from there chatters around z = 0 with an amplitude O(lr), instead of leaving it
    s = run.info["sliding"][0]
    h, j, u = s["layer"], s["sample"], s["unit"]
    amp = []
    for lr in (1e-4, 5e-5):
        g, zs = net.copy(), []
        for _ in range(50):
            wf.train(g, X, Y, lr=lr, steps=int(round(0.2 / lr / 50)), metrics=False)
            zs.append(abs(pre_activation(g, X, h, j, u)))
        amp.append(max(zs))
    assert max(amp) < 1e-3
    assert 1.5 < amp[0] / amp[1] < 2.5


def test_runs_are_reproducible_bit_for_bit():
    """The small products run in Eigen's own storage: the bits do not depend on where the arrays lie."""
    outs = []
    for _ in range(3):
        net, _, _, X, Y = problem(3, "leaky_relu")
        flow(net, X, Y, 3.0, rtol=1e-8)
        outs.append(np.concatenate([w.ravel() for w in net.weights]))
    assert all(np.array_equal(outs[0], o) for o in outs[1:])


def test_float32_follows_float64():
    n64, _, _, X, Y = problem(1, "relu")
    n32, _, _, _, _ = problem(1, "relu", dtype="float32")
    r64, r32 = flow(n64, X, Y, 3.0, rtol=1e-9), flow(n32, X, Y, 3.0, rtol=1e-9)
    assert r32.info["events"] == r64.info["events"]
    assert max(np.max(np.abs(a - b)) for a, b in zip(n32.weights, n64.weights)) < 1e-5


def test_records_come_from_the_dense_output():
    net, _, _, X, Y = problem(1, "relu")
    times = np.linspace(0.0, 3.0, 61)
    run = flow(net.copy(), X, Y, 3.0, record=times)
    assert np.array_equal(run.t, times)
    # each recorded loss is the loss of the flow at that time (a run stopped there)
    for t in (0.55, 1.8):
        g = net.copy()
        flow(g, X, Y, t)
        k = int(np.searchsorted(times, t))
        assert run.loss[k] == pytest.approx(g.loss(X, Y), rel=1e-8)


def test_options():
    net, _, _, X, Y = problem(1, "relu")
    plain = flow(net.copy(), X, Y, 0.5, rtol=1e-8, events=False)
    assert "events" not in plain.info and plain.status == "completed"
    lin = wf.DeepNet([w.copy() for w in net.weights], activation="linear", biases=[b.copy() for b in net.biases])
    assert "events" not in flow(lin, X, Y, 0.5, rtol=1e-8).info  # no kinks: the plain pair
    with pytest.raises(ValueError, match="zeno_events"):
        wf.train(net.copy(), X, Y, method="flow", t_end=1.0, zeno_events=0)
    with pytest.raises((TypeError, ValueError), match="events"):
        wf.train(net.copy(), X, Y, method="flow", t_end=1.0, events="yes")


def test_metrics_and_snapshots():
    net, _, _, X, Y = problem(1, "relu")
    inv0 = np.concatenate(net.neuron_invariants())
    g = net.copy()
    run = flow(net, X, Y, 3.0, rtol=1e-9, metrics=["neuron_invariants"], record=[0.5, 1.0, 2.0], snapshots=[1.5])
    assert run.status == "completed" and list(run.t) == [0.0, 0.5, 1.0, 2.0, 3.0]
    assert np.max(np.abs(run.metrics["neuron_invariants"] - inv0)) < 1e-8
    # the snapshot at 1.5 is the state of a flow stopped there
    flow(g, X, Y, 1.5, rtol=1e-9)
    ((t, snap),) = run.snapshots
    assert t == 1.5 and np.max(np.abs(snap["W1"] - g.weights[0])) < 1e-7
