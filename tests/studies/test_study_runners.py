"""Study runners for every family and method: stored results equal a direct `wf.train` of the same config,
the theorems each family's metrics measure (conserved imbalance / balancedness under the flow, the
closed-form flows), user data files in specs, `--set` overrides, and deep / factorization sweeps in TOML
run locally, on a Dask LocalCluster, and resumed."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from test_sweeps import _assert_same_results, _table, wideflow_cli

import wideflow as wf
from wideflow import datasets, linear_theory
from wideflow.sweeps import SpecError, Sweep, load_spec, open_store, run_id, run_sweep
from wideflow.sweeps.spec import apply_overrides
from wideflow.sweeps.store import stored_runs


def _one(model, fixed, tmp_path, name="s"):
    """Run a one-run sweep into a store and return (config, stored record, trajectory, params)."""
    sweep = Sweep(model, fixed=fixed, name=name)
    ((rid, cfg),) = sweep.runs()
    summary = run_sweep(sweep, tmp_path / name, progress="off")
    assert summary.failed == 0
    with open_store(tmp_path / name) as st:
        (rec,) = [r for r in st.records() if r["id"] == rid]
        return cfg, rec, st.trajectory(rid), (st.params(rid) if rec["has_params"] else None)


# ------------------------------------------------------------------------------------- deep
DEEP = {"dims": [6, 12, 8, 2], "samples": 40, "lr": 2e-3, "steps": 300, "init": "balanced", "init_norm2": 0.5}


def test_deep_runner_equals_direct_train(tmp_path):
    cfg, rec, traj, params = _one("deep", DEEP, tmp_path)
    X, Y = datasets.teacher_student([6, 12, 8, 2], 40, seed=0)
    var = [0.5 / (6 * 12), 0.5 / (12 * 8), 0.5 / (8 * 2)]
    net = wf.DeepNet.init([6, 12, 8, 2], variance=var, activation="relu", seed=0)
    run = wf.train(net, X, Y, lr=2e-3, steps=300, progress=False)
    assert rec["status"] == "done"
    assert rec["metrics"]["final_loss"] == run.final_loss  # bitwise: the same kernels, any thread count
    assert np.array_equal(traj["loss"], run.loss) and np.array_equal(traj["steps"], run.steps)
    for h, w in enumerate(net.weights):
        assert np.array_equal(params[f"W{h + 1}"], w)
    n = net.layer_norms()
    assert rec["metrics"]["norm2_W2"] == n[1]
    assert rec["metrics"]["diff_1"] == pytest.approx(n[0] - n[1], rel=1e-14)
    assert rec["metrics"]["ratio_2"] == pytest.approx(np.sqrt(n[1] / n[2]), rel=1e-14)
    # balanced init: the three layers start with ||W_h||^2 = 0.5 in expectation
    init = [rec["metrics"][f"norm2_W{h}_init"] for h in (1, 2, 3)]
    assert all(0.1 < v < 1.5 for v in init)


def test_deep_flow_conserves_balancedness_and_gd_drifts_with_lr(tmp_path):
    """Du et al.: ||W_h||^2 - ||W_{h+1}||^2 is conserved by gradient flow; GD drifts O(lr) at fixed time.
    (A linear net here, so that a tight tolerance is cheap; ReLU flows are checked in the study test.)"""
    base = {**DEEP, "init": "he", "activation": "linear"}
    _, flow, _, pf = _one("deep", {**base, "method": "flow", "t_end": 0.2, "rtol": 1e-10, "atol": 1e-12}, tmp_path, "f")
    _, gd1, _, p1 = _one("deep", {**base, "lr": 5e-4, "steps": 400}, tmp_path, "g1")
    _, gd2, _, p2 = _one("deep", {**base, "lr": 2.5e-4, "steps": 800}, tmp_path, "g2")
    scale = abs(flow["metrics"]["diff_1"]) + 1.0
    assert flow["metrics"]["max_diff_drift"] < 1e-8 * scale
    assert flow["metrics"]["flow_time"] == pytest.approx(0.2)
    d1, d2 = gd1["metrics"]["max_diff_drift"], gd2["metrics"]["max_diff_drift"]
    assert d1 > 1e3 * flow["metrics"]["max_diff_drift"]
    # per step the drift is lr^2 (||G_h||^2 - ||G_{h+1}||^2), so over a fixed flow time it is O(lr)
    assert d1 / d2 == pytest.approx(2.0, rel=0.15)
    # and GD at the same flow time is O(lr) away from the flow
    e1, e2 = (np.sqrt(sum(np.sum((p[k] - pf[k]) ** 2) for k in pf)) for p in (p1, p2))
    assert e1 / e2 == pytest.approx(2.0, rel=0.15)


def test_deep_relu_flow_events_field_and_counters(tmp_path):
    """The event-aware flow of a deep ReLU net integrates through its sliding pre-activations; the store
    keeps its counters. events = false is the plain pair. At its default the field leaves the run id as it
    was."""
    base = {**DEEP, "init": "he", "activation": "relu", "method": "flow", "t_end": 0.5, "rtol": 1e-6}
    _, rec, _, _ = _one("deep", base, tmp_path, "ev")
    assert rec["status"] == "done" and rec["metrics"]["flow_time"] == pytest.approx(0.5)
    assert rec["metrics"]["sliding_entries"] > 0 and rec["metrics"]["events"] > 0
    assert rec["metrics"]["max_diff_drift"] < 1e-4
    _, plain, _, _ = _one("deep", {**base, "events": False, "rtol": 1e-4}, tmp_path, "plain")
    assert plain["status"] == "done" and "events" not in plain["metrics"]
    ids = lambda fixed: Sweep("deep", fixed=fixed).ids()  # noqa: E731
    assert ids({**base, "events": True}) == ids(base) != ids({**base, "events": False})
    assert ids({**DEEP, "events": False}) == ids(DEEP)  # a GD run ignores it


def test_deep_init_variances_and_lr_units(tmp_path):
    fixed = {
        "dims": [3, 4, 1],
        "samples": 25,
        "init": "variances",
        "variances": [0.5, 0.25],
        "lr": 0.01,
        "lr_units": "mean",
        "steps": 20,
        "activation": "leaky_relu",
        "negative_slope": 0.1,
    }
    cfg, rec, _, _ = _one("deep", fixed, tmp_path)
    X, Y = datasets.teacher_student([3, 4, 1], 25, 0, "leaky_relu", 0.1)
    net = wf.DeepNet.init([3, 4, 1], variance=[0.5, 0.25], activation="leaky_relu", negative_slope=0.1, seed=0)
    run = wf.train(net, X, Y, lr=0.01 / 25, steps=20, progress=False)
    assert rec["metrics"]["final_loss"] == run.final_loss and rec["metrics"]["lr_step"] == 0.01 / 25
    with pytest.raises(SpecError, match=r"fixed.variances.*needs 2 variances"):
        Sweep("deep", fixed={"dims": [3, 4, 1], "init": "variances", "variances": [1.0]})
    with pytest.raises(SpecError, match=r"fixed.dims: \[1\]: must be >= 1"):
        Sweep("deep", fixed={"dims": [3, 0, 1]})
    with pytest.raises(SpecError, match=r"fixed.dims: expected at least 2 entries"):
        Sweep("deep", fixed={"dims": [3]})


# ------------------------------------------------------------------------------------- factorization
def test_factorization_runner_equals_direct_train(tmp_path):
    cfg, rec, traj, params = _one("factorization", {"steps": 2000, "init_scale": 0.3, "seed": 4}, tmp_path)
    Y = np.random.default_rng(0).standard_normal((5, 10))
    fac = wf.Factorization.init(5, 10, 50, scale=0.3, seed=4)
    U0, V0 = fac.U.copy(), fac.V.copy()
    run = wf.train(fac, Y, lr=1e-3, steps=2000, progress=False)
    m = rec["metrics"]
    assert m["final_loss"] == run.final_loss
    assert np.array_equal(params["U"], fac.U) and np.array_equal(params["V"], fac.V)
    sv = np.linalg.svd(fac.U @ fac.V.T, compute_uv=False)
    assert [m[f"sv_{i}"] for i in range(1, 6)] == pytest.approx(sv, rel=1e-12)
    assert m["rel_error"] == pytest.approx(np.linalg.norm(Y - fac.U @ fac.V.T) / np.linalg.norm(Y), rel=1e-12)
    q0 = U0.T @ U0 - V0.T @ V0
    q = fac.U.T @ fac.U - fac.V.T @ fac.V
    assert m["q_drift"] == pytest.approx(np.linalg.norm(q - q0), rel=1e-9)
    assert np.isnan(m["dist_closed_form"])  # no closed form for a Gaussian start
    assert traj["metric_singular_values"].shape[1] == 5


def test_factorization_flow_matches_closed_form_and_gd_approaches_it(tmp_path):
    """Balanced start: the flow has the closed form of `linear_theory.riccati_solution`; GD at lr is O(lr)
    away from it at the same flow time."""
    base = {"init": "balanced", "init_scale": 0.2, "target": "low_rank", "m": 8, "n": 6, "k": 10, "rank": 3}
    _, flow, _, _ = _one(
        "factorization", {**base, "method": "flow", "t_end": 6.0, "rtol": 1e-10, "atol": 1e-12}, tmp_path, "f"
    )
    _, gd1, _, _ = _one("factorization", {**base, "lr": 0.02, "steps": 300}, tmp_path, "g1")
    _, gd2, _, _ = _one("factorization", {**base, "lr": 0.01, "steps": 600}, tmp_path, "g2")
    assert flow["metrics"]["dist_closed_form"] < 1e-7
    assert flow["metrics"]["q_drift"] < 1e-9 and gd1["metrics"]["q_drift"] > 1e-6
    e1, e2 = gd1["metrics"]["dist_closed_form"], gd2["metrics"]["dist_closed_form"]
    assert 1e-6 < e1 < 0.1 and e1 / e2 == pytest.approx(2.0, rel=0.15)
    # the target is the rank-3 low_rank matrix of linear_theory
    M = linear_theory.low_rank_target(8, 6, 3, seed=0)
    assert flow["metrics"]["sv_1"] == pytest.approx(np.linalg.svd(M, compute_uv=False)[0], rel=0.05)


def test_one_layer_runner_gd_and_exact_flow(tmp_path):
    _, gd, _, params = _one("one_layer", {"lr": 0.01, "steps": 100}, tmp_path, "g")
    Y = np.random.default_rng(0).standard_normal((5, 10))
    model = wf.OneLayer.zeros(5, 10)
    run = wf.train(model, Y, lr=0.01, steps=100, progress=False)
    assert gd["metrics"]["final_loss"] == run.final_loss and np.array_equal(params["X"], model.X)
    _, flow, traj, _ = _one("one_layer", {"method": "flow", "t_end": 3.0}, tmp_path, "f")
    # X(t) = Y (1 - e^{-t}) from X0 = 0: relative error e^{-t}, loss 1/2 e^{-2t} ||Y||^2
    assert flow["metrics"]["rel_error"] == pytest.approx(np.exp(-3.0), rel=1e-13)
    assert traj["loss"] == pytest.approx(0.5 * np.sum(Y * Y) * np.exp(-2 * traj["t"]), rel=1e-13)
    assert gd["metrics"]["rel_error"] == pytest.approx((1 - 0.01) ** 100, rel=1e-12)  # GD: (1 - lr)^k


def test_one_layer_flow_through_wf_train():
    Y = np.arange(6.0).reshape(2, 3)
    model = wf.OneLayer(np.ones((2, 3)))
    run = wf.train(model, Y, method="flow", t_end=0.5, record=[0.25], progress=False)
    assert np.allclose(model.X, Y + (1 - Y) * np.exp(-0.5), rtol=1e-14, atol=0)
    assert list(run.t) == [0.0, 0.25, 0.5]


# ------------------------------------------------------------------------------------- shallow flow
def test_shallow_flow_runner_and_kernel_limit(tmp_path):
    fixed = {
        "method": "flow",
        "t_end": 2.0,
        "width": 400,
        "train": "outer",
        "antisymmetric": True,
        "scheme": "uniform_knots",
        "rtol": 1e-9,
        "atol": 1e-12,
    }
    cfg, rec, traj, params = _one("shallow_relu", fixed, tmp_path)
    x, y = datasets.load("square10")
    net = wf.ShallowReLU.init(400, scheme="uniform_knots", seed=0, antisymmetric=True)
    run = wf.train(net, x, y, method="flow", t_end=2.0, rtol=1e-9, atol=1e-12, train="outer", progress=False)
    assert rec["metrics"]["final_loss"] == run.final_loss and np.array_equal(params["c"], net.c)
    assert np.isnan(rec["metrics"]["lr_step"]) and rec["metrics"]["flow_time"] == 2.0
    # the m = infinity flow of the outer layer (closed form) is O(m^-1/2) away
    assert rec["metrics"]["dist_kernel_sup"] < 0.1 * rec["metrics"]["dist_ncs_sup"] + 0.05


def test_method_fields_leave_gd_ids_unchanged_and_are_checked():
    # a GD run's id is that of wideflow 0.1.0 (before the method fields existed): old stores resume
    old_defaults = {
        "dataset": "square10",
        "width": 1000,
        "scheme": "gaussian",
        "inner_scale": 1.0,
        "outer_scale": 1.0,
        "alpha": "m",
        "L": 2.0,
        "antisymmetric": False,
        "seed": 0,
        "dtype": "float64",
        "lr": 0.01,
        "lr_scaling": "m",
        "lr_power": 0.0,
        "steps": 10000,
        "train": "all",
        "kernel": "auto",
        "record_points": 200,
    }
    assert Sweep("shallow_relu").ids() == [run_id("shallow_relu", old_defaults)] == ["0a7e28ef35935fd4"]
    # a flow run's id ignores lr and steps; a grid over an ignored field is refused
    a = Sweep("shallow_relu", fixed={"method": "flow", "lr": 0.5}).ids()
    b = Sweep("shallow_relu", fixed={"method": "flow", "steps": 7}).ids()
    assert a == b != Sweep("shallow_relu", fixed={"method": "flow", "t_end": 3.0}).ids()
    with pytest.raises(SpecError, match=r"grid.lr: grid points differ only in field\(s\) that this run ignores"):
        Sweep("shallow_relu", fixed={"method": "flow"}, grid={"lr": [0.1, 0.2]})
    with pytest.raises(SpecError, match=r"grid.t_end: .*ignores"):
        Sweep("factorization", grid={"t_end": [1.0, 2.0]})
    with pytest.raises(SpecError, match=r"fixed.kernel: method = \"flow\" evaluates gradients with the sorted"):
        Sweep("shallow_relu", fixed={"method": "flow", "kernel": "direct"})
    with pytest.raises(SpecError, match=r"fixed.method: unknown value 'euler'"):
        Sweep("deep", fixed={"method": "euler"})
    with pytest.raises(SpecError, match=r"fixed.rank: must be <= min\(m, n\) = 5"):
        Sweep("factorization", fixed={"target": "low_rank", "rank": 6})


# ------------------------------------------------------------------------------------- user data
def _write_square(tmp_path):
    x = np.linspace(-1, 1, 7)
    y = np.sign(np.sin(np.pi * x + 0.3))
    np.savez(tmp_path / "pts.npz", x=x, y=y, inputs=x, targets=-y)
    np.save(tmp_path / "pts.npy", np.column_stack([x, y]))
    with open(tmp_path / "pts.csv", "w") as fh:
        fh.write("x,y\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(x, y)))
    return x, y


@pytest.mark.parametrize(
    "table, sign",
    [
        ('{ path = "data/pts.npz" }', 1),
        ('{ path = "data/pts.npz", x = "inputs", y = "targets" }', -1),
        ('{ path = "data/pts.npy" }', 1),
        ('{ path = "data/pts.csv", targets = 1 }', 1),
    ],
)
def test_user_data_file_in_a_spec(tmp_path, table, sign):
    (tmp_path / "data").mkdir()
    x, y = _write_square(tmp_path / "data")
    spec = tmp_path / "mine.toml"
    spec.write_text(f'model = "shallow_relu"\n[fixed]\ndataset = {table}\nwidth = 50\nsteps = 30\n')
    sweep = Sweep.from_toml(spec)
    ((rid, cfg),) = sweep.runs()
    assert cfg["dataset"]["path"] == str(tmp_path / "data" / os.path.basename(cfg["dataset"]["path"]))
    run_sweep(sweep, tmp_path / "out", progress="off")
    net = wf.ShallowReLU.init(50, seed=0)
    run = wf.train(net, x, sign * y, lr=0.01 * 50, steps=30, progress=False)
    with open_store(tmp_path / "out") as st:
        assert st.records()[0]["metrics"]["final_loss"] == run.final_loss
    # the id hashes the file's content, not its path: the same study elsewhere has the same ids
    other = tmp_path / "moved"
    shutil.copytree(tmp_path / "data", other / "data")
    shutil.copy(spec, other / "mine.toml")
    assert Sweep.from_toml(other / "mine.toml").ids() == [rid]
    # ... and other data gives other ids
    (other / "data" / os.path.basename(cfg["dataset"]["path"])).write_bytes(b"")
    with pytest.raises(SpecError, match="fixed.dataset"):
        Sweep.from_toml(other / "mine.toml")


def test_user_data_changed_after_reading_fails_the_run(tmp_path):
    x, y = _write_square(tmp_path)
    sweep = Sweep("shallow_relu", fixed={"dataset": {"path": str(tmp_path / "pts.npz")}, "width": 20, "steps": 5})
    np.savez(tmp_path / "pts.npz", x=x, y=2 * y)
    summary = run_sweep(sweep, tmp_path / "out", progress="off")
    assert summary.failed == 1
    with open_store(tmp_path / "out") as st:
        assert "changed since the spec was read" in st.records()[0]["error"]


@pytest.mark.parametrize(
    "make, table, fragment",
    [
        (None, {"path": "nope.npz"}, "no such file"),
        (None, {"file": "pts.npz"}, "unknown key 'file'"),
        (None, {"path": "pts.txt"}, "unknown format"),
        ("object", {"path": "obj.npy"}, "not a valid .npy file"),
        ("complex", {"path": "cpx.npy"}, "must hold real numbers"),
        ("nan", {"path": "nan.npz"}, "non-finite"),
        (None, {"path": "pts.npz", "x": "nope"}, "has no array 'nope'"),
        (None, {"path": "pts.npy", "x": "a"}, "renames an array of a .npz file only"),
        ("wide", {"path": "wide.npy", "targets": 3}, "inputs followed by 3 target"),
    ],
)
def test_user_data_errors_name_the_field(tmp_path, make, table, fragment):
    _write_square(tmp_path)
    if make == "object":
        np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif make == "complex":
        np.save(tmp_path / "cpx.npy", np.ones((4, 2), dtype=complex))
    elif make == "nan":
        np.savez(tmp_path / "nan.npz", x=np.array([0.0, np.nan]), y=np.zeros(2))
    elif make == "wide":
        np.save(tmp_path / "wide.npy", np.ones((4, 3)))
    spec = tmp_path / "s.toml"
    inline = ", ".join(f"{k} = {v!r}".replace("'", '"') for k, v in table.items())
    spec.write_text(f'model = "shallow_relu"\n[fixed]\ndataset = {{ {inline} }}\n')
    with pytest.raises(SpecError, match=r"fixed\.dataset: .*" + fragment):
        Sweep.from_toml(spec)


def test_factorization_target_file(tmp_path):
    Y = np.random.default_rng(3).standard_normal((4, 6))
    np.save(tmp_path / "Y.npy", Y)
    cfg, rec, _, _ = _one(
        "factorization", {"m": 4, "n": 6, "k": 8, "steps": 100, "target": {"path": str(tmp_path / "Y.npy")}}, tmp_path
    )
    fac = wf.Factorization.init(4, 6, 8, scale=0.1, seed=0)
    run = wf.train(fac, Y, lr=1e-3, steps=100, progress=False)
    assert rec["metrics"]["final_loss"] == run.final_loss
    summary = run_sweep(
        Sweep("factorization", fixed={"m": 5, "n": 6, "target": {"path": str(tmp_path / "Y.npy")}}, name="bad"),
        tmp_path / "bad",
        progress="off",
    )
    assert summary.failed == 1
    with open_store(tmp_path / "bad") as st:
        assert "target: the file holds a matrix of shape (4, 6), but m = 5, n = 6" in st.records()[0]["error"]


# ------------------------------------------------------------------------------------- overrides
def test_overrides_are_validated_like_the_file(tmp_path):
    base = {"model": "shallow_relu", "fixed": {"steps": 100}, "grid": {"width": [10, 20]}}
    got = apply_overrides(
        base, ["fixed.steps=5", "grid.seed=[0, 1]", "width=30", "dataset=sine10", 'fixed.alpha="sqrt"']
    )
    assert got == {
        "model": "shallow_relu",
        "fixed": {"steps": 5, "width": 30, "dataset": "sine10", "alpha": "sqrt"},
        "grid": {"seed": [0, 1]},
    }
    assert base["fixed"] == {"steps": 100}  # the input is not modified
    sweep = load_spec(base, ["grid.width=[1, 2, 3]", "model=shallow_relu"])
    assert len(sweep) == 3 and sweep.fixed["steps"] == 100
    with pytest.raises(SpecError, match=r"fixed.steps: expected an integer, got float"):
        load_spec(base, ["steps=1.5"])
    with pytest.raises(SpecError, match=r"--set: expected KEY=VALUE"):
        load_spec(base, ["steps"])
    with pytest.raises(SpecError, match=r"--set: 'sweep.steps': a dotted key starts with fixed. or grid."):
        load_spec(base, ["sweep.steps=3"])
    with pytest.raises(SpecError, match=r"model: no runner is registered for 'deeep'; did you mean 'deep'"):
        load_spec(base, ["model=deeep"])
    # from the command line: the effective spec is what runs (and what the store keeps)
    spec = tmp_path / "w.toml"
    spec.write_text('model = "shallow_relu"\n[fixed]\nsteps = 100\n[grid]\nwidth = [10, 20]\n')
    proc = wideflow_cli(
        "sweep",
        str(spec),
        "--out",
        str(tmp_path / "o"),
        "--dry-run",
        "--set",
        "grid.width=[7,8,9]",
        "--set",
        "fixed.steps=3",
    )
    assert proc.returncode == 0, proc.stderr
    assert "3 runs" in proc.stdout and "width=7" in proc.stdout
    proc = wideflow_cli("sweep", str(spec), "--out", str(tmp_path / "o"), "--set", "fixed.steps=-3")
    assert proc.returncode == 2 and "fixed.steps: must be >= 0" in proc.stderr


# ------------------------------------------------------------------------------------- TOML studies end to end
DEEP_TOML = """\
    model = "deep"
    [fixed]
    dims = [8, 16, 16, 1]
    samples = 64
    steps = 400
    lr = 0.002
    init = "balanced"
    [grid]
    activation = ["linear", "relu"]
    seed = [0, 1]
    method = ["gd", "flow"]
    """

FAC_TOML = """\
    model = "factorization"
    [fixed]
    steps = 3000
    t_end = 3.0
    [grid]
    init_scale = [0.01, 0.1, 1.0]
    init = ["gaussian", "balanced"]
    """


@pytest.mark.slow
def test_deep_and_factorization_studies_local_dask_and_pool(tmp_path):
    for name, text in (("deep", DEEP_TOML), ("fac", FAC_TOML)):
        spec = tmp_path / f"{name}.toml"
        spec.write_text(textwrap.dedent(text))
        local = run_sweep(str(spec), tmp_path / f"{name}_local", progress="off")
        assert local.failed == 0 and local.done == len(Sweep.from_toml(spec))
        proc = wideflow_cli(
            "sweep", str(spec), "--out", str(tmp_path / f"{name}_dask"), "--executor", "dask", "--workers", "2"
        )
        assert proc.returncode == 0, proc.stderr
        _assert_same_results(_table(tmp_path / f"{name}_local"), _table(tmp_path / f"{name}_dask"))
        run_sweep(str(spec), tmp_path / f"{name}_pool", workers=2, progress="off")
        _assert_same_results(_table(tmp_path / f"{name}_local"), _table(tmp_path / f"{name}_pool"))
    with open_store(tmp_path / "deep_local") as st:
        recs = st.records()
    flows = [r for r in recs if r["config"]["method"] == "flow"]
    assert len(flows) == 4 and all(r["metrics"]["max_diff_drift"] < 1e-6 for r in flows)


@pytest.mark.slow
def test_deep_study_resumes_after_sigkill(tmp_path):
    spec = tmp_path / "deep.toml"
    spec.write_text(
        textwrap.dedent("""\
        model = "deep"
        [fixed]
        dims = [50, 200, 200, 1]
        samples = 400
        steps = 200
        lr = 0.0005
        [grid]
        seed = [0, 1, 2, 3, 4, 5, 6, 7]
        """)
    )
    out = str(tmp_path / "out")
    ids = Sweep.from_toml(spec).ids()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wideflow", "sweep", str(spec), "--out", out, "--threads", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while stored_runs(out) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    n = stored_runs(out)
    assert 2 <= n < len(ids)
    proc = wideflow_cli("sweep", str(spec), "--out", out, "--threads", "1", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"{n} already stored, {len(ids) - n} to run" in proc.stderr
    with open_store(out) as st:
        recs = st.records()
    assert sorted(r["id"] for r in recs) == sorted(ids) and all(r["status"] == "done" for r in recs)
