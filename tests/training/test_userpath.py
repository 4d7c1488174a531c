"""What the user path costs: divergence safety without a parameter copy (the certificate is sound and not
vacuous; the checkpoint replay is bitwise), opt-in metrics, and initialization without O(m) transients."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

import wideflow as wf
from wideflow import schedules, shallow
from wideflow.training import gd as driver


def _data(n=10, seed=0):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1, 1, n))
    return x, np.sin(3 * x) + 0.1 * rng.standard_normal(n)


# ------------------------------------------------------------------------------ no copy for a shallow net
@pytest.mark.parametrize("mode", ["all", "outer", "inner"])
def test_shallow_training_takes_no_checkpoint(monkeypatch, kernel, mode):
    def refuse(self, into=None):
        raise AssertionError("a checkpoint copy was taken")

    monkeypatch.setattr(shallow._ShallowGD, "checkpoint", refuse)
    # as for a net too wide for a copy: the run goes chunk by chunk as far as its certificates reach
    monkeypatch.setattr(driver, "CHEAP_CHECKPOINT_BYTES", 0)
    monkeypatch.setattr(driver, "CHECKPOINT_MAX_BYTES", 0)
    x, y = _data()
    net = wf.ShallowReLU.init(5000, seed=1)
    run = wf.train(net, x, y, lr=500.0, steps=400, train=mode, kernel=kernel, progress=False)
    assert run.status == "completed" and run.final_loss < run.loss[0]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("seed", range(12))
def test_certificate_is_sound(seed, dtype, kernel):
    """Steps the engine certifies never produce a non-finite value, from ordinary to explosive step sizes
    and parameters near the overflow threshold; and an ordinary run is certified in full."""
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(1, 3000)), int(rng.integers(1, 40))
    x, y = _data(n, seed)
    big = 10.0 ** rng.uniform(0, 30 if dtype == "float32" else 140)
    net = wf.ShallowReLU(
        rng.standard_normal(m) * big,
        rng.standard_normal(m),
        rng.standard_normal(m) * big,
        alpha=float(10.0 ** rng.uniform(-2, 3)),
        dtype=dtype,
    )
    mode = ("all", "outer", "inner")[seed % 3]
    eng = net._gd_engine((x, y), {"train": mode, "kernel": kernel})
    lrs = np.full(int(rng.integers(1, 200)), 10.0 ** rng.uniform(-8, 8))
    k = eng.certify(lrs)
    with np.errstate(all="ignore"):
        done, diverged = eng.run(np.ascontiguousarray(lrs[:k]), np.empty(k))
        assert not diverged and done == k
        if k:  # (k = 0: the state may already be non-finite, e.g. an infinite initial loss)
            assert all(np.isfinite(v).all() for v in (net.a, net.b, net.c)) and np.isfinite(eng.loss())
    fresh = wf.ShallowReLU.init(m, seed=seed, dtype=dtype)
    eng = fresh._gd_engine((x, y), {"train": mode, "kernel": kernel})
    lrs = np.full(50, 0.1 * fresh.alpha)
    assert eng.certify(lrs) >= 2  # the bounds are pessimistic, but a certificate lasts a few steps


def test_certified_divergence_rolls_back_bitwise():
    """A run that diverges after many certified steps still ends in its last finite state, equal to a replay."""
    x, y = _data()
    x = np.abs(x) + 0.1

    def lr(t):
        return 1e-4 * 1.2 ** min(t, 2000)

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        net = wf.ShallowReLU.init(3000, seed=2, alpha=1.0)
        run = wf.train(net, x, y, lr=lr, steps=5000, train="outer", progress=False)
    assert run.status == "diverged" and run.final_step == run.diverged_at - 1 > 20
    fresh = wf.ShallowReLU.init(3000, seed=2, alpha=1.0)
    wf.train(fresh, x, y, lr=lr, steps=run.final_step, train="outer", progress=False)
    assert all(np.array_equal(getattr(net, k), getattr(fresh, k)) for k in "abc")


# ------------------------------------------------------------------------------ checkpoint + replay
@pytest.mark.parametrize("checkpoint_seconds", [0.0, 5.0])
def test_deep_divergence_replays_from_a_checkpoint_bitwise(checkpoint_seconds):
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((40, 5)), rng.standard_normal((40, 2))
    weights = [rng.standard_normal((8, 5)) * 0.5, rng.standard_normal((2, 8)) * 0.5]

    def lr(t):
        return 1e-3 if t < 150 else 5.0

    net = wf.DeepNet(weights, "relu")
    eng = net._gd_engine((X, Y), {})
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        # chunks of <= 16 steps: with checkpoint_seconds=0 a checkpoint is taken before every chunk
        run = driver.run_gd(
            eng,
            schedules.as_schedule(lr),
            400,
            chunk_seconds=1e-9,
            checkpoint_seconds=checkpoint_seconds,
            progress=False,
        )
    assert run.status == "diverged" and run.final_step == run.diverged_at - 1 >= 150
    fresh = wf.DeepNet(weights, "relu")
    ref = wf.train(fresh, X, Y, lr=lr, steps=run.final_step, progress=False)
    assert all(np.array_equal(u, v) for u, v in zip(net.weights, fresh.weights))
    assert run.final_loss == ref.final_loss


# ------------------------------------------------------------------------------ metrics
def test_metrics_are_opt_in_and_named():
    Y = np.random.default_rng(4).standard_normal((3, 4))
    fac = wf.Factorization.init(3, 4, 6, scale=0.3, seed=0)
    run = wf.train(fac.copy(), Y, lr=1e-2, steps=50, progress=False)
    assert set(run.metrics) == {"rel_error"}  # free: from the recorded losses
    np.testing.assert_allclose(run.metrics["rel_error"], np.sqrt(2 * run.loss) / np.linalg.norm(Y), rtol=1e-12)
    full = wf.train(fac.copy(), Y, lr=1e-2, steps=50, progress=False, metrics=True)
    np.testing.assert_allclose(full.metrics["rel_error"], run.metrics["rel_error"], rtol=1e-9)
    assert full.metrics["q_eig"].shape[0] == full.steps.size
    some = wf.train(fac.copy(), Y, lr=1e-2, steps=50, progress=False, metrics=["q_norm"])
    assert set(some.metrics) == {"q_norm", "rel_error"}
    with pytest.raises(ValueError, match="metrics: unknown name 'nope'"):
        wf.train(fac.copy(), Y, lr=1e-2, steps=5, metrics=["nope"])
    with pytest.raises(TypeError, match="metrics"):
        wf.train(fac.copy(), Y, lr=1e-2, steps=5, metrics=3)
    net = wf.DeepNet.init((3, 5, 2), seed=0)
    X = np.random.default_rng(5).standard_normal((7, 3))
    assert wf.train(net, X, X[:, :2], lr=1e-3, steps=5, progress=False).metrics == {}
    assert set(wf.train(net, X, X[:, :2], lr=1e-3, steps=5, progress=False, metrics=["layer_norms"]).metrics) == {
        "layer_norms"
    }


# ------------------------------------------------------------------------------ initialization
@pytest.mark.parametrize("scheme", ["gaussian", "uniform_knots", "box"])
@pytest.mark.parametrize("antisymmetric", [False, True])
def test_init_in_blocks_draws_the_same_values(monkeypatch, scheme, antisymmetric):
    """Blocked draws give the values of one draw per array; float32 nets hold them rounded."""
    kw = dict(scheme=scheme, inner_scale=0.7, outer_scale=1.3, seed=11, antisymmetric=antisymmetric)
    whole = wf.ShallowReLU.init(10_002, **kw)
    monkeypatch.setattr(shallow, "_DRAW_BLOCK", 1000)
    blocked = wf.ShallowReLU.init(10_002, **kw)
    f32 = wf.ShallowReLU.init(10_002, dtype="float32", **kw)
    for k in "abc":
        assert np.array_equal(getattr(whole, k), getattr(blocked, k))
        assert np.array_equal(getattr(f32, k), getattr(whole, k).astype(np.float32))
    # the values themselves: the generator's streams, in the order a, b, c
    if scheme == "gaussian" and not antisymmetric:
        rng = np.random.default_rng(11)
        np.testing.assert_array_equal(whole.a, rng.standard_normal(10_002) * 0.7)
        np.testing.assert_array_equal(whole.b, rng.standard_normal(10_002) * 0.7)
        np.testing.assert_array_equal(whole.c, rng.standard_normal(10_002) * 1.3)


def test_init_and_training_need_no_O_m_numpy_transients():
    m = 4_000_000
    x, y = _data()
    tracemalloc.start()
    try:
        net = wf.ShallowReLU.init(m, dtype="float32")
        _, peak_init = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        wf.train(net, x, y, lr=1e-3, steps=3, progress=False)
        net(np.linspace(-1, 1, 1000))
        _, peak_train = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    params = 3 * m * 4
    assert peak_init <= params + 4 * shallow._DRAW_BLOCK * 8  # parameters plus a few float64 blocks
    assert peak_train - before <= 1 << 20  # O(n): no array of the width is made
