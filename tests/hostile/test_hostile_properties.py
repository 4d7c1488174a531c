"""Issue 12, property-based part: the public constructors and `wf.train` fed random shapes, dtypes,
NaN/inf, huge, zero and negative values have exactly two outcomes: a ValueError/TypeError whose message
names the argument at fault before its first colon ("x: ...", "x and y: lengths differ"), or a valid
model / run. Anything else (IndexError, OverflowError, LinAlgError, a hang, a crash, a message naming
another argument) is a failure.

Each example takes good values for every argument but one (or none), which takes a hostile value, so
both outcomes are explored and the error must name that argument. Sizes stay small; the examples are
derandomized so CI is reproducible."""

from __future__ import annotations

import re
import warnings

import hypothesis
import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import wideflow as wf

SETTINGS = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-320, 1e308, -1.0, float("nan"), float("inf")]),
)
DTYPES = st.sampled_from([np.float64, np.float32, np.float16, np.int64, np.int8, np.bool_, np.complex128])
REALS = st.floats(-1e3, 1e3)
EXTREME = st.one_of(REALS, st.sampled_from([1e300, -1e300, 1e-310, 0.0]))


def arrays(max_dims=2, max_side=5):
    return DTYPES.flatmap(
        lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side))
    )


HOSTILE = st.one_of(
    arrays(3),
    st.lists(FLOATS, max_size=6),
    FLOATS,
    st.integers(-(10**400), 10**400),
    st.text(max_size=3),
    st.none(),
    st.booleans(),
    st.lists(st.lists(FLOATS, max_size=3), max_size=3),
    st.sampled_from([2**41, 2**63, -(2**70), 10**30, "m", "all", "log"]),
)


def good(shape, dtype=np.float64, elements=EXTREME):
    """Finite arrays of a fixed shape (so that the good values fit together), extremes included."""
    return hnp.arrays(dtype, shape, elements=elements)


def one_bad(**args):
    """Dicts of keyword values: every argument good except at most one, which is HOSTILE (the name of the
    hostile one is under key None)."""
    names = list(args)

    def build(k):
        fields = {n: (HOSTILE if i == k else args[n]) for i, n in enumerate(names)}
        return st.fixed_dictionaries(fields).map(lambda d: {**d, None: names[k] if k < len(names) else None})

    return st.integers(0, len(names)).flatmap(build)


def long_but_valid(kw, bad, name, limit):
    """A hostile draw that is a valid request for a very long run (say steps=2**41): not a bad input."""
    v = kw.get(name)
    return bad == name and isinstance(v, (int, float)) and not isinstance(v, bool) and limit < v < 2.0**63


def outcome(fn, bad, allowed=()):
    """Call fn. A ValueError/TypeError must name the hostile argument `bad` (or one of `allowed`) before
    its first colon; anything else propagates and fails the test. Returns the result or None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with np.errstate(all="ignore"):
                return fn()
        except (ValueError, TypeError) as exc:
            head = str(exc).split(":", 1)[0]
            names = set(re.findall(r"[A-Za-z_]\w*", head))
            # named before the colon; or later (e.g. "Y: expected 3 rows (one per row of X)"), unless the
            # name is a single lowercase letter that could be an English word
            later = bad is not None and (len(bad) > 1 or bad.isupper()) and re.search(rf"\b{bad}\b", str(exc))
            ok = (bad in names) or bool(later) or bool(names & set(allowed))
            assert ok, f"hostile {bad!r}: {type(exc).__name__} does not name it: {exc}"
            return None


def check_run(run, steps=None):
    assert isinstance(run, wf.Run)
    assert run.status in ("completed", "diverged")
    # GD records distinct steps; a flow's run.steps counts accepted steps at each record, and records from
    # the continuous extension (the exact ReLU flow) can share a step
    assert run.steps[0] == 0 and np.all(np.diff(run.steps) >= 0 if run.method == "flow" else np.diff(run.steps) > 0)
    assert len(run.loss) == len(run.steps) == len(run.t)
    assert np.isfinite(run.loss[0]) or run.status == "diverged"
    if steps is not None:
        assert run.final_step <= steps


@SETTINGS
@given(
    one_bad(
        a=good((4,)),
        b=good((4,)),
        c=good((4,), np.float32, REALS),
        alpha=st.one_of(st.floats(1e-300, 1e300), st.sampled_from(["m", "sqrt"])),
    )
)
def test_shallow_constructor(kw):
    bad = kw.pop(None)
    net = outcome(lambda: wf.ShallowReLU(**kw), bad, ("dtype",))
    if net is not None:
        event("valid model")
        assert net.width >= 1 and np.isfinite(1.0 / net.alpha)
        assert outcome(lambda: net(np.linspace(-1, 1, 5)), "x").shape == (5,)


@SETTINGS
@given(
    one_bad(
        m=st.integers(1, 50),
        scheme=st.sampled_from(["gaussian", "uniform_knots", "box"]),
        inner_scale=st.floats(0.01, 100),
        outer_scale=st.floats(0.01, 100),
        alpha=st.one_of(st.sampled_from(["m", "sqrt"]), st.floats(0.01, 1e3)),
        seed=st.integers(0, 2**70),
        dtype=st.sampled_from(["float64", "float32"]),
        L=st.floats(0.01, 10),
    )
)
def test_shallow_init(kw):
    bad = kw.pop(None)
    net = outcome(lambda: wf.ShallowReLU.init(**kw), bad)
    if net is not None:
        event("valid model")
        assert net.width == kw["m"] and all(np.isfinite(v).all() for v in (net.a, net.b, net.c))


@SETTINGS
@given(
    one_bad(
        x=good((9,)),
        y=good((9,)),
        lr=st.floats(1e-6, 10.0),
        steps=st.integers(0, 40),
        record=st.one_of(st.sampled_from(["log", "all"]), st.integers(1, 5), st.lists(st.integers(0, 40), max_size=3)),
        keep_finite=st.booleans(),
        train=st.sampled_from(["all", "outer", "inner"]),
        kernel=st.sampled_from(["auto", "direct", "sorted"]),
        threads=st.sampled_from([None, 1, 2]),
    )
)
def test_train_shallow_gd(kw):
    bad = kw.pop(None)
    hypothesis.assume(not long_but_valid(kw, bad, "steps", 40))
    net = wf.ShallowReLU.init(6, seed=1)
    if isinstance(kw["record"], list) and bad not in ("record", "steps"):  # a hostile steps is not comparable
        kw["record"] = [r for r in kw["record"] if r <= kw["steps"]]
    run = outcome(lambda: wf.train(net, kw.pop("x"), kw.pop("y"), progress=False, **kw), bad)
    if run is not None:
        event("valid run")
        check_run(run, kw["steps"])


@SETTINGS
@given(
    one_bad(
        x=good((7,)),
        y=good((7,)),
        t_end=st.floats(1e-3, 3.0),
        rtol=st.floats(1e-12, 1e-2),
        atol=st.floats(1e-14, 1e-2),
        tableau=st.sampled_from(["dopri5", "bs32"]),
    )
)
def test_train_shallow_flow(kw):
    bad = kw.pop(None)
    net = wf.ShallowReLU.init(4, seed=2)
    hypothesis.assume(not long_but_valid(kw, bad, "t_end", 3.0))
    run = outcome(lambda: wf.train(net, kw.pop("x"), kw.pop("y"), method="flow", progress=False, **kw), bad)
    if run is not None:
        event("valid run")
        check_run(run)


@SETTINGS
@given(
    one_bad(
        weights=st.tuples(good((3, 2)), good((1, 3))).map(list),
        activation=st.sampled_from(["linear", "relu", "leaky_relu"]),
        negative_slope=st.floats(0, 1),
        biases=st.one_of(st.none(), st.tuples(good((3,)), good((1,))).map(list)),
    )
)
def test_deep_constructor(kw):
    bad = kw.pop(None)
    net = outcome(lambda: wf.DeepNet(**kw), bad, ("dtype",))
    if net is not None:
        event("valid model")
        assert outcome(lambda: net(np.ones((3, net.dims[0]))), "X").shape == (3, net.dims[-1])


@SETTINGS
@given(
    one_bad(
        dims=st.lists(st.integers(1, 5), min_size=2, max_size=4),
        variance=st.one_of(st.none(), st.floats(1e-3, 10)),
        seed=st.integers(0, 5),
        activation=st.sampled_from(["linear", "relu", "leaky_relu"]),
    ),
    one_bad(X=good((5, 2)), Y=good((5, 1)), lr=st.floats(1e-6, 10.0), steps=st.integers(0, 20)),
)
def test_deep_init_and_train(init_kw, train_kw):
    bad = init_kw.pop(None)
    net = outcome(lambda: wf.DeepNet.init(**init_kw), bad)
    if net is None:
        return
    event("valid model")
    bad = train_kw.pop(None)
    hypothesis.assume(not long_but_valid(train_kw, bad, "steps", 20))
    X, Y = train_kw.pop("X"), train_kw.pop("Y")
    if net.dims[0] != 2 or net.dims[-1] != 1:
        X = X if bad == "X" else np.ones((5, net.dims[0]))
        Y = Y if bad == "Y" else np.ones((5, net.dims[-1]))
    run = outcome(lambda: wf.train(net, X, Y, progress=False, **train_kw), bad)
    if run is not None:
        event("valid run")
        check_run(run, train_kw["steps"])


@SETTINGS
@given(
    one_bad(U=good((3, 2)), V=good((4, 2))),
    one_bad(Y=good((3, 4)), lr=st.floats(1e-6, 10.0), steps=st.integers(0, 20), keep_finite=st.booleans()),
    st.sampled_from(["gd", "flow"]),
)
def test_factorization_constructor_and_train(fac_kw, train_kw, method):
    bad = fac_kw.pop(None)
    fac = outcome(lambda: wf.Factorization(**fac_kw), bad, ("dtype",))
    if fac is None:
        return
    event("valid model")
    bad = train_kw.pop(None)
    hypothesis.assume(not long_but_valid(train_kw, bad, "steps", 20))
    Y = train_kw.pop("Y")
    if fac.shape != (3, 4) and bad != "Y":
        Y = np.ones(fac.shape)
    if method == "flow":
        if bad not in ("Y", None):
            return
        train_kw = {"t_end": 0.5}
    run = outcome(lambda: wf.train(fac, Y, method=method, progress=False, **train_kw), bad)
    if run is not None:
        event("valid run")
        check_run(run, train_kw.get("steps"))


@SETTINGS
@given(
    one_bad(
        m=st.integers(1, 6),
        n=st.integers(1, 6),
        k=st.integers(1, 6),
        scale=st.floats(0, 10),
        seed=st.integers(0, 5),
        dtype=st.sampled_from(["float64", "float32"]),
    )
)
def test_factorization_init(kw):
    bad = kw.pop(None)
    fac = outcome(lambda: wf.Factorization.init(**kw), bad)
    if fac is not None:
        event("valid model")
        assert fac.shape == (kw["m"], kw["n"]) and fac.width == kw["k"]
