"""Spec cases (settings that go together, crossed with the grid), the long-run / kernel-limit fields of the
shallow runner, the outer_limit runner, the Tarmoun / Du fields of the linear and deep runners: each stored
metric against a direct computation with the public API, and the run ids of older specs unchanged."""

from __future__ import annotations

import numpy as np
import pytest

import wideflow as wf
from wideflow import datasets, limits, random_features
from wideflow.segmented import segment_ends
from wideflow.sweeps import SpecError, Sweep, run_id
from wideflow.sweeps.executors import LocalExecutor, make_executor
from wideflow.sweeps.runners import execute, method_identity
from wideflow.tangent import learning_rate


def _one(model, **fixed):
    ((rid, cfg),) = Sweep(model, fixed=fixed).runs()
    res = execute(model, cfg)
    assert res.status in ("done", "diverged"), res.error
    return cfg, res


# ---------------------------------------------------------------------------------------------- cases
def test_cases_are_crossed_with_the_grid_in_order():
    sw = Sweep(
        "shallow_relu",
        fixed={"width": 10},
        grid={"seed": [0, 1]},
        cases=[{"inner_scale": 100.0, "outer_scale": 1e-3}, {"inner_scale": 0.1}],
    )
    cfgs = sw.configs()
    assert len(sw) == len(cfgs) == 4
    assert [(c["seed"], c["inner_scale"], c["outer_scale"]) for c in cfgs] == [
        (0, 100.0, 1e-3),
        (0, 0.1, 1.0),
        (1, 100.0, 1e-3),
        (1, 0.1, 1.0),
    ]
    again = Sweep.from_dict(sw.to_dict())
    assert again.ids() == sw.ids()
    # one case is the same run as the same fields in [fixed]
    one = Sweep("shallow_relu", fixed={"width": 10, "seed": 0}, cases=[{"inner_scale": 0.1}])
    assert one.ids() == Sweep("shallow_relu", fixed={"width": 10, "seed": 0, "inner_scale": 0.1}).ids()


@pytest.mark.parametrize(
    "cases, where",
    [
        ([{"width": 20}], "cases[0].width"),  # also in [fixed]
        ([{"seed": 3}], "cases[0].seed"),  # also in [grid]
        ([{"nosuch": 1}], "cases[0].nosuch"),
        ([{"inner_scale": -1.0}], "cases[0].inner_scale"),
        ([{}], "cases[0]"),
        ([], "cases"),
    ],
)
def test_bad_cases_are_refused_naming_the_entry(cases, where):
    with pytest.raises(SpecError) as info:
        Sweep("shallow_relu", fixed={"width": 10}, grid={"seed": [0, 1]}, cases=cases)
    assert info.value.field.startswith(where)


def test_cases_that_are_the_same_run_are_refused():
    with pytest.raises(SpecError, match="same run"):
        Sweep("shallow_relu", fixed={"method": "flow"}, cases=[{"lr": 0.1}, {"lr": 0.2}])


def test_cases_from_toml_and_overrides(tmp_path):
    from wideflow.sweeps import load_spec

    path = tmp_path / "s.toml"
    path.write_text('model = "shallow_relu"\n[fixed]\nwidth = 10\n[[cases]]\nseed = 1\n[[cases]]\nseed = 2\n')
    assert [c["seed"] for c in load_spec(str(path)).configs()] == [1, 2]
    assert [c["seed"] for c in load_spec(str(path), ["cases=[{seed = 5}]"]).configs()] == [5]


# ---------------------------------------------------------------------------------------------- shallow fields
def test_new_shallow_fields_leave_older_run_ids_unchanged():
    ((rid, cfg),) = Sweep("shallow_relu", fixed={"width": 200}).runs()
    old_fields = {
        k: v
        for k, v in cfg.items()
        if k
        not in (
            "lr_rule",
            "eta_lambda",
            "lr_cap",
            "checkpoint",
            "loss_tol",
            "snapshots",
            "kernel_limits",
            "curve_points",
        )
    }
    assert rid == run_id("shallow_relu", method_identity(old_fields))


def test_tangent_rule_checkpoint_and_kernel_limits_match_direct_computations():
    x, y = datasets.load("square10")
    cfg, res = _one(
        "shallow_relu",
        width=60,
        scheme="gaussian",
        inner_scale=0.3,
        outer_scale=1.0,
        antisymmetric=True,
        lr_rule="tangent",
        steps=3000,
        checkpoint=1000,
        kernel_limits=True,
        curve_points=51,
        snapshots=5,
    )
    m = res.metrics
    net = wf.ShallowReLU.init(60, scheme="gaussian", inner_scale=0.3, outer_scale=1.0, seed=0, antisymmetric=True)
    net0 = net.copy()
    eta = learning_rate(net, x)
    assert m["lr_step"] == pytest.approx(eta, rel=1e-12)
    run1 = wf.train(net, x, y, lr=eta, steps=1000, progress=False)
    assert m["checkpoint_step"] == 1000
    assert m["checkpoint_loss"] == pytest.approx(run1.final_loss, rel=1e-9)
    conly = limits.min_norm_outer_interpolant(net0, x, y)
    assert m["checkpoint_dist_conly_sup"] == pytest.approx(limits.distance(net, conly, -1, 1)["sup"], rel=1e-6)
    wf.train(net, x, y, lr=eta, steps=2000, progress=False)
    assert m["final_loss"] == pytest.approx(0.5 * float(np.sum((net(x) - y) ** 2)), rel=1e-8)
    assert m["dist_rho_sup"] == pytest.approx(
        limits.distance(net, limits.rho_weighted_spline(x, y, limits.rho("gaussian")), -1, 1)["sup"], rel=1e-6
    )
    assert m["invariant_drift"] == pytest.approx(limits.invariant_drift(net0, net), rel=1e-6)
    tr = res.trajectory
    np.testing.assert_allclose(tr["curve_end"], net(tr["curve_x"]), rtol=1e-9, atol=1e-12)
    assert tr["snap_a"].shape == (tr["snap_steps"].size, 60) and tr["snap_steps"][-1] == 3000


def test_loss_tol_stops_at_a_segment_end():
    cfg, res = _one("shallow_relu", width=40, lr_rule="tangent", steps=1_000_000, loss_tol=1e-2)
    assert res.metrics["final_step"] in segment_ends(None, 1_000_000)
    assert res.metrics["final_step"] < 1_000_000 and res.metrics["final_loss"] <= 1e-2


def test_flow_runs_store_the_integrator_counters():
    _, res = _one("shallow_relu", width=20, method="flow", t_end=5.0)
    assert res.metrics["accepted"] > 0 and res.metrics["gradient_evals"] >= res.metrics["accepted"]
    with pytest.raises(SpecError, match="gradient-descent field"):
        Sweep("shallow_relu", fixed={"method": "flow", "checkpoint": 10})


def test_outer_limit_runner_matches_random_features():
    x, y = datasets.load("square10")
    _, res = _one("outer_limit", width=1000, scheme="uniform_knots", seed=3)
    t = np.linspace(-1, 1, 2001)
    o = random_features.outer_limit_at_width(1000, x, y, t, scheme="uniform_knots", seed=3)
    ncs = limits.natural_cubic_spline(x, y)
    assert res.metrics["dist_ncs_sup"] == pytest.approx(float(np.max(np.abs(o.values - ncs(t)))), rel=1e-12)
    assert res.metrics["residual"] == pytest.approx(o.residual, rel=1e-9, abs=1e-14)
    with pytest.raises(SpecError, match="even width"):
        Sweep("outer_limit", fixed={"width": 101})


# ---------------------------------------------------------------------------------------------- linear / deep fields
def test_mode_init_follows_the_closed_form_to_order_lr():
    dist = {}
    for lr, steps in ((1e-2, 400), (1e-3, 4000)):
        _, res = _one(
            "factorization",
            m=1,
            n=1,
            k=1,
            target="scalar",
            target_scale=2.0,
            init="mode",
            mode_x0=0.01,
            mode_lambda=0.5,
            lr=lr,
            steps=steps,
            record_every=steps // 100,
            hit_levels=[1e-3],
        )
        dist[lr] = res.metrics["dist_closed_form_max"]
        assert res.metrics["q_eig_min_init"] == pytest.approx(0.5, rel=1e-12)
    assert 5 < dist[1e-2] / dist[1e-3] < 20  # GD is the flow's Euler scheme: O(lr)


def test_one_layer_product_start_and_hit_levels_match_wf_train():
    cfg, res = _one(
        "one_layer",
        start="product",
        k=8,
        init_scale=0.3,
        seed=4,
        lr=1e-2,
        steps=300,
        record_every=1,
        hit_levels=[0.5],
        trajectory_points=20,
    )
    Y = datasets.gaussian_matrix(5, 10, 0)
    X0 = wf.Factorization.init(5, 10, 8, scale=0.3, seed=4).product()
    run = wf.train(wf.OneLayer(X0), Y, lr=1e-2, steps=300, record="all", progress=False)
    assert res.metrics["final_loss"] == pytest.approx(run.final_loss, rel=1e-12)
    err = np.sqrt(2 * run.loss) / np.linalg.norm(Y)
    assert res.metrics["t_hit_1"] == pytest.approx(run.t[np.flatnonzero(err < 0.5)[0]], rel=1e-12)
    assert res.trajectory["t"].size <= 22


def test_deep_grad_norms_give_the_one_step_identity():
    cfg, res = _one("deep", dims=[6, 5, 4, 3], samples=30, lr=1e-2, steps=1, grad_norms=True)
    m = res.metrics
    for h in (1, 2):
        predicted = m["lr_step"] ** 2 * (m[f"grad_norm2_W{h}_init"] - m[f"grad_norm2_W{h + 1}_init"])
        assert m[f"diff_{h}_drift"] == pytest.approx(predicted, rel=1e-6)


def test_process_executor_is_a_pool():
    ex = make_executor("process", workers=1)
    assert isinstance(ex, LocalExecutor) and ex.use_pool and "1 worker process" in ex.describe()
    with pytest.raises(ValueError, match="scheduler"):
        make_executor("process", scheduler="tcp://127.0.0.1:1")
