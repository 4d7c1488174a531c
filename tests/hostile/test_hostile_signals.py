"""Issue 12, item 6 and the signal tests: Ctrl-C (SIGINT) ends a long GD run, a long gradient flow and a
sweep on every executor within 2 s with the state kept; SIGKILL of a sweep client leaves no process
behind (pool workers watch their client) and a consistent, resumable store.

Each test runs the entry point in a subprocess in its own session, so that the processes it starts can
be found afterwards (by session id) however they were re-parented."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import python_script, session_processes, wait_for_line

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="signals and /proc: Linux only")

TRAIN = """
import json, sys, warnings
import numpy as np
import wideflow as wf
warnings.simplefilter("ignore")
family, method = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
if family == "shallow":
    x = np.linspace(-1, 1, 64)
    model, data = wf.ShallowReLU.init(2000, seed=0), (x, np.sign(np.sin(4 * x)))
    loss = lambda: 0.5 * float(np.sum((model(data[0]) - data[1]) ** 2))
else:
    X, Y = rng.standard_normal((64, 8)), rng.standard_normal((64, 2))
    model, data = wf.DeepNet.init([8, 64, 64, 2], seed=0), (X, Y)
    loss = lambda: 0.5 * float(np.sum((model(X) - Y) ** 2))
before = loss()
print("ready", flush=True)
if method == "gd":
    run = wf.train(model, *data, lr=1e-4, steps=10**12, progress=False)
else:
    # the deep ReLU net's event-aware flow stops at its first sliding pre-activation: the plain pair runs on
    extra = {"events": False} if family == "deep" else {}
    run = wf.train(model, *data, method="flow", t_end=1e12, rtol=1e-12, atol=1e-12, progress=False, **extra)
print(json.dumps({"status": run.status, "final_step": run.final_step, "final_loss": run.final_loss,
                  "model_loss": loss(), "initial_loss": before, "t": float(run.t[-1])}), flush=True)
"""


def _interrupt_training(family, method):
    proc = subprocess.Popen(
        python_script(TRAIN) + [family, method], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        wait_for_line(proc, proc.stdout, "ready", 30)
        time.sleep(0.8)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-2000:]
    return json.loads(out.decode().strip().splitlines()[-1]), elapsed


@pytest.mark.parametrize("family", ["shallow", "deep"])
@pytest.mark.parametrize("method", ["gd", "flow"])
def test_ctrl_c_ends_training_within_2_s_and_the_model_keeps_its_state(family, method):
    res, elapsed = _interrupt_training(family, method)
    assert elapsed < 2.0
    assert res["status"] == "interrupted" and res["final_step"] > 0 and res["t"] > 0
    assert res["final_loss"] < res["initial_loss"]
    assert abs(res["model_loss"] - res["final_loss"]) <= 1e-9 * max(1.0, res["final_loss"])


# short and long runs alternate (the grid runs seed by seed, steps inner): the signal comes right after the
# first short run is stored, while a long run (several seconds) is in progress and must not be waited for
SPEC = """model = "shallow_relu"
[fixed]
dataset = "square10"
width = 1000
[grid]
seed = [0, 1, 2, 3, 4]
steps = [20000, 1500000]
"""
EXECUTORS = {"local": [], "process": ["--workers", "2"], "dask": ["--executor", "dask", "--workers", "2"]}


def _start_sweep(tmp_path, executor):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "wideflow",
        "sweep",
        str(spec),
        "--out",
        str(out),
        "--progress",
        "log",
        "--threads",
        "1",
    ] + EXECUTORS[executor]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    wait_for_line(proc, proc.stderr, "/10] ", 60)  # one run stored, others in progress
    return proc, spec, out


def _store_state(out):
    con = sqlite3.connect(f"file:{out / 'wideflow.sqlite'}?mode=ro", uri=True)
    try:
        check = con.execute("PRAGMA integrity_check").fetchone()[0]
        return check, con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    finally:
        con.close()


def _wait_gone(sid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = session_processes(sid)
        if not left:
            return []
        time.sleep(0.05)
    return session_processes(sid)


def _cleanup(proc):
    for pid in session_processes(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for pipe in (proc.stdout, proc.stderr):  # filterwarnings = error: an unclosed pipe is a ResourceWarning
        if pipe is not None:
            pipe.close()


@pytest.mark.slow
@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_ctrl_c_stops_a_sweep_within_2_s_and_keeps_the_store(tmp_path, executor):
    proc, spec, out = _start_sweep(tmp_path, executor)
    try:
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C on a terminal does: the whole process group
        proc.wait(timeout=10)
        elapsed = time.monotonic() - t0
        assert proc.returncode == 130, proc.stderr.read().decode()[-2000:]
        assert elapsed < 2.0
        assert _wait_gone(proc.pid, 2.0) == []
    finally:
        _cleanup(proc)
    check, stored = _store_state(out)
    assert check == "ok" and stored >= 1
    dry = subprocess.run(
        [sys.executable, "-m", "wideflow", "sweep", str(spec), "--out", str(out), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"{stored} already stored" in dry.stdout


@pytest.mark.slow
@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_sigkill_of_a_sweep_client_leaves_no_process_behind(tmp_path, executor):
    proc, spec, out = _start_sweep(tmp_path, executor)
    try:
        if executor != "local":
            assert len(session_processes(proc.pid)) > 1  # the workers are up
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert _wait_gone(proc.pid, 3.0) == []
    finally:
        _cleanup(proc)
    check, stored = _store_state(out)
    assert check == "ok" and stored >= 1
