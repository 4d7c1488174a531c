"""The streamed random-feature Gram pass (C++ gram.hpp) against its NumPy twin, the exact c-only limit against
limits.min_norm_outer_interpolant, and its reproducibility (thread counts, call splits)."""

from __future__ import annotations

import numpy as np
import pytest

import wideflow as wf
from wideflow import _reference as ref
from wideflow import datasets, limits
from wideflow import random_features as rf


@pytest.fixture(scope="module")
def square10():
    return datasets.load("square10")


@pytest.mark.parametrize("scheme", rf.SCHEMES)
def test_draws_match_the_numpy_twin(scheme):
    a, b = rf.draw_features(5000, scheme, seed=7, inner_scale=1.7, L=1.5, offset=123)
    a2, b2 = ref.feature_draws(scheme, 7, 123, 5000, 1.7, 1.5)
    if scheme == "gaussian":  # log / cos / sin of libm and NumPy may differ in the last bit
        np.testing.assert_allclose(a, a2, rtol=0, atol=4e-15 * 1.7 * 5)
        np.testing.assert_allclose(b, b2, rtol=0, atol=4e-15 * 1.7 * 5)
    else:
        np.testing.assert_array_equal(a, a2)
        np.testing.assert_array_equal(b, b2)
    # offsets address the same stream: neuron 123 + k is the same wherever a draw starts
    a3, _ = rf.draw_features(10, scheme, seed=7, inner_scale=1.7, L=1.5, offset=128)
    np.testing.assert_array_equal(a3[:5], a[5:10])


def test_draw_laws():
    a, b = rf.draw_features(200_000, "uniform_knots", seed=1, inner_scale=2.0, L=3.0)
    assert set(np.unique(a)) == {-2.0, 2.0}
    e = -b / a
    assert e.min() >= -3.0 and e.max() < 3.0
    assert abs(np.mean(e)) < 0.02 and abs(np.var(e) - 3.0) < 0.03  # U[-L, L]: variance L^2/3
    a, b = rf.draw_features(200_000, "gaussian", seed=2, inner_scale=0.5)
    for v in (a, b):
        assert abs(v.mean()) < 0.005 and abs(v.std() - 0.5) < 0.005
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.01


@pytest.mark.parametrize("scheme", rf.SCHEMES)
def test_gram_and_cross_gram_match_the_numpy_twin(square10, scheme):
    x, _ = square10
    # unsorted points, duplicates, points outside the data and beyond the knots' range
    t = np.array([0.3, -1.0, 2.5, -3.5, 0.3, 1.0, -0.999, 0.0, 7.0])
    count = 300_000  # more than one wave of blocks (gram_wave_neurons() = 262144)
    fg = rf.drawn_feature_gram(count, x, t, scheme=scheme, seed=3, L=2.0)
    a, b = rf.draw_features(count, scheme, seed=3, L=2.0)
    G, K = ref.feature_gram(a, b, x, t)
    assert fg.gram.shape == (10, 10) and fg.cross.shape == (t.size, 10)
    np.testing.assert_allclose(fg.gram, G, rtol=1e-12, atol=1e-14 * np.abs(G).max())
    np.testing.assert_allclose(fg.cross, K, rtol=1e-11, atol=1e-13 * np.abs(K).max())
    np.testing.assert_array_equal(fg.gram, fg.gram.T)
    # the same neurons given as arrays: bitwise the same pass
    fa = rf.feature_gram(a, b, x, t)
    np.testing.assert_array_equal(fa.gram, fg.gram)
    np.testing.assert_array_equal(fa.cross, fg.cross)


def test_arrays_float32_and_constant_neurons(square10):
    x, _ = square10
    rng = np.random.default_rng(0)
    a = rng.standard_normal(3000).astype(np.float32)
    b = rng.standard_normal(3000).astype(np.float32)
    a[:50] = 0.0  # constant neurons [b]_+ (no knot)
    t = np.linspace(-2, 2, 41)
    fg = rf.feature_gram(a, b, x, t)
    G, K = ref.feature_gram(a.astype(np.float64), b.astype(np.float64), x, t)
    np.testing.assert_allclose(fg.gram, G, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fg.cross, K, rtol=1e-11, atol=1e-13)
    assert rf.feature_gram(a, b, x).cross is None


def test_bitwise_identical_across_threads_and_call_splits(square10, monkeypatch):
    x, _ = square10
    t = np.linspace(-1, 1, 301)
    count = 600_000  # three waves
    one = rf.drawn_feature_gram(count, x, t, scheme="gaussian", seed=11, threads=1)
    two = rf.drawn_feature_gram(count, x, t, scheme="gaussian", seed=11, threads=2)
    np.testing.assert_array_equal(one.gram, two.gram)
    np.testing.assert_array_equal(one.cross, two.cross)
    monkeypatch.setattr(rf, "_CALL_NEURONS", 1)  # one wave per C++ call
    split = rf.drawn_feature_gram(count, x, t, scheme="gaussian", seed=11, threads=2)
    np.testing.assert_array_equal(one.gram, split.gram)
    np.testing.assert_array_equal(one.cross, split.cross)


def test_outer_limit_equals_min_norm_outer_interpolant(square10):
    """f* = f0 + K(T, X) G^+ (y - f0(X)) is the min-norm c-only limit, also with f0 != 0."""
    x, y = square10
    net = wf.ShallowReLU.init(3000, scheme="gaussian", inner_scale=1.0, outer_scale=0.3, alpha="sqrt", seed=4)
    t = np.linspace(-1.5, 1.5, 257)
    target = limits.min_norm_outer_interpolant(net, x, y)
    fg = rf.feature_gram(net.a, net.b, x, t)
    o = rf.outer_limit(fg, y, f0_data=net(x), f0_points=net(t))
    np.testing.assert_allclose(o.values, target(t), rtol=0, atol=1e-8)
    assert o.residual < 1e-9
    # the mean-normalized Gram is the net's own Gram times alpha^2 / m
    np.testing.assert_allclose(fg.gram * net.width / net.alpha**2, target.gram, rtol=1e-12)


def test_outer_limit_at_width_is_the_antisymmetric_net_limit(square10):
    x, y = square10
    m = 4000
    t = np.linspace(-1, 1, 101)
    o = rf.outer_limit_at_width(m, x, y, t, scheme="uniform_knots", seed=5, L=2.0)
    a, b = rf.draw_features(m // 2, "uniform_knots", seed=5, L=2.0)
    net = wf.ShallowReLU(np.repeat(a, 2), np.repeat(b, 2), np.zeros(m))  # antisymmetric pairs: f0 = 0
    target = limits.min_norm_outer_interpolant(net, x, y)
    np.testing.assert_allclose(o.values, target(t), rtol=0, atol=1e-8)
    assert o.width == m and o.residual < 1e-9
    # wide: converges toward the m = infinity kernel interpolant (Monte Carlo rate)
    kinf = limits.kernel_interpolant(x, y, lambda s, u: limits.kernel_uniform_knots(s, u, L=2.0))
    wide = rf.outer_limit_at_width(2_000_000, x, y, t, scheme="uniform_knots", seed=5, L=2.0)
    assert np.max(np.abs(wide.values - kinf(t))) < 0.3 * np.max(np.abs(o.values - kinf(t)))


def test_bad_inputs_name_the_argument(square10):
    x, y = square10
    with pytest.raises(ValueError, match="scheme"):
        rf.drawn_feature_gram(10, x, scheme="cauchy")
    with pytest.raises(ValueError, match="count"):
        rf.drawn_feature_gram(0, x)
    with pytest.raises(ValueError, match="m: antisymmetric"):
        rf.outer_limit_at_width(7, x, y, x)
    with pytest.raises(ValueError, match="points"):
        rf.drawn_feature_gram(10, x, [0.0, np.nan])
    with pytest.raises(ValueError, match="a and b"):
        rf.feature_gram(np.ones(3), np.ones(4), x)
    with pytest.raises(TypeError, match="b: dtype"):
        rf.feature_gram(np.ones(3), np.ones(3, dtype=np.float32), x)
    with pytest.raises(ValueError, match="y: length"):
        rf.outer_limit(rf.feature_gram(np.ones(3), np.ones(3), x), y[:4])
    with pytest.raises(ValueError, match="seed"):
        rf.draw_features(3, seed=2**64)
