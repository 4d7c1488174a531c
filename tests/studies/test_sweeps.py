"""Sweeps: spec validation, grid expansion and run ids, resume after SIGKILL / SIGINT, failing runs, the dask
executor on a loopback LocalCluster against the local one, progress output, `wideflow report`."""

import math
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import wideflow as wf
from wideflow.sweeps import SpecError, Sweep, load_spec, open_store, run_id, run_sweep, runners
from wideflow.sweeps.driver import SweepLocked, _FolderLock
from wideflow.sweeps.fields import Int
from wideflow.sweeps.store import stored_runs

PNG = b"\x89PNG\r\n\x1a\n"


def wideflow_cli(*args, timeout=120, **kw):
    return subprocess.run(
        [sys.executable, "-m", "wideflow", *args], capture_output=True, text=True, timeout=timeout, **kw
    )


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


# ----------------------------------------------------------------------------------------------- validation
BASE = 'model = "shallow_relu"\n'


@pytest.mark.parametrize(
    "text, field, fragment",
    [
        (BASE + "[fixed]\nwidht = 3\n", "fixed.widht", "did you mean 'width'"),
        (BASE + "[grid]\nwidth = [100, 1000.5]\n", "grid.width[1]", "expected an integer, got float"),
        (BASE + '[fixed]\nlr = "fast"\n', "fixed.lr", "expected a number, got str"),
        (BASE + "[fixed]\nsteps = true\n", "fixed.steps", "expected an integer, got bool"),
        (BASE + "[fixed]\nantisymmetric = 1\n", "fixed.antisymmetric", "expected true or false"),
        (BASE + "[fixed]\nlr = -1\n", "fixed.lr", "> 0"),
        (BASE + '[fixed]\nscheme = "xavier"\n', "fixed.scheme", "'uniform_knots'"),
        (BASE + '[fixed]\nalpha = "cube"\n', "fixed.alpha", "'sqrt'"),
        (BASE + "[grid]\nseed = []\n", "grid.seed", "empty list"),
        (BASE + "[grid]\nseed = 3\n", "grid.seed", "expected a list"),
        (BASE + "[grid]\nwidth = [100, 100]\n", "grid.width[1]", "repeats"),
        (BASE + "[fixed]\nwidth = 10\n[grid]\nwidth = [100]\n", "grid.width", "also set in [fixed]"),
        (BASE + '[fixed]\ndataset = "mnist"\n', "fixed.dataset", "unknown name 'mnist'"),
        (BASE + '[grid]\ndataset = ["square10", "cifar"]\n', "grid.dataset[1]", "unknown name 'cifar'"),
        (BASE + "[fixed]\nantisymmetric = true\n[grid]\nwidth = [100, 101]\n", "grid.width", "even width"),
        ('model = "transformer"\n', "model", "no runner is registered for 'transformer'"),
        ('model = "deeep"\n', "model", "did you mean 'deep'"),
        ("model = 3\n", "model", "expected a model name"),
        ("[fixed]\nsteps = 3\n", "model", "missing"),
        (BASE + "modle = 1\n", "modle", "unknown top-level key"),
        (BASE + "[fixed]\nsteps = \n", "toml", "not valid TOML"),
    ],
)
def test_toml_validation_names_the_field(tmp_path, text, field, fragment):
    path = tmp_path / "spec.toml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        Sweep.from_toml(path)
    assert info.value.field == field
    assert f"{field}: " in str(info.value) and fragment in str(info.value)
    assert str(path) in str(info.value)


def test_cli_rejects_bad_spec_before_running(tmp_path):
    spec = write(
        tmp_path / "bad.toml",
        """\
        model = "shallow_relu"
        [fixed]
        steps = 10
        [grid]
        width = [10, 20]
        inner_scale = [0.1, "big"]
        """,
    )
    proc = wideflow_cli("sweep", str(spec), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "grid.inner_scale[1]: expected a number, got str" in proc.stderr
    assert not (tmp_path / "out").exists()  # nothing ran, nothing was created


def test_python_specs_are_validated_too():
    with pytest.raises(SpecError, match=r"fixed\.steps: must be >= 0"):
        Sweep("shallow_relu", fixed={"steps": -1})
    with pytest.raises(SpecError, match=r"grid\.width\[0\]: expected an integer"):
        Sweep("shallow_relu", grid={"width": ["100"]})
    with pytest.raises(SpecError, match=r"^grid: expected a table"):
        Sweep("shallow_relu", grid=[("width", [1])])


# ----------------------------------------------------------------------------------------- expansion, ids
SPEC_A = """\
    model = "shallow_relu"
    [fixed]
    dataset = "square10"
    steps = 2000
    lr = 1
    [grid]
    width = [100, 1000]
    inner_scale = [0.1, 1.0]
    seed = [0, 1, 2]
    """
SPEC_B = """\
    [grid]
    seed = [0, 1, 2]
    inner_scale = [0.1, 1.0]
    width = [100, 1000]
    [fixed]
    lr = 1.0
    steps = 2000
    dataset = "square10"
    """


def test_grid_expansion_and_stable_ids(tmp_path):
    a = Sweep.from_toml(write(tmp_path / "a.toml", SPEC_A))
    b = Sweep.loads('model = "shallow_relu"\n' + textwrap.dedent(SPEC_B))
    assert len(a) == 12 and len(a.configs()) == 12
    ids = a.ids()
    assert len(set(ids)) == 12 and all(len(i) == 16 for i in ids)
    assert b.ids() == ids  # neither key order nor 1 vs 1.0 changes a run
    cfg = a.configs()[0]
    assert set(cfg) == set(runners.RUNNERS["shallow_relu"].fields)  # defaults filled in
    assert cfg["lr"] == 1.0 and isinstance(cfg["lr"], float) and cfg["steps"] == 2000 and cfg["scheme"] == "gaussian"
    assert [(c["inner_scale"], c["seed"], c["width"]) for c in a.configs()][:3] == [
        (0.1, 0, 100),
        (0.1, 0, 1000),
        (0.1, 1, 100),
    ]
    # the hashing scheme itself: sha256 of canonical JSON, 16 hex digits (changing it orphans every store)
    assert (
        run_id("shallow_relu", {"width": 100, "lr": 0.5, "scheme": "gaussian", "antisymmetric": True})
        == "5c9ad9832f4aa45f"
    )
    # and the same ids in another interpreter with another hash seed
    code = f"from wideflow.sweeps import Sweep; print(','.join(Sweep.from_toml({str(tmp_path / 'a.toml')!r}).ids()))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONHASHSEED": "123"},
    )
    assert out.stdout.strip().split(",") == ids


def test_bundled_width_scaling_spec():
    sweep = load_spec("width_scaling")
    widths = sorted({c["width"] for c in sweep.configs()})
    assert widths[-1] / widths[0] >= 1e4 and len(sweep) >= 3 * len(widths)
    assert {c["train"] for c in sweep.configs()} == {"outer"}


# ------------------------------------------------------------------------------------ resume and failures
def test_rerun_runs_nothing_and_diverged_runs_are_stored(tmp_path):
    sweep = Sweep(
        "shallow_relu",
        fixed={"steps": 300, "train": "outer", "antisymmetric": True},
        grid={"width": [40, 80], "lr": [0.01, 100.0]},
    )
    s1 = run_sweep(sweep, tmp_path, progress="off")
    assert (s1.total, s1.skipped, s1.done, s1.diverged, s1.failed) == (4, 0, 2, 2, 0)
    s2 = run_sweep(sweep, tmp_path, progress="off")
    assert (s2.skipped, s2.ran) == (4, 0)
    with open_store(tmp_path) as st:
        rows = st.runs(as_frame=False)
        assert len(rows) == 4
        for r in rows:
            if r["lr"] == 100.0:  # lr * width * lambda_max >> 2 on the outer layer: blows up
                assert r["status"] == "diverged" and r["error"].startswith("diverged at step")
                assert r["diverged_at"] >= 1 and r["final_step"] == r["diverged_at"] - 1
                traj = st.trajectory(r["id"])
                assert traj["steps"][-1] == r["final_step"] and np.isfinite(traj["loss"]).all()
            else:
                assert r["status"] == "done" and r["final_step"] == 300 and r["final_loss"] < r["initial_loss"]
                assert math.isfinite(r["dist_kernel_sup"]) and math.isfinite(r["dist_ncs_sup"])
                assert st.params(r["id"])["c"].shape == (r["width"],)


@pytest.fixture
def flaky_runner():
    def run_flaky(config, threads, keep_params):
        if config["x"] == 1:
            raise ValueError(f"boom x={config['x']}")
        return runners.Outcome("done", {"value": config["x"] * 2.0}, {"loss": np.array([1.0, 0.5])})

    runners.register("flaky_test", {"x": Int(0, minimum=0)})(run_flaky)
    yield
    runners.unregister("flaky_test")


def test_failing_run_is_stored_and_sweep_goes_on(tmp_path, flaky_runner):
    sweep = Sweep("flaky_test", grid={"x": [0, 1, 2]})
    s = run_sweep(sweep, tmp_path, progress="off")
    assert (s.done, s.failed) == (2, 1)
    with open_store(tmp_path) as st:
        rows = {r["x"]: r for r in st.runs(as_frame=False)}
        assert rows[1]["status"] == "failed" and rows[1]["error"] == "ValueError: boom x=1"
        assert rows[0]["value"] == 0.0 and rows[2]["value"] == 4.0
        assert st.trajectory(rows[2]["id"])["loss"].tolist() == [1.0, 0.5]
        con = sqlite3.connect(os.path.join(tmp_path, "wideflow.sqlite"))
        tb = con.execute("SELECT traceback FROM runs WHERE status = 'failed'").fetchone()[0]
        con.close()
        assert "Traceback" in tb and "boom" in tb
    assert run_sweep(sweep, tmp_path, progress="off").ran == 0  # failed runs are not retried by default
    again = run_sweep(sweep, tmp_path, progress="off", retry_failed=True)
    assert (again.ran, again.failed, again.skipped) == (1, 1, 2)
    with open_store(tmp_path) as st:
        assert len(st) == 3 and st.integrity_check() == "ok"


def test_one_sweep_per_folder(tmp_path):
    sweep = Sweep("shallow_relu", fixed={"steps": 10, "width": 10})
    os.makedirs(tmp_path, exist_ok=True)
    with _FolderLock(str(tmp_path)):
        with pytest.raises(SweepLocked, match="another wideflow sweep"):
            run_sweep(sweep, tmp_path, progress="off")
    assert run_sweep(sweep, tmp_path, progress="off").done == 1


KILL_SPEC = """\
    model = "shallow_relu"
    [fixed]
    steps = 40000
    inner_scale = 0.5
    [grid]
    width = [2000, 3000]
    seed = [0, 1, 2, 3, 4, 5]
    """


def _start_and_stop(tmp_path, sig):
    spec = write(tmp_path / "kill.toml", KILL_SPEC)
    out = str(tmp_path / "out")
    ids = Sweep.from_toml(spec).ids()
    args = [sys.executable, "-m", "wideflow", "sweep", str(spec), "--out", out, "--threads", "1"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while stored_runs(out) < 3:
            assert proc.poll() is None, f"the sweep ended before it could be stopped: {proc.communicate()}"
            assert time.monotonic() < deadline, "no runs were stored in 60 s"
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep finished before the signal: make the runs longer"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    n_stopped = stored_runs(out)
    assert 3 <= n_stopped < len(ids)
    return spec, out, ids, proc, err, n_stopped


def _check_resumes(spec, out, ids, n_stopped):
    with open_store(out) as st:
        before = {r["id"]: r["started_at"] for r in st.records()}
        assert st.integrity_check() == "ok"
    assert len(before) == n_stopped
    proc = wideflow_cli("sweep", str(spec), "--out", out, "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    assert f"{n_stopped} already stored, {len(ids) - n_stopped} to run" in proc.stderr
    con = sqlite3.connect(os.path.join(out, "wideflow.sqlite"))
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = con.execute("SELECT id, status, started_at FROM runs").fetchall()
    finally:
        con.close()
    stored_ids = [r[0] for r in rows]
    assert sorted(stored_ids) == sorted(ids)  # every run exactly once: none lost, none duplicated
    assert all(status == "done" for _, status, _ in rows)
    for rid, _, started in rows:  # runs stored before the kill were not run again
        if rid in before:
            assert started == before[rid]
    params = sorted(os.listdir(os.path.join(out, "params")))
    assert params == sorted(f"{i}.npz" for i in ids)  # one side file per run, no temp files left
    with open_store(out) as st:
        for rid in ids:
            assert st.params(rid)["a"].shape[0] in (2000, 3000)
            assert st.trajectory(rid)["loss"].size > 10


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path):
    spec, out, ids, proc, _, n = _start_and_stop(tmp_path, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    _check_resumes(spec, out, ids, n)


@pytest.mark.slow
def test_resume_after_sigint(tmp_path):
    spec, out, ids, proc, err, n = _start_and_stop(tmp_path, signal.SIGINT)
    assert proc.returncode == 130
    assert "interrupted" in err and "run the same command again to resume" in err
    assert re.search(r"\[ *1/12\] [0-9a-f]{16} done ", err)  # not a terminal: one log line per finished run
    _check_resumes(spec, out, ids, n)


# ------------------------------------------------------------------------------------------------- dask
SMALL = {
    "fixed": {"steps": 500, "antisymmetric": True, "scheme": "uniform_knots"},
    "grid": {"width": [60, 200, 600], "train": ["all", "outer"], "lr": [0.05, 50.0]},
}


def _table(out):
    with open_store(out) as st:
        recs = {r["id"]: r for r in st.records()}
        trajs = {rid: st.trajectory(rid) for rid in recs}
        params = {rid: st.params(rid) for rid in recs if recs[rid]["has_params"]}
    return recs, trajs, params


def _assert_same_results(a, b):
    recs_a, trajs_a, params_a = a
    recs_b, trajs_b, params_b = b
    assert sorted(recs_a) == sorted(recs_b)
    for rid, ra in recs_a.items():
        rb = recs_b[rid]
        assert (ra["status"], ra["error"], ra["config"]) == (rb["status"], rb["error"], rb["config"])
        ma = {k: v for k, v in ra["metrics"].items() if k != "train_time"}
        mb = {k: v for k, v in rb["metrics"].items() if k != "train_time"}
        assert ma.keys() == mb.keys()
        for k in ma:  # bitwise (NaN == NaN)
            assert ma[k] == mb[k] or (ma[k] != ma[k] and mb[k] != mb[k]), (rid, k, ma[k], mb[k])
        for k in trajs_a[rid]:
            assert trajs_a[rid][k].tobytes() == trajs_b[rid][k].tobytes(), (rid, k)
        for k in params_a[rid]:
            assert params_a[rid][k].tobytes() == params_b[rid][k].tobytes(), (rid, k)


@pytest.mark.slow
def test_dask_local_cluster_matches_local(tmp_path):
    sweep = Sweep("shallow_relu", SMALL["fixed"], SMALL["grid"], name="small")
    local = run_sweep(sweep, tmp_path / "local", progress="off")
    assert local.done + local.diverged == 12 and local.diverged >= 1
    # the CLI path: `python -m wideflow sweep --executor dask` with a 2-worker LocalCluster
    spec = write(
        tmp_path / "small.toml",
        """\
        model = "shallow_relu"
        [fixed]
        steps = 500
        antisymmetric = true
        scheme = "uniform_knots"
        [grid]
        width = [60, 200, 600]
        train = ["all", "outer"]
        lr = [0.05, 50.0]
        """,
    )
    proc = wideflow_cli("sweep", str(spec), "--out", str(tmp_path / "dask"), "--executor", "dask", "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert "LocalCluster on 127.0.0.1 with 2 workers" in proc.stderr
    _assert_same_results(_table(tmp_path / "local"), _table(tmp_path / "dask"))
    # and runs side by side in local worker processes give the same too
    run_sweep(sweep, tmp_path / "pool", workers=2, progress="off")
    _assert_same_results(_table(tmp_path / "local"), _table(tmp_path / "pool"))


def test_dask_local_cluster_binds_loopback(tmp_path):
    from wideflow.sweeps.executors import DaskExecutor, Task

    sweep = Sweep("shallow_relu", fixed={"steps": 50, "width": 30}, grid={"seed": [0, 1, 2]})
    with DaskExecutor(workers=2, processes=False) as ex:
        assert ex.client.scheduler.address.startswith("tcp://127.0.0.1:")
        addrs = ex.worker_addresses()
        assert len(addrs) == 2 and all(a.startswith("tcp://127.0.0.1:") for a in addrs)
        got = {t.run_id: r for t, r in ex.results([Task(i, "shallow_relu", c) for i, c in sweep.runs()])}
    assert sorted(got) == sorted(sweep.ids()) and {r.status for r in got.values()} == {"done"}


# --------------------------------------------------------------------------------------- progress, report
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty test written for Linux")
def test_progress_bar_on_a_terminal(tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    spec = write(
        tmp_path / "s.toml", 'model = "shallow_relu"\n[fixed]\nsteps = 100\nwidth = 20\n[grid]\nseed = [0, 1, 2, 3]\n'
    )
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "wideflow", "sweep", str(spec), "--out", str(tmp_path / "o")],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0
    text = out.decode(errors="replace")
    assert "4/4" in text and "run/s" in text  # tqdm: runs done / total and the rate
    assert not re.search(r"\[ *1/4\]", text)  # no log lines on a terminal


@pytest.mark.slow
def test_report_renders_figures(tmp_path):
    sweep = Sweep(
        "shallow_relu",
        fixed={"steps": 200, "train": "outer", "scheme": "uniform_knots", "antisymmetric": True, "lr": 0.1},
        grid={"width": [50, 200, 800], "seed": [0, 1]},
    )
    run_sweep(sweep, tmp_path, progress="off")
    proc = wideflow_cli("report", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "dist_kernel_sup" in proc.stdout and "slope of dist_kernel_sup against width" in proc.stdout
    report = tmp_path / "report"
    for name in ("loss_curves", "metrics", "width_scaling"):
        png = report / f"{name}.png"
        assert png.is_file() and png.stat().st_size > 5_000
        assert png.read_bytes()[:8] == PNG
    assert "| width |" in (report / "summary.md").read_text()
    assert len((report / "runs.csv").read_text().splitlines()) == 7
    bad = wideflow_cli("report", str(tmp_path / "nothing"))
    assert bad.returncode == 2 and "no wideflow store" in bad.stderr


def test_public_api_exports():
    assert wf.Sweep is Sweep and wf.open_store is open_store
    code = "import sys, wideflow; print(any(m.split('.')[0] in ('dask', 'distributed', 'pandas') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False"
