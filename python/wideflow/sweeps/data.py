"""User data files in a study spec.

A spec names a file instead of a built-in dataset with a table::

    [fixed]
    dataset = { path = "data.npz" }                 # arrays x and y (shallow_relu), X and Y (deep), Y (factorization)
    dataset = { path = "data.npz", x = "inputs", y = "targets" }     # other array names in the .npz
    dataset = { path = "points.csv", targets = 1 }  # a table: the last `targets` columns are the targets
    dataset = { path = "Y.npy" }                    # a factorization target: the matrix itself

Formats: ``.npz`` (arrays by name), ``.npy`` (one array) and ``.csv`` (comma-separated numbers, ``#``
comments, an optional header line). Nothing is unpickled (``allow_pickle=False``) and files over
`MAX_BYTES` are refused. The path is taken relative to the spec file (or the working directory for a spec
made in Python). When the spec is read, the file's SHA-256 goes into the run's config; the run id is computed
without the path, so the same data gives the same runs wherever the folder lives. A run checks the hash again
before it trains and fails with a clear message if the file changed (or is missing on a remote worker).
"""

from __future__ import annotations

import hashlib
import io
import os

import numpy as np

MAX_BYTES = 256 << 20
FORMATS = (".npz", ".npy", ".csv")


def _read(path: str) -> bytes:
    size = os.path.getsize(path)
    if size > MAX_BYTES:
        raise ValueError(f"dataset: {path} is {size} bytes, more than the limit of {MAX_BYTES}")
    with open(path, "rb") as fh:
        return fh.read(MAX_BYTES + 1)


def source(table: dict, keys: tuple, base_dir: str | None) -> dict:
    """The normalized config value of a file dataset: {"path", "sha256", "format", options...}.

    keys: the arrays the runner needs, e.g. ("x", "y"); a table may rename them (x = "inputs") for .npz.
    """
    allowed = {"path", "targets", *keys}
    for k in table:
        if k not in allowed:
            raise ValueError(f"unknown key {k!r} in the dataset table; expected {', '.join(sorted(allowed))}")
    path = table.get("path")
    if not isinstance(path, str) or not path:
        raise ValueError('dataset: a file dataset needs path = "..." (a .npz, .npy or .csv file)')
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise ValueError(f"dataset: {path!r} has an unknown format; expected one of {', '.join(FORMATS)}")
    full = os.path.abspath(os.path.join(base_dir or os.getcwd(), os.path.expanduser(path)))
    if not os.path.isfile(full):
        raise ValueError(f"dataset: no such file {full}")
    out: dict[str, object] = {"path": full, "sha256": hashlib.sha256(_read(full)).hexdigest(), "format": ext[1:]}
    for k in keys:
        if k in table:
            if ext != ".npz" or not isinstance(table[k], str):
                raise ValueError(f'dataset: {k} = "name" renames an array of a .npz file only')
            out[k] = table[k]
    if "targets" in table:
        t = table["targets"]
        if ext == ".npz" or len(keys) != 2 or isinstance(t, bool) or not isinstance(t, int) or t < 1:
            raise ValueError(
                "dataset: targets = N (a positive integer) applies to a .npy/.csv table of inputs "
                "followed by N target columns"
            )
        out["targets"] = t
    load(out, keys)  # fail now, naming the problem, rather than in every run
    return out


def is_file_source(value) -> bool:
    return isinstance(value, dict) and "sha256" in value and "path" in value


def identity(value):
    """The part of a dataset value that identifies the data (the file's path is left out)."""
    if is_file_source(value):
        return {k: v for k, v in value.items() if k != "path"}
    return value


class _BadFile(ValueError):
    pass


def _table(raw: bytes, fmt: str) -> np.ndarray:
    try:
        if fmt == "npy":
            return np.asarray(np.load(io.BytesIO(raw), allow_pickle=False))
        text = raw.decode("utf-8", errors="strict")
        if not text.strip():
            raise ValueError("the file is empty")
        try:
            return np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2, comments="#")
        except ValueError:  # a header line
            return np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2, comments="#", skiprows=1)
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise _BadFile(str(exc)) from None


def load(src: dict, keys: tuple) -> tuple:
    """The arrays `keys` (float64) of a file source made by `source`, after checking its hash."""
    path = src["path"]
    try:
        raw = _read(path)
    except OSError as exc:
        raise ValueError(f"dataset: cannot read {path} ({exc.strerror or exc})") from None
    if hashlib.sha256(raw).hexdigest() != src["sha256"]:
        raise ValueError(
            f"dataset: {path} changed since the spec was read (its SHA-256 differs); "
            "re-read the spec to make new runs for the new data"
        )
    fmt = src["format"]
    try:
        if fmt == "npz":
            try:
                z = np.load(io.BytesIO(raw), allow_pickle=False)
                if not hasattr(z, "files"):
                    raise ValueError("not a .npz archive")
            except (ValueError, OSError, EOFError) as exc:
                raise _BadFile(str(exc)) from None
            with z:
                arrays = []
                for k in keys:
                    name = src.get(k, k)
                    if name not in z.files:
                        raise ValueError(
                            f"dataset: {path} has no array {name!r} (it has {', '.join(z.files) or 'none'})"
                        )
                    try:
                        arrays.append(z[name])
                    except (ValueError, OSError, EOFError) as exc:
                        raise _BadFile(str(exc)) from None
        else:
            table = _table(raw, fmt)
            if len(keys) == 1:
                arrays = [table]
            else:
                t = src.get("targets", 1)
                if table.ndim != 2 or table.shape[1] <= t:
                    raise ValueError(
                        f"dataset: {path} must be a table with inputs followed by {t} target "
                        f"column(s), got shape {table.shape}"
                    )
                arrays = [table[:, :-t], table[:, -t:]]
    except _BadFile as exc:
        raise ValueError(f"dataset: {path} is not a valid .{fmt} file ({exc})") from None
    out = []
    for k, arr in zip(keys, arrays):
        if arr.dtype.kind not in "iuf":
            raise ValueError(f"dataset: array {k!r} of {path} must hold real numbers, got dtype {arr.dtype}")
        arr = np.asarray(arr, dtype=np.float64)
        if arr.size == 0:
            raise ValueError(f"dataset: array {k!r} of {path} is empty")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"dataset: array {k!r} of {path} holds non-finite values")
        out.append(arr)
    return tuple(out)
