"""The sorted O(m log n + n) shallow kernel against the direct O(m n) kernel and the NumPy reference on
adversarial inputs: knots exactly on samples, duplicate samples, a_i = 0, all-dead and all-active
neurons, n = 1 and n = 10^5 (the binary-search and single-lane histogram paths)."""

import numpy as np
import pytest

import wideflow as wf
from wideflow import _reference as R

TOL = {"float64": 1e-12, "float32": 2e-5}


def adversarial_net(x, m=601, seed=0, dtype="float64"):
    """Neurons whose knots sit exactly on samples, with a = 0 (active everywhere, dead everywhere, or
    z = 0 exactly), and ordinary random ones."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(m)
    b = rng.standard_normal(m)
    c = rng.standard_normal(m)
    k = m // 4
    picks = rng.choice(x, k)  # knots exactly on samples: b = -a x_j (exact for a = +-1, 2)
    a[:k] = rng.choice([-2.0, -1.0, 1.0, 2.0], k)
    b[:k] = -a[:k] * picks
    a[k : k + 6] = 0.0  # constant neurons
    b[k : k + 6] = [1.0, -1.0, 0.0, 2.5, -0.0, 0.0]
    a[k + 6] = -0.0
    return wf.ShallowReLU(a, b, c, alpha=np.sqrt(m), dtype=dtype)


def sample_sets():
    rng = np.random.default_rng(7)
    grid = np.linspace(-1, 1, 9)
    return {
        "ties_and_duplicates": np.concatenate([grid, grid[::3], [0.0, 0.0, 0.5]]),
        "single_point": np.array([0.25]),
        "two_equal_points": np.array([0.5, 0.5]),
        "binary_search_path": np.round(rng.uniform(-1, 1, 300), 2),  # many duplicates
    }


def scale_of(net, x):
    """Size of the terms summed in f(x): (1/alpha) sum_i |c_i| (|a_i x| + |b_i|)."""
    return float(np.max(np.abs(net.c) @ (np.abs(np.multiply.outer(net.a, x)) + np.abs(net.b)[:, None])) / net.alpha)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(sample_sets()))
def test_kernels_agree_on_adversarial_inputs(name, dtype):
    x = sample_sets()[name]
    y = np.cos(3 * x) + 0.1 * np.arange(x.size) % 2
    base = adversarial_net(x, dtype=dtype)
    scale = scale_of(base, x)
    # evaluation: direct, sorted, reference
    ref = R.shallow_forward(
        base.a.astype(np.float64), base.b.astype(np.float64), base.c.astype(np.float64), base.alpha, x
    )
    for kernel in ("direct", "sorted"):
        assert np.max(np.abs(base(x, kernel=kernel) - ref)) <= TOL[dtype] * scale
    # training: the two kernels give the same parameters and losses to rounding
    nets = {k: base.copy() for k in ("direct", "sorted")}
    runs = {k: wf.train(nets[k], x, y, lr=0.05, steps=20, kernel=k, record="all") for k in nets}
    np.testing.assert_allclose(runs["direct"].loss, runs["sorted"].loss, rtol=50 * TOL[dtype], atol=TOL[dtype] * scale)
    for p in ("a", "b", "c"):
        d, s = getattr(nets["direct"], p), getattr(nets["sorted"], p)
        assert np.max(np.abs(d - s)) <= 50 * TOL[dtype] * max(1.0, np.max(np.abs(d)))
    # the active sets agree exactly: the gradient of every tie neuron is the same in both kernels, and
    # both equal the reference step
    a1, b1, c1, _ = R.shallow_gd(base.a, base.b, base.c, base.alpha, x, y, [0.05])
    one = base.copy()
    wf.train(one, x, y, lr=0.05, steps=1, kernel="sorted")
    assert np.max(np.abs(one.a - a1)) <= 50 * TOL[dtype] * max(1.0, np.max(np.abs(a1)))


def test_all_dead_and_all_active_neurons():
    x = np.linspace(-1, 1, 7)
    y = x**2
    m = 50
    # all dead: a > 0 with knots right of every sample, a < 0 with knots left of every sample
    a = np.r_[np.ones(m // 2), -np.ones(m // 2)]
    b = np.r_[-2.0 * np.ones(m // 2), -2.0 * np.ones(m // 2)]
    c = np.ones(m)
    for kernel in ("direct", "sorted"):
        dead = wf.ShallowReLU(a, b, c, alpha=1.0)
        assert np.all(dead(x, kernel=kernel) == 0.0)
        run = wf.train(dead, x, y, lr=0.1, steps=5, kernel=kernel)
        assert np.array_equal(dead.a, a) and np.array_equal(dead.b, b) and np.array_equal(dead.c, c)
        assert run.final_loss == pytest.approx(0.5 * np.sum(y**2))
    # all active: knots outside the hull on the other side -> f is affine, matches the formula
    b_act = np.r_[2.0 * np.ones(m // 2), 2.0 * np.ones(m // 2)]
    for kernel in ("direct", "sorted"):
        act = wf.ShallowReLU(a, b_act, c, alpha=1.0)
        f = act(x, kernel=kernel)
        np.testing.assert_allclose(f, (m // 2) * ((x + 2) + (2 - x)), rtol=1e-14)


def test_large_n_binary_search_and_single_lane_histogram():
    """n = 10^5 samples (binary search, one histogram lane): sorted vs direct to rounding."""
    rng = np.random.default_rng(3)
    n = 100_000
    x = rng.uniform(-1, 1, n)
    x[:1000] = x[1000:2000]  # duplicates
    y = np.sin(4 * x)
    base = wf.ShallowReLU.init(257, inner_scale=1.0, seed=4, alpha="sqrt")
    base.b[:20] = -base.a[:20] * x[:20]  # knots on samples (up to the rounding of b)
    nets = {k: base.copy() for k in ("direct", "sorted")}
    for k, net in nets.items():
        wf.train(net, x, y, lr=1e-5, steps=3, kernel=k)
    for p in ("a", "b", "c"):
        d, s = getattr(nets["direct"], p), getattr(nets["sorted"], p)
        assert np.max(np.abs(d - s)) <= 1e-11 * np.max(np.abs(d))
    grid = np.linspace(-1.5, 1.5, 20_001)
    assert np.max(np.abs(base(grid, kernel="direct") - base(grid, kernel="sorted"))) <= 1e-12 * scale_of(
        base, grid[::1000]
    )


@pytest.mark.parametrize("n", [1, 6, 7, 12, 13, 100])
def test_auto_kernel_is_one_of_the_two(n):
    """auto picks direct for tiny n and sorted otherwise; either way it matches the reference."""
    x = np.linspace(-1, 1, n)
    y = np.cos(2 * x)
    net = wf.ShallowReLU.init(333, seed=1, alpha="sqrt")
    a, b, c, losses = R.shallow_gd(net.a, net.b, net.c, net.alpha, x, y, [0.01] * 5)
    run = wf.train(net, x, y, lr=0.01, steps=5, record="all")
    np.testing.assert_allclose(run.loss[:-1], losses, rtol=1e-12)
    np.testing.assert_allclose(net.c, c, rtol=1e-11, atol=1e-14)
