"""Deep fully-connected networks: kernels against NumPy and finite differences, the Du-Hu-Lee identities,
reproducibility across thread counts, the linear N-independent path, bad input, divergence."""

import numpy as np
import pytest

import wideflow as wf
from wideflow import _reference as ref

ACTS = ["linear", "relu", "leaky_relu"]


def make_problem(dims=(6, 9, 7, 4), n=50, activation="relu", bias=False, seed=0, dtype="float64", scale=0.6):
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((dims[h + 1], dims[h])) * scale for h in range(len(dims) - 1)]
    biases = [rng.standard_normal(dims[h + 1]) * 0.3 for h in range(len(dims) - 1)] if bias else None
    net = wf.DeepNet(weights, activation, negative_slope=0.1, biases=biases, dtype=dtype)
    X = rng.standard_normal((n, dims[0]))
    Y = rng.standard_normal((n, dims[-1]))
    return net, X, Y


def ref_args(net):
    return dict(activation=net.activation, slope=net.negative_slope, biases=net.biases)


# ---------------------------------------------------------------------------------------------- kernels


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("bias", [False, True])
def test_forward_and_gradients_match_numpy(activation, bias):
    net, X, Y = make_problem(activation=activation, bias=bias)
    np.testing.assert_allclose(net(X), ref.deep_forward(net.weights, X, **ref_args(net)), rtol=1e-13, atol=1e-13)
    loss, gw, gb = net.gradients(X, Y)
    rloss, rgw, rgb = ref.deep_gradients(net.weights, X, Y, **ref_args(net))
    assert loss == pytest.approx(rloss, rel=1e-13)
    for g, r in zip(gw, rgw):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12 * np.abs(r).max())
    if bias:
        for g, r in zip(gb, rgb):
            np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12 * np.abs(r).max())
    else:
        assert gb is None


@pytest.mark.parametrize("activation", ACTS)
def test_gradients_match_finite_differences(activation):
    net, X, Y = make_problem(dims=(4, 6, 5, 3), n=20, activation=activation, bias=True, seed=3)
    _, gw, gb = net.gradients(X, Y)
    rng = np.random.default_rng(7)
    eps = 1e-6
    params = [(w, g) for w, g in zip(net.weights, gw)] + [(b, g) for b, g in zip(net.biases, gb)]
    for arr, grad in params:
        for _ in range(4):
            idx = tuple(rng.integers(0, s) for s in arr.shape)
            old = arr[idx]
            arr[idx] = old + eps
            lp = net.loss(X, Y)
            arr[idx] = old - eps
            lm = net.loss(X, Y)
            arr[idx] = old
            fd = (lp - lm) / (2 * eps)
            assert grad[idx] == pytest.approx(fd, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gd_matches_numpy_reference(activation, dtype):
    net, X, Y = make_problem(activation=activation, bias=(activation == "leaky_relu"), dtype=dtype, scale=0.4)
    w0 = [w.copy() for w in net.weights]
    b0 = None if net.biases is None else [b.copy() for b in net.biases]
    lrs = wf.schedules.inverse_power(2e-3, 0.75)
    run = wf.train(net, X, Y, lr=lrs, steps=25, record="all", progress=False)
    rw, rb, rlosses = ref.deep_gd(
        w0,
        X.astype(dtype),
        Y.astype(dtype),
        lrs.values(0, 25),
        activation=activation,
        slope=net.negative_slope,
        biases=b0,
    )
    tol = 1e-11 if dtype == "float64" else 2e-5
    for w, r in zip(net.weights, rw):
        assert w.dtype == np.dtype(dtype)
        np.testing.assert_allclose(w, r, rtol=tol, atol=tol * np.abs(r).max())
    np.testing.assert_allclose(run.loss[:-1], rlosses, rtol=tol)


def test_float32_close_to_float64():
    net64, X, Y = make_problem(dims=(8, 16, 16, 2), n=64, scale=0.4)
    net32 = wf.DeepNet([w.astype(np.float32) for w in net64.weights], "relu")
    assert net32.dtype == np.float32
    r64 = wf.train(net64, X, Y, lr=1e-3, steps=100, progress=False)
    r32 = wf.train(net32, X, Y, lr=1e-3, steps=100, progress=False)
    assert r32.final_loss == pytest.approx(r64.final_loss, rel=1e-4)
    for a, b in zip(net32.weights, net64.weights):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


def test_callable_schedule_and_in_place_update():
    net, X, Y = make_problem()
    arrays = list(net.weights)
    run = wf.train(net, X, Y, lr=lambda t: 1e-3 if t < 10 else 5e-4, steps=20, record="all", progress=False)
    assert all(a is b for a, b in zip(arrays, net.weights))
    assert run.status == "completed" and run.final_step == 20
    assert np.all(np.diff(run.t)[:10] == pytest.approx(1e-3)) and run.t[-1] == pytest.approx(10 * 1e-3 + 10 * 5e-4)


# ---------------------------------------------------------------------------------------------- identities


@pytest.mark.parametrize("activation", ACTS)
def test_euler_and_per_neuron_identity(activation):
    """<W_h[i,:], G_h[i,:]> (+ b_i g_i) = <W_{h+1}[:,i], G_{h+1}[:,i]> for every hidden unit."""
    for bias in (False, True):
        net, X, Y = make_problem(activation=activation, bias=bias, seed=5)
        _, gw, gb = net.gradients(X, Y)
        scale = sum(np.abs(w * g).sum() for w, g in zip(net.weights, gw))
        for h in range(net.depth - 1):
            incoming = np.einsum("ij,ij->i", net.weights[h], gw[h])
            if bias:
                incoming = incoming + net.biases[h] * gb[h]
            outgoing = np.einsum("ji,ji->i", net.weights[h + 1], gw[h + 1])
            np.testing.assert_allclose(incoming, outgoing, atol=1e-13 * scale)
        if not bias:
            e = net.euler_products(X, Y)
            np.testing.assert_allclose(e, e[0], rtol=1e-12)


@pytest.mark.parametrize("activation", ACTS)
def test_exact_one_step_identity(activation):
    """Delta(||W_h||^2 - ||W_{h+1}||^2) = lr^2 (||G_h||^2 - ||G_{h+1}||^2), per layer and per neuron."""
    net, X, Y = make_problem(activation=activation, seed=11)
    lr = 2e-2
    _, gw, _ = net.gradients(X, Y)
    norms0, neurons0 = net.layer_norms(), net.neuron_invariants()
    wf.train(net, X, Y, lr=lr, steps=1, progress=False)
    norms1, neurons1 = net.layer_norms(), net.neuron_invariants()
    g2 = np.array([np.sum(g * g) for g in gw])
    scale = norms0.max()
    for h in range(net.depth - 1):
        measured = (norms1[h] - norms1[h + 1]) - (norms0[h] - norms0[h + 1])
        predicted = lr**2 * (g2[h] - g2[h + 1])
        assert abs(predicted) > 1e-6 * scale  # the identity is visible above rounding
        assert measured == pytest.approx(predicted, abs=1e-12 * scale)
        pred_neuron = lr**2 * ((gw[h] ** 2).sum(axis=1) - (gw[h + 1] ** 2).sum(axis=0))
        np.testing.assert_allclose(neurons1[h] - neurons0[h], pred_neuron, atol=1e-12 * scale)


def test_exact_one_step_identity_matrix_form_linear():
    """Linear nets: Delta(W_{h+1}^T W_{h+1} - W_h W_h^T) = lr^2 (G_{h+1}^T G_{h+1} - G_h G_h^T)."""
    net, X, Y = make_problem(activation="linear", seed=13, n=30)
    lr = 1e-2
    _, gw, _ = net.gradients(X, Y)
    m0 = net.gram_invariants()
    wf.train(net, X, Y, lr=lr, steps=1, progress=False, gram=False)
    m1 = net.gram_invariants()
    scale = net.layer_norms().max()
    for h in range(net.depth - 1):
        predicted = lr**2 * (gw[h + 1].T @ gw[h + 1] - gw[h] @ gw[h].T)
        np.testing.assert_allclose(m1[h] - m0[h], predicted, atol=1e-12 * scale)


def test_drift_is_linear_in_lr_at_fixed_flow_time():
    """Over a fixed flow time tau = lr * steps the drift of ||W_1||^2 - ||W_2||^2 is O(lr) (it halves
    with lr), i.e. O(lr^2) per step: drift / (steps lr^2) stays constant."""
    tau, lrs, drifts = 0.1, np.array([1e-3, 5e-4, 2.5e-4]), []
    for lr in lrs:
        net, X, Y = make_problem(dims=(5, 8, 8, 3), n=40, activation="leaky_relu", seed=17, scale=0.5)
        run = wf.train(net, X, Y, lr=lr, steps=int(round(tau / lr)), progress=False, metrics=True)
        norms = run.metrics["layer_norms"]
        d12 = norms[:, 0] - norms[:, 1]
        drifts.append(abs(d12[-1] - d12[0]))
    drifts = np.array(drifts)
    np.testing.assert_allclose(drifts[:-1] / drifts[1:], 2.0, rtol=0.1)
    per_step = drifts / ((tau / lrs) * lrs**2)
    np.testing.assert_allclose(per_step / per_step[0], 1.0, rtol=0.15)


def test_metrics_are_recorded():
    net, X, Y = make_problem(activation="linear", n=80)
    run = wf.train(net, X, Y, lr=1e-3, steps=50, record=10, progress=False, metrics=True)
    k = run.steps.size
    assert run.metrics["layer_norms"].shape == (k, 3)
    assert run.metrics["neuron_invariants"].shape == (k, 9 + 7)
    assert run.metrics["gram_invariants"].shape == (k, 2)
    assert run.metrics["gram_drift"][0].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(run.metrics["layer_norms"][-1], net.layer_norms())
    relu, X, Y = make_problem(activation="relu")
    run = wf.train(relu, X, Y, lr=1e-3, steps=5, progress=False, metrics=True)
    assert "gram_invariants" not in run.metrics
    run = wf.train(relu, X, Y, lr=1e-3, steps=5, progress=False, metrics=False)
    assert run.metrics == {}


# ---------------------------------------------------------------------------------------------- paths, threads


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bitwise_identical_across_thread_counts(dtype):
    if not wf.openmp_enabled():
        pytest.skip("built without OpenMP: every run is single-threaded")
    rng = np.random.default_rng(21)
    dims = (64, 96, 80, 8)
    weights = [rng.standard_normal((dims[h + 1], dims[h])) / np.sqrt(dims[h]) for h in range(3)]
    biases = [rng.standard_normal(d) * 0.1 for d in dims[1:]]
    X = rng.standard_normal((517, dims[0]))
    Y = rng.standard_normal((517, dims[-1]))
    results = []
    for threads in (1, 2):
        net = wf.DeepNet(weights, "relu", biases=biases, dtype=dtype)
        run = wf.train(net, X, Y, lr=1e-4, steps=6, record="all", threads=threads, progress=False)
        results.append((net, run))
    (a, ra), (b, rb) = results
    assert np.array_equal(ra.loss, rb.loss)
    for u, v in zip(a.weights + a.biases, b.weights + b.biases):
        assert np.array_equal(u, v)
    assert np.array_equal(a(X, threads=1), b(X, threads=2))


def test_linear_gram_path_equals_sample_path():
    rng = np.random.default_rng(23)
    dims = (6, 10, 8, 3)
    weights = [rng.standard_normal((dims[h + 1], dims[h])) * 0.3 for h in range(3)]
    X = rng.standard_normal((3000, dims[0]))
    Y = X @ rng.standard_normal((dims[0], dims[-1])) + 0.3 * rng.standard_normal((3000, dims[-1]))
    a = wf.DeepNet(weights, "linear")
    b = wf.DeepNet(weights, "linear")
    assert b.uses_gram(X) and not a.uses_gram(X, gram=False) and not a.uses_gram(X[:5])
    ra = wf.train(a, X, Y, lr=2e-5, steps=200, gram=False, progress=False, metrics=True)
    rb = wf.train(b, X, Y, lr=2e-5, steps=200, progress=False, metrics=True)  # gram="auto" picks the N-independent path
    np.testing.assert_allclose(rb.loss, ra.loss, rtol=1e-11)
    assert rb.final_loss < 0.5 * ra.loss[0]
    for u, v in zip(a.weights, b.weights):
        np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rb.metrics["gram_drift"], ra.metrics["gram_drift"], rtol=1e-6, atol=1e-14)


# ---------------------------------------------------------------------------------------------- bad input


def test_bad_input_names_the_argument():
    W1, W2 = np.ones((4, 3)), np.ones((2, 4))
    with pytest.raises(ValueError, match=r"weights\[1\]: expected d_in=4"):
        wf.DeepNet([W1, np.ones((2, 5))])
    with pytest.raises(ValueError, match="activation"):
        wf.DeepNet([W1, W2], activation="tanh")
    with pytest.raises(ValueError, match="negative_slope"):
        wf.DeepNet([W1, W2], "leaky_relu", negative_slope=-0.1)
    with pytest.raises(ValueError, match=r"weights\[0\]"):
        wf.DeepNet([np.full((4, 3), np.nan), W2])
    with pytest.raises(ValueError, match=r"weights\[0\]"):
        wf.DeepNet([np.ones(3), W2])
    with pytest.raises(ValueError, match="weights"):
        wf.DeepNet([])
    with pytest.raises(TypeError, match="weights"):
        wf.DeepNet(np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"biases\[1\]"):
        wf.DeepNet([W1, W2], biases=[np.zeros(4), np.zeros(3)])
    with pytest.raises(TypeError, match="dtype"):
        wf.DeepNet([W1, W2], dtype="int32")
    net = wf.DeepNet([W1, W2], "relu")
    X, Y = np.ones((5, 3)), np.ones((5, 2))
    with pytest.raises(ValueError, match="X"):
        net(np.ones((5, 4)))
    with pytest.raises(ValueError, match="X"):
        wf.train(net, np.ones((5, 4)), Y, lr=0.1, steps=1)
    with pytest.raises(ValueError, match="Y"):
        wf.train(net, X, np.ones((4, 2)), lr=0.1, steps=1)
    with pytest.raises(ValueError, match="Y"):
        wf.train(net, X, np.ones((5, 3)), lr=0.1, steps=1)
    with pytest.raises(ValueError, match="X"):
        wf.train(net, np.full((5, 3), np.inf), Y, lr=0.1, steps=1)
    with pytest.raises(ValueError, match="Y"):
        wf.train(net, X, np.full((5, 2), np.nan), lr=0.1, steps=1)
    with pytest.raises(ValueError, match="X"):
        wf.train(net, np.ones((0, 3)), np.ones((0, 2)), lr=0.1, steps=1)
    with pytest.raises(ValueError, match="lr"):
        wf.train(net, X, Y, lr=-1.0, steps=1)
    with pytest.raises(ValueError, match="gram"):
        wf.train(net, X, Y, lr=0.1, steps=1, gram=True)
    with pytest.raises(ValueError, match="threads"):
        wf.train(net, X, Y, lr=0.1, steps=1, threads=0)
    with pytest.raises(TypeError, match="unexpected option"):
        wf.train(net, X, Y, lr=0.1, steps=1, train="outer")
    net.weights[0] = np.ones((4, 3), dtype=np.float32)
    with pytest.raises(TypeError, match=r"weights\[0\]"):
        wf.train(net, X, Y, lr=0.1, steps=1)


def test_divergence_stops_and_keeps_finite_weights():
    net, X, Y = make_problem(activation="linear", seed=29)
    with pytest.warns(RuntimeWarning, match="diverged at step"):
        run = wf.train(net, X, Y, lr=5.0, steps=200, progress=False)
    assert run.status == "diverged"
    assert run.diverged_at is not None and run.final_step == run.diverged_at - 1
    assert all(np.isfinite(w).all() for w in net.weights)
    assert np.isfinite(run.loss).all()
    assert net.loss(X, Y) == pytest.approx(run.final_loss)
