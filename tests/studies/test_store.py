"""The results store: round trips, side files, safety (no pickles, ids as file names), bad stores."""

import io
import json
import math
import os
import sqlite3

import numpy as np
import pandas as pd
import pytest

import wideflow as wf
from wideflow.sweeps import Store, open_store
from wideflow.sweeps.runners import RunResult
from wideflow.sweeps.store import DB_NAME, decode_arrays, encode_arrays

RID = "0123456789abcdef"


def _result(status="done", **kw):
    traj = {
        "steps": np.array([0, 1, 10, 100], dtype=np.int64),
        "t": np.array([0.0, 0.5, 5.0, 50.0]),
        "loss": np.array([5.0, 4.0, 1.0, 1e-3]),
    }
    params = {"a": np.arange(5, dtype=np.float32), "b": np.ones(5), "c": -np.ones(5), "alpha": np.float64(5.0)}
    base = dict(
        metrics={"final_loss": 1e-3, "dead_neurons": 2, "dist_kernel_sup": math.nan, "diverged_at": None, "note": "x"},
        trajectory=traj,
        params=params,
        started_at=1.0,
        finished_at=2.5,
        wall_time=1.5,
        host="h",
    )
    base.update(kw)
    return RunResult(status, **base)


def test_round_trip(tmp_path):
    cfg = {"width": 5, "lr": 0.5, "scheme": "gaussian", "antisymmetric": False, "alpha": "m"}
    with Store.create(tmp_path) as store:
        store.put(RID, "shallow_relu", cfg, _result(), version="9.9")
    # the folder or the file itself
    for path in (tmp_path, tmp_path / DB_NAME):
        with open_store(path) as st:
            assert len(st) == 1
            assert st.config(RID) == cfg
            (rec,) = st.records()
            assert rec["status"] == "done" and rec["error"] is None and rec["version"] == "9.9"
            assert rec["metrics"]["final_loss"] == 1e-3 and rec["metrics"]["dead_neurons"] == 2
            assert math.isnan(rec["metrics"]["dist_kernel_sup"]) and rec["metrics"]["diverged_at"] is None
            assert rec["wall_time"] == 1.5 and rec["host"] == "h"
            traj = st.trajectory(RID)
            assert traj["steps"].dtype == np.int64 and traj["steps"].tolist() == [0, 1, 10, 100]
            assert np.array_equal(traj["loss"], [5.0, 4.0, 1.0, 1e-3])
            params = st.params(RID)
            assert params["a"].dtype == np.float32 and np.array_equal(params["a"], np.arange(5))
            assert float(params["alpha"]) == 5.0
            assert st.integrity_check() == "ok"
    assert (tmp_path / "params" / f"{RID}.npz").is_file()
    assert not [f for f in os.listdir(tmp_path / "params") if f.endswith(".tmp")]


def test_runs_table_list_and_frame(tmp_path):
    with Store.create(tmp_path) as store:
        store.put(RID, "m", {"width": 5, "final_loss": "cfg"}, _result())
        store.put("fedcba9876543210", "m", {"width": 7, "final_loss": "cfg"}, _result("failed", error="E: x"))
    with wf.open_store(tmp_path) as st:
        rows = st.runs(as_frame=False)
        assert [r["width"] for r in rows] == [5, 7]
        # a metric named like a config field gets a prefix instead of overwriting it
        assert rows[0]["final_loss"] == "cfg" and rows[0]["metric_final_loss"] == 1e-3
        assert rows[1]["status"] == "failed" and rows[1]["error"] == "E: x"
        assert [r["id"] for r in st.runs(status="failed", as_frame=False)] == ["fedcba9876543210"]
        df = st.runs()
        assert isinstance(df, pd.DataFrame) and list(df["width"]) == [5, 7]


def test_wal_mode_and_upsert(tmp_path):
    with Store.create(tmp_path) as store:
        store.put(RID, "m", {"x": 1}, _result("failed", error="boom", params=None))
        store.put(RID, "m", {"x": 1}, _result("done"))
        assert len(store) == 1 and store.statuses() == {RID: "done"}
        assert store.params(RID)["b"].tolist() == [1.0] * 5
    con = sqlite3.connect(tmp_path / DB_NAME)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    con.close()


def test_rejects_bad_ids_and_statuses(tmp_path):
    with Store.create(tmp_path) as store:
        for bad in ("../../etc/passwd", "0123456789ABCDEF", "0123", RID + "0", 123):
            with pytest.raises(ValueError, match="run_id"):
                store.put(bad, "m", {}, _result())
        with pytest.raises(ValueError, match="status"):
            store.put(RID, "m", {}, _result("interrupted"))
        with pytest.raises(ValueError, match="run_id"):
            store.trajectory("../x")
        assert len(store) == 0
        assert os.path.dirname(store.params_path(RID)) == os.path.join(store.root, "params")


def test_never_unpickles(tmp_path):
    with Store.create(tmp_path) as store:
        store.put(RID, "m", {}, _result(params=None))
    # someone plants an object array (a pickle) in the trajectory blob
    buf = io.BytesIO()
    np.savez(buf, loss=np.array([{"evil": 1}], dtype=object))
    con = sqlite3.connect(tmp_path / DB_NAME)
    with con:
        con.execute("UPDATE runs SET trajectory = ? WHERE id = ?", (buf.getvalue(), RID))
    con.close()
    with open_store(tmp_path) as st:
        with pytest.raises(ValueError, match="never unpickled"):
            st.trajectory(RID)
    with pytest.raises(TypeError, match="object"):
        encode_arrays({"x": np.array([None], dtype=object)})
    assert decode_arrays(encode_arrays({"x": np.arange(3)}))["x"].tolist() == [0, 1, 2]


def test_open_store_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no wideflow store"):
        open_store(tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()
    other = tmp_path / "other"
    other.mkdir()
    con = sqlite3.connect(other / DB_NAME)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(ValueError, match="not a wideflow store"):
        open_store(other)
    with pytest.raises(ValueError, match="not a wideflow store"):
        Store.create(other)  # does not take over someone else's database
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ValueError, match="not a wideflow store"):
        open_store(tmp_path / "junk")


def test_temp_side_files_are_cleaned(tmp_path):
    with Store.create(tmp_path) as store:
        os.makedirs(tmp_path / "params")
        (tmp_path / "params" / f".{RID}.abc.tmp").write_bytes(b"partial")
        assert store.remove_temp_files() == 1
        assert os.listdir(tmp_path / "params") == []


def test_sweep_table_records_specs(tmp_path):
    with Store.create(tmp_path) as store:
        store.add_sweep("s", "shallow_relu", {"model": "shallow_relu", "grid": {"width": [1, 2]}}, 2)
        (row,) = store.sweeps()
        assert row["name"] == "s" and row["runs"] == 2 and row["spec"]["grid"] == {"width": [1, 2]}
        json.dumps(row)
