"""The results store: one SQLite file per output folder (WAL mode), side files for big parameters.

    DIR/wideflow.sqlite        runs (one row per run id), sweeps (one row per sweep started), meta
    DIR/params/<run id>.npz    final parameters of a run (written to a temp file, fsynced, renamed)

A row holds the run's config (canonical JSON), status ("done", "diverged" or "failed"), error message and
traceback, summary metrics (JSON), the recorded trajectory (compressed .npz bytes), and timings. A run's
side file is written before its row, and the row in one transaction, so a crash or SIGKILL at any point
leaves either the whole run or no row at all (an orphan side file is overwritten by the re-run).

Safety: the store may come from someone else. Nothing is unpickled (.npz members are parsed here, object
arrays refused; JSON for configs and metrics), every SQL statement is parameterized, and side-file paths
are derived from run ids that fully match 16 lowercase hex digits, never read from the database. Every
path read or written is checked to lie inside the store folder, and symbolic links inside the folder (the
database and its -wal/-shm files, params/, a side file, the lock file) are refused. What a blob may
decompress to is capped (files.MAX_EXPANSION times its stored size, at least files.MIN_DECODE_CAP bytes;
see `wideflow.sweeps.files`, which also holds the path checks). A row that
cannot be decoded (bad JSON, an unknown model, a damaged page) is reported by its run id (a
`CorruptRecordWarning`, and `store.skipped`) and left out; the other rows still come out.

    store = wf.open_store("out")          # the folder or the .sqlite file
    store.runs()                          # pandas DataFrame (as_frame=False: a list of dicts)
    store.to_xarray("final_loss")         # xarray Dataset over the grid fields; store.export("runs.csv")
    store.trajectory(run_id)              # {"steps": ..., "t": ..., "loss": ...}
    store.params(run_id)                  # {"a": ..., "b": ..., "c": ..., "alpha": ...}

(Longer than the package's ~500-line guide on purpose: `Store` is one idea, and its safety rules -- the
path and symlink checks around every read and write, the decode caps, the skip-and-report of bad rows --
stay in one reviewable place; the file and path helpers already live in `wideflow.sweeps.files`.)
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import time
import urllib.parse
import warnings

import numpy as np

from .files import (
    CorruptRecord,
    CorruptRecordWarning,
    check_inside,
    decode_arrays,
    encode_arrays,
    load_npz,
    refuse_link,
    replace_atomically,
)
from .spec import canonical_json

DB_NAME = "wideflow.sqlite"
PARAMS_DIR = "params"
LOCK_NAME = ".wideflow.lock"
SCHEMA_VERSION = 1
FINISHED = ("done", "diverged", "failed")
MAX_JSON = 1 << 20  # a provenance record longer than this is not decoded
_RUN_ID = re.compile(r"[0-9a-f]{16}")
_MODEL_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_TEMP_NAME = re.compile(r"\.[0-9a-f]{16}\..*\.tmp")

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
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"run_id: expected 16 lowercase hex digits, got {run_id!r}")
    return run_id


def store_root(path) -> str:
    """The store folder of `path`: the folder itself, or the folder of a `wideflow.sqlite` path (which
    need not exist yet)."""
    root = os.path.abspath(os.fspath(path))
    if os.path.basename(root) == DB_NAME and not os.path.isdir(root):
        root = os.path.dirname(root)
    return root


def _json_metrics(metrics: dict) -> str:
    clean = {}
    for k, v in metrics.items():
        if isinstance(v, np.generic):
            v = v.item()
        if v is not None and not isinstance(v, (bool, int, float, str)):
            raise TypeError(f"metrics: {k!r} must be a number, string, bool or None, got {type(v).__name__}")
        clean[k] = v
    return json.dumps(clean, sort_keys=True)  # NaN/inf are written as NaN/Infinity and read back


_RESERVED = ("id", "model", "status", "error", "wall_time", "started_at", "finished_at", "has_params")
_SCALARS = (bool, int, float, str, type(None))


def _json_dict(text, what: str) -> dict:
    if not isinstance(text, str):
        raise CorruptRecord(f"{what} is not JSON text ({type(text).__name__})")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than Python can parse
        raise CorruptRecord(f"{what} is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise CorruptRecord(f"{what} is a JSON {type(value).__name__}, not an object")
    return value


def _decode_record(rid, mdl, st, err, cfg, met, hp, t0, t1, wall, host, ver) -> dict:
    """One row as a record dict, or CorruptRecord saying what is wrong with it."""
    if not isinstance(rid, str) or not _RUN_ID.fullmatch(rid):
        raise CorruptRecord(f"its id {rid!r:.40} is not 16 lowercase hex digits")
    if not isinstance(mdl, str) or not _MODEL_NAME.fullmatch(mdl):
        raise CorruptRecord(f"its model name {mdl!r:.60} is not a model name (lowercase letters, digits, _)")
    if st not in FINISHED:
        raise CorruptRecord(f"its status {st!r:.40} is not one of {', '.join(FINISHED)}")
    config = _json_dict(cfg, "its config")
    metrics = _json_dict(met, "its metrics")

    def flat(v) -> bool:  # a number, string, list of those, or (config only) a flat table such as a data file
        return isinstance(v, _SCALARS) or (isinstance(v, list) and all(isinstance(x, _SCALARS) for x in v))

    for k, v in list(config.items()) + list(metrics.items()):
        table = k in config and isinstance(v, dict) and all(isinstance(x, _SCALARS) for x in v.values())
        if not flat(v) and not table:
            raise CorruptRecord(f"field {k!r:.60} holds a {type(v).__name__}, not a number, string, list or flat table")
    for name, v in (("started_at", t0), ("finished_at", t1), ("wall_time", wall)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise CorruptRecord(f"its {name} is not a number")
    text = lambda v: v if isinstance(v, str) or v is None else str(v)  # noqa: E731
    return {
        "id": rid,
        "model": mdl,
        "status": st,
        "error": text(err),
        "config": config,
        "metrics": metrics,
        "has_params": bool(hp) if isinstance(hp, int) else False,
        "started_at": t0,
        "finished_at": t1,
        "wall_time": wall,
        "host": text(host),
        "version": text(ver),
    }


class Store:
    """A results store in folder `root` (see the module docstring). Use `open_store` to read one,
    `Store.create(root)` to make or extend one."""

    def __init__(self, root: str, *, create: bool = False):
        root = store_root(root)
        self.root = root
        self.path = os.path.join(root, DB_NAME)
        self.skipped: dict[str, str] = {}  # run id (or row number) -> why the last read skipped it
        if create:
            if os.path.exists(root) and not os.path.isdir(root):
                raise ValueError(
                    f"out: {root} is a file, not a folder; give the folder that holds (or will hold) "
                    f"{DB_NAME}, or the path of {DB_NAME} itself"
                )
            os.makedirs(root, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            refuse_link(self.path + suffix, "path")
        if not create and not os.path.isfile(self.path):
            raise FileNotFoundError(f"path: no wideflow store at {root!r} (expected {DB_NAME} there)")
        if create:
            self._conn = sqlite3.connect(self.path, timeout=30.0)
        else:  # reading never writes the database
            self._conn = sqlite3.connect(f"file:{urllib.parse.quote(self.path)}?mode=ro", uri=True, timeout=30.0)
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
                    self._conn.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", ("schema_version", str(SCHEMA_VERSION))
                    )
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", ("schema_version",)).fetchone()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise ValueError(f"path: {self.path} is not a wideflow store ({exc})") from None
        if row is None or row[0] != str(SCHEMA_VERSION):
            self._conn.close()
            raise ValueError(
                f"path: {self.path} has store schema {row[0] if row else 'none'}, "
                f"this wideflow reads schema {SCHEMA_VERSION}"
            )
        self._has_provenance = "provenance" in {r[1] for r in self._conn.execute("PRAGMA table_info(runs)")}

    @classmethod
    def create(cls, root) -> Store:
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

    def _params_dir(self, create: bool = False) -> str:
        """DIR/params, refused if it is a link or resolves outside the store folder."""
        folder = os.path.join(self.root, PARAMS_DIR)
        refuse_link(folder, "params")
        if create and not os.path.isdir(folder):
            os.mkdir(folder)
            refuse_link(folder, "params")
        if os.path.exists(folder):
            if not os.path.isdir(folder):
                raise ValueError(f"params: {folder} is not a folder")
            check_inside(self.root, folder, "params")
        return folder

    def write_params(self, run_id: str, params: dict) -> str:
        """Write the side file atomically: temp file in the same folder (created exclusively), fsync,
        os.replace (which replaces a link at the final name rather than following it)."""
        final = self.params_path(run_id)
        self._params_dir(create=True)
        return replace_atomically(
            final,
            lambda fh: np.savez(fh, **{k: np.asarray(v) for k, v in params.items()}),  # type: ignore[arg-type]
            prefix=f".{run_id}.",
            fsync=True,
        )

    def remove_temp_files(self) -> int:
        """Delete leftover temp side files (from a killed sweep); call only while holding the sweep lock.
        Only regular files named like this store's temp files are removed, never through a link."""
        folder = self._params_dir()
        n = 0
        if os.path.isdir(folder):
            for f in os.listdir(folder):
                path = os.path.join(folder, f)
                if not _TEMP_NAME.fullmatch(f):
                    continue
                try:
                    if stat.S_ISREG(os.lstat(path).st_mode):
                        os.unlink(path)
                        n += 1
                except OSError:
                    pass
        return n

    def put(
        self, run_id: str, model: str, config: dict, result, *, version: str = "", command: str | None = None
    ) -> None:
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
        row = (
            run_id,
            model,
            canonical_json(config),
            result.status,
            result.error,
            result.traceback,
            _json_metrics(result.metrics),
            traj,
            has_params,
            result.started_at,
            result.finished_at,
            result.wall_time,
            result.host,
            version,
            time.time(),
            json.dumps(prov, sort_keys=True, default=str) if prov else None,
        )
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
                "stored_at = excluded.stored_at, provenance = excluded.provenance",
                row,
            )

    def add_sweep(self, name: str, model: str, spec: dict, runs: int) -> None:
        with self._conn:
            self._conn.execute(
                "INSERT INTO sweeps (name, model, spec, runs, started_at) VALUES (?, ?, ?, ?, ?)",
                (name, model, json.dumps(spec, sort_keys=True), int(runs), time.time()),
            )

    # ------------------------------------------------------------------ reading
    def statuses(self) -> dict[str, str]:
        """{run id: status} of every stored run."""
        return dict(self._conn.execute("SELECT id, status FROM runs").fetchall())

    def _skip(self, key: str, why: str) -> None:
        self.skipped[key] = why
        warnings.warn(f"store {self.root}: skipped run {key}: {why}", CorruptRecordWarning, stacklevel=3)

    def _partial(self, sql: str, args=()) -> tuple[list, bool]:
        """(the rows a query yields before the file's damage stops it, whether it got to the end)."""
        rows = []
        try:
            for row in self._conn.execute(sql, args):
                rows.append(row)
        except sqlite3.DatabaseError:
            return rows, False
        return rows, True

    def _select(self, columns: str, where: str, args: list) -> list:
        """Rows of the runs table; if the file is damaged part-way, every row that can still be read, one
        by one (an unreadable one is reported by its run id, or its row number if even that is lost)."""
        sql = f"SELECT {columns} FROM runs{where} ORDER BY started_at, id"
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            first_error = exc
        # the keys: run ids from the id index, else rowids from the table, else rowids probed up to the count
        keys, complete = self._partial("SELECT id FROM runs")
        column = "id"
        if not complete:
            rowids, complete = self._partial("SELECT rowid FROM runs NOT INDEXED")
            if complete or len(rowids) > len(keys):
                keys, column = [r[0] for r in rowids], "rowid"
            else:
                keys = [r[0] for r in keys]
            if not complete:
                try:
                    count = int(self._conn.execute("SELECT count(*) FROM runs").fetchone()[0])
                except sqlite3.DatabaseError:
                    count = 0
                if count > len(keys):
                    keys, column = list(range(1, min(2 * count + 100, 10**6) + 1)), "rowid"
        else:
            keys = [r[0] for r in keys]
        cond = f"{where} AND {column} = ?" if where else f" WHERE {column} = ?"
        rows = []
        for key in keys:
            try:
                row = self._conn.execute(f"SELECT {columns} FROM runs{cond}", list(args) + [key]).fetchone()
            except sqlite3.DatabaseError as exc:
                self._skip(
                    str(key) if column == "id" else f"at row {key}", f"the database page holding it is damaged ({exc})"
                )
                continue
            if row is not None:
                rows.append(row)
        if not rows and not keys:
            raise ValueError(f"path: {self.path} cannot be read ({first_error})") from None
        rows.sort(key=lambda r: (r[-1] if isinstance(r[-1], (int, float)) else 0.0, str(r[0])))
        return rows

    def records(self, status=None, model=None) -> list[dict]:
        """Every run as a dict: id, model, status, error, config (dict), metrics (dict), timings.

        A row that cannot be decoded is left out and reported by its run id (a CorruptRecordWarning;
        `self.skipped` maps it to the reason)."""
        cols = (
            "id, model, status, error, config, metrics, has_params, finished_at, wall_time, host, version, started_at"
        )
        where, args = [], []
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            args += statuses
        if model is not None:
            where.append("model = ?")
            args.append(model)
        self.skipped = {}
        out = []
        for row in self._select(cols, " WHERE " + " AND ".join(where) if where else "", args):
            rid, mdl, st, err, cfg, met, hp, t1, wall, host, ver, t0 = row
            key = rid if isinstance(rid, str) and _RUN_ID.fullmatch(rid) else repr(rid)[:40]
            try:
                out.append(_decode_record(rid, mdl, st, err, cfg, met, hp, t0, t1, wall, host, ver))
            except CorruptRecord as exc:
                self._skip(key, str(exc))
        return out

    def runs(self, status=None, model=None, *, as_frame: bool | None = None):
        """The runs as a table: one row per run with columns id, model, status, error, every config field,
        every metric (a metric whose name is also a config field gets a "metric_" prefix), wall_time,
        started_at, finished_at, has_params. A pandas DataFrame (as_frame=False: a list of dicts). List or table config values (layer sizes, data files) are
        JSON strings in the DataFrame."""
        rows = []
        for rec in self.records(status=status, model=model):
            row = {"id": rec["id"], "model": rec["model"], "status": rec["status"], "error": rec["error"]}
            for k, v in rec["config"].items():
                row[f"config_{k}" if k in _RESERVED else k] = v
            for k, v in rec["metrics"].items():
                row[f"metric_{k}" if k in row or k in _RESERVED else k] = v
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
        try:
            return _json_dict(row[0], "its config")
        except CorruptRecord as exc:
            raise CorruptRecord(f"run {run_id}: {exc}") from None

    def trajectory(self, run_id: str) -> dict:
        """The recorded trajectory of a run: {name: array} (steps, t, loss, ...); {} if none was recorded.
        Raises CorruptRecord (a ValueError) naming the run if the blob cannot be decoded."""
        row = self._conn.execute("SELECT trajectory FROM runs WHERE id = ?", (_check_id(run_id),)).fetchone()
        if row is None:
            raise KeyError(run_id)
        if row[0] is None:
            return {}
        if not isinstance(row[0], (bytes, memoryview)):
            raise CorruptRecord(f"run {run_id}: its trajectory is not a blob")
        return decode_arrays(row[0], f"run {run_id}: trajectory")

    def params(self, run_id: str) -> dict:
        """The final parameters of a run from its side file: {name: array}. The side file must be a
        regular file inside the store folder (a link is refused) and decodes like a trajectory blob."""
        row = self._conn.execute("SELECT has_params FROM runs WHERE id = ?", (_check_id(run_id),)).fetchone()
        if row is None:
            raise KeyError(run_id)
        if not row[0]:
            raise FileNotFoundError(f"run {run_id}: no parameters were saved")
        self._params_dir()
        path = self.params_path(run_id)
        refuse_link(path, f"run {run_id}: side file")
        check_inside(self.root, path, f"run {run_id}: side file")
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            raise FileNotFoundError(f"run {run_id}: its side file {path} is missing") from None
        except OSError as exc:
            raise ValueError(f"run {run_id}: side file {path} cannot be opened safely ({exc})") from None
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"run {run_id}: side file {path} is not a regular file")
            return load_npz(fh, info.st_size, f"run {run_id}: side file")

    def provenance(self, run_id: str) -> dict:
        """The provenance of a run ({} for a run stored before wideflow recorded it)."""
        if not self._has_provenance:
            return {}
        row = self._conn.execute("SELECT provenance FROM runs WHERE id = ?", (_check_id(run_id),)).fetchone()
        if row is None:
            raise KeyError(run_id)
        if not row[0]:
            return {}
        try:
            p = json.loads(row[0]) if isinstance(row[0], str) and len(row[0]) <= MAX_JSON else None
        except (ValueError, RecursionError):
            p = None
        if not isinstance(p, dict):
            raise ValueError(f"run {run_id}: its provenance is not a JSON object")
        return p

    def builds(self) -> list[dict]:
        """The builds that wrote this store: [{"build": {...}, "runs": count}], most runs first. Runs
        stored without provenance count under {"wideflow": <their version>}."""
        from .provenance import build_key

        sel = "provenance" if self._has_provenance else "NULL"
        counts: dict = {}
        try:
            rows = self._conn.execute(f"SELECT {sel}, version FROM runs").fetchall()
        except sqlite3.DatabaseError:  # a damaged file: the builds of the rows that can be read
            with warnings.catch_warnings():  # records() reports the damaged rows
                warnings.simplefilter("ignore", CorruptRecordWarning)
                rows = [(r[0], r[1]) for r in self._select(f"{sel}, version", "", [])]
        for prov, ver in rows:
            try:
                p = json.loads(prov) if isinstance(prov, str) and len(prov) <= MAX_JSON else {}
            except (ValueError, RecursionError):
                p = {}
            if not isinstance(p, dict):
                p = {}
            if not isinstance(ver, str):
                ver = None
            b = {k: p.get(k) for k in ("wideflow", "git_revision", "git_dirty", "build")} if p else {"wideflow": ver}
            key = build_key(b)
            counts.setdefault(key, [b, 0])[1] += 1
        return [{"build": b, "runs": n} for b, n in sorted(counts.values(), key=lambda e: -e[1])]

    def sweeps(self) -> list[dict]:
        rows = self._conn.execute("SELECT id, name, model, spec, runs, started_at FROM sweeps ORDER BY id")
        out = []
        for i, n, m, s, r, t in rows:
            try:
                spec = _json_dict(s, "its spec")
            except CorruptRecord as exc:
                warnings.warn(f"store {self.root}: skipped sweep {i!r}: {exc}", CorruptRecordWarning, stacklevel=2)
                continue
            out.append({"id": i, "name": n, "model": m, "spec": spec, "runs": r, "started_at": t})
        return out

    def integrity_check(self) -> str:
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])


def open_store(path) -> Store:
    """Open the results store in folder `path` (or the path of its wideflow.sqlite file) for reading."""
    return Store(path)


def stored_runs(path) -> int:
    """How many runs the store in folder `path` holds; 0 when it does not exist yet or cannot be read at
    this moment (for watching a store that another process is writing)."""
    db = os.path.join(store_root(path), DB_NAME)
    if not os.path.isfile(db):
        return 0
    try:
        con = sqlite3.connect(f"file:{urllib.parse.quote(db)}?mode=ro", uri=True, timeout=1.0)
        try:
            return int(con.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0
