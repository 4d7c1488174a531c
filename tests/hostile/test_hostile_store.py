"""Issue 12, items 2, 3 and the --out part of 7: a crafted store (links, traversal names, pickles,
decompression bombs, truncated or flipped blobs, bad or deep JSON, zeroed pages) never makes the store,
a sweep or the report read or write outside the store folder, never unpickles, and costs only the bad
rows, each reported by its run id."""

from __future__ import annotations

import io
import json
import os
import pickle
import sqlite3
import struct
import zipfile

import numpy as np
import pytest

from wideflow import cli
from wideflow.sweeps import Store, open_store
from wideflow.sweeps.runners import RUNNERS, RunResult
from wideflow.sweeps.spec import MAX_SPEC_BYTES, SpecError, Sweep, run_id
from wideflow.sweeps.store import DB_NAME, CorruptRecord, CorruptRecordWarning, encode_arrays

MODEL = "shallow_relu"


def _config(width, seed):
    cfg = {k: f.default for k, f in RUNNERS[MODEL].fields.items()}
    cfg.update(width=width, seed=seed)
    return cfg


def _result(i, params=True):
    steps = np.array([0, 1, 10, 100])
    return RunResult(
        "done",
        metrics={"final_loss": 1.0 / (i + 1), "initial_loss": 2.0, "final_step": 100},
        trajectory={"steps": steps, "t": steps * 0.1, "loss": 1.0 / (steps + 1.0 + i)},
        params={"a": np.arange(3.0), "b": np.ones(3), "c": np.zeros(3), "alpha": np.float64(3.0)} if params else None,
        started_at=float(i),
        finished_at=float(i) + 1,
        wall_time=1.0,
        host="h",
    )


def _store(folder, n=3, params=True) -> list[str]:
    ids = []
    with Store.create(folder) as st:
        for i in range(n):
            cfg = _config(10 * (i + 1), 0)
            rid = run_id(MODEL, cfg)
            st.put(rid, MODEL, cfg, _result(i, params))
            ids.append(rid)
    return ids


def _sql(folder, statement, args=()):
    con = sqlite3.connect(os.path.join(folder, DB_NAME))
    with con:
        con.execute(statement, args)
    con.close()


def _report(folder, capsys, *extra) -> tuple[int, str]:
    rc = cli.main(["report", str(folder), *extra])
    return rc, capsys.readouterr().err


@pytest.fixture
def no_unpickling(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("something was unpickled")

    for name in ("load", "loads"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)


# ------------------------------------------------------------------------------------------ item 2: paths
def test_report_refuses_a_linked_report_folder(tmp_path, outside, capsys):
    store = tmp_path / "store"
    _store(store)
    os.symlink(outside.path, store / "report")
    rc, err = _report(store, capsys)
    assert rc == 2 and "symbolic link" in err and len(err.strip().splitlines()) == 1
    outside.check()


def test_report_replaces_linked_files_instead_of_following_them(tmp_path, outside, capsys):
    store = tmp_path / "store"
    _store(store)
    (store / "report").mkdir()
    os.symlink(outside.path / "sentinel.txt", store / "report" / "summary.md")
    os.symlink(outside.path / "planted.csv", store / "report" / "runs.csv")  # dangling: would be created
    os.symlink(outside.path / "planted.png", store / "report" / "loss_curves.png")
    assert _report(store, capsys)[0] == 0
    outside.check()
    for name in ("summary.md", "runs.csv", "loss_curves.png"):
        assert not os.path.islink(store / "report" / name) and os.path.isfile(store / "report" / name)


@pytest.mark.parametrize("model", ["x/../../../pwned", "../pwned", "pwned", "/tmp/pwned", "shallow_relu\n"])
def test_model_names_from_the_database_never_build_paths(tmp_path, outside, capsys, model):
    store = tmp_path / "a" / "b" / "store"
    ids = _store(store, n=2)
    _sql(store, "UPDATE runs SET model = ? WHERE id = ?", (model, ids[0]))
    before = {p for p in tmp_path.rglob("*")}
    assert _report(store, capsys)[0] == 0
    new = {p for p in tmp_path.rglob("*")} - before
    assert all(str(p).startswith(str(store) + os.sep) for p in new), new
    summary = (store / "report" / "summary.md").read_text()
    assert ids[0] in summary and "Skipped 1" in summary
    outside.check()


def test_params_refuses_a_linked_side_file(tmp_path, outside):
    store = tmp_path / "store"
    rid = _store(store, n=1)[0]
    np.savez(outside.path / "secret.npz", secret=np.arange(4))
    outside.arm()
    side = store / "params" / f"{rid}.npz"
    os.unlink(side)
    os.symlink(outside.path / "secret.npz", side)
    with open_store(store) as st:
        with pytest.raises(ValueError, match="symbolic link"):
            st.params(rid)
    outside.check()


def test_params_refuses_a_linked_params_folder(tmp_path, outside):
    store = tmp_path / "store"
    rid = _store(store, n=1)[0]
    os.rename(store / "params" / f"{rid}.npz", outside.path / f"{rid}.npz")
    os.rmdir(store / "params")
    os.symlink(outside.path, store / "params")
    outside.arm()
    with open_store(store) as st:
        with pytest.raises(ValueError, match="symbolic link"):
            st.params(rid)
    outside.check()


def test_side_file_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    store = tmp_path / "store"
    rid = _store(store, n=1)[0]
    os.unlink(store / "params" / f"{rid}.npz")
    os.mkfifo(store / "params" / f"{rid}.npz")
    with open_store(store) as st:
        with pytest.raises(ValueError, match="not a regular file"):
            st.params(rid)


def _spec(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text('model = "shallow_relu"\n[fixed]\nsteps = 5\nwidth = 4\n[grid]\nseed = [0, 1]\n')
    return path


def test_sweep_refuses_a_linked_params_folder_and_deletes_nothing_there(tmp_path, outside, capsys):
    store = tmp_path / "store"
    store.mkdir()
    (outside.path / ".0123456789abcdef.x.tmp").write_text("a temp-looking file outside the store")
    outside.arm()
    os.symlink(outside.path, store / "params")
    rc = cli.main(["sweep", str(_spec(tmp_path)), "--out", str(store), "--progress", "off"])
    assert rc == 2 and "symbolic link" in capsys.readouterr().err
    outside.check()


def test_sweep_refuses_a_linked_lock_file(tmp_path, outside, capsys):
    store = tmp_path / "store"
    store.mkdir()
    os.symlink(outside.path / "lock", store / ".wideflow.lock")
    rc = cli.main(["sweep", str(_spec(tmp_path)), "--out", str(store), "--progress", "off"])
    assert rc == 2 and "symbolic link" in capsys.readouterr().err
    outside.check()


@pytest.mark.parametrize("suffix", ["", "-wal"])
def test_a_linked_database_file_is_refused(tmp_path, outside, suffix):
    real = outside.path / "real"
    _store(real, n=1)
    outside.arm()
    store = tmp_path / "store"
    store.mkdir()
    if suffix:
        _store(store, n=1)
    os.symlink(real / (DB_NAME + suffix), store / (DB_NAME + suffix))
    with pytest.raises(ValueError, match="symbolic link"):
        open_store(store)
    with pytest.raises(ValueError, match="symbolic link"):
        Store.create(store)
    outside.check()


@pytest.mark.parametrize(
    "bad", ["0123456789abcdef\n", "0123456789abcdeF", "0123456789abcde", "../0123456789abcd", "0123456789abcdef/", 123]
)
def test_run_ids_must_fully_match(tmp_path, bad):
    _store(tmp_path, n=1)
    with open_store(tmp_path) as st:
        for call in (st.params_path, st.trajectory, st.params, st.config):
            with pytest.raises(ValueError, match="^run_id"):
                call(bad)


def test_sweep_out_may_name_the_database_file(tmp_path, capsys):
    out = tmp_path / "new" / DB_NAME
    assert cli.main(["sweep", str(_spec(tmp_path)), "--out", str(out), "--progress", "off"]) == 0
    assert len(open_store(out)) == 2 and len(open_store(out.parent)) == 2
    assert cli.main(["sweep", str(_spec(tmp_path)), "--out", str(out), "--dry-run"]) == 0
    assert "2 already stored" in capsys.readouterr().out
    (tmp_path / "file").write_text("x")
    assert cli.main(["sweep", str(_spec(tmp_path)), "--out", str(tmp_path / "file"), "--progress", "off"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ item 3: rows
def _npy_zip(member: str, header: dict, data: bytes, *, compress=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, header)
    with zipfile.ZipFile(buf, "w", compression=compress) as zf:
        zf.writestr(member, npy.getvalue() + data)
    return buf.getvalue()


def _bomb() -> bytes:
    n = 4 << 20  # 32 MiB of float64 zeros: about 32 KiB compressed, 1000x
    return _npy_zip("loss.npy", {"descr": "<f8", "fortran_order": False, "shape": (n,)}, bytes(8 * n))


def _lying_size() -> bytes:
    """A member whose zip headers claim 800 bytes while its deflate stream holds 32 MiB."""
    blob = bytearray(_bomb())
    claim = 800
    cd = blob.rfind(b"PK\x01\x02")
    struct.pack_into("<I", blob, cd + 24, claim)
    struct.pack_into("<I", blob, 22, claim)
    return bytes(blob)


def _huge_shape() -> bytes:
    return _npy_zip("loss.npy", {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}, bytes(64))


def _object_array() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, loss=np.array([{"evil": 1}], dtype=object))
    return buf.getvalue()


def _flipped(blob: bytes) -> bytes:
    b = bytearray(blob)
    b[len(b) // 2] ^= 0x40
    return bytes(b)


GOOD_BLOB = encode_arrays({"steps": np.arange(50), "loss": np.linspace(1, 0, 50)})
BAD_BLOBS = {
    "truncated": GOOD_BLOB[: len(GOOD_BLOB) // 2],
    "flipped byte": _flipped(GOOD_BLOB),
    "object array (pickle)": _object_array(),
    "raw pickle": pickle.dumps({"x": 1}),
    "npy, not npz": b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }" + b" " * 60,
    "bomb": _bomb(),
    "lying size": _lying_size(),
    "huge shape": _huge_shape(),
    "empty": b"",
}
BAD_ROWS = {
    "config is a list": ("config", "[1, 2, 3]"),
    "config is not JSON": ("config", "{not json"),
    "config 100k levels deep": ("config", "[" * 100_000 + "]" * 100_000),
    "metrics 100k levels deep": ("metrics", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    "metrics is a number": ("metrics", "3"),
    "metrics holds an object": ("metrics", '{"a": {"b": 1}}'),
    "config is a blob": ("config", b"\x00\x01"),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A store of 3 good runs plus one run per bad row and per bad trajectory blob; returns
    (folder, good ids, {case: id} for rows, {case: id} for blobs)."""
    store = tmp_path_factory.mktemp("corpus") / "store"
    n = 3 + len(BAD_ROWS) + len(BAD_BLOBS)
    ids = _store(store, n=n, params=False)
    good, rest = ids[:3], ids[3:]
    rows = dict(zip(BAD_ROWS, rest[: len(BAD_ROWS)]))
    blobs = dict(zip(BAD_BLOBS, rest[len(BAD_ROWS) :]))
    for case, rid in rows.items():
        column, value = BAD_ROWS[case]
        _sql(store, f"UPDATE runs SET {column} = ? WHERE id = ?", (value, rid))
    for case, rid in blobs.items():
        _sql(store, "UPDATE runs SET trajectory = ? WHERE id = ?", (BAD_BLOBS[case], rid))
    return store, good, rows, blobs


def test_bad_rows_are_skipped_by_id_and_the_rest_comes_out(corpus, no_unpickling):
    store, good, rows, blobs = corpus
    with open_store(store) as st:
        with pytest.warns(CorruptRecordWarning) as caught:
            table = st.runs(as_frame=False)
        got = {r["id"] for r in table}
        assert got == set(good) | set(blobs.values())  # trajectories are not read by runs()
        assert set(st.skipped) == set(rows.values())
        messages = " ".join(str(w.message) for w in caught)
        assert all(rid in messages for rid in rows.values())


@pytest.mark.parametrize("case", list(BAD_BLOBS))
def test_bad_trajectory_blobs_raise_corrupt_record_naming_the_run(corpus, no_unpickling, case):
    store, good, rows, blobs = corpus
    with open_store(store) as st:
        with pytest.raises(CorruptRecord, match=f"run {blobs[case]}"):
            st.trajectory(blobs[case])
        assert list(st.trajectory(good[0])) == ["steps", "t", "loss"]


def test_report_over_the_corpus_lists_the_bad_records_and_writes_only_its_folder(
    corpus, outside, capsys, no_unpickling
):
    store, good, rows, blobs = corpus
    parent = store.parent
    before = {p for p in parent.rglob("*") if not str(p).startswith(str(store) + os.sep)}
    rc, err = _report(store, capsys)
    assert rc == 0, err
    assert {p for p in parent.rglob("*") if not str(p).startswith(str(store) + os.sep)} == before
    summary = (store / "report" / "summary.md").read_text()
    for rid in list(rows.values()) + list(blobs.values()):
        assert rid in summary
    assert f"{len(good) + len(blobs)} stored runs" in summary
    with open(store / "report" / "runs.csv") as fh:
        assert sum(1 for _ in fh) == 1 + len(good) + len(blobs)
    outside.check()


def test_bad_side_files_are_refused(tmp_path, no_unpickling):
    store = tmp_path / "store"
    ids = _store(store, n=len(BAD_BLOBS))
    for rid, blob in zip(ids, BAD_BLOBS.values()):
        (store / "params" / f"{rid}.npz").write_bytes(blob)
    with open_store(store) as st:
        for rid in ids:
            with pytest.raises(CorruptRecord, match=f"run {rid}: side file"):
                st.params(rid)


def _zero_tail(path, pages):
    size = os.path.getsize(path)
    with open(path, "r+b") as fh:
        fh.seek(max(0, size - pages * 4096))
        fh.write(bytes(min(size, pages * 4096)))


def test_zeroed_last_pages_cost_only_the_rows_on_them(tmp_path, capsys):
    store = tmp_path / "store"
    ids = _store(store, n=120, params=False)
    _zero_tail(store / DB_NAME, 3)
    with open_store(store) as st:
        with pytest.warns(CorruptRecordWarning):
            table = st.runs(as_frame=False)
    assert 0 < len(table) < len(ids)
    assert {r["id"] for r in table} <= set(ids)
    rc, err = _report(store, capsys)
    assert rc == 0, err
    assert "Skipped" in (store / "report" / "summary.md").read_text()


@pytest.mark.parametrize("damage", ["garbage", "all zero", "empty", "folder"])
def test_unreadable_store_file_gives_one_line_and_a_nonzero_exit(tmp_path, capsys, damage):
    store = tmp_path / "store"
    _store(store, n=3)
    db = store / DB_NAME
    if damage == "garbage":
        db.write_bytes(os.urandom(8192))
    elif damage == "all zero":
        _zero_tail(db, 10**4)
    elif damage == "empty":
        db.write_bytes(b"")
    else:
        os.unlink(db)
        db.mkdir()
    rc, err = _report(store, capsys)
    assert rc == 2
    assert err.startswith("wideflow report: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_spec_files_are_capped_at_one_mebibyte(tmp_path, capsys):
    big = tmp_path / "big.toml"
    big.write_text('model = "shallow_relu"\n' + "# padding\n" * (MAX_SPEC_BYTES // 10 + 1))
    with pytest.raises(SpecError, match="larger than"):
        Sweep.from_toml(big)
    assert cli.main(["sweep", str(big), "--out", str(tmp_path / "o"), "--dry-run"]) == 2
    assert "larger than" in capsys.readouterr().err


def test_store_rows_with_reserved_config_keys_do_not_clobber_columns(tmp_path):
    _store(tmp_path, n=1)
    _sql(tmp_path, "UPDATE runs SET config = ?", (json.dumps({"status": "evil", "id": "x", "width": 3}),))
    with open_store(tmp_path) as st:
        row = st.runs(as_frame=False)[0]
    assert row["status"] == "done" and row["config_status"] == "evil" and row["id"] != "x"
