"""Executors: run a list of tasks (run id, model, config) and yield (task, RunResult) as runs finish.

* `LocalExecutor(workers=1)`: in this process, one run after another; the C++ kernels use every core
  (`threads=None`). With workers = N > 1, N runs side by side in a pool of spawned processes (for many
  small runs), each kernel with cores // N threads. `executor="process"` is the same pool, always (even
  with one worker), `workers` defaulting to one per core.
* `DaskExecutor(scheduler=None)`: `client.submit` per run (`runners.execute` is a pure function of the
  config), results in completion order. With no scheduler address a LocalCluster is started on 127.0.0.1
  (never a public interface); `scheduler="tcp://host:port"` uses a running cluster, whose workers need
  the same wideflow installed. dask is imported only here, only when used (`pip install "wideflow[dask]"`).
  `cluster="slurm"|"pbs"` submits batch jobs through dask-jobqueue instead (`wideflow.sweeps.clusters`).

Workers compute and return results; they never touch the store: the client (the sweep driver) writes it.
A pool worker watches its client and exits within about a fifth of a second of the client's death (even a
SIGKILL, which gives the client no chance to stop its pool), so no process is left behind; dask's own
worker processes do the same (they watch their nanny).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from .runners import RunResult, execute

EXECUTORS = ("local", "process", "dask")


class Task(NamedTuple):
    run_id: str
    model: str
    config: dict


class WorkerLost(RuntimeError):
    """A worker process died (killed, out of memory); the runs stored so far are kept."""


def _failed(exc: BaseException, tb: str | None = None) -> RunResult:
    return RunResult("failed", error=f"{type(exc).__name__}: {exc}", traceback=tb)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class LocalExecutor:
    name = "local"

    def __init__(self, workers: int = 1, threads: int | None = None, keep_params: bool = True, pool: bool = False):
        self.workers = max(1, int(workers or 1))
        self.threads = threads
        self.keep_params = keep_params
        self.use_pool = pool or self.workers > 1
        self._pool = None

    def describe(self) -> str:
        if not self.use_pool:
            return "local, in-process"
        return f"local, {self.workers} worker process{'es' if self.workers != 1 else ''}"

    def __enter__(self):
        if self.use_pool:
            import concurrent.futures
            import multiprocessing

            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(os.getpid(),),
            )
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._pool is not None:
            if exc_type is not None:  # interrupted or failed: do not wait for the runs in progress
                for proc in list(getattr(self._pool, "_processes", {}).values()):
                    proc.terminate()
                self._pool.shutdown(wait=True, cancel_futures=True)
            else:
                self._pool.shutdown(wait=True)
            self._pool = None
        return False

    def results(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, RunResult]]:
        tasks = list(tasks)
        if self._pool is None:
            for task in tasks:
                yield task, execute(task.model, task.config, self.threads, self.keep_params)
            return
        import concurrent.futures
        from concurrent.futures.process import BrokenProcessPool

        threads = self.threads or max(1, _cores() // self.workers)
        futures = {self._pool.submit(execute, t.model, t.config, threads, self.keep_params): t for t in tasks}
        for fut in concurrent.futures.as_completed(futures):
            task = futures.pop(fut)
            try:
                result = fut.result()
            except BrokenProcessPool as exc:
                raise WorkerLost(
                    f"a worker process died ({exc}); the runs stored so far are kept, run the sweep again to resume"
                ) from None
            except Exception as exc:
                result = _failed(exc)
            yield task, result


def _init_worker(client_pid: int, poll_seconds: float = 0.2):
    """Set up a pool worker: Ctrl-C on a terminal reaches every process of the group, so ignore it and
    let the client decide (it stops the pool); and exit as soon as the client is gone (the worker is then
    re-parented, so its parent pid changes), even in the middle of a run in C++."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch():
        while os.getppid() == client_pid:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="wideflow-client-watch", daemon=True).start()


class DaskExecutor:
    name = "dask"

    def __init__(
        self,
        scheduler: str | None = None,
        workers: int | None = None,
        threads: int | None = None,
        keep_params: bool = True,
        processes: bool = True,
        cluster: str | None = None,
        cluster_options: dict | None = None,
    ):
        if scheduler is not None and not isinstance(scheduler, str):
            raise TypeError(f"scheduler: expected an address like 'tcp://host:8786', got {type(scheduler).__name__}")
        self.cluster_kind = cluster
        self.cluster_options = dict(cluster_options or {})
        if cluster is not None:
            from .clusters import check

            if scheduler is not None:
                raise ValueError("cluster: give either a scheduler address or a batch cluster, not both")
            self.cluster_options = check(cluster, self.cluster_options)
            if threads is None:  # one run per job, the kernels on all the job's cores
                threads = self.cluster_options["cores"]
        self.scheduler = scheduler
        self.workers = workers
        self.threads = threads
        self.keep_params = keep_params
        self.processes = processes
        self.client: Any = None
        self.cluster: Any = None

    def describe(self) -> str:
        if self.scheduler:
            return f"dask, scheduler {self.scheduler}"
        if self.cluster_kind:
            n = max(1, int(self.workers or 1))
            return f"dask, {self.cluster_kind} cluster of {n} job{'s' if n != 1 else ''}"
        n = self.cluster_workers
        return f"dask, LocalCluster on 127.0.0.1 with {n} worker{'s' if n != 1 else ''}"

    @property
    def cluster_workers(self) -> int:
        return max(1, int(self.workers or _cores()))

    def __enter__(self):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise RuntimeError(
                'executor: the dask executor needs dask.distributed; pip install "wideflow[dask]"'
            ) from None
        if self.scheduler:
            self.client = Client(self.scheduler)
        elif self.cluster_kind:
            from .clusters import make_cluster

            self.cluster = make_cluster(self.cluster_kind, self.cluster_options)
            self.cluster.scale(jobs=max(1, int(self.workers or 1)))
            self.client = Client(self.cluster)
        else:
            self.cluster = LocalCluster(
                n_workers=self.cluster_workers,
                threads_per_worker=1,
                processes=self.processes,
                host="127.0.0.1",
                protocol="tcp://",
                dashboard_address=None,
                worker_dashboard_address=None,
            )
            self.client = Client(self.cluster)
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is not None and self.cluster is not None:
                self._kill_local_workers()
            if self.client is not None:
                self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()
            self.client = self.cluster = None
        return False

    def _kill_local_workers(self) -> None:
        """Interrupted or failed: the runs in progress are lost anyway, so do not wait for our LocalCluster's
        workers to finish them (a worker in a C++ kernel answers a close request only when the run ends,
        and its nanny waits 4 s before killing it). Tell each nanny not to restart its worker, then kill it."""
        for nanny in list(getattr(self.cluster, "workers", {}).values()):
            try:
                nanny.close_gracefully(reason="wideflow-interrupted")
                pid = nanny.pid
                if pid:
                    os.kill(pid, signal.SIGKILL)
            except Exception:
                pass

    def worker_addresses(self) -> list[str]:
        return sorted(self.client.scheduler_info().get("workers", {}))

    def results(self, tasks: Iterable[Task]) -> Iterator[tuple[Task, RunResult]]:
        from distributed import as_completed

        if self.threads is not None:
            threads = self.threads
        elif self.cluster is not None:
            threads = max(1, _cores() // self.cluster_workers)
        else:
            threads = None  # a remote worker: its kernels use every core it has
        token = uuid.uuid4().hex[:8]
        futures = {}
        for t in tasks:
            fut = self.client.submit(
                execute,
                t.model,
                t.config,
                threads,
                self.keep_params,
                key=f"wideflow-run-{t.run_id}-{token}",
                pure=False,
                retries=0,
            )
            futures[fut.key] = (fut, t)
        try:
            for fut in as_completed([f for f, _ in futures.values()]):
                _, task = futures.pop(fut.key)
                if fut.status == "finished":
                    try:
                        result = fut.result()
                    except Exception as exc:
                        result = _failed(exc)
                else:  # an error outside the runner (e.g. KilledWorker: the run took its worker down)
                    err = fut.exception()
                    result = _failed(err) if err is not None else RunResult("failed", error=f"dask: {fut.status}")
                fut.release()
                yield task, result
        finally:
            if futures:
                self.client.cancel([f for f, _ in futures.values()])


def make_executor(
    executor: str = "local",
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    threads: int | None = None,
    keep_params: bool = True,
    cluster: str | None = None,
    cluster_options: dict | None = None,
):
    if executor not in EXECUTORS:
        raise ValueError(f"executor: unknown value {executor!r}; expected one of {', '.join(EXECUTORS)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers: expected a positive integer, got {workers!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads: expected a positive integer, got {threads!r}")
    if executor == "local":
        if scheduler is not None:
            raise ValueError("scheduler: only the dask executor takes a scheduler address (use --executor dask)")
        if cluster is not None:
            raise ValueError("cluster: only the dask executor runs on a batch cluster (use --executor dask)")
        return LocalExecutor(workers or 1, threads, keep_params)
    if executor == "process":
        if scheduler is not None or cluster is not None:
            raise ValueError(
                "scheduler: only the dask executor takes a scheduler address or a batch cluster (use --executor dask)"
            )
        return LocalExecutor(workers or _cores(), threads, keep_params, pool=True)
    return DaskExecutor(scheduler, workers, threads, keep_params, cluster=cluster, cluster_options=cluster_options)
