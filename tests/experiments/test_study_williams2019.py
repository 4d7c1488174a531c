"""The Williams et al. 2019 reproduction as a study on the store: a killed run resumes to the same report,
`wideflow report DIR` rebuilds it from the store alone, a finished study only redraws, a run shared by two
sections is stored once, and the process and dask executors store bitwise the results of the local one."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import wideflow as wf
from wideflow.cli import main
from wideflow.experiments import williams2019 as w19
from wideflow.experiments._study import load_section, study_sweeps
from wideflow.sweeps.driver import run_sweeps
from wideflow.sweeps.store import stored_runs

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from test_williams2019 import TINY


def _numbers(report_path) -> str:
    """The report without its provenance section (compute and wall times differ from run to run)."""
    text = Path(report_path).read_text(encoding="utf-8")
    return text.split("## Provenance")[0]


@pytest.fixture(scope="module")
def complete(tmp_path_factory):
    out = tmp_path_factory.mktemp("w19-complete")
    report = w19.reproduce(str(out), overrides=TINY, progress="off")
    return str(out), report


@pytest.mark.slow
def test_a_killed_reproduction_resumes_to_the_same_report(complete, tmp_path):
    out, report = complete
    total = stored_runs(out)
    killed = str(tmp_path / "killed")
    cmd = [sys.executable, "-m", "wideflow", "reproduce", "williams2019", "--out", killed, "--progress", "off"]
    for s in TINY:
        cmd += ["--set", s]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while stored_runs(killed) < total // 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the reproduction finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stored = stored_runs(killed)
    assert 0 < stored < total
    assert not os.path.exists(os.path.join(killed, "report.md"))
    resumed = w19.reproduce(killed, overrides=TINY, progress="off")
    assert stored_runs(killed) == total
    assert _numbers(resumed) == _numbers(report)


def test_report_rebuilds_the_paper_report_from_the_store_alone(complete, tmp_path, capsys):
    out, report = complete
    again = tmp_path / "again"
    assert main(["report", out, "--out", str(again)]) == 0
    assert "williams2019: wrote" in capsys.readouterr().out
    assert _numbers(again / "report.md") == _numbers(report)
    assert (again / "regimes_square10.png").stat().st_size > 1000


def test_a_finished_study_runs_nothing_and_only_redraws(complete):
    out, report = complete
    con = sqlite3.connect(os.path.join(out, "wideflow.sqlite"))
    try:
        before = dict(con.execute("SELECT id, stored_at FROM runs").fetchall())
    finally:
        con.close()
    mtime = os.path.getmtime(report)
    time.sleep(0.01)
    assert w19.reproduce(out, overrides=TINY, progress="off") == report
    con = sqlite3.connect(os.path.join(out, "wideflow.sqlite"))
    try:
        after = dict(con.execute("SELECT id, stored_at FROM runs").fetchall())
    finally:
        con.close()
    assert after == before  # no run was computed or stored again
    assert os.path.getmtime(report) > mtime


def test_runs_shared_by_two_sections_are_computed_once(complete):
    out, _ = complete
    sweeps = {s.name.split(":")[1]: s for s in study_sweeps(w19.STUDY, overrides=TINY)}
    shared = set(sweeps["regimes"].ids()) & set(sweeps["trained_sets"].ids())
    assert len(shared) == 2  # the "all" runs of the kernel and adaptive inits
    distinct = set().union(*(s.ids() for s in sweeps.values()))
    derived = [
        r
        for r in wf.open_store(out).runs(as_frame=False)
        if r.get("method") == "flow"
        and r["width"] == 40
        and r["dataset"] in ("square10", "sine10")
        and r["t_end"] != 300.0
    ]
    assert stored_runs(out) == len(distinct) + len(derived) < sum(len(s) for s in sweeps.values()) + len(derived)


def _snapshot(store_dir) -> dict:
    store = wf.open_store(store_dir)
    try:
        out = {}
        for rec in store.records():
            metrics = {k: v for k, v in rec["metrics"].items() if k not in ("train_time",)}
            traj = store.trajectory(rec["id"])
            params = store.params(rec["id"]) if rec["has_params"] else {}
            out[rec["id"]] = (
                rec["status"],
                metrics,
                {k: v.tobytes() for k, v in traj.items()},
                {k: np.asarray(v).tobytes() for k, v in params.items()},
            )
        return out
    finally:
        store.close()


@pytest.mark.slow
def test_process_and_dask_executors_store_bitwise_the_local_results(tmp_path):
    pytest.importorskip("distributed")
    sweeps = [
        load_section(w19.STUDY, "flow_gd", overrides=["width=40", "steps=300"]),
        load_section(
            w19.STUDY,
            "width_gd",
            overrides=[
                "steps=500",
                "cases=[{scheme = 'uniform_knots', width = 100}, {scheme = 'gaussian', width = 200}]",
            ],
        ),
        load_section(w19.STUDY, "flow_long", overrides=["width=40", "t_end=50.0", "rtol=1e-5"]),
        load_section(w19.STUDY, "width_limits", overrides=["grid.width=[100, 10000]", "grid.seed=[0]"]),
    ]
    results = {}
    for executor, workers in (("local", None), ("process", 2), ("dask", 2)):
        out = str(tmp_path / executor)
        summary = run_sweeps(sweeps, out, executor=executor, workers=workers, progress="off")
        assert summary.failed == 0 and summary.done == summary.total
        results[executor] = _snapshot(out)
    assert len(results["local"]) == 8 + 2 + 2 + 4
    assert results["process"] == results["local"]
    assert results["dask"] == results["local"]
