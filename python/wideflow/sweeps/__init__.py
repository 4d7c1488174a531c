"""Sweeps at scale: grids of runs (Python or TOML), a crash-safe SQLite store, local and dask executors,
reports. Modules: `spec` (fields, validation, grid expansion, run ids), `runners` (config -> result per
model family), `store` (SQLite + side files), `executors` (local, dask), `driver` (resume, progress),
`report` (summary table and standard plots).

    import wideflow as wf
    sweep = wf.Sweep("shallow_relu", fixed={"steps": 2000}, grid={"width": [100, 1000], "seed": [0, 1]})
    sweep.run("out")                       # or: wideflow sweep spec.toml --out out
    store = wf.open_store("out")
    store.runs()                           # a DataFrame (pandas) or a list of dicts
    store.trajectory(store.runs().id[0])   # {"steps", "t", "loss"}
"""

from .driver import SweepSummary, run_sweep
from .runners import RUNNERS, register, unregister
from .spec import SpecError, Sweep, bundled_specs, load_spec, run_id
from .store import Store, open_store

__all__ = [
    "Sweep",
    "SpecError",
    "load_spec",
    "bundled_specs",
    "run_id",
    "run_sweep",
    "SweepSummary",
    "Store",
    "open_store",
    "RUNNERS",
    "register",
    "unregister",
]
