"""Results out of a store: a pandas DataFrame, an xarray Dataset with grid fields as dimensions, CSV and
Parquet files.

    store = wf.open_store("out")
    df = store.runs()                                          # one row per run: config fields and metrics
    ds = store.to_xarray("final_loss", dims=["width", "seed"])  # xarray (pip install "wideflow[xarray]")
    store.export("runs.csv")                                   # or runs.parquet; `wideflow export DIR`

Config values that are lists or tables (layer sizes, a data file) appear as canonical JSON strings in
exported files and as coordinates.
"""

from __future__ import annotations

import json
import os

FORMATS = ("csv", "parquet")


def _pandas():
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        raise ImportError("store.runs(): needs pandas (pip install pandas)") from None
    return pd


def _scalar(v):
    """A table cell: lists and dicts become canonical JSON."""
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, sort_keys=True, separators=(",", ":"))
    return v


def runs_frame(rows: list[dict]):
    """A DataFrame of the rows of `Store.runs` (list-valued cells as JSON strings)."""
    pd = _pandas()
    return pd.DataFrame([{k: _scalar(v) for k, v in r.items()} for r in rows])


def to_xarray(records: list[dict], metrics, dims=None):
    """An xarray Dataset of the records' `metrics` (a name or a list of names) over `dims` (config
    fields; default: the fields that vary). Every cell holds one run; a cell without a run is NaN. Two
    runs in one cell (some other field varies too) is an error naming that field."""
    try:
        import numpy as np
        import xarray as xr
    except ImportError:
        raise ImportError('store.to_xarray(): needs xarray (pip install "wideflow[xarray]")') from None
    from .report import varying_fields

    names = [metrics] if isinstance(metrics, str) else list(metrics)
    if not names or not all(isinstance(n, str) for n in names):
        raise TypeError("metric: expected a metric name or a list of names")
    if not records:
        raise ValueError("metric: the store holds no runs")
    known = set().union(*(r["metrics"] for r in records))
    for n in names:
        if n not in known:
            raise ValueError(f"metric: no run has a metric {n!r}; metrics: {', '.join(sorted(known))}")
    varying = varying_fields(records)
    dims = varying if dims is None else list(dims)
    fields = set().union(*(r["config"] for r in records))
    for d in dims:
        if not isinstance(d, str) or d not in fields:
            raise ValueError(f"dims: {d!r} is not a config field of these runs; fields: {', '.join(sorted(fields))}")
    extra = [k for k in varying if k not in dims]
    coords = {}
    for d in dims:
        values = {_scalar(r["config"].get(d)) for r in records}
        try:
            coords[d] = sorted(values)
        except TypeError:
            coords[d] = sorted(values, key=str)
    shape = tuple(len(coords[d]) for d in dims)
    data = {n: np.full(shape, np.nan) for n in names}
    ids = np.full(shape, "", dtype=object)
    for r in records:
        idx = tuple(coords[d].index(_scalar(r["config"].get(d))) for d in dims)
        if ids[idx]:
            raise ValueError(
                f"dims: runs {ids[idx]} and {r['id']} fall in the same cell; add the field(s) that "
                f"also vary to dims: {', '.join(extra)}"
            )
        ids[idx] = r["id"]
        for n in names:
            v = r["metrics"].get(n)
            data[n][idx] = float("nan") if v is None else float(v)
    ds = xr.Dataset({n: (dims, data[n]) for n in names}, coords=coords)
    ds["run_id"] = (dims, ids.astype(str))
    return ds


def export(frame, path: str, fmt: str | None = None) -> str:
    """Write a runs DataFrame to `path` as CSV or Parquet (by `fmt` or the file's extension)."""
    path = os.fspath(path)
    fmt = fmt or os.path.splitext(path)[1].lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        try:
            frame.to_parquet(path, index=False)
        except ImportError as exc:
            raise ImportError(f"export: Parquet needs pyarrow (pip install pyarrow) ({exc})") from None
    return path
