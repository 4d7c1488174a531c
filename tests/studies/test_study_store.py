"""What a store gives back about its runs: provenance of every record and the refusal to mix builds,
results as a DataFrame, an xarray Dataset and CSV/Parquet files, and batch-cluster (dask-jobqueue)
options and job scripts."""

import json
import os
import platform
import re
import sqlite3

import numpy as np
import pandas as pd
import pytest
from test_sweeps import wideflow_cli

import wideflow as wf
from wideflow.sweeps import Sweep, clusters, open_store, provenance, run_sweep
from wideflow.sweeps.driver import MixedBuilds

GRID = Sweep(
    "factorization",
    fixed={"steps": 50, "m": 3, "n": 4, "k": 5},
    grid={"init_scale": [0.1, 0.5], "seed": [0, 1, 2]},
    name="grid",
)


@pytest.fixture
def store_dir(tmp_path):
    run_sweep(GRID, tmp_path / "out", progress="off", threads=1)
    return tmp_path / "out"


def test_every_record_has_its_provenance(store_dir):
    with open_store(store_dir) as st:
        rid = st.records()[0]["id"]
        prov = st.provenance(rid)
        builds = st.builds()
    assert prov["wideflow"] == wf.__version__
    assert prov["numpy"] == np.__version__ and prov["python"] == platform.python_version()
    assert prov["threads"] == 1 and prov["host"] and "openmp" in prov["build"]
    assert "git_revision" in prov and "git_dirty" in prov
    assert "pytest" in prov["command"] or "python" in prov["command"]
    assert len(builds) == 1 and builds[0]["runs"] == 6
    assert provenance.build_key(builds[0]["build"]) == provenance.build_key(provenance.build())


def _rewrite_build(path, **changes):
    con = sqlite3.connect(path / "wideflow.sqlite")
    try:
        rid, prov = con.execute("SELECT id, provenance FROM runs LIMIT 1").fetchone()
        p = json.loads(prov)
        p.update(changes)
        with con:
            con.execute("UPDATE runs SET provenance = ? WHERE id = ?", (json.dumps(p), rid))
    finally:
        con.close()


def test_a_store_of_another_build_is_not_mixed(store_dir):
    _rewrite_build(store_dir, wideflow="0.0.9", git_revision="0123456789abcdef", git_dirty=False)
    bigger = Sweep(
        "factorization",
        fixed={"steps": 50, "m": 3, "n": 4, "k": 5},
        grid={"init_scale": [0.1, 0.5, 1.0], "seed": [0, 1, 2]},
        name="grid",
    )
    with pytest.raises(
        MixedBuilds,
        match=r"1 run\(s\) of another build \(wideflow 0\.0\.9, git 0123456789ab[^)]*\) "
        r"than this one \(wideflow " + wf.__version__,
    ):
        run_sweep(bigger, store_dir, progress="off")
    summary = run_sweep(bigger, store_dir, progress="off", allow_mixed=True)
    assert summary.skipped == 6 and summary.done == 3
    with open_store(store_dir) as st:
        assert sorted(b["runs"] for b in st.builds()) == [1, 8]
    from wideflow.sweeps.report import report

    with open(os.devnull, "w") as devnull:
        out = report(store_dir, stream=devnull)
    assert "Builds that wrote this store:" in out["table"]
    assert re.search(r"- wideflow 0\.0\.9, git 0123456789ab[^:\n]*: 1 runs", out["table"])


def test_a_store_without_provenance_still_opens_and_resumes(store_dir):
    con = sqlite3.connect(store_dir / "wideflow.sqlite")  # a wideflow 0.1.0 store: no provenance column
    with con:
        con.execute("ALTER TABLE runs DROP COLUMN provenance")
    con.close()
    with open_store(store_dir) as st:
        assert st.provenance(st.records()[0]["id"]) == {}
        assert st.builds() == [{"build": {"wideflow": wf.__version__}, "runs": 6}]
    summary = run_sweep(GRID, store_dir, progress="off")  # same version: resumes, adds the column
    assert summary.skipped == 6
    with open_store(store_dir) as st:
        assert st.provenance(st.records()[0]["id"]) == {}


def test_results_as_dataframe_xarray_and_files(store_dir, tmp_path):
    xr = pytest.importorskip("xarray")
    with open_store(store_dir) as st:
        df = st.runs()
        ds = st.to_xarray(["final_loss", "q_drift"])
        ds2 = st.to_xarray("final_loss", dims=["seed", "init_scale"])
        recs = {r["id"]: r for r in st.records()}
        with pytest.raises(
            ValueError,
            match=r"dims: runs .* fall in the same cell; add the field\(s\) that also "
            r"vary to dims: seed",
        ):
            st.to_xarray("final_loss", dims=["init_scale"])
        with pytest.raises(ValueError, match="metric: no run has a metric 'loss'"):
            st.to_xarray("loss")
        with pytest.raises(ValueError, match="dims: 'width' is not a config field"):
            st.to_xarray("final_loss", dims=["width"])
        csv = st.export(tmp_path / "runs.csv")
    assert isinstance(df, pd.DataFrame) and len(df) == 6 and {"init_scale", "seed", "final_loss"} <= set(df.columns)
    assert isinstance(ds, xr.Dataset) and ds["final_loss"].dims == ("init_scale", "seed")
    assert list(ds.init_scale.values) == [0.1, 0.5] and list(ds.seed.values) == [0, 1, 2]
    for rid in ds.run_id.values.ravel():
        cfg = recs[rid]["config"]
        cell = ds.sel(init_scale=cfg["init_scale"], seed=cfg["seed"])
        assert float(cell.final_loss) == recs[rid]["metrics"]["final_loss"]
        assert float(cell.q_drift) == recs[rid]["metrics"]["q_drift"]
    assert ds2["final_loss"].dims == ("seed", "init_scale")
    back = pd.read_csv(csv)
    assert len(back) == 6 and np.allclose(np.sort(back.final_loss), np.sort(df.final_loss), rtol=1e-15)
    # the CLI
    proc = wideflow_cli("export", str(store_dir), "--out", str(tmp_path / "x.csv"))
    assert proc.returncode == 0, proc.stderr
    assert "wrote 6 runs" in proc.stdout and len(pd.read_csv(tmp_path / "x.csv")) == 6
    proc = wideflow_cli("export", str(tmp_path / "nowhere"))
    assert proc.returncode == 2 and "no wideflow store" in proc.stderr
    pytest.importorskip("pyarrow")  # optional: the Parquet export (the CSV one above ran in any case)
    proc = wideflow_cli("export", str(store_dir), "--format", "parquet")
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_parquet(store_dir / "runs.parquet")) == 6


def test_list_valued_config_fields_in_tables(tmp_path):
    sweep = Sweep("deep", fixed={"samples": 10, "steps": 5}, grid={"dims": [[3, 4, 1], [3, 8, 1]]})
    run_sweep(sweep, tmp_path / "d", progress="off")
    with open_store(tmp_path / "d") as st:
        df = st.runs()
        ds = st.to_xarray("final_loss")
    assert sorted(df.dims) == ["[3,4,1]", "[3,8,1]"] and list(ds.dims) == ["dims"]
    assert isinstance(df, pd.DataFrame)


# ------------------------------------------------------------------------------------- batch clusters
def test_cluster_options_are_validated():
    assert clusters.parse_options(["queue=debug,cores=4", "memory=8GB"]) == {
        "queue": "debug",
        "cores": 4,
        "memory": "8GB",
    }
    for bad, fragment in [
        (["cores=four"], "cores must be a positive integer"),
        (["cores=0"], "positive integer"),
        (["gpus=1"], "unknown option 'gpus'"),
        (["queue"], "expected KEY=VALUE"),
        (["queue="], "queue needs a value"),
    ]:
        with pytest.raises(ValueError, match=r"--cluster-opt: .*" + fragment):
            clusters.parse_options(bad)
    with pytest.raises(ValueError, match=r"memory=\.\.\. .* is required"):
        clusters.check("slurm", {"queue": "debug"})
    with pytest.raises(ValueError, match="cluster: unknown value 'sge'"):
        clusters.check("sge", {"memory": "1GB"})
    from wideflow.sweeps.executors import make_executor

    with pytest.raises(ValueError, match="cluster: only the dask executor"):
        make_executor("local", cluster="slurm", cluster_options={"memory": "1GB"})
    with pytest.raises(ValueError, match="cluster: give either a scheduler address or a batch cluster"):
        make_executor("dask", scheduler="tcp://127.0.0.1:1", cluster="slurm", cluster_options={"memory": "1GB"})
    ex = make_executor("dask", workers=3, cluster="pbs", cluster_options={"memory": "1GB", "cores": 6})
    assert ex.threads == 6 and ex.describe() == "dask, pbs cluster of 3 jobs"


@pytest.mark.parametrize(
    "kind, lines",
    [
        (
            "slurm",
            [
                "#SBATCH -p debug",
                "#SBATCH --cpus-per-task=4",
                "#SBATCH --mem=8G",
                "#SBATCH -t 00:30:00",
                "#SBATCH -A proj",
            ],
        ),
        ("pbs", ["#PBS -q debug", "ncpus=4", "#PBS -l walltime=00:30:00", "#PBS -A proj"]),
    ],
)
@pytest.mark.slow
def test_generated_job_scripts(kind, lines):
    pytest.importorskip("dask_jobqueue")
    opts = {
        "queue": "debug",
        "cores": 4,
        "memory": "8GB",
        "walltime": "00:30:00",
        "account": "proj",
        "host": "127.0.0.1",
    }
    script = clusters.job_script(kind, opts)
    for line in lines:
        assert line in script, script
    # one worker thread per job (one run at a time), scheduler on the address given
    assert "--nthreads 1" in script and "tcp://127.0.0.1:" in script
    proc = wideflow_cli(
        "sweep",
        "width_scaling",
        "--cluster",
        kind,
        "--print-job-script",
        "--cluster-opt",
        "queue=debug,cores=4,memory=8GB,walltime=00:30:00,account=proj,host=127.0.0.1",
    )
    assert proc.returncode == 0, proc.stderr
    assert all(line in proc.stdout for line in lines)
    proc = wideflow_cli("sweep", "width_scaling", "--cluster", kind, "--cluster-opt", "cores=2")
    assert proc.returncode == 2 and "memory=... (per job, e.g. memory=16GB) is required" in proc.stderr
