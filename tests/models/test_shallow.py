"""wf.ShallowReLU: evaluation against the NumPy reference, initialization schemes, reduced coordinates,
and the checks on what it is given."""

from __future__ import annotations

import numpy as np
import pytest

import wideflow as wf
from wideflow import _reference as ref

EVAL_RTOL = {"float64": 1e-12, "float32": 1e-5}


def eval_scale(net, x):
    """Natural size of f(x) for error bounds: (1/alpha) sum_i |c_i| (|a_i x| + |b_i|) (no cancellation)."""
    a, b, c = (v.astype(np.float64) for v in (net.a, net.b, net.c))
    x = np.asarray(x, dtype=np.float64).ravel()
    return (np.abs(np.multiply.outer(x, a)) + np.abs(b)) @ np.abs(c) / net.alpha


def assert_close_eval(got, want, scale, rtol):
    err = np.abs(np.asarray(got, np.float64).ravel() - np.asarray(want, np.float64).ravel())
    bound = rtol * np.max(scale)
    assert np.all(err <= bound), f"max error {err.max():.3e} > {bound:.3e}"


def eval_points(net, rng, P=41):
    """Points in any order: random (outside the knot range too), duplicates, and exact knots of neurons."""
    x = rng.uniform(-3.0, 3.0, P)
    x[:5] = x[5:10]  # duplicates
    kn = net.knots()
    kn = kn[np.isfinite(kn) & (np.abs(kn) < 3.0)]
    k = min(kn.size, 6)
    x[10 : 10 + k] = kn[:k]  # exactly at knots (z = 0 up to rounding)
    x[-1] = 25.0
    x[-2] = -25.0
    return x


# ---------------------------------------------------------------------------------------------- evaluation
@pytest.mark.parametrize("m", [1, 16, 255, 257, 1000, 4099])
def test_evaluate_matches_reference(m, kernel, dtype):
    rng = np.random.default_rng(m)
    net = wf.ShallowReLU.init(m, seed=m, dtype=dtype, alpha="m" if m > 1 else 1.0)
    x = eval_points(net, rng)
    got = net(x, kernel=kernel)
    assert got.dtype == np.float64 and got.shape == x.shape
    want = ref.shallow_forward(net.a, net.b, net.c, net.alpha, x)
    assert_close_eval(got, want, eval_scale(net, x), EVAL_RTOL[dtype])
    assert np.any(got != 0.0)  # some neuron is active somewhere: not a vacuous comparison
    many = rng.uniform(-3.0, 3.0, 700)  # >= 512 points: the sorted kernel's other histogram layout
    assert_close_eval(
        net(many, kernel=kernel),
        ref.shallow_forward(net.a, net.b, net.c, net.alpha, many),
        eval_scale(net, many),
        EVAL_RTOL[dtype],
    )


def test_evaluate_single_neuron_by_hand(kernel):
    net = wf.ShallowReLU([2.0], [-1.0], [3.0], alpha=1.5)  # f(x) = 2 * max(2x - 1, 0)
    x = np.array([-1.0, 0.5, 0.75, 1.0, 3.0, 0.0])
    np.testing.assert_allclose(net(x, kernel=kernel), [0.0, 0.0, 1.0, 2.0, 10.0, 0.0], rtol=1e-15, atol=0)


def test_evaluate_kernels_agree(dtype):
    rng = np.random.default_rng(3)
    net = wf.ShallowReLU.init(3001, seed=4, dtype=dtype)
    net.a[:7] = 0.0  # constant neurons (no knot) are part of both conventions
    x = eval_points(net, rng, P=700)
    d = net(x, kernel="direct")
    s = net(x, kernel="sorted")
    assert_close_eval(d, s, eval_scale(net, x), EVAL_RTOL[dtype])


def test_evaluate_auto_kernel_matches_reference():
    rng = np.random.default_rng(0)
    net = wf.ShallowReLU.init(500, seed=1)
    for P in (1, 2, 3, 50):
        x = rng.uniform(-2, 2, P)
        assert_close_eval(net(x), ref.shallow_forward(net.a, net.b, net.c, net.alpha, x), eval_scale(net, x), 1e-12)


def test_evaluate_any_shape(kernel):
    net = wf.ShallowReLU.init(300, seed=2)
    rng = np.random.default_rng(1)
    x2 = rng.uniform(-2, 2, (3, 4))
    out = net(x2, kernel=kernel)
    assert out.shape == (3, 4)
    flat = net(x2.ravel(), kernel=kernel)
    np.testing.assert_allclose(out.ravel(), flat, rtol=1e-13, atol=1e-15)
    x3 = rng.uniform(-2, 2, (2, 3, 2))
    assert net(x3, kernel=kernel).shape == (2, 3, 2)
    scalar = net(0.25, kernel=kernel)
    assert np.shape(scalar) == ()
    np.testing.assert_allclose(
        float(scalar), ref.shallow_forward(net.a, net.b, net.c, net.alpha, [0.25])[0], rtol=1e-12, atol=1e-15
    )
    empty = net(np.zeros(0), kernel=kernel)
    assert empty.shape == (0,)
    # a list of Python floats works too
    np.testing.assert_array_equal(net([0.1, -0.3], kernel=kernel), net(np.array([0.1, -0.3]), kernel=kernel))


def test_evaluate_permutation_equivariant(kernel):
    """f evaluated at permuted points is the permuted result, bitwise (each point's value does not
    depend on the order it was given in)."""
    net = wf.ShallowReLU.init(2000, seed=5)
    rng = np.random.default_rng(2)
    x = rng.uniform(-2, 2, 101)
    x[50:60] = x[0:10]
    perm = rng.permutation(x.size)
    np.testing.assert_array_equal(net(x[perm], kernel=kernel), net(x, kernel=kernel)[perm])


def test_evaluate_thread_count_bitwise(kernel):
    net = wf.ShallowReLU.init(300_000, seed=0)
    x = np.random.default_rng(0).uniform(-2, 2, 40)
    one = net(x, threads=1, kernel=kernel)
    two = net(x, threads=2, kernel=kernel)
    default = net(x, kernel=kernel)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, default)


def test_evaluate_does_not_modify_parameters(kernel):
    net = wf.ShallowReLU.init(100, seed=0)
    before = net.state()
    net(np.linspace(-1, 1, 7), kernel=kernel)
    for k, v in before.items():
        np.testing.assert_array_equal(getattr(net, k), v)


# ---------------------------------------------------------------------------------------------- construction
def test_constructor_copies_and_dtypes():
    a = np.array([1.0, -2.0, 0.5])
    b = np.array([0.0, 1.0, -1.0])
    c = np.array([2.0, 1.0, -1.0])
    net = wf.ShallowReLU(a, b, c, alpha=2.0)
    a[0] = 99.0
    assert net.a[0] == 1.0  # copied
    assert net.dtype == np.float64 and net.width == 3 and net.alpha == 2.0
    assert all(v.flags.c_contiguous for v in (net.a, net.b, net.c))
    n32 = wf.ShallowReLU(a.astype(np.float32), b.astype(np.float32), c.astype(np.float32))
    assert n32.dtype == np.float32 and all(v.dtype == np.float32 for v in (n32.a, n32.b, n32.c))
    mixed = wf.ShallowReLU(a.astype(np.float32), b, c)
    assert mixed.dtype == np.float64 and all(v.dtype == np.float64 for v in (mixed.a, mixed.b, mixed.c))
    forced = wf.ShallowReLU([1, 2], [3, 4], [5, 6], dtype="float32")
    assert forced.dtype == np.float32
    assert wf.ShallowReLU([1], [2], [3], dtype=np.float32).dtype == np.float32
    cp = net.copy()
    cp.a[1] = 7.0
    assert net.a[1] == -2.0 and cp.alpha == net.alpha


@pytest.mark.parametrize("alpha, expected", [("m", 400.0), ("sqrt", 20.0), (3.5, 3.5), (1, 1.0)])
def test_alpha(alpha, expected):
    net = wf.ShallowReLU.init(400, alpha=alpha, seed=1)
    assert net.alpha == expected
    # f scales like 1/alpha
    x = np.linspace(-1, 1, 9)
    unit = wf.ShallowReLU(net.a, net.b, net.c, alpha=1.0)
    np.testing.assert_allclose(net(x) * expected, unit(x), rtol=1e-12, atol=1e-12)


def test_init_gaussian_statistics():
    m = 100_000
    net = wf.ShallowReLU.init(m, scheme="gaussian", inner_scale=0.3, outer_scale=2.0, seed=7)
    for v, s in ((net.a, 0.3), (net.b, 0.3), (net.c, 2.0)):
        assert abs(v.mean()) < 0.02 * s
        assert abs(v.std() / s - 1.0) < 0.02
    # independent draws
    assert abs(np.corrcoef(net.a, net.b)[0, 1]) < 0.02
    assert abs(np.corrcoef(net.a, net.c)[0, 1]) < 0.02


def test_init_uniform_knots_statistics():
    m, s, L = 100_000, 0.7, 3.0
    net = wf.ShallowReLU.init(m, scheme="uniform_knots", inner_scale=s, outer_scale=1.5, L=L, seed=3)
    assert np.all(np.abs(net.a) == s)  # exactly
    frac_pos = np.mean(net.a > 0)
    assert 0.48 < frac_pos < 0.52
    kn = net.knots()
    assert np.all(np.isfinite(kn))
    assert np.all(np.abs(kn) <= L * (1 + 1e-15))
    counts, _ = np.histogram(kn, bins=10, range=(-L, L))
    np.testing.assert_allclose(counts / (m / 10), 1.0, atol=0.05)
    assert abs(net.c.std() / 1.5 - 1) < 0.02 and abs(net.c.mean()) < 0.03
    # orientation and knot position are independent
    assert abs(np.mean(kn[net.a > 0])) < 0.05 * L and abs(np.mean(kn[net.a < 0])) < 0.05 * L


def test_init_box_statistics():
    m, s = 100_000, 2.0
    net = wf.ShallowReLU.init(m, scheme="box", inner_scale=s, outer_scale=0.5, seed=9)
    for v in (net.a, net.b):
        assert v.min() >= -s and v.max() <= s
        assert v.min() < -0.99 * s and v.max() > 0.99 * s  # fills the box
        assert abs(v.std() - s / np.sqrt(3)) < 0.02 * s / np.sqrt(3)
        counts, _ = np.histogram(v, bins=10, range=(-s, s))
        np.testing.assert_allclose(counts / (m / 10), 1.0, atol=0.05)
    assert abs(net.c.std() / 0.5 - 1) < 0.02


@pytest.mark.parametrize("scheme", ["gaussian", "uniform_knots", "box"])
def test_init_seed_reproducible(scheme):
    n1 = wf.ShallowReLU.init(500, scheme=scheme, seed=42)
    n2 = wf.ShallowReLU.init(500, scheme=scheme, seed=42)
    n3 = wf.ShallowReLU.init(500, scheme=scheme, seed=43)
    for k in "abc":
        np.testing.assert_array_equal(getattr(n1, k), getattr(n2, k))
    assert not np.array_equal(n1.c, n3.c)
    assert not np.array_equal(n1.b, n3.b)


@pytest.mark.parametrize("scheme", ["gaussian", "uniform_knots", "box"])
def test_init_float32(scheme):
    n64 = wf.ShallowReLU.init(300, scheme=scheme, seed=1)
    n32 = wf.ShallowReLU.init(300, scheme=scheme, seed=1, dtype="float32")
    assert n32.dtype == np.float32 and all(v.dtype == np.float32 for v in (n32.a, n32.b, n32.c))
    # same draws, rounded
    for k in "abc":
        np.testing.assert_array_equal(getattr(n32, k), getattr(n64, k).astype(np.float32))


@pytest.mark.parametrize("scheme", ["gaussian", "uniform_knots", "box"])
def test_init_antisymmetric_pairs(scheme):
    """antisymmetric=True: the neurons come in pairs (a, b, c), (a, b, -c)."""
    m = 300
    net = wf.ShallowReLU.init(m, scheme=scheme, antisymmetric=True, seed=1)
    assert net.width == m and net.alpha == m
    # the multiset of (a, b, c) equals that of (a, b, -c), and the pairs are m/2 distinct draws
    key = np.lexsort((net.c, net.b, net.a))
    key_neg = np.lexsort((-net.c, net.b, net.a))
    np.testing.assert_array_equal(net.a[key], net.a[key_neg])
    np.testing.assert_array_equal(net.b[key], net.b[key_neg])
    np.testing.assert_array_equal(net.c[key], -net.c[key_neg])
    assert np.unique(net.c).size == m
    assert np.unique(net.b).size == m // 2


@pytest.mark.parametrize("m", [10, 4098])
def test_init_antisymmetric_zero_function(m, kernel, dtype):
    """antisymmetric=True promises f_0 == 0 *exactly*, at any x and with either kernel."""
    net = wf.ShallowReLU.init(m, antisymmetric=True, seed=m, dtype=dtype)
    # 600 points: the sorted kernel switches its histogram layout at 512 points
    x = np.concatenate([np.linspace(-3, 3, 61), np.random.default_rng(0).uniform(-5, 5, 539)])
    for pts in (x[:40], x):
        f = net(pts, kernel=kernel)
        assert np.all(f == 0.0), f"max |f_0| = {np.abs(f).max():.3e} at {pts.size} points"


def test_init_antisymmetric_needs_even_width():
    with pytest.raises(ValueError, match=r"^m\b"):
        wf.ShallowReLU.init(7, antisymmetric=True)


# ---------------------------------------------------------------------------------------------- reduced coordinates
def small_net():
    a = np.array([1.0, -2.0, 0.0, 0.5, -0.25, 3.0])
    b = np.array([0.5, 1.0, 0.7, -0.2, -0.5, 0.0])
    c = np.array([2.0, -1.0, 0.3, -0.6, 1.2, 0.0])
    return wf.ShallowReLU(a, b, c, alpha=2.0)


def test_knots_and_orientations():
    net = small_net()
    kn = net.knots()
    np.testing.assert_array_equal(np.isnan(kn), net.a == 0)
    ok = net.a != 0
    np.testing.assert_allclose(kn[ok], -net.b[ok] / net.a[ok], rtol=1e-15)
    np.testing.assert_array_equal(net.orientations(), [1, -1, 0, 1, -1, 1])
    # at the knot, z = 0
    np.testing.assert_allclose(net.a[ok] * kn[ok] + net.b[ok], 0.0, atol=1e-15)


@pytest.mark.parametrize("signed", [False, True])
def test_uv_reconstructs_f(signed):
    net = wf.ShallowReLU.init(1000, seed=3, alpha="sqrt")
    net.c[:3] = 0.0
    u, v, eps = net.uv(signed=signed)
    np.testing.assert_array_equal(eps, np.sign(net.c))
    if signed:
        np.testing.assert_allclose(u, net.c * net.a, rtol=1e-15)
        np.testing.assert_allclose(v, net.c * net.b, rtol=1e-15)
    else:
        np.testing.assert_allclose(u, np.abs(net.c) * net.a, rtol=1e-15)
        np.testing.assert_allclose(v, np.abs(net.c) * net.b, rtol=1e-15)
        x = np.linspace(-3, 3, 37)
        f_uv = np.maximum(np.multiply.outer(x, u) + v, 0) @ eps.astype(np.float64) / net.alpha
        np.testing.assert_allclose(net(x), f_uv, rtol=1e-11, atol=1e-12 * np.max(eval_scale(net, x)))


def test_uv_signed_reflects_negative_neurons():
    net = small_net()
    u, v, _ = net.uv()
    us, vs, eps = net.uv(signed=True)
    np.testing.assert_allclose(us, eps * u, rtol=0, atol=0)
    np.testing.assert_allclose(vs, eps * v, rtol=0, atol=0)


def test_invariant_values():
    net = small_net()
    np.testing.assert_allclose(net.invariant(), net.c**2 - net.a**2 - net.b**2, rtol=1e-15)
    assert net.invariant()[0] == 4.0 - 1.0 - 0.25
    n32 = wf.ShallowReLU.init(50, dtype="float32", seed=1)
    inv = n32.invariant()
    assert inv.dtype == np.float64
    a, b, c = (v.astype(np.float64) for v in (n32.a, n32.b, n32.c))
    np.testing.assert_allclose(inv, c * c - a * a - b * b, rtol=1e-15)


def test_active_and_dead():
    net = small_net()
    x = np.array([-1.0, 0.0, 1.0])
    act = net.active(x)
    assert act.shape == (3, 6)
    np.testing.assert_array_equal(act, (np.multiply.outer(x, net.a) + net.b) > 0)
    dead = net.dead(x)
    np.testing.assert_array_equal(dead, ~act.any(axis=0))
    # neuron 4: z = -0.25 x - 0.5 < 0 on [-1, 1]
    assert dead[4] and not dead[0]


def test_state_is_a_copy():
    net = small_net()
    st = net.state()
    net.a[0] = 5.0
    assert st["a"][0] == 1.0


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "m, exc", [(0, ValueError), (-3, ValueError), (2.5, TypeError), ("10", TypeError), (True, TypeError)]
)
def test_init_bad_width(m, exc):
    with pytest.raises(exc, match=r"^m\b"):
        wf.ShallowReLU.init(m)


def test_init_bad_scheme():
    with pytest.raises(ValueError, match=r"^scheme\b"):
        wf.ShallowReLU.init(10, scheme="xavier")


@pytest.mark.parametrize(
    "alpha, exc",
    [
        ("foo", ValueError),
        (0, ValueError),
        (-1, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (None, TypeError),
    ],
)
def test_bad_alpha(alpha, exc):
    with pytest.raises(exc, match=r"^alpha\b"):
        wf.ShallowReLU.init(10, alpha=alpha)
    with pytest.raises(exc, match=r"^alpha\b"):
        wf.ShallowReLU([1.0], [0.0], [1.0], alpha=alpha)


@pytest.mark.parametrize("name", ["inner_scale", "outer_scale", "L"])
@pytest.mark.parametrize("value", [0.0, -1.0, float("nan")])
def test_init_bad_scales(name, value):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        wf.ShallowReLU.init(10, **{name: value})


@pytest.mark.parametrize("dtype", ["int32", "float16", np.int64, "complex128"])
def test_bad_dtype(dtype):
    with pytest.raises(TypeError, match=r"^dtype\b"):
        wf.ShallowReLU.init(10, dtype=dtype)
    with pytest.raises(TypeError, match=r"^dtype\b"):
        wf.ShallowReLU([1.0], [0.0], [1.0], dtype=dtype)


def test_parameters_of_different_lengths():
    with pytest.raises(ValueError, match=r"^a and b and c: lengths differ"):
        wf.ShallowReLU([1.0, 2.0], [0.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"lengths differ"):
        wf.ShallowReLU([1.0], [0.0], [1.0, 2.0])


@pytest.mark.parametrize("name", ["a", "b", "c"])
def test_bad_parameter_arrays(name):
    good = {"a": [1.0, 2.0], "b": [0.0, 1.0], "c": [1.0, -1.0]}
    for bad, exc in (
        ([1.0, np.nan], ValueError),
        ([np.inf, 1.0], ValueError),
        ([], ValueError),
        ([[1.0, 2.0]], ValueError),
        (["x", "y"], TypeError),
    ):
        args = dict(good, **{name: bad})
        with pytest.raises(exc, match=rf"^{name}\b"):
            wf.ShallowReLU(args["a"], args["b"], args["c"])


@pytest.mark.parametrize("bad", [[0.0, np.nan], [np.inf], [[0.0, -np.inf]]])
def test_evaluate_rejects_nonfinite_points(bad, kernel):
    net = wf.ShallowReLU.init(10)
    with pytest.raises(ValueError, match=r"^x\b"):
        net(bad, kernel=kernel)


def test_evaluate_rejects_non_numbers():
    net = wf.ShallowReLU.init(10)
    with pytest.raises((TypeError, ValueError), match=r"^x\b"):
        net(["a", "b"])


def test_evaluate_bad_kernel_and_threads():
    net = wf.ShallowReLU.init(10)
    with pytest.raises(ValueError, match=r"^kernel\b"):
        net([0.0], kernel="fft")
    with pytest.raises(ValueError, match=r"^threads\b"):
        net([0.0], threads=0)
    with pytest.raises(TypeError, match=r"^threads\b"):
        net([0.0], threads=1.5)


def test_evaluate_rejects_replaced_parameter_of_wrong_dtype():
    """Parameters are public arrays: one replaced by an array of another dtype is named in the error."""
    net = wf.ShallowReLU.init(10)
    net.a = net.a.astype(np.float32)
    with pytest.raises((TypeError, ValueError), match=r"^a\b"):
        net([0.0, 1.0])
