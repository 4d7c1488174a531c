"""Issue 12, items 4, 5 and 7: a failing schedule keeps the record, metrics of a non-finite state are
NaN, every model checks its arrays with the same named checks, and the small cases each raise a named
error."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import wideflow as wf

X10 = np.linspace(-1, 1, 10)
Y10 = np.sin(3 * X10)


def _loss(net):
    return 0.5 * float(np.sum((net(X10) - Y10) ** 2))


# ------------------------------------------------------------------------------------------ item 4
@pytest.mark.parametrize("bad", [-0.01, float("nan"), float("inf"), 0.0])
def test_schedule_bad_value_at_step_500_keeps_model_and_record(bad):
    net = wf.ShallowReLU.init(40, seed=3)
    with pytest.raises(wf.ScheduleError, match=r"^lr\b.*step 500\b") as info:
        wf.train(net, X10, Y10, lr=lambda t: bad if t >= 500 else 0.02, steps=2000, progress=False)
    run = info.value.run
    assert isinstance(info.value, ValueError)
    assert run.status == "failed" and run.final_step == 500
    assert run.steps[0] == 0 and len(run.loss) == len(run.steps)
    np.testing.assert_allclose(run.final_loss, _loss(net), rtol=1e-12)  # the model holds step 500
    ref = wf.ShallowReLU.init(40, seed=3)
    wf.train(ref, X10, Y10, lr=0.02, steps=500, progress=False)
    np.testing.assert_array_equal(ref.c, net.c)
    assert info.value.__cause__ is not None


def test_schedule_that_raises_keeps_model_and_chains_the_cause():
    def lr(t):
        if t == 37:
            raise ZeroDivisionError("boom")
        return 0.02

    net = wf.ShallowReLU.init(40, seed=3)
    with pytest.raises(wf.ScheduleError, match="ZeroDivisionError at step 37") as info:
        wf.train(net, X10, Y10, lr=lr, steps=100, record="all", progress=False)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    run = info.value.run
    assert run.status == "failed" and run.final_step == 37 and list(run.steps) == list(range(38))
    np.testing.assert_allclose(run.final_loss, _loss(net), rtol=1e-12)


def test_schedule_failing_at_step_0_trains_nothing():
    net = wf.ShallowReLU.init(10, seed=0)
    c0 = net.c.copy()
    with pytest.raises(wf.ScheduleError) as info:
        wf.train(net, X10, Y10, lr=lambda t: -1.0, steps=10, progress=False)
    assert info.value.run.final_step == 0
    np.testing.assert_array_equal(net.c, c0)


def test_factorization_metrics_of_a_non_finite_state_are_nan(capfd):
    """keep_finite=False keeps the non-finite state; LAPACK used to print DLASCL and raise LinAlgError."""
    fac = wf.Factorization.init(4, 5, 3, scale=1.0, seed=0)
    Y = np.random.default_rng(0).standard_normal((4, 5))
    with pytest.warns(wf.DivergenceWarning):
        run = wf.train(fac, Y, lr=1e300, steps=200, keep_finite=False, progress=False, metrics=True)
    with np.errstate(over="ignore", invalid="ignore"):
        assert run.status == "diverged" and not np.isfinite(fac.U @ fac.V.T).all()
    assert len(run.metrics["rel_error"]) == len(run.steps)
    for name in ("rel_error", "singular_values", "q_norm", "q_eig", "q_drift"):
        assert np.isnan(run.metrics[name][-1]).all(), name
    assert np.isfinite(run.metrics["rel_error"][0])
    assert "DLASCL" not in capfd.readouterr().err


def test_onelayer_metrics_of_a_non_finite_state_are_nan():
    model = wf.OneLayer.zeros(3, 4)
    with pytest.warns(wf.DivergenceWarning):
        run = wf.train(
            model, np.full((3, 4), 1e10), lr=1e300, steps=50, keep_finite=False, progress=False, metrics=True
        )
    assert not np.isfinite(model.X).all()
    assert run.status == "diverged" and len(run.metrics["singular_values"]) == len(run.steps)
    assert np.isnan(run.metrics["singular_values"][-1]).all()


def test_divergence_warning_is_a_runtime_warning_exported_by_wideflow():
    assert issubclass(wf.DivergenceWarning, RuntimeWarning) and "DivergenceWarning" in wf.__all__
    net = wf.ShallowReLU.init(10, seed=0)
    x = np.linspace(0.1, 1.0, 8)
    with pytest.warns(wf.DivergenceWarning, match="diverged at step"):
        wf.train(net, x, 5.0 + x, lr=1e300, steps=50, progress=False)


# ------------------------------------------------------------------------------------------ item 5
def _fac_and_Y():
    fac = wf.Factorization.init(4, 5, 3, seed=0)
    return fac, np.random.default_rng(1).standard_normal((4, 5))


@pytest.mark.parametrize("method", ["gd", "flow"])
@pytest.mark.parametrize(
    "edit, exc, pattern",
    [
        (lambda f: setattr(f, "U", np.asfortranarray(f.U)), ValueError, r"^U: must be a writeable C-contiguous"),
        (lambda f: setattr(f, "U", f.U.astype(np.float32)), TypeError, r"^U: expected dtype float64"),
        (lambda f: setattr(f, "U", np.ascontiguousarray(f.U[:, :2])), ValueError, r"^U: expected shape \(4, 3\)"),
        (lambda f: f.U.__setitem__((1, 2), np.inf), ValueError, r"^U: contains a non-finite value at \[1, 2\]"),
        (lambda f: setattr(f, "V", f.V[::-1]), ValueError, r"^V: must be a writeable C-contiguous"),
        (lambda f: setattr(f, "V", [[1.0] * 3] * 5), TypeError, r"^V: expected a NumPy array"),
    ],
)
def test_factorization_checks_its_arrays_like_the_other_models(method, edit, exc, pattern):
    fac, Y = _fac_and_Y()
    edit(fac)
    kw = {"t_end": 0.1} if method == "flow" else {"lr": 0.01, "steps": 3}
    with pytest.raises(exc, match=pattern):
        wf.train(fac, Y, method=method, **kw)


def test_shared_validator_is_used_by_every_model():
    net = wf.ShallowReLU.init(5)
    net.a = net.a.astype(np.float32)
    deep = wf.DeepNet.init([2, 3, 1])
    deep.weights[1][0, 0] = np.nan
    with pytest.raises(TypeError, match=r"^a: expected dtype float64"):
        wf.train(net, X10, Y10, lr=0.1, steps=1)
    with pytest.raises(ValueError, match=r"^weights\[1\]: contains a non-finite value at \[0, 0\]"):
        wf.train(deep, np.ones((4, 2)), np.ones((4, 1)), lr=0.1, steps=1)


# ------------------------------------------------------------------------------------------ item 7
def test_alpha_with_infinite_reciprocal_is_refused():
    with pytest.raises(ValueError, match=r"^alpha: 1/alpha is not finite"):
        wf.ShallowReLU([1.0], [0.0], [1.0], alpha=1e-320)
    net = wf.ShallowReLU([1.0], [0.0], [1.0], alpha=1e-300)
    assert np.isfinite(net(np.array([0.5]))).all()
    net.alpha = 1e-320  # edited after construction: checked before use
    with pytest.raises(ValueError, match=r"^alpha"):
        net(np.array([0.5]))


@pytest.mark.parametrize("seed, exc", [(-1, ValueError), ("abc", TypeError), (1.5, TypeError), (True, TypeError)])
@pytest.mark.parametrize(
    "init",
    [
        lambda s: wf.ShallowReLU.init(4, seed=s),
        lambda s: wf.DeepNet.init([2, 2], seed=s),
        lambda s: wf.Factorization.init(2, 2, 2, seed=s),
    ],
)
def test_bad_seed_names_seed(init, seed, exc):
    with pytest.raises(exc, match=r"^seed\b"):
        init(seed)


@pytest.mark.parametrize(
    "build",
    [
        lambda: wf.ShallowReLU([1 + 1j], [0.0], [1.0]),
        lambda: wf.DeepNet([np.ones((2, 2), dtype=complex)]),
        lambda: wf.Factorization(np.ones((2, 2)) * 1j, np.ones((2, 2))),
        lambda: wf.ShallowReLU.init(3)(np.array([0.5 + 2j])),
        lambda: wf.train(wf.ShallowReLU.init(3), X10, Y10 + 0j, lr=0.1, steps=1),
        lambda: wf.train(wf.DeepNet.init([1, 2, 1]), np.ones((3, 1)) * 1j, np.ones((3, 1)), lr=0.1, steps=1),
    ],
)
def test_complex_arrays_are_refused_not_truncated(build):
    with pytest.raises(TypeError, match="complex"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the old path: ComplexWarning, then the imaginary part dropped
            build()


@pytest.mark.parametrize("steps", [2**63, 2**62 + 1, 10**30])
def test_steps_beyond_2_62_are_refused(steps):
    with pytest.raises(ValueError, match=r"^steps: must be <= "):
        wf.train(wf.ShallowReLU.init(3), X10, Y10, lr=0.1, steps=steps)


@pytest.mark.parametrize(
    "record, exc", [([1.7], TypeError), ([2, float("nan")], TypeError), (["3"], TypeError), ([2.0**70], ValueError)]
)
def test_record_must_be_whole_step_indices(record, exc):
    with pytest.raises(exc, match=r"^record\b"):
        wf.train(wf.ShallowReLU.init(3), X10, Y10, lr=0.1, steps=10, record=record)


def test_record_of_whole_floats_is_accepted():
    run = wf.train(wf.ShallowReLU.init(3), X10, Y10, lr=0.1, steps=10, record=np.array([2.0, 5.0]), progress=False)
    assert list(run.steps) == [0, 2, 5, 10]


@pytest.mark.parametrize(
    "name, value",
    [("keep_finite", "no"), ("keep_finite", None), ("keep_finite", 1), ("progress", "maybe"), ("progress", 0)],
)
def test_flags_must_be_bool(name, value):
    with pytest.raises(TypeError, match=rf"^{name}: expected True or False"):
        wf.train(wf.ShallowReLU.init(3), X10, Y10, lr=0.1, steps=1, **{name: value})


@pytest.mark.parametrize("dims", [[3, 2.5, 1], [3, "2", 1], [3, True, 1], [3, 0, 1], [3, 2**41, 1]])
def test_deepnet_init_dims_are_positive_integers(dims):
    with pytest.raises((TypeError, ValueError), match=r"^dims\[1\]"):
        wf.DeepNet.init(dims)


def test_deepnet_weights_and_activation_are_read_only():
    net = wf.DeepNet.init([3, 4, 2])
    for name, value in [
        ("weights", [np.ones((2, 3))]),
        ("activation", "linear"),
        ("biases", None),
        ("negative_slope", 0.5),
    ]:
        with pytest.raises(AttributeError):
            setattr(net, name, value)
    del net.weights[1]  # the list itself mutated: caught before any kernel sees it
    with pytest.raises(ValueError, match=r"^weights: the net was built with 2 layers"):
        net(np.ones((2, 3)))
    net2 = wf.DeepNet.init([3, 4, 2])
    net2.weights[0] = np.ones((5, 3))
    with pytest.raises(ValueError, match=r"^weights\[0\]: expected shape \(4, 3\)"):
        wf.train(net2, np.ones((2, 3)), np.ones((2, 2)), lr=0.1, steps=1)


@pytest.mark.parametrize("m", [10**30, 2**41])
def test_huge_width_names_m(m):
    with pytest.raises(ValueError, match=r"^m: must be <= "):
        wf.ShallowReLU.init(m)


def test_factorization_init_sizes_are_capped_naming_them():
    with pytest.raises(ValueError, match=r"^k\b"):
        wf.Factorization.init(2**30, 2, 2**20)


def test_train_batch_schedule_failure_keeps_the_batch_record():
    rng = np.random.default_rng(0)
    Us, Vs = rng.standard_normal((3, 4, 2)) * 0.3, rng.standard_normal((3, 5, 2)) * 0.3
    Y = rng.standard_normal((4, 5))
    with pytest.raises(wf.ScheduleError, match=r"^lr\b.*step 30\b") as info:
        wf.train_batch(Us, Vs, Y, lr=lambda t: 0.05 if t < 30 else float("nan"), steps=100, record="all")
    batch = info.value.run
    assert list(batch.status) == ["failed"] * 3 and list(batch.final_step) == [30] * 3
    ref = wf.train_batch(Us, Vs, Y, lr=0.05, steps=30, record="all")
    np.testing.assert_array_equal(batch.U, ref.U)
    np.testing.assert_array_equal(batch.loss, ref.loss)
