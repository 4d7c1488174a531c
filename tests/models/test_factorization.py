"""Two-layer linear factorization X = U V^T and the one-layer baseline (Tarmoun et al. 2021): the fused C++
kernels against the NumPy reference, the exact GD imbalance identity, batched runs against the same runs
done one by one (bitwise, any thread count), GD against the closed forms, bad input and divergence."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import wideflow as wf
from wideflow import _core, _reference
from wideflow import linear_theory as lt
from wideflow.factorization import imbalance_spectrum

DTYPES = ("float64", "float32")
RTOL = {"float64": 1e-12, "float32": 2e-5}

# shapes: (m, n, k); (5, 10, 50) is the paper's problem (tiny path), k = 200 takes the general Eigen path
TINY = (5, 10, 50)
GENERAL = (6, 9, 200)


def problem(m, n, k, scale=0.3, seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((m, n))
    U = scale * rng.standard_normal((m, k))
    V = scale * rng.standard_normal((n, k))
    return Y.astype(dtype), U.astype(dtype), V.astype(dtype)


def quiet_train(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return wf.train(*args, **kwargs)


# ------------------------------------------------------------------------------------------ kernel paths


def test_paths_are_the_intended_ones():
    assert _core.factorization.tiny_path(*TINY, 8)
    assert _core.factorization.tiny_path(*TINY, 4)
    assert not _core.factorization.tiny_path(*GENERAL, 8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [TINY, GENERAL, (1, 1, 1), (3, 2, 17)], ids=["tiny", "general", "1x1x1", "odd"])
@pytest.mark.parametrize("steps", [1, 60])
def test_kernel_matches_reference(dtype, shape, steps):
    Y, U, V = problem(*shape, dtype=dtype)
    lrs = np.full(steps, 0.02)
    Ur, Vr, Lr = _reference.factorization_gd(U, V, Y, lrs)
    fac = wf.Factorization(U, V)
    assert fac.dtype == np.dtype(dtype)
    run = wf.train(fac, Y, lr=0.02, steps=steps, record="all")
    rtol = RTOL[dtype]
    scale = max(np.abs(Ur).max(), np.abs(Vr).max())
    assert np.abs(fac.U - Ur).max() <= rtol * 10 * scale
    assert np.abs(fac.V - Vr).max() <= rtol * 10 * scale
    # the loss falls by many orders of magnitude: compare on the scale of the initial loss's round-off
    np.testing.assert_allclose(run.loss[:-1], Lr, rtol=rtol * 10, atol=rtol * np.sqrt(Lr[0]))
    assert run.steps[-1] == steps and run.status == "completed"


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_layer_matches_reference_and_flow(dtype):
    Y, _, _ = problem(4, 7, 1, dtype=dtype)
    X0 = np.random.default_rng(3).standard_normal((4, 7)).astype(dtype)
    model = wf.OneLayer(X0)
    lrs = np.full(500, 1e-2)
    Xr, Lr = _reference.onelayer_gd(X0, Y, lrs)
    run = wf.train(model, Y, lr=1e-2, steps=500, record="all")
    np.testing.assert_allclose(model.X, Xr, rtol=RTOL[dtype] * 10, atol=RTOL[dtype])
    np.testing.assert_allclose(run.loss[:-1], Lr, rtol=RTOL[dtype] * 10)
    # GD is exactly X_j = Y + (X0 - Y)(1 - lr)^j; gradient flow at t = 5 differs by O(lr)
    Y64, X64 = Y.astype(np.float64), X0.astype(np.float64)
    exact = Y64 + (X64 - Y64) * (1 - 1e-2) ** 500
    np.testing.assert_allclose(model.X, exact, rtol=RTOL[dtype] * 100, atol=RTOL[dtype] * 10)
    rel = run.metrics["rel_error"]
    assert rel[-1] == pytest.approx(np.linalg.norm(Y64 - exact) / np.linalg.norm(Y64), rel=1e-4)


def test_chunking_does_not_change_bits():
    Y, U, V = problem(*TINY)
    a, b = wf.Factorization(U, V), wf.Factorization(U, V)
    wf.train(a, Y, lr=1e-2, steps=700, record=1, metrics=True)  # many small chunks (metrics at each)
    wf.train(b, Y, lr=1e-2, steps=300, metrics=False)
    wf.train(b, Y, lr=1e-2, steps=400, metrics=False)
    assert np.array_equal(a.U, b.U) and np.array_equal(a.V, b.V)


# ------------------------------------------------------------------------------------------ imbalance


@pytest.mark.parametrize("shape", [TINY, GENERAL], ids=["tiny", "general"])
def test_one_step_imbalance_identity(shape):
    """Q+ - Q = lr^2 (V^T E^T E V - U^T E E^T U) exactly (docs theory/tarmoun2021), to float64 round-off."""
    Y, U, V = problem(*shape, scale=0.5, seed=4)
    lr = 0.05
    fac = wf.Factorization(U, V)
    Q0 = fac.imbalance()
    wf.train(fac, Y, lr=lr, steps=1, metrics=False)
    dQ = fac.imbalance() - Q0
    E = Y - U @ V.T
    EV, ETU = E @ V, E.T @ U
    predicted = lr * lr * (EV.T @ EV - ETU.T @ ETU)
    # round-off of the computed difference is ~ eps * ||U^T U|| per entry; the change itself is O(lr^2)
    scale = np.abs(predicted).max()
    err = np.abs(dQ - predicted).max()
    assert err <= 1e-13 * scale, (err, scale)  # observed ~2e-15


def test_imbalance_identity_matches_linear_theory():
    Y, U, V = problem(*TINY, scale=0.5, seed=5)
    fac = wf.Factorization(U, V)
    Q0 = fac.imbalance()
    wf.train(fac, Y, lr=0.05, steps=1, metrics=False)
    pred = lt.gd_imbalance_update(U, V, Y, 0.05)
    assert np.abs((fac.imbalance() - Q0) - pred).max() <= 2e-13 * np.abs(Q0).max()


def test_imbalance_metrics():
    Y, U, V = problem(*TINY, scale=0.3, seed=6)
    fac = wf.Factorization(U, V)
    Q = fac.imbalance()
    full = np.linalg.eigvalsh(Q)
    small = fac.imbalance_eigenvalues()
    assert small.shape == (15,)
    # the k - (m + n) eigenvalues left out are zero; the others agree
    big = np.sort(np.concatenate([small, np.zeros(50 - 15)]))
    np.testing.assert_allclose(big, full, atol=1e-12 * np.abs(full).max())
    run = wf.train(fac, Y, lr=1e-3, steps=2000, metrics=True)
    m = run.metrics
    assert m["q_eig"].shape == (run.steps.size, 15)
    assert m["singular_values"].shape == (run.steps.size, 5)
    np.testing.assert_allclose(m["q_norm"][0], np.linalg.norm(Q), rtol=1e-12)
    assert m["q_drift"][0] == pytest.approx(0.0, abs=1e-13)
    drift = np.linalg.norm(fac.imbalance() - Q)
    assert m["q_drift"][-1] == pytest.approx(drift, rel=1e-8)
    assert 0 < drift < 0.05 * np.linalg.norm(Q)  # O(lr) at a fixed horizon
    np.testing.assert_allclose(m["singular_values"][-1], np.linalg.svd(fac.product(), compute_uv=False), rtol=1e-12)
    assert m["rel_error"][-1] == pytest.approx(fac.relative_error(Y), rel=1e-10)
    np.testing.assert_allclose(
        imbalance_spectrum(U[:, :8], V[:, :8]),
        np.linalg.eigvalsh(U[:, :8].T @ U[:, :8] - V[:, :8].T @ V[:, :8]),
        atol=1e-14,
    )


# ------------------------------------------------------------------------------------------ batches


def _single(U, V, Y, lr, steps, record):
    fac = wf.Factorization(U, V)
    run = wf.train(fac, Y, lr=lr, steps=steps, record=record, metrics=False)
    return fac, run


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [TINY, GENERAL], ids=["tiny", "general"])
def test_batch_equals_runs_one_by_one_bitwise(dtype, shape):
    m, n, k = shape
    steps = 300 if shape == TINY else 40
    scales = [0.01, 0.1, 0.5]
    Ys, Us, Vs = [], [], []
    for seed in range(2):
        for s in scales:
            Y, U, V = problem(m, n, k, scale=s, seed=seed, dtype=dtype)
            Ys.append(Y), Us.append(U), Vs.append(V)
    lrs = np.array([1e-2, 2e-2, 5e-3, 1e-2, 3e-2, 1e-2])
    rec = [0, 7, steps // 3, steps]
    batch = wf.train_batch(Us, Vs, np.stack(Ys), lrs, steps, record=rec, products=True, threads=2)
    assert batch.U.dtype == np.dtype(dtype)
    assert np.all(batch.status == "completed")
    for b in range(len(Us)):
        fac, run = _single(Us[b], Vs[b], Ys[b], lrs[b], steps, rec)
        assert np.array_equal(batch.U[b], fac.U) and np.array_equal(batch.V[b], fac.V), b
        assert np.array_equal(batch.loss[b], run.loss), b
        np.testing.assert_allclose(
            batch.products[b, -1],
            fac.U.astype(np.float64) @ fac.V.astype(np.float64).T,
            rtol=RTOL[dtype] * 100,
            atol=RTOL[dtype] * 10,
        )
    np.testing.assert_allclose(batch.t[:, -1], lrs * steps, rtol=1e-12)


def test_batch_shared_target_and_schedule():
    Y, _, _ = problem(*TINY)
    facs = [wf.Factorization.init(5, 10, 50, scale=s, seed=i) for i, s in enumerate([1e-3, 1e-2, 0.1, 1.0])]
    sched = wf.schedules.inverse_power(2e-3, 0.5, t0=100.0)
    batch = wf.train_batch([f.U for f in facs], [f.V for f in facs], Y, sched, 500, record="log")
    for b, f in enumerate(facs):
        run = wf.train(f, Y, lr=sched, steps=500, metrics=False)
        assert np.array_equal(batch.U[b], f.U) and np.array_equal(batch.V[b], f.V)
        assert np.array_equal(batch.steps, run.steps)
        np.testing.assert_array_equal(batch.loss[b], run.loss)
        np.testing.assert_allclose(batch.t[b], run.t, rtol=1e-12)
    np.testing.assert_allclose(batch.rel_error, np.sqrt(2 * batch.loss) / np.linalg.norm(Y))


@pytest.mark.parametrize("dtype", DTYPES)
def test_threads_do_not_change_bits(dtype):
    Us, Vs = [], []
    for seed in range(9):
        _, U, V = problem(*TINY, scale=0.2, seed=seed, dtype=dtype)
        Us.append(U), Vs.append(V)
    Y, _, _ = problem(*TINY, dtype=dtype)
    one = wf.train_batch(Us, Vs, Y, 1e-2, 200, threads=1, products=True)
    two = wf.train_batch(Us, Vs, Y, 1e-2, 200, threads=2, products=True)
    assert np.array_equal(one.U, two.U) and np.array_equal(one.V, two.V)
    assert np.array_equal(one.loss, two.loss) and np.array_equal(one.products, two.products)
    # a single run on the general path splits its products over row blocks
    Y, U, V = problem(70, 130, 200, scale=0.1, seed=1, dtype=dtype)
    a, b = wf.Factorization(U, V), wf.Factorization(U, V)
    ra = wf.train(a, Y, lr=1e-3, steps=5, threads=1, metrics=False)
    rb = wf.train(b, Y, lr=1e-3, steps=5, threads=2, metrics=False)
    assert np.array_equal(a.U, b.U) and np.array_equal(a.V, b.V) and np.array_equal(ra.loss, rb.loss)


# ------------------------------------------------------------------------------------------ theory


def test_gd_tracks_the_spectral_closed_form_to_order_lr():
    """Spectral init (random R): GD at lr and lr/2 vs the exact flow X(t) = Phi diag(x_i(t)) Psi^T."""
    Y, _, _ = problem(*TINY, seed=7)
    u0 = np.array([0.3, 0.5, 0.1, 0.8, 0.2])
    v0 = np.array([0.1, 0.4, 0.6, 0.05, 0.2])
    U0, V0 = lt.spectral_init(Y, 50, u0, v0, seed=3)
    T = 3.0
    exact = lt.spectral_solution(T, Y, u0, v0)
    errs = []
    for lr in (2e-3, 1e-3):
        fac = wf.Factorization(U0, V0)
        wf.train(fac, Y, lr=lr, steps=int(round(T / lr)), metrics=False)
        errs.append(np.abs(fac.product() - exact).max())
    assert errs[1] < 5e-3
    assert 1.7 < errs[0] / errs[1] < 2.3, errs  # first order in lr


def test_gd_tracks_the_gradient_flow_ode_to_order_lr():
    """Random (non-spectral) init: GD at lr and lr/2 against a DOP853 solve of U' = E V, V' = E^T U."""
    from scipy.integrate import solve_ivp

    Y, U0, V0 = problem(*TINY, scale=0.3, seed=8)
    m, n, k = TINY
    T = 2.0

    def rhs(_, z):
        U, V = z[: m * k].reshape(m, k), z[m * k :].reshape(n, k)
        E = Y - U @ V.T
        return np.concatenate([(E @ V).ravel(), (E.T @ U).ravel()])

    sol = solve_ivp(rhs, (0.0, T), np.concatenate([U0.ravel(), V0.ravel()]), method="DOP853", rtol=1e-11, atol=1e-12)
    assert sol.success
    U_T, V_T = sol.y[: m * k, -1].reshape(m, k), sol.y[m * k :, -1].reshape(n, k)
    X_T = U_T @ V_T.T
    Q0 = U0.T @ U0 - V0.T @ V0
    assert np.abs((U_T.T @ U_T - V_T.T @ V_T) - Q0).max() < 1e-8  # conserved by the flow
    errs, drifts = [], []
    for lr in (2e-3, 1e-3):
        fac = wf.Factorization(U0, V0)
        wf.train(fac, Y, lr=lr, steps=int(round(T / lr)), metrics=False)
        errs.append(np.linalg.norm(fac.product() - X_T))
        drifts.append(np.linalg.norm(fac.imbalance() - Q0))
    assert errs[1] < 1e-2
    assert 1.7 < errs[0] / errs[1] < 2.3, errs  # O(lr)
    assert 1.7 < drifts[0] / drifts[1] < 2.3, drifts  # imbalance drift O(lr) at fixed T


def test_gd_hitting_time_matches_closed_form():
    sigma, lr, eps = 1.0, 1e-3, 1e-3
    lams = np.array([0.1, 1.0, 5.0])
    x0 = 1e-4
    # one mode per run: 1 x 1 problems with u0^2 - v0^2 = lam and u0 v0 = x0
    v0 = np.sqrt((-lams + np.sqrt(lams**2 + 4 * x0**2)) / 2)
    u0 = x0 / v0
    Us = u0.reshape(-1, 1, 1)
    Vs = v0.reshape(-1, 1, 1)
    batch = wf.train_batch(Us, Vs, np.array([[sigma]]), lr, 20000, record="all", products=True)
    x = batch.products[:, :, 0, 0]
    t_gd = np.array([batch.t[b, np.argmax(np.abs(sigma - x[b]) < eps)] for b in range(3)])
    t_cf = np.array([lt.hitting_time(sigma, x0, lam, eps) for lam in lams])
    assert np.all(np.diff(t_cf) < 0) and np.all(np.diff(t_gd) < 0)
    np.testing.assert_allclose(t_gd, t_cf, atol=0.05, rtol=0.01)


# ------------------------------------------------------------------------------------------ bad input


def test_bad_input_names_the_argument():
    Y, U, V = problem(*TINY)
    with pytest.raises(ValueError, match="U"):
        wf.Factorization(U[0], V)
    with pytest.raises(ValueError, match="widths differ"):
        wf.Factorization(U, V[:, :10])
    bad = U.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"U: contains a non-finite value at \[1, 2\]"):
        wf.Factorization(bad, V)
    with pytest.raises(TypeError, match="dtype"):
        wf.Factorization(U, V, dtype="int32")
    with pytest.raises(ValueError, match="U: is empty"):
        wf.Factorization(U[:, :0], V[:, :0])
    fac = wf.Factorization(U, V)
    with pytest.raises(ValueError, match=r"Y: expected shape \(5, 10\)"):
        wf.train(fac, Y.T, lr=1e-3, steps=10)
    with pytest.raises(ValueError, match="Y: contains a non-finite"):
        wf.train(fac, np.full((5, 10), np.inf), lr=1e-3, steps=10)
    with pytest.raises(ValueError, match="lr"):
        wf.train(fac, Y, lr=-1.0, steps=10)
    with pytest.raises(ValueError, match="steps"):
        wf.train(fac, Y, lr=1e-3, steps=-1)
    with pytest.raises(TypeError, match="train"):
        wf.train(fac, Y, Y, lr=1e-3, steps=1)
    with pytest.raises(ValueError, match="threads"):
        wf.train(fac, Y, lr=1e-3, steps=1, threads=0)
    with pytest.raises(TypeError, match="unexpected option"):
        wf.train(fac, Y, lr=1e-3, steps=1, bogus=3)
    with pytest.raises(ValueError, match="X0"):
        wf.OneLayer(np.ones(3))
    with pytest.raises(ValueError, match="m: must be >= 1"):
        wf.Factorization.init(0, 3, 3)
    Us, Vs = np.stack([U, U]), np.stack([V, V])
    with pytest.raises(ValueError, match="Vs: expected 2 runs"):
        wf.train_batch(Us, Vs[:1], Y, 1e-3, 5)
    with pytest.raises(ValueError, match="Us: expected a 3-d"):
        wf.train_batch(U, V, Y, 1e-3, 5)
    with pytest.raises(ValueError, match="Vs: widths differ"):
        wf.train_batch(Us, Vs[:, :, :7], Y, 1e-3, 5)
    with pytest.raises(ValueError, match="Y: expected shape"):
        wf.train_batch(Us, Vs, np.stack([Y, Y, Y]), 1e-3, 5)
    with pytest.raises(ValueError, match="lr: expected one step size per run"):
        wf.train_batch(Us, Vs, Y, [1e-3, 1e-3, 1e-3], 5)
    with pytest.raises(ValueError, match="lr: step sizes must be > 0"):
        wf.train_batch(Us, Vs, Y, [1e-3, 0.0], 5)
    with pytest.raises(ValueError, match="Us: run 1 contains non-finite"):
        wf.train_batch(np.stack([U, bad]), Vs, Y, 1e-3, 5)
    with pytest.raises(TypeError, match="steps"):
        wf.train_batch(Us, Vs, Y, 1e-3, None)
    with pytest.raises(ValueError, match="products"):
        wf.train_batch(Us, Vs, Y, 1e-3, 5).singular_values()


# ------------------------------------------------------------------------------------------ divergence


def test_divergence_keeps_the_last_finite_state():
    Y, U, V = problem(*TINY, scale=1.0)
    fac = wf.Factorization(U, V)
    with pytest.warns(RuntimeWarning, match="diverged at step"):
        run = wf.train(fac, Y, lr=1.0, steps=1000)
    assert run.status == "diverged" and run.diverged_at is not None
    assert run.steps[-1] == run.diverged_at - 1
    assert np.all(np.isfinite(fac.U)) and np.all(np.isfinite(fac.V))
    assert np.all(np.isfinite(run.loss)) and np.isfinite(run.final_loss)
    assert run.final_loss == pytest.approx(fac.loss(Y), rel=1e-10)
    # replaying the finite steps from scratch gives the same state
    ref = wf.Factorization(U, V)
    wf.train(ref, Y, lr=1.0, steps=int(run.steps[-1]), metrics=False)
    assert np.array_equal(ref.U, fac.U) and np.array_equal(ref.V, fac.V)


def test_divergence_in_a_batch():
    Y, U, V = problem(*TINY, scale=1.0)
    batch = wf.train_batch([U, U, U], [V, V, V], Y, [1e-3, 1.0, 1e-3], 400, record="all")
    assert list(batch.status) == ["completed", "diverged", "completed"]
    d = batch.diverged_at[1]
    assert d > 0 and batch.final_step[1] == d - 1 and list(batch.diverged_at[[0, 2]]) == [-1, -1]
    assert np.all(np.isfinite(batch.U)) and np.all(np.isfinite(batch.V))
    assert np.all(np.isfinite(batch.loss[1, :d])) and np.all(np.isnan(batch.loss[1, d:]))
    fac = wf.Factorization(U, V)
    run = quiet_train(fac, Y, lr=1.0, steps=400, metrics=False)
    assert run.diverged_at == d
    assert np.array_equal(batch.U[1], fac.U) and np.array_equal(batch.V[1], fac.V)
    # keep_finite=False hands back the first non-finite state
    loose = wf.train_batch([U], [V], Y, 1.0, 400, keep_finite=False)
    assert loose.status[0] == "diverged" and loose.final_step[0] == d
    with np.errstate(all="ignore"):
        assert not np.isfinite(np.sum((Y - loose.U[0] @ loose.V[0].T) ** 2))
