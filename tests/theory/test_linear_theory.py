"""Closed-form linear theory (docs theory/tarmoun2021, theory/du2018) against ODE solves and
plain NumPy gradient descent."""

import warnings

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from wideflow import linear_theory as lt

M, N = 5, 10


@pytest.fixture(scope="module")
def Y():
    return np.random.default_rng(0).standard_normal((M, N))


def factor_flow(Y, U0, V0, t_eval, rtol=1e-13, atol=1e-13):
    """DOP853 solve of U' = E V, V' = E^T U; returns X(t), Q(t) at t_eval."""
    m, n = Y.shape
    k = U0.shape[1]

    def rhs(_, z):
        U = z[: m * k].reshape(m, k)
        V = z[m * k :].reshape(n, k)
        E = Y - U @ V.T
        return np.concatenate([(E @ V).ravel(), (E.T @ U).ravel()])

    z0 = np.concatenate([U0.ravel(), V0.ravel()])
    sol = solve_ivp(rhs, (0.0, float(t_eval[-1])), z0, method="DOP853", rtol=rtol, atol=atol, t_eval=t_eval)
    assert sol.success
    Us = sol.y[: m * k].T.reshape(-1, m, k)
    Vs = sol.y[m * k :].T.reshape(-1, n, k)
    X = Us @ Vs.transpose(0, 2, 1)
    Q = Us.transpose(0, 2, 1) @ Us - Vs.transpose(0, 2, 1) @ Vs
    return X, Q


def scalar_gd(sigma, u, v, lr, steps, every):
    """GD on one mode, recording x = u v every `every` steps (including step 0)."""
    xs = [u * v]
    for j in range(1, steps + 1):
        r = sigma - u * v
        u, v = u + lr * r * v, v + lr * r * u
        if j % every == 0:
            xs.append(u * v)
    return np.array(xs)


# ---------------------------------------------------------------------------------------------------------
# one-layer model
# ---------------------------------------------------------------------------------------------------------


def test_one_layer_solves_its_flow_and_hitting_time(Y):
    X0 = np.random.default_rng(1).standard_normal(Y.shape)
    t = np.linspace(0.0, 3.0, 7)
    X = lt.one_layer(t, Y, X0)
    assert X.shape == (7,) + Y.shape
    np.testing.assert_allclose(X[0], X0, atol=1e-15)
    # X' = Y - X, checked by a central difference
    h = 1e-5
    dX = (lt.one_layer(1.0 + h, Y, X0) - lt.one_layer(1.0 - h, Y, X0)) / (2 * h)
    np.testing.assert_allclose(dX, Y - lt.one_layer(1.0, Y, X0), atol=1e-9)
    # relative error is exactly eps at the hitting time; X0 = 0 gives ln(1/eps)
    for eps in (1e-1, 1e-4):
        th = lt.one_layer_hitting_time(Y, X0, eps)
        rel = np.linalg.norm(Y - lt.one_layer(th, Y, X0)) / np.linalg.norm(Y)
        assert rel == pytest.approx(eps, rel=1e-12)
        assert lt.one_layer_hitting_time(Y, np.zeros_like(Y), eps) == pytest.approx(np.log(1 / eps), rel=1e-14)
    assert lt.one_layer_hitting_time(Y, Y, 1e-3) == 0.0


# ---------------------------------------------------------------------------------------------------------
# one spectral mode
# ---------------------------------------------------------------------------------------------------------

MODE_CASES = [
    (1.0, 0.6, 0.05),  # lam > 0
    (1.0, 0.05, 0.6),  # lam < 0
    (2.0, -0.3, 0.8),  # x0 < 0, lam < 0
    (0.5, 1.5, -0.2),  # x0 < 0, lam > 0
    (0.3, 3.0, 0.1),  # large lam, x0 ~ sigma
    (1.3, 2.0, 1.9),  # x0 > sigma
    (1.0, 0.01, 0.01),  # balanced, small init (Saxe plateau)
    (1.0, 1e-3, -2e-3),  # tiny lam, x0 < 0: slow saddle escape
    (0.0, 0.7, 0.3),  # sigma = 0: x -> 0 at rate |lam|
]
# Not here: the degenerate branch u0 = -v0 (lam = 0, x0 < 0) is the stable manifold of the saddle X = 0, exact
# for the closed form but unstable for any ODE solver (test_degenerate_branch_is_exact_but_unstable).


@pytest.mark.parametrize("sigma,u0,v0", MODE_CASES)
def test_scalar_mode_matches_ode(sigma, u0, v0):
    t = np.linspace(0.0, 8.0, 161)
    x, lam = lt.scalar_mode_uv(t, sigma, u0, v0)
    assert lam == pytest.approx(u0 * u0 - v0 * v0, abs=1e-15)

    def rhs(_, z):
        r = sigma - z[0] * z[1]
        return [r * z[1], r * z[0]]

    sol = solve_ivp(rhs, (0.0, 8.0), [u0, v0], method="DOP853", rtol=1e-12, atol=1e-14, t_eval=t)
    assert np.max(np.abs(sol.y[0] * sol.y[1] - x)) <= 1e-9
    # the product ODE x' = (sigma - x) sqrt(lam^2 + 4 x^2), checked on the closed form itself
    h = 1e-5
    xm, xp = lt.scalar_mode(np.array([3.0 - h, 3.0 + h]), sigma, u0 * v0, lam)
    x3 = lt.scalar_mode(3.0, sigma, u0 * v0, lam)
    assert (xp - xm) / (2 * h) == pytest.approx((sigma - x3) * np.hypot(lam, 2 * x3), rel=1e-6, abs=1e-9)


def test_degenerate_branch_is_exact_but_unstable():
    """u0 = -v0: the closed form solves x' = 2|x|(sigma - x) exactly (x -> 0), while an imbalance of 1e-12
    (what round-off gives an integrator) escapes the saddle and learns the mode: the branch is unstable."""
    sigma, u0 = 1.0, 0.3
    t = np.linspace(0.0, 6.0, 61)
    x, lam = lt.scalar_mode_uv(t, sigma, u0, -u0)
    assert lam == 0.0
    x0 = -u0 * u0
    e = np.exp(-2 * sigma * t)
    np.testing.assert_allclose(x, sigma * x0 * e / (x0 * e + sigma - x0), rtol=1e-14, atol=0)
    h = 1e-5
    xm, xp = lt.scalar_mode(np.array([2.0 - h, 2.0 + h]), sigma, x0, 0.0)
    x2 = lt.scalar_mode(2.0, sigma, x0, 0.0)
    assert (xp - xm) / (2 * h) == pytest.approx(2 * abs(x2) * (sigma - x2), rel=1e-6)
    late = np.array([0.0, 5.0, 60.0])
    on = lt.scalar_mode(late, sigma, x0, 0.0)
    off = lt.scalar_mode(late, sigma, x0, 1e-12)
    assert abs(on[1] - off[1]) < 1e-9  # indistinguishable at first
    assert abs(on[2]) < 1e-20 and off[2] == pytest.approx(sigma, rel=1e-9)  # then the perturbed mode is learned


def test_scalar_mode_depends_on_lam_only_through_its_square():
    t = np.linspace(0, 5, 11)
    np.testing.assert_array_equal(lt.scalar_mode(t, 1.2, -0.4, 0.7), lt.scalar_mode(t, 1.2, -0.4, -0.7))


def test_lam_zero_reduces_to_saxe_logistic():
    t = np.linspace(0.0, 20.0, 401)
    for sigma, x0 in [(1.0, 1e-4), (2.5, 0.3), (0.4, 1.7), (1.0, 1.0)]:
        saxe = lt.saxe_logistic(t, sigma, x0)
        # direct definition (moderate t, no overflow)
        tt = t[t <= 5]
        e = np.exp(2 * sigma * tt)
        np.testing.assert_allclose(saxe[: tt.size], sigma * x0 * e / (sigma + x0 * (e - 1)), rtol=1e-13)
        np.testing.assert_allclose(lt.scalar_mode(t, sigma, x0, 0.0), saxe, rtol=1e-13, atol=0)
        # a negligible imbalance changes nothing visible
        np.testing.assert_allclose(lt.scalar_mode(t, sigma, x0, 1e-10), saxe, rtol=1e-13, atol=1e-15)
    # sigma = 0, lam = 0: algebraic decay x0 / (1 + 2|x0| t), either sign
    np.testing.assert_allclose(lt.scalar_mode(t, 0.0, -0.5, 0.0), -0.5 / (1 + t), rtol=1e-15)
    np.testing.assert_allclose(lt.saxe_logistic(t, 0.0, 0.5), 0.5 / (1 + t), rtol=1e-15)


def test_scalar_mode_is_stable_at_large_times():
    t = np.array([0.0, 1e3, 1e6])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lt.scalar_mode(t, 1.0, -5.0, 0.1)[1:] == pytest.approx([1.0, 1.0], abs=1e-15)
        assert lt.scalar_mode(t, 2.0, 1e-8, 0.0)[1:] == pytest.approx([2.0, 2.0], abs=1e-15)
        assert lt.scalar_mode(t, 0.5, 30.0, -2.0)[1:] == pytest.approx([0.5, 0.5], abs=1e-15)
        assert lt.saxe_logistic(t, 3.0, 1e-6)[1:] == pytest.approx([3.0, 3.0], abs=1e-15)
        x_deg, _ = lt.scalar_mode_uv(t, 1.0, 0.3, -0.3)  # degenerate branch: never learned
        assert np.all(np.abs(x_deg[1:]) < 1e-300)
        assert np.all(np.isfinite(lt.scalar_mode(t, 0.0, 2.0, 0.0)))
    assert lt.scalar_mode(0.0, 1.0, -5.0, 0.1) == pytest.approx(-5.0, rel=1e-15)
    # sigma < 0 by the symmetry (sigma, x) -> (-sigma, -x)
    tt = np.linspace(0, 4, 9)
    np.testing.assert_allclose(lt.scalar_mode(tt, -1.0, 0.2, 0.5), -lt.scalar_mode(tt, 1.0, -0.2, 0.5), rtol=0)


def test_scalar_closed_form_vs_gd_is_first_order():
    sigma, u0, v0 = 1.0, 0.6, 0.05
    t = np.linspace(0.0, 8.0, 801)
    x, _ = lt.scalar_mode_uv(t, sigma, u0, v0)
    errs = []
    for lr in (1e-3, 5e-4):
        every = int(round(0.01 / lr))
        errs.append(np.max(np.abs(scalar_gd(sigma, u0, v0, lr, 8000 * every // 10, every) - x)))
    assert errs[0] < 1e-3
    assert 1.8 < errs[0] / errs[1] < 2.2  # O(lr): halving lr halves the error


@pytest.mark.parametrize("sigma,x0,lam", [(1.0, 0.03, 0.5), (1.0, 0.03, -2.0), (0.7, -0.4, 3.0), (2.0, 3.0, 1.0)])
def test_fitted_late_rate(sigma, x0, lam):
    s = lt.late_rate(sigma, lam)
    assert s == pytest.approx(np.sqrt(lam**2 + 4 * sigma**2), rel=1e-15)
    # window where 1e-10 <= |sigma - x| <= 1e-6, located with the closed-form hitting time
    t1, t2 = lt.hitting_time(sigma, x0, lam, 1e-6), lt.hitting_time(sigma, x0, lam, 1e-10)
    t = np.linspace(t1, t2, 50)
    slope_cf = np.polyfit(t, np.log(np.abs(sigma - lt.scalar_mode(t, sigma, x0, lam))), 1)[0]
    # the ODE for the residual r = sigma - x: r' = -r sqrt(lam^2 + 4 (sigma - r)^2)
    sol = solve_ivp(
        lambda _, r: -r * np.hypot(lam, 2 * (sigma - r)),
        (0, t2),
        [sigma - x0],
        method="DOP853",
        rtol=1e-12,
        atol=1e-300,
        t_eval=t,
    )
    slope_ode = np.polyfit(t, np.log(np.abs(sol.y[0])), 1)[0]
    assert -slope_cf == pytest.approx(s, rel=1e-3)
    assert -slope_ode == pytest.approx(s, rel=1e-3)


def test_gd_late_rate():
    sigma, lam, lr = 1.0, 1.5, 0.05
    s = lt.late_rate(sigma, lam)
    u = np.sqrt((np.hypot(lam, 2 * 0.9) + lam) / 2)  # a mode with x0 = 0.9, u^2 - v^2 = lam
    v = 0.9 / u
    rs = []
    for _ in range(200):
        rs.append(sigma - u * v)
        r = sigma - u * v
        u, v = u + lr * r * v, v + lr * r * u
    rs = np.abs(np.array(rs))
    j = np.arange(100, 150)
    rate = -np.polyfit(lr * j, np.log(rs[j]), 1)[0]
    assert rate == pytest.approx(lt.gd_rate(sigma, lam, lr), rel=1e-3)
    assert lt.gd_rate(sigma, lam, lr) == pytest.approx(-np.log(1 - lr * s) / lr, rel=1e-14)
    assert lt.gd_rate(sigma, lam, 1e-8) == pytest.approx(s, rel=1e-7)
    assert lt.gd_rate(sigma, lam, 2.5 / s) < 0  # beyond the stability limit 2/s


def test_hitting_time_monotone_in_imbalance_and_large_lam_limit():
    sigma, x0, eps = 1.0, 1e-4, 1e-3
    lams = np.array([0, 0.01, 0.1, 0.5, 1, 2, 5, 10, 50])
    t = lt.hitting_time(sigma, x0, lams, eps)
    assert np.all(np.diff(t) < 0)
    np.testing.assert_array_equal(lt.hitting_time(sigma, x0, -lams, eps), t)
    # the hitting time really is where |sigma - x| = eps
    np.testing.assert_allclose(np.abs(sigma - lt.scalar_mode(t, sigma, x0, lams)), eps, rtol=1e-8)
    # t |lam| -> ln(|sigma - x0| / eps) (one-layer flow sped up by |lam|)
    ref = np.log(abs(sigma - x0) / eps)
    big = np.array([50.0, 500.0, 5000.0, 50000.0])
    gap = np.abs(lt.hitting_time(sigma, x0, big, eps) * big - ref)
    assert np.all(np.diff(gap) < 0) and gap[0] < 1e-3 * ref and gap[-1] < 1e-6 * ref
    # balanced reference: Saxe time to go from x0 to sigma - eps
    x1 = sigma - eps
    assert t[0] == pytest.approx(np.log((sigma - x0) * x1 / (x0 * eps)) / (2 * sigma), rel=1e-12)


@pytest.mark.parametrize(
    "sigma,x0,lam", [(1.0, 2.5, 0.3), (0.0, 0.8, 1.2), (0.5, -3.0, -0.4), (1.0, -0.5, 0.0), (0.0, 0.5, 0.0)]
)
def test_hitting_time_other_branches(sigma, x0, lam):
    eps = 1e-3
    th = lt.hitting_time(sigma, x0, lam, eps)
    if lam == 0 and x0 <= 0 and sigma > eps:
        assert th == np.inf  # degenerate branch: x -> 0, never within eps of sigma
    else:
        assert np.abs(sigma - lt.scalar_mode(th, sigma, x0, lam)) == pytest.approx(eps, rel=1e-8)
    assert lt.hitting_time(sigma, sigma + eps / 2, lam, eps) == 0.0


def test_hitting_time_gd_agreement():
    sigma, u0, v0, eps, lr = 1.0, 0.3, 0.1, 1e-3, 1e-3
    th = lt.hitting_time(sigma, u0 * v0, u0**2 - v0**2, eps)
    x = scalar_gd(sigma, u0, v0, lr, int(1.5 * th / lr), 1)
    t_gd = lr * np.argmax(np.abs(sigma - x) < eps)
    assert abs(t_gd - th) < 5 * lr


# ---------------------------------------------------------------------------------------------------------
# spectral init: full-matrix decoupling
# ---------------------------------------------------------------------------------------------------------


def test_spectral_init_structure(Y):
    U0, V0 = lt.spectral_init(Y, 50, 0.6, 0.05, seed=3)
    Phi, sig, PsiT = np.linalg.svd(Y, full_matrices=False)
    np.testing.assert_allclose(U0 @ V0.T, Phi @ np.diag(np.full(5, 0.03)) @ PsiT, atol=1e-14)
    lam_eigs = np.linalg.eigvalsh(lt.imbalance(U0, V0))
    np.testing.assert_allclose(np.sort(lam_eigs)[-5:], 0.6**2 - 0.05**2, atol=1e-14)
    np.testing.assert_allclose(np.sort(lam_eigs)[:-5], 0.0, atol=1e-14)
    np.testing.assert_allclose(lt.spectral_solution(0.0, Y, 0.6, 0.05), U0 @ V0.T, atol=1e-14)
    # per-mode arrays and k < min(m, n): modes beyond k are absent
    u = np.array([0.5, -0.2, 1.0])
    U1, V1 = lt.spectral_init(Y, 3, u, 0.1)
    Xt = lt.spectral_solution(np.array([0.0, 2.0]), Y, u, 0.1, k=3)
    assert Xt.shape == (2,) + Y.shape
    np.testing.assert_allclose(Xt[0], U1 @ V1.T, atol=1e-14)
    assert np.linalg.matrix_rank(Xt[1]) == 3


def test_spectral_solution_vs_gd_first_order(Y):
    U0, V0 = lt.spectral_init(Y, 50, 0.6, 0.05, seed=7)
    ts = np.array([1.0, 2.0, 4.0, 8.0])
    Xcf = lt.spectral_solution(ts, Y, 0.6, 0.05)
    errs = []
    for lr in (1e-3, 5e-4):
        U, V, t_prev, err = U0, V0, 0.0, 0.0
        for tk, Xk in zip(ts, Xcf):
            U, V = lt.factor_gd(U, V, Y, lr, int(round((tk - t_prev) / lr)))
            t_prev = tk
            err = max(err, np.max(np.abs(U @ V.T - Xk)))
        errs.append(err)
    assert errs[0] < 2e-3
    assert 1.8 < errs[0] / errs[1] < 2.2


# ---------------------------------------------------------------------------------------------------------
# lifted Riccati equation
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("m,n", [(5, 10), (10, 5), (6, 6)])
@pytest.mark.parametrize("lam", [0.0, 1.5, -2.0])
def test_lifted_A_spectrum(m, n, lam):
    Yr = np.random.default_rng(m * n).standard_normal((m, n))
    sig = np.linalg.svd(Yr, compute_uv=False)
    root = np.sqrt(sig**2 + lam**2 / 4)
    expected = np.concatenate([root, -root, np.full(abs(m - n), np.sign(m - n) * lam / 2)])
    np.testing.assert_allclose(np.linalg.eigvalsh(lt.lifted_A(Yr, lam)), np.sort(expected), atol=1e-12)


def _riccati_case(name, Y):
    rng = np.random.default_rng(11)
    m, n = Y.shape
    if name == "balanced_k50_large":
        R = np.linalg.qr(rng.standard_normal((50, 50)))[0]
        return lt.balanced_init(3.0 * rng.standard_normal((m, n)), 50, R), 0.0
    if name == "lam+1.5_k5":
        return lt.lambda_balanced_init(rng.standard_normal((n, 5)), 1.5, m, seed=1), 1.5
    # lam = -2, k = 8 <= n: mirror (swap the factors' roles)
    V0, U0 = lt.lambda_balanced_init(rng.standard_normal((m, 8)), 2.0, n, seed=2)
    return (U0, V0), -2.0


@pytest.mark.parametrize("name", ["balanced_k50_large", "lam+1.5_k5", "lam-2_k8"])
def test_riccati_closed_form_matches_factor_flow(Y, name):
    (U0, V0), lam = _riccati_case(name, Y)
    k = U0.shape[1]
    np.testing.assert_allclose(lt.imbalance(U0, V0), lam * np.eye(k), atol=1e-12)
    t = np.linspace(0.0, 20.0, 41)
    X_ode, Q_ode = factor_flow(Y, U0, V0, t)
    # conservation of Q under an accurate solver
    assert np.max(np.abs(Q_ode - Q_ode[0])) <= 1e-10
    X_cf = lt.riccati_solution(t, Y, U0, V0)  # lam inferred from Q0
    assert X_cf.shape == (41, M, N)
    assert np.max(np.abs(X_cf - X_ode)) <= 1e-7
    # explicit lam, another restart interval and an unsorted t_eval give the same answer
    perm = np.random.default_rng(0).permutation(41)
    X_cf2 = lt.riccati_solution(t[perm], Y, U0, V0, lam=lam, restart=0.1)
    assert np.max(np.abs(X_cf2 - X_cf[perm])) <= 1e-9
    assert lt.riccati_solution(7.3, Y, U0, V0).shape == (M, N)


def test_riccati_rejects_unbalanced_init(Y):
    rng = np.random.default_rng(5)
    U0, V0 = 0.5 * rng.standard_normal((M, 50)), 0.5 * rng.standard_normal((N, 50))
    with pytest.raises(ValueError, match="U0, V0"):
        lt.riccati_solution([1.0], Y, U0, V0)
    Ub, Vb = lt.balanced_init(rng.standard_normal((M, N)), 50)
    with pytest.raises(ValueError, match="lam"):
        lt.riccati_solution([1.0], Y, Ub, Vb, lam=1.0)


# ---------------------------------------------------------------------------------------------------------
# builders
# ---------------------------------------------------------------------------------------------------------


def test_balanced_and_lambda_balanced_builders():
    rng = np.random.default_rng(2)
    X0 = rng.standard_normal((M, N))
    R = np.linalg.qr(rng.standard_normal((20, 20)))[0]
    U0, V0 = lt.balanced_init(X0, 20, R)
    np.testing.assert_allclose(U0 @ V0.T, X0, atol=1e-13)
    np.testing.assert_allclose(lt.imbalance(U0, V0), 0, atol=1e-13)
    # balanced optimum: ||U||_F^2 = ||V||_F^2 = ||X0||_*
    assert np.linalg.norm(U0) ** 2 == pytest.approx(lt.nuclear_norm(X0), rel=1e-13)
    assert np.linalg.norm(V0) ** 2 == pytest.approx(lt.nuclear_norm(X0), rel=1e-13)
    # rank-deficient X0 with k < min(m, n)
    X2 = rng.standard_normal((M, 2)) @ rng.standard_normal((2, N))
    U2, V2 = lt.balanced_init(X2, 2)
    np.testing.assert_allclose(U2 @ V2.T, X2, atol=1e-13)
    # lambda-balanced, lam > 0 (k <= m), and lam = 0 with k > m and rank(V0) <= m
    V = rng.standard_normal((N, 4))
    U, V_ = lt.lambda_balanced_init(V, 0.7, M, seed=4)
    np.testing.assert_array_equal(V_, V)
    np.testing.assert_allclose(lt.imbalance(U, V), 0.7 * np.eye(4), atol=1e-13)
    V3 = rng.standard_normal((N, 3)) @ rng.standard_normal((3, 12))
    U3, _ = lt.lambda_balanced_init(V3, 0.0, M)
    np.testing.assert_allclose(lt.imbalance(U3, V3), 0, atol=1e-12)
    # lam < 0 directly when V0^T V0 + lam I >= 0
    V4 = 3.0 * np.linalg.qr(rng.standard_normal((N, 4)))[0]
    U4, _ = lt.lambda_balanced_init(V4, -5.0, M)
    np.testing.assert_allclose(lt.imbalance(U4, V4), -5.0 * np.eye(4), atol=1e-12)


# ---------------------------------------------------------------------------------------------------------
# gradient descent identities
# ---------------------------------------------------------------------------------------------------------


def test_gd_imbalance_identity_one_step(Y):
    rng = np.random.default_rng(8)
    U, V = rng.standard_normal((M, 50)), rng.standard_normal((N, 50))
    lr = 0.01
    U1, V1 = lt.factor_gd(U, V, Y, lr, 1)
    dQ = lt.imbalance(U1, V1) - lt.imbalance(U, V)
    pred = lt.gd_imbalance_update(U, V, Y, lr)
    scale = np.linalg.norm(U1.T @ U1) + np.linalg.norm(V1.T @ V1)
    assert np.linalg.norm(pred) > 1e-3 * scale  # the drift is not negligible here
    assert np.linalg.norm(dQ - pred) <= 1e-13 * scale
    # scalar mode: lam+ = lam (1 - lr^2 r^2) and x+ = x + lr r sqrt(lam^2 + 4x^2) + lr^2 r^2 x exactly
    sigma, u, v, eta = 1.3, 0.8, -0.45, 0.05
    lam, x, r = u * u - v * v, u * v, sigma - u * v
    Us, Vs = lt.factor_gd(np.array([[u]]), np.array([[v]]), np.array([[sigma]]), eta, 1)
    u1, v1 = Us[0, 0], Vs[0, 0]
    assert u1 * u1 - v1 * v1 == pytest.approx(lam * (1 - eta**2 * r**2), rel=1e-14)
    assert u1 * v1 == pytest.approx(x + eta * r * np.hypot(lam, 2 * x) + eta**2 * r**2 * x, rel=1e-14)


def test_gd_imbalance_drift_linear_in_lr(Y):
    rng = np.random.default_rng(9)
    U0, V0 = 0.3 * rng.standard_normal((M, 50)), 0.3 * rng.standard_normal((N, 50))
    drift = []
    for lr in (2e-3, 1e-3):
        U, V = lt.factor_gd(U0, V0, Y, lr, int(round(2.0 / lr)))
        drift.append(np.linalg.norm(lt.imbalance(U, V) - lt.imbalance(U0, V0)))
    assert 1.8 < drift[0] / drift[1] < 2.2


def test_factor_gd_accepts_a_schedule_and_does_not_modify_inputs(Y):
    U0, V0 = lt.spectral_init(Y, 8, 0.5, 0.5)
    U0c, V0c = U0.copy(), V0.copy()
    Ua, Va = lt.factor_gd(U0, V0, Y, lambda j: 1e-3, 50)
    Ub, Vb = lt.factor_gd(U0, V0, Y, 1e-3, 50)
    np.testing.assert_array_equal(Ua, Ub)
    np.testing.assert_array_equal(Va, Vb)
    np.testing.assert_array_equal(U0, U0c)
    np.testing.assert_array_equal(V0, V0c)


def test_gd_stability_bound():
    # scalar mode at its optimum: bound = 2/(u^2 + v^2) = 2/s
    sigma, lam = 1.0, 1.5
    s = lt.late_rate(sigma, lam)
    u = np.sqrt((s + lam) / 2)
    v = sigma / u
    assert lt.gd_stability_bound([[u]], [[v]]) == pytest.approx(2 / s, rel=1e-14)
    # below the bound GD returns to the same minimizer (lam kept); above it the minimizer is unstable: GD
    # oscillates, lam+ = lam (1 - lr^2 r^2) shrinks, and it settles on a flatter, more balanced minimizer
    for factor in (0.95, 1.05):
        lr = factor * 2 / s
        Uf, Vf = lt.factor_gd([[u + 1e-6]], [[v]], [[sigma]], lr, 2000)
        uf, vf = Uf[0, 0], Vf[0, 0]
        lam_f = uf * uf - vf * vf
        assert abs(sigma - uf * vf) < 1e-9
        if factor < 1:
            assert lam_f == pytest.approx((u + 1e-6) ** 2 - v * v, abs=1e-9)  # O(lr^2 r^2) drift only
        else:
            assert abs(lam_f) < 0.99 * abs(lam)
            assert lr < lt.gd_stability_bound(Uf, Vf)
    # Gaussian init (5, 10, 50): about 2 / (s0^2 [(sqrt k + sqrt m)^2 + (sqrt k + sqrt n)^2])
    rng = np.random.default_rng(0)
    b = lt.gd_stability_bound(rng.standard_normal((M, 50)), rng.standard_normal((N, 50)))
    assert b == pytest.approx(2 / ((50**0.5 + 5**0.5) ** 2 + (50**0.5 + 10**0.5) ** 2), rel=0.15)


# ---------------------------------------------------------------------------------------------------------
# end-to-end dynamics
# ---------------------------------------------------------------------------------------------------------


def test_end_to_end_ode_matches_factor_flow_balanced(Y):
    rng = np.random.default_rng(4)
    R = np.linalg.qr(rng.standard_normal((50, 50)))[0]
    U0, V0 = lt.balanced_init(rng.standard_normal((M, N)), 50, R)
    t = np.linspace(0.0, 10.0, 21)
    X_fac, _ = factor_flow(Y, U0, V0, t)
    sol = solve_ivp(
        lambda _, z: lt.end_to_end_rhs(z.reshape(M, N), Y, 0.0).ravel(),
        (0.0, 10.0),
        (U0 @ V0.T).ravel(),
        method="DOP853",
        rtol=1e-13,
        atol=1e-13,
        t_eval=t,
    )
    assert sol.success
    X_e2e = sol.y.T.reshape(-1, M, N)
    assert np.max(np.abs(X_e2e - X_fac)) <= 1e-8


@pytest.mark.parametrize("lam,k", [(0.0, 50), (1.5, M), (-2.0, N)])
def test_end_to_end_rhs_equals_factor_rhs(Y, lam, k):
    rng = np.random.default_rng(6)
    if lam == 0.0:
        U, V = lt.balanced_init(rng.standard_normal((M, N)), k)
    elif lam > 0:
        U, V = lt.lambda_balanced_init(rng.standard_normal((N, k)), lam, M, seed=1)
    else:
        V, U = lt.lambda_balanced_init(rng.standard_normal((M, k)), -lam, N, seed=1)
    np.testing.assert_allclose(lt.imbalance(U, V), lam * np.eye(k), atol=1e-12)
    X = U @ V.T
    E = Y - X
    np.testing.assert_allclose(lt.end_to_end_rhs(X, Y, lam), U @ U.T @ E + E @ V @ V.T, atol=1e-12)


# ---------------------------------------------------------------------------------------------------------
# Du, Hu & Lee helpers
# ---------------------------------------------------------------------------------------------------------


def test_schedules():
    assert lt.schedule_theorem(0, 1e-2, 4.0) == pytest.approx(0.1 / (100 * 8.0), rel=1e-15)
    steps = np.arange(5)
    np.testing.assert_allclose(
        lt.schedule_theorem(steps, 1e-2, 4.0, delta=0.25), 0.1 / (100 * (steps + 1.0) ** 0.75 * 8.0), rtol=1e-15
    )
    np.testing.assert_allclose(lt.schedule_practical(steps * 1000, 2.0), 0.5 / (2.0 * (1.0 + steps) ** 1.0), rtol=1e-15)
    # the theorem's constants are far too small to escape a 1e-3 init in 2e5 steps; the practical one is not
    t = np.arange(200_000)
    need = np.log(1e3) / 1.0
    assert np.sum(lt.schedule_theorem(t, 1e-2, 1.0)) < 0.01 * need
    assert np.sum(lt.schedule_practical(t[:20_000], 1.0)) > 10 * need


def test_low_rank_target_and_balanced_limit_under_practical_schedule():
    M_star = lt.low_rank_target(40, 30, 3, singular_values=[3.0, 1.0, 2.0], seed=1)
    np.testing.assert_allclose(np.linalg.svd(M_star, compute_uv=False)[:4], [3, 2, 1, 0], atol=1e-13)
    assert lt.nuclear_norm(M_star) == pytest.approx(6.0, rel=1e-13)
    M_def = lt.low_rank_target(40, 30, 3)
    sv = np.linalg.svd(M_def, compute_uv=False)
    assert sv[0] == pytest.approx(1.0, rel=1e-13) and sv[3] < 1e-13 * sv[0]
    np.testing.assert_array_equal(M_def, lt.low_rank_target(40, 30, 3))  # seeded
    # docs theory/du2018 check: from a small init, GD with the practical schedule reaches a balanced optimum with
    # ||U||_F^2 = ||V||_F^2 = ||M*||_*
    rng = np.random.default_rng(0)
    U0, V0 = 1e-3 * rng.standard_normal((40, 3)), 1e-3 * rng.standard_normal((30, 3))
    U, V = lt.factor_gd(U0, V0, M_def, lambda j: lt.schedule_practical(j, 1.0), 20_000)
    assert 0.5 * np.linalg.norm(M_def - U @ V.T) ** 2 < 1e-20
    nuc = lt.nuclear_norm(M_def)
    assert np.linalg.norm(U) ** 2 == pytest.approx(nuc, rel=1e-3)
    assert np.linalg.norm(V) ** 2 == pytest.approx(nuc, rel=1e-3)


# ---------------------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------------------


def test_bad_inputs_name_the_argument(Y):
    U0, V0 = lt.balanced_init(Y, 8)
    cases = [
        (lambda: lt.one_layer(-1.0, Y, Y), "t"),
        (lambda: lt.one_layer(1.0, Y, np.zeros((2, 2))), "X0"),
        (lambda: lt.one_layer_hitting_time(Y, Y, 0.0), "eps"),
        (lambda: lt.one_layer_hitting_time(np.zeros_like(Y), Y, 0.1), "Y"),
        (lambda: lt.scalar_mode(1.0, np.nan, 0.1, 0.0), "sigma"),
        (lambda: lt.scalar_mode(-0.5, 1.0, 0.1, 0.0), "t"),
        (lambda: lt.scalar_mode(1.0, 1.0, 0.1, np.inf), "lam"),
        (lambda: lt.scalar_mode([1.0, 2.0], 1.0, [0.1, 0.2, 0.3], 0.0), "broadcast"),
        (lambda: lt.scalar_mode_uv(1.0, 1.0, np.nan, 0.1), "u0"),
        (lambda: lt.hitting_time(1.0, 0.1, 0.0, -1e-3), "eps"),
        (lambda: lt.saxe_logistic(1.0, 1.0, -0.1), "x0"),
        (lambda: lt.spectral_init(Y, 0, 0.1, 0.1), "k"),
        (lambda: lt.spectral_init(Y, 8, np.ones(7), 0.1), "u0"),
        (lambda: lt.spectral_init(Y, 8, 0.1, 0.1, R=np.ones((8, 8))), "R"),
        (lambda: lt.spectral_solution(1.0, Y, 0.1, np.ones((2, 2))), "v0"),
        (lambda: lt.lifted_A(np.ones(3), 0.0), "Y"),
        (lambda: lt.riccati_solution([1.0], Y, U0[:3], V0), "U0"),
        (lambda: lt.riccati_solution([1.0], Y, U0, V0, restart=0.0), "restart"),
        (lambda: lt.riccati_solution([np.nan], Y, U0, V0), "t_eval"),
        (lambda: lt.balanced_init(Y, 3), "k"),
        (lambda: lt.lambda_balanced_init(np.eye(N, 4), -2.0, M), "lam"),
        (lambda: lt.lambda_balanced_init(np.eye(N, 7), 1.0, M), "m"),
        (lambda: lt.gd_imbalance_update(U0, V0, Y, 0.0), "lr"),
        (lambda: lt.factor_gd(U0, V0[:, :3], Y, 1e-3, 1), "U, V"),
        (lambda: lt.factor_gd(U0, V0, Y, 1e-3, -1), "steps"),
        (lambda: lt.end_to_end_rhs(Y[:, :3], Y, 0.0), "X"),
        (lambda: lt.gd_rate(1.0, 0.0, -1e-3), "lr"),
        (lambda: lt.schedule_theorem(0, 1e-2, 1.0, delta=0.0), "delta"),
        (lambda: lt.schedule_practical(0, 0.0), "sigma1"),
        (lambda: lt.low_rank_target(4, 3, 4), "r"),
        (lambda: lt.low_rank_target(4, 3, 2, singular_values=[1.0]), "singular_values"),
        (lambda: lt.nuclear_norm(np.ones(3)), "M"),
    ]
    for call, name in cases:
        with pytest.raises(ValueError, match=name):
            call()
    # a value of the wrong kind is a TypeError (the one rule of wideflow._validate), still naming the argument
    type_cases = [
        (lambda: lt.scalar_mode(1.0, 1.0, "a", 0.0), "^x0"),
        (lambda: lt.spectral_init(Y, 2.0, 0.1, 0.1), "^k"),
        (lambda: lt.factor_gd(U0, V0, Y, 1e-3, 1.5), "^steps"),
        (lambda: lt.gd_rate(1.0, 0.0, None), "^lr"),
    ]
    for call, name in type_cases:
        with pytest.raises(TypeError, match=name):
            call()
