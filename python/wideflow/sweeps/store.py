"""The results store: one SQLite file per output folder (WAL mode), side files for big parameters.

    DIR/wideflow.sqlite        runs (one row per run id), sweeps (one row per sweep started), meta
    DIR/params/<run id>.npz    final parameters of a run (written to a temp file, fsynced, renamed)

A row holds the run's config (canonical JSON), status ("done", "diverged" or "failed"), error message and
traceback, summary metrics (JSON), the recorded trajectory (compressed .npz bytes), and timings. A run's
side file is written before its row, and the row in one transaction, so a crash or SIGKILL at any point
leaves either the whole run or no row at all (an orphan side file is overwritten by the re-run).

Safety: the store may come from someone else. Nothing is unpickled (np.load(..., allow_pickle=False),
JSON for configs and metrics), every SQL statement is parameterized, and side-file paths are derived from
run ids checked against 16 lowercase hex digits, never read from the database.

    store = wf.open_store("out")          # the folder or the .sqlite file
    store.runs()                          # pandas DataFrame (as_frame=False: a list of dicts)
    store.to_xarray("final_loss")         # xarray Dataset over the grid fields; store.export("runs.csv")
    store.trajectory(run_id)              # {"steps": ..., "t": ..., "loss": ...}
    store.params(run_id)                  # {"a": ..., "b": ..., "c": ..., "alpha": ...}
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tempfile
import time

import numpy as np

from .spec import RUN_ID, canonical_json

DB_NAME = "wideflow.sqlite"
PARAMS_DIR = "params"
LOCK_NAME = ".wideflow.lock"
SCHEMA_VERSION = 1
FINISHED = ("done", "diverged", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'diverged', 'failed')),
    error TEXT,
    traceback TEXT,
    metrics TEXT NOT NULL,
    trajectory BLOB,
    has_params INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    finished_at REAL,
    wall_time REAL,
    host TEXT,
    version TEXT,
    stored_at REAL NOT NULL,
    provenance TEXT
);
CREATE TABLE IF NOT EXISTS sweeps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT,
    model TEXT,
    spec TEXT NOT NULL,
    runs INTEGER NOT NULL,
    started_at REAL NOT NULL
);
"""


def _check_id(run_id) -> str:
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise ValueError(f"run_id: expected 16 lowercase hex digits, got {run_id!r}")
    return run_id


def encode_arrays(arrays: dict) -> bytes:
    """Compressed .npz bytes of {name: array} (numeric arrays only)."""
    buf = io.BytesIO()
    clean = {}
    for name, arr in arrays.items():
        a = np.asarray(arr)
        if a.dtype == object:
            raise TypeError(f"trajectory: array {name!r} has dtype object; only numeric arrays are stored")
        clean[name] = a
    np.savez_compressed(buf, **clean)
    return buf.getvalue()


def decode_arrays(blob) -> dict:
    """{name: array} from .npz bytes, never unpickling."""
    with np.load(io.BytesIO(bytes(blob)), allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def _json_metrics(metrics: dict) -> str:
    clean = {}
    for k, v in metrics.items():
        if isinstance(v, np.generic):
            v = v.item()
        if v is not None and not isinstance(v, (bool, int, float, str)):
            raise TypeError(f"metrics: {k!r} must be a number, string, bool or None, got {type(v).__name__}")
        clean[k] = v
    return json.dumps(clean, sort_keys=True)  # NaN/inf are written as NaN/Infinity and read back


class Store:
    """A results store in folder `root` (see the module docstring). Use `open_store` to read one,
    `Store.create(root)` to make or extend one."""

    def __init__(self, root: str, *, create: bool = False):
        root = os.path.abspath(os.fspath(root))
        if os.path.basename(root) == DB_NAME and os.path.isfile(root):
            root = os.path.dirname(root)
        self.root = root
        self.path = os.path.join(root, DB_NAME)
        if create:
            os.makedirs(root, exist_ok=True)
        elif not os.path.isfile(self.path):
            raise FileNotFoundError(f"path: no wideflow store at {root!r} (expected {DB_NAME} there)")
        self._conn = sqlite3.connect(self.path, timeout=30.0)
        try:
            self._conn.execute("PRAGMA busy_timeout = 30000")
            if create:  # reading never changes the file's mode (it may not even be a wideflow store)
                tables = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if tables and "meta" not in tables:
                    raise sqlite3.DatabaseError("it holds other tables and no wideflow meta table")
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise sqlite3.OperationalError(f"could not switch {self.path} to WAL mode (got {mode})")
                self._conn.execute("PRAGMA synchronous = NORMAL")
                with self._conn:
                    self._conn.executescript(_SCHEMA)
                    cols = {r[1] for r in self._conn.execute("PRAGMA table_info(runs)")}
                    if "provenance" not in cols:  # a store written by wideflow 0.1.0
                        self._conn.execute("ALTER TABLE runs ADD COLUMN provenance TEXT")
                    self._conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                                       ("schema_version", str(SCHEMA_VERSION)))
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", ("schema_version",)).fetchone()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise ValueError(f"path: {self.path} is not a wideflow store ({exc})") from None
        if row is None or row[0] != str(SCHEMA_VERSION):
            self._conn.close()
            raise ValueError(f"path: {self.path} has store schema {row[0] if row else 'none'}, "
                             f"this wideflow reads schema {SCHEMA_VERSION}")
        self._has_provenance = "provenance" in {r[1] for r in self._conn.execute("PRAGMA table_info(runs)")}

    @classmethod
    def create(cls, root) -> "Store":
        return cls(root, create=True)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def __repr__(self) -> str:
        return f"Store({self.root!r}, runs={len(self)})"

    # ------------------------------------------------------------------ writing (the client only)
    def params_path(self, run_id: str) -> str:
        return os.path.join(self.root, PARAMS_DIR, f"{_check_id(run_id)}.npz")

    def write_params(self, run_id: str, params: dict) -> str:
        """Write the side file atomically: temp file in the same folder, fsync, os.replace."""
        final = self.params_path(run_id)
        folder = os.path.dirname(final)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{run_id}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **{k: np.asarray(v) for k, v in params.items()})
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return final

    def remove_temp_files(self) -> int:
        """Delete leftover temp side files (from a killed sweep); call only while holding the sweep lock."""
        folder = os.path.join(self.root, PARAMS_DIR)
        n = 0
        if os.path.isdir(folder):
            for f in os.listdir(folder):
                if f.startswith(".") and f.endswith(".tmp"):
                    try:
                        os.unlink(os.path.join(folder, f))
                        n += 1
                    except OSError:
                        pass
        return n

    def put(self, run_id: str, model: str, config: dict, result, *, version: str = "",
            command: str | None = None) -> None:
        """Store a finished run (RunResult): side file first, then the row in one transaction. A row for the
        same id is replaced (used by --retry-failed). The row's provenance is the result's (see
        `wideflow.sweeps.provenance`) with the client's `command` line added."""
        _check_id(run_id)
        if result.status not in FINISHED:
            raise ValueError(f"status: cannot store a run with status {result.status!r}")
        has_params = 0
        if result.params:
            self.write_params(run_id, result.params)
            has_params = 1
        traj = encode_arrays(result.trajectory) if result.trajectory else None
        prov = dict(getattr(result, "provenance", None) or {})
        if command is not None:
            prov["command"] = command
        row = (run_id, model, canonical_json(config), result.status, result.error, result.traceback,
               _json_metrics(result.metrics), traj, has_params, result.started_at, result.finished_at,
               result.wall_time, result.host, version, time.time(),
               json.dumps(prov, sort_keys=True, default=str) if prov else None)
        with self._conn:
            self._conn.execute(
                "INSERT INTO runs (id, model, config, status, error, traceback, metrics, trajectory, has_params, "
                "started_at, finished_at, wall_time, host, version, stored_at, provenance) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET model = excluded.model, config = excluded.config, "
                "status = excluded.status, error = excluded.error, traceback = excluded.traceback, "
                "metrics = excluded.metrics, trajectory = excluded.trajectory, has_params = excluded.has_params, "
                "started_at = excluded.started_at, finished_at = excluded.finished_at, "
                "wall_time = excluded.wall_time, host = excluded.host, version = excluded.version, "
                "stored_at = excluded.stored_at, provenance = excluded.provenance", row)

    def add_sweep(self, name: str, model: str, spec: dict, runs: int) -> None:
        with self._conn:
            self._conn.execute("INSERT INTO sweeps (name, model, spec, runs, started_at) VALUES (?, ?, ?, ?, ?)",
                               (name, model, json.dumps(spec, sort_keys=True), int(runs), time.time()))

    # ------------------------------------------------------------------ reading
    def statuses(self) -> dict[str, str]:
        """{run id: status} of every stored run."""
        return dict(self._conn.execute("SELECT id, status FROM runs").fetchall())

    def records(self, status=None, model=None) -> list[dict]:
        """Every run as a dict: id, model, status, error, config (dict), metrics (dict), timings."""
        sql = ("SELECT id, model, status, error, config, metrics, has_params, started_at, finished_at, wall_time, "
               "host, version FROM runs")
        where, args = [], []
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            args += statuses
        if model is not None:
            where.append("model = ?")
            args.append(model)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at, id"
        out = []
        for (rid, mdl, st, err, cfg, met, hp, t0, t1, wall, host, ver) in self._conn.execute(sql, args):
            out.append({"id": rid, "model": mdl, "status": st, "error": err, "config": json.loads(cfg),
                        "metrics": json.loads(met), "has_params": bool(hp), "started_at": t0, "finished_at": t1,
                        "wall_time": wall, "host": host, "version": ver})
        return out

    def runs(self, status=None, model=None, *, as_frame: bool | None = None):
        """The runs as a table: one row per run with columns id, model, status, error, every config field,
        every metric (a metric whose name is also a config field gets a "metric_" prefix), wall_time,
        started_at, finished_at, has_params. A pandas DataFrame (as_frame=False: a list of dicts). List or table config values (layer sizes, data files) are
        JSON strings in the DataFrame."""
        rows = []
        for rec in self.records(status=status, model=model):
            row = {"id": rec["id"], "model": rec["model"], "status": rec["status"], "error": rec["error"]}
            row.update(rec["config"])
            for k, v in rec["metrics"].items():
                row[f"metric_{k}" if k in row else k] = v
            for k in ("wall_time", "started_at", "finished_at", "has_params"):
                row[k] = rec[k]
            rows.append(row)
        if as_frame is False:
            return rows
        from .tables import runs_frame

        return runs_frame(rows)

    def to_xarray(self, metric, dims=None, *, status=None, model=None):
        """An xarray Dataset of `metric` (a name or a list) with config fields `dims` as dimensions (default:
        the fields that vary, e.g. a sweep's grid and seeds); see `wideflow.sweeps.tables.to_xarray`."""
        from .tables import to_xarray

        return to_xarray(self.records(status=status, model=model), metric, dims)

    def export(self, path, fmt: str | None = None, *, status=None, model=None) -> str:
        """Write the runs table to `path` as CSV or Parquet (`fmt`, or the extension of `path`)."""
        from .tables import export

        return export(self.runs(status=status, model=model, as_frame=True), path, fmt)

    def config(self, run_id: str) -> dict:
        row = self._conn.execute("SELECT config FROM runs WHERE id = ?", (_check_id(run_id),)).fetchone()
        if row is None:
            raise KeyError(run_id)
        return json.loads(row[0])

    def trajectory(self, run_id: str) -> dict:
        """The recorded trajectory of a run: {name: array} (steps, t, loss, ...); {} if none was recorded."""
        row = self._conn.execute("SELECT trajectory FROM runs WHERE id = ?", (_check_id(run_id),)).fetchone()
        if row is None:
            raise KeyError(run_id)
        return decode_arrays(row[0]) if row[0] is not None else {}

    def params(self, run_id: str) -> dict:
        """The final parameters of a run from its side file: {name: array}."""
        row = self._conn.execute("SELECT has_params FROM runs WHERE id = ?", (_check_id(run_id),)).fetchone()
        if row is None:
            raise KeyError(run_id)
        if not row[0]:
            raise FileNotFoundError(f"run {run_id}: no parameters were saved")
        with np.load(self.params_path(run_id), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}

    def provenance(self, run_id: str) -> dict:
        """The provenance of a run ({} for a run stored before wideflow recorded it)."""
        if not self._has_provenance:
            return {}
        row = self._conn.execute("SELECT provenance FROM runs WHERE id = ?", (_check_id(run_id),)).fetchone()
        if row is None:
            raise KeyError(run_id)
        return json.loads(row[0]) if row[0] else {}

    def builds(self) -> list[dict]:
        """The builds that wrote this store: [{"build": {...}, "runs": count}], most runs first. Runs
        stored without provenance count under {"wideflow": <their version>}."""
        from .provenance import build_key

        sel = "provenance" if self._has_provenance else "NULL"
        counts: dict = {}
        for prov, ver in self._conn.execute(f"SELECT {sel}, version FROM runs"):
            try:
                p = json.loads(prov) if prov else {}
            except ValueError:
                p = {}
            b = ({k: p.get(k) for k in ("wideflow", "git_revision", "git_dirty", "build")} if p
                 else {"wideflow": ver})
            key = build_key(b)
            counts.setdefault(key, [b, 0])[1] += 1
        return [{"build": b, "runs": n} for b, n in sorted(counts.values(), key=lambda e: -e[1])]

    def sweeps(self) -> list[dict]:
        rows = self._conn.execute("SELECT id, name, model, spec, runs, started_at FROM sweeps ORDER BY id")
        return [{"id": i, "name": n, "model": m, "spec": json.loads(s), "runs": r, "started_at": t}
                for i, n, m, s, r, t in rows]

    def integrity_check(self) -> str:
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])


def open_store(path) -> Store:
    """Open the results store in folder `path` (or the path of its wideflow.sqlite file) for reading."""
    return Store(path)
