"""Williams et al. 2019 reproduction: GD against the exact linear-model solution, the two regimes' limits on
small runs, and the `reproduce` study at a tiny size (specs run into the store, report from the store)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import wideflow as wf
from wideflow import datasets, limits
from wideflow.experiments import williams2019 as w19
from wideflow.segmented import train_long
from wideflow.tangent import learning_rate, tangent_gram

# Sizes for a seconds-long study (numbers not meaningful): every section small, the flow loose.
TINY = [
    "regimes:width=100",
    "regimes:steps=1000",
    "regimes:checkpoint=200",
    "regimes:snapshots=6",
    "trained_sets:width=100",
    "trained_sets:steps=1000",
    "trained_sets:checkpoint=200",
    "trained_sets:snapshots=6",
    "step_size:width=100",
    "step_size:cases=[{lr = 2e-3, steps = 1000}, {lr = 0.5, steps = 200}]",
    "width_limits:grid.width=[100, 1000, 10000]",
    "width_limits:grid.seed=[0, 1]",
    "width_gd:steps=1000",
    "width_gd:cases=[{scheme = 'uniform_knots', width = 100}, "
    "{scheme = 'uniform_knots', width = 200}, {scheme = 'gaussian', width = 100}, {scheme = 'gaussian', width = 200}]",
    "flow_gd:width=40",
    "flow_gd:steps=300",
    "flow:rtol=1e-5",
    "flow:atol=1e-8",
    "flow_long:width=40",
    "flow_long:t_end=300.0",
    "flow_long:rtol=1e-5",
    "flow_long:atol=1e-8",
]


@pytest.fixture(scope="module")
def square10():
    return datasets.load("square10")


@pytest.fixture(scope="module")
def refs(square10):
    return w19.references(*square10)


# ---------------------------------------------------------------------------------------------- c only


def _features(net, x):
    return np.maximum(np.multiply.outer(x, net.a) + net.b, 0.0) / net.alpha


def test_outer_training_follows_the_exact_linear_model_solution(square10):
    """train="outer" is GD on the linear least-squares model f = Phi c. With G = Phi Phi^T = U diag(g) U^T
    and r_0 = Phi c_0 - y:  r_k = U diag((1 - eta g)^k) U^T r_0,
    c_k = c_0 - Phi^T U diag((1 - (1 - eta g)^k) / g) U^T r_0  (closed form), and a, b never move."""
    x, y = square10
    net = wf.ShallowReLU.init(60, scheme="gaussian", inner_scale=1.0, outer_scale=0.5, seed=3)  # f_0 != 0
    a0, b0, c0 = net.a.copy(), net.b.copy(), net.c.copy()
    Phi = _features(net, x)
    G = Phi @ Phi.T
    g, U = np.linalg.eigh(G)
    eta = 0.9 / g[-1]
    assert eta == pytest.approx(learning_rate(net, x, "outer", eta_lambda=0.9), rel=1e-10)
    r0 = Phi @ c0 - y
    checkpoints = [0, 1, 2, 5, 50, 500, 4000]
    run = wf.train(
        net, x, y, lr=eta, steps=4000, train="outer", record=checkpoints, snapshots=checkpoints, progress=False
    )
    assert run.status == "completed"
    assert [s for s, _ in run.snapshots] == checkpoints
    q = U.T @ r0
    # independent NumPy GD loop on the same features
    c_np = c0.copy()
    loop = {0: c_np.copy()}
    for k in range(1, checkpoints[-1] + 1):
        c_np = c_np - eta * Phi.T @ (Phi @ c_np - y)
        if k in checkpoints:
            loop[k] = c_np.copy()
    scale = np.max(np.abs(loop[checkpoints[-1]])) + np.max(np.abs(c0))
    for (step, state), loss in zip(run.snapshots, run.loss):
        decay = (1.0 - eta * g) ** step
        c_closed = c0 - Phi.T @ (U @ (-np.expm1(step * np.log1p(-eta * g)) / g * q))
        r_closed = U @ (decay * q)
        np.testing.assert_array_equal(state["a"], a0)
        np.testing.assert_array_equal(state["b"], b0)
        np.testing.assert_allclose(state["c"], c_closed, rtol=0, atol=1e-9 * scale)
        np.testing.assert_allclose(state["c"], loop[step], rtol=0, atol=1e-10 * scale)
        assert loss == pytest.approx(0.5 * r_closed @ r_closed, rel=1e-8, abs=1e-14)


def test_outer_training_converges_to_the_min_norm_outer_interpolant(square10):
    x, y = square10[0][::2], square10[1][::2]  # 5 points: a better conditioned Gram matrix, a short run
    net = wf.ShallowReLU.init(40, scheme="gaussian", inner_scale=1.0, outer_scale=0.5, seed=5)
    target = limits.min_norm_outer_interpolant(net, x, y)
    # condition number of G is large: go far along the slow directions with a near-maximal stable step
    Phi = _features(net, x)
    g = np.linalg.eigvalsh(Phi @ Phi.T)
    steps = int(np.ceil(40 / (1.8 * g[0] / g[-1])))
    assert steps < 200_000
    wf.train(net, x, y, lr=1.8 / g[-1], steps=steps, train="outer", progress=False)
    np.testing.assert_allclose(net.c, target.c, rtol=0, atol=1e-6 * np.max(np.abs(target.c)))


# ---------------------------------------------------------------------------------------------- building blocks


def test_tangent_gram_is_the_jacobian_gram(square10):
    x, _ = square10
    net = wf.ShallowReLU.init(30, scheme="gaussian", inner_scale=0.7, outer_scale=1.3, seed=2)
    z = np.multiply.outer(x, net.a) + net.b
    act = (z > 0).astype(float)
    Jc = np.maximum(z, 0.0) / net.alpha
    Ja = act * net.c * x[:, None] / net.alpha
    Jb = act * net.c / net.alpha
    J = {"outer": Jc, "inner": np.hstack([Ja, Jb]), "all": np.hstack([Jc, Ja, Jb])}
    for mode, Jm in J.items():
        np.testing.assert_allclose(tangent_gram(net, x, mode), Jm @ Jm.T, rtol=1e-12, atol=1e-15)
    lam = np.linalg.eigvalsh(J["all"] @ J["all"].T)[-1]
    assert learning_rate(net, x, eta_lambda=1.0, lr_bar_cap=None) == pytest.approx(1.0 / lam, rel=1e-10)
    assert learning_rate(net, x, eta_lambda=1.0, lr_bar_cap=1e-9) == pytest.approx(1e-9 * net.alpha)


def test_train_long_matches_one_run_and_merges_the_history(square10):
    x, y = square10
    net1 = wf.ShallowReLU.init(50, scheme="gaussian", inner_scale=0.3, outer_scale=1.0, seed=1, antisymmetric=True)
    net2 = net1.copy()
    seen = []
    run = train_long(net1, x, y, lr=0.1, steps=5000, first=400, snapshots=12, on_first=seen.append)
    single = wf.train(net2, x, y, lr=0.1, steps=5000, progress=False)
    assert seen == [400]
    assert run.final_step == 5000 and run.status == "completed"
    assert np.all(np.diff(run.steps) > 0) and run.steps[0] == 0
    assert np.all(np.diff([s for s, _ in run.snapshots]) > 0)
    assert run.snapshots[0][0] == 0 and run.snapshots[-1][0] == 5000
    for name in ("a", "b", "c"):
        np.testing.assert_allclose(getattr(net1, name), getattr(net2, name), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(run.snapshots[-1][1]["c"], net1.c)
    assert run.final_loss == pytest.approx(single.final_loss, rel=1e-6, abs=1e-14)
    # the merged loss record agrees with the single run wherever both recorded the same step
    common, i1, i2 = np.intersect1d(run.steps, single.steps, return_indices=True)
    assert common.size >= 2
    np.testing.assert_allclose(run.loss[i1], single.loss[i2], rtol=1e-6, atol=1e-14)


def test_train_long_stops_once_the_loss_is_small(square10):
    x, y = square10
    net = wf.ShallowReLU.init(40, scheme="gaussian", inner_scale=1.0, outer_scale=1.0, seed=0)
    run = train_long(net, x, y, lr=learning_rate(net, x), steps=1_000_000, first=1000, tol=1e-2)
    assert run.status == "completed"
    assert run.final_step < 1_000_000 and run.final_step in (1000, 3000, 9000, 27000, 81000, 243000, 729000)
    assert run.final_loss <= 1e-2 < run.loss[np.searchsorted(run.steps, run.final_step / 3)]


def test_knot_clusters_find_the_mass():
    a = np.array([1.0, 1.0, -1.0, 1.0, 2.0])
    b = np.array([-0.5, -0.505, 0.5, 0.2, 0.0])  # knots 0.5, 0.505, 0.5, -0.2, 0
    c = np.array([10.0, 10.0, 10.0, 1.0, 0.01])
    net = wf.ShallowReLU(a, b, c, alpha=5.0)
    cl = w19.knot_clusters(net, np.linspace(-1, 1, 5), frac=0.9)
    assert len(cl) == 1
    assert cl[0][0] == pytest.approx(0.5, abs=0.01)
    assert cl[0][1] == pytest.approx(
        np.sum(np.abs(c[:3]) * np.hypot(a[:3], b[:3])) / np.sum(np.abs(c) * np.hypot(a, b))
    )
    cl = w19.knot_clusters(net, np.linspace(-1, 1, 5), frac=0.999)  # adds the knot at -0.2, not the tiny one
    assert [round(ctr, 3) for ctr, _ in cl] == [-0.2, 0.505]
    assert sum(f for _, f in cl) == pytest.approx(1.0, abs=1e-3)


# ---------------------------------------------------------------------------------------------- the two regimes


@pytest.mark.parametrize("seed", [0, 1])
def test_adaptive_run_ends_at_the_linear_interpolant_with_knots_at_the_data(square10, refs, seed):
    x, y = square10
    net = wf.ShallowReLU.init(400, scheme="gaussian", inner_scale=0.1, outer_scale=1.0, seed=seed, antisymmetric=True)
    net0 = net.copy()
    lr = learning_rate(net, x)
    assert lr == pytest.approx(2e-3 * net.alpha)  # the per-neuron cap binds on the adaptive side
    run = wf.train(net, x, y, lr=lr, steps=300_000, progress=False)
    assert run.status == "completed"
    assert run.final_loss < 1e-3
    d = w19.measure(net, net0, x, y, refs, "gaussian")
    gap = limits.distance(refs["ncs"], refs["linear"], -1, 1)["sup"]
    assert d["linear"] < 0.05 < 0.2 < gap
    assert d["linear"] < 0.1 * d["ncs"]
    assert d["kmf"] > 0.9 > 0.5 > limits.uniform_knot_mass_fraction(x)
    assert d["median_knot"] > 0.1  # the knots moved (adaptive)


def test_kernel_run_ends_at_the_c_only_limit_near_the_rho_spline(square10, refs):
    x, y = square10
    net = wf.ShallowReLU.init(2000, scheme="gaussian", inner_scale=100.0, outer_scale=1e-3, seed=0, antisymmetric=True)
    net0 = net.copy()
    conly = limits.min_norm_outer_interpolant(net0, x, y)
    lr = learning_rate(net, x)
    run = wf.train(net, x, y, lr=lr, steps=200_000, progress=False)
    assert run.status == "completed"
    assert run.final_loss < 1e-4
    d = w19.measure(net, net0, x, y, refs, "gaussian", conly)
    assert d["conly"] < 0.03
    assert d["conly"] < 0.1 * d["linear"]
    assert d["rho"] < 0.5 * d["linear"] and d["kinf"] < 0.5 * d["linear"]
    assert d["median_knot"] < 1e-3  # knots frozen (kernel)
    assert d["drift"] < 0.01


# ---------------------------------------------------------------------------------------------- pipeline


@pytest.mark.slow
def test_reproduce_tiny_writes_the_report_and_figures_from_the_store(tmp_path):
    out = tmp_path / "w19"
    report = w19.reproduce(str(out), overrides=TINY, progress="off")
    assert report == os.path.join(str(out), "report.md")
    assert (out / "wideflow.sqlite").is_file()
    text = Path(report).read_text(encoding="utf-8")
    for heading in (
        "## 1. Analytic limits",
        "## 2. Regime sweep",
        "### square10",
        "### sine10",
        "## 3. Which parameters are trained",
        "## 4. Gradient-descent step size",
        "## 5. Width scaling",
        "## 6. Gradient descent and the exact gradient flow",
        "### What the flow shows on sine10",
        "## 7. Checks",
        "## 8. Figures",
        "## Provenance",
    ):
        assert heading in text
    assert "specs: **custom**" in text and "incomplete" not in text
    assert "sup|f−NCS|" in text and "sup|f−linear|" in text and "fitted slope" in text
    assert text.count("| kernel-unif (") == 4  # both phases on both data sets
    for stem in (
        "regimes_square10",
        "regimes_sine10",
        "uv_square10",
        "knots_square10",
        "loss_curves",
        "trained_sets",
        "width_scaling",
        "flow",
    ):
        for ext in ("png", "pdf"):
            path = out / f"{stem}.{ext}"
            assert path.is_file() and path.stat().st_size > 1000, path
        assert f"`{stem}.png`" in text
    # every stored regime run is in the tables: 8 regimes x 2 data sets, both phases
    store = wf.open_store(str(out))
    try:
        sweeps = {r["name"] for r in store.sweeps()}
        assert {f"williams2019:{s}" for s in w19.STUDY.sections} | {"williams2019:flow"} <= sweeps
        flows = store.runs(as_frame=False)
        flow_runs = [r for r in flows if r.get("method") == "flow"]
        assert len(flow_runs) == 8 + 2  # the derived pairs (4 inits x 2 data sets) and the long runs
        assert all(r["accepted"] > 0 and r["gradient_evals"] >= r["accepted"] for r in flow_runs)
    finally:
        store.close()


def test_reproduce_rejects_bad_overrides(tmp_path):
    from wideflow.sweeps import SpecError

    with pytest.raises(SpecError, match="nosuchfield"):
        w19.reproduce(str(tmp_path), overrides=["nosuchfield=1"])
    with pytest.raises(SpecError, match=r"regimes.*width.*>= 1"):
        w19.reproduce(str(tmp_path), overrides=["regimes:width=0"])
    with pytest.raises(SpecError, match="no section 'nosuch'"):
        w19.reproduce(str(tmp_path), overrides=["nosuch:width=10"])
    assert not (tmp_path / "wideflow.sqlite").exists()  # nothing ran: the specs are checked first
