"""The sweep driver: resume, hand runs to an executor, store each result as it arrives, show progress.

    summary = run_sweep("spec.toml", "out", executor="local")      # or Sweep(...).run("out")
    summary = run_sweeps([sweep1, sweep2], "out")                  # several sweeps, one executor, one store

* Resume: runs whose id is already stored as done, diverged or failed are skipped (failed ones are run
  again with retry_failed=True), so re-running a finished sweep runs nothing.
* Crash safety: each finished run is written at once, in its own transaction (side file first), by this
  process only; a Ctrl-C, SIGTERM or SIGKILL loses at most the runs in progress. A run interrupted by
  Ctrl-C is not stored.
* One sweep at a time per folder: an exclusive lock file (`.wideflow.lock`, released by the OS when
  the process dies) guards the store and its side files.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from .executors import Task, make_executor
from .progress import Progress
from .spec import load_spec
from .store import LOCK_NAME, Store, refuse_link, store_root


@dataclass
class SweepSummary:
    out: str
    total: int  # runs in the sweep
    skipped: int  # already stored before this call
    done: int = 0
    diverged: int = 0
    failed: int = 0
    wall_time: float = 0.0
    interrupted: bool = False

    @property
    def ran(self) -> int:
        return self.done + self.diverged + self.failed

    def __str__(self) -> str:
        state = "interrupted" if self.interrupted else "finished"
        return (
            f"sweep {state}: {self.ran} run(s) in {self.wall_time:.1f} s ({self.done} done, {self.diverged} "
            f"diverged, {self.failed} failed), {self.skipped} already stored, {self.total} in the sweep; "
            f"store: {self.out}"
        )


class SweepLocked(RuntimeError):
    pass


class MixedBuilds(RuntimeError):
    """The store holds runs of another wideflow version or build than this one."""


def check_builds(store: Store, allow_mixed: bool) -> None:
    """Refuse to add runs of this build to a store written by another one (unless allow_mixed)."""
    from .provenance import build, build_key, describe

    if allow_mixed:
        return
    mine = build()
    for entry in store.builds():
        other = entry["build"]
        if set(other) == {"wideflow"}:  # stored before provenance was recorded: only the version is known
            same = other["wideflow"] == mine["wideflow"]
        else:
            same = build_key(other) == build_key(mine)
        if not same:
            raise MixedBuilds(
                f"out: {store.root} holds {entry['runs']} run(s) of another build "
                f"({describe(other)}) than this one ({describe(mine)}); results of two builds may "
                "differ, so they are not mixed: use another folder, or pass --allow-mixed "
                "(allow_mixed=True) to add to it anyway"
            )


class _FolderLock:
    def __init__(self, folder: str):
        self.path = os.path.join(folder, LOCK_NAME)
        self._fh = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            return self
        refuse_link(self.path, "out")
        try:  # O_NOFOLLOW: a link planted at the lock's name is refused, not followed
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as exc:
            raise ValueError(f"out: cannot open the lock file {self.path} safely ({exc})") from None
        self._fh = os.fdopen(fd, "a+")
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._fh.close()
            self._fh = None
            raise SweepLocked(
                f"out: another wideflow sweep is writing to {os.path.dirname(self.path)} "
                f"(lock {LOCK_NAME} is held); wait for it or use another folder"
            ) from None
        return self

    def __exit__(self, *exc):
        if self._fh is not None:
            self._fh.close()  # closing releases the flock
            self._fh = None
        return False


def _note(task: Task, grid_keys, result) -> str:
    parts = [f"{k}={task.config[k]}" for k in grid_keys]
    loss = result.metrics.get("final_loss") if result.metrics else None
    if loss is not None:
        parts.append(f"loss={loss:.3g}")
    if result.status == "failed" and result.error:
        parts.append(result.error.splitlines()[0][:200])
    return " ".join(parts)


def run_sweep(
    spec,
    out,
    *,
    executor: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    threads: int | None = None,
    retry_failed: bool = False,
    keep_params: bool = True,
    progress: str | None = None,
    stream=None,
    allow_mixed: bool = False,
    overrides=None,
    cluster: str | None = None,
    cluster_options: dict | None = None,
) -> SweepSummary:
    """Run every run of `spec` (a Sweep, a dict, a TOML path or a bundled spec name) that `out` does not
    hold yet, storing each as it finishes.

    executor: "local" (workers = runs side by side, default 1), "process" (a local pool of `workers`
        processes, default one per core) or "dask" (scheduler address, or a LocalCluster on 127.0.0.1 with
        `workers` processes, default one per core).
    threads: kernel threads per run (default: all cores for one local run, cores / workers otherwise).
    keep_params: write each run's final parameters to a side file.
    progress: "bar", "log", "off", or None (a bar on a terminal, else log lines), on `stream` (stderr).
    allow_mixed: add runs to a store that holds runs of another wideflow version or build (refused by
        default, naming both builds; see `wideflow.sweeps.provenance`).
    overrides: ``KEY=VALUE`` strings applied to the spec (`wideflow.sweeps.spec.apply_overrides`).
    cluster, cluster_options: "slurm" or "pbs" and its options, for the dask executor on a batch system
        (`wideflow.sweeps.clusters`).
    Ctrl-C stops after storing what has finished and re-raises KeyboardInterrupt.
    """
    return run_sweeps(
        [load_spec(spec, overrides)],
        out,
        executor=executor,
        scheduler=scheduler,
        workers=workers,
        threads=threads,
        retry_failed=retry_failed,
        keep_params=keep_params,
        progress=progress,
        stream=stream,
        allow_mixed=allow_mixed,
        cluster=cluster,
        cluster_options=cluster_options,
    )


def run_sweeps(
    sweeps,
    out,
    *,
    executor: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    threads: int | None = None,
    retry_failed: bool = False,
    keep_params: bool = True,
    progress: str | None = None,
    stream=None,
    allow_mixed: bool = False,
    cluster: str | None = None,
    cluster_options: dict | None = None,
    desc: str | None = None,
) -> SweepSummary:
    """Run several validated sweeps (`Sweep` objects) into one store with one executor (one pool or
    cluster for all of them): each sweep is recorded in the store's sweeps table, and a run that two
    sweeps share (the same run id) is run once. Options as `run_sweep`; the summary counts distinct runs."""
    from .. import __version__
    from .provenance import command_line

    sweeps = list(sweeps)
    if not sweeps:
        raise ValueError("sweeps: nothing to run")
    runs: dict = {}
    for sw in sweeps:
        for rid, cfg in sw.runs():
            runs.setdefault(rid, (sw, cfg))
    command = command_line()
    ex = make_executor(
        executor,
        scheduler=scheduler,
        workers=workers,
        threads=threads,
        keep_params=keep_params,
        cluster=cluster,
        cluster_options=cluster_options,
    )
    out = store_root(out)  # the folder, or DIR/wideflow.sqlite as open_store takes it
    name = desc or (sweeps[0].name if len(sweeps) == 1 else f"{len(sweeps)} sweeps")
    t0 = time.perf_counter()
    store = Store.create(out)
    try:
        with _FolderLock(out):
            check_builds(store, allow_mixed)
            store.remove_temp_files()
            stored = store.statuses()
            skip = {"done", "diverged"} if retry_failed else {"done", "diverged", "failed"}
            todo = [Task(rid, sw.model, cfg) for rid, (sw, cfg) in runs.items() if stored.get(rid) not in skip]
            summary = SweepSummary(out, len(runs), len(runs) - len(todo))
            for sw in sweeps:
                store.add_sweep(sw.name, sw.model, sw.to_dict(), len(sw))
            prog = Progress(len(runs), summary.skipped, mode=progress, stream=stream, desc=name)
            keys = {id(sw): sorted(k for k, v in sw.grid.items() if len(v) > 1) for sw in sweeps}
            try:
                prog.message(
                    f"{name}: {len(runs)} runs, {summary.skipped} already stored, {len(todo)} to run "
                    f"({ex.describe()}); store {store.path}"
                )
                if todo:
                    with ex:
                        for task, result in ex.results(todo):
                            if result.status == "interrupted":
                                raise KeyboardInterrupt
                            store.put(
                                task.run_id, task.model, task.config, result, version=__version__, command=command
                            )
                            setattr(summary, result.status, getattr(summary, result.status) + 1)
                            prog.update(
                                task.run_id,
                                result.status,
                                result.wall_time,
                                _note(task, keys[id(runs[task.run_id][0])], result),
                            )
            except KeyboardInterrupt:
                summary.interrupted = True
                summary.wall_time = time.perf_counter() - t0
                prog.close()
                prog.message(f"{summary}\ninterrupted: run the same command again to resume")
                raise
            finally:
                prog.close()
            summary.wall_time = time.perf_counter() - t0
            prog.message(str(summary))
            return summary
    finally:
        store.close()
