"""Batch-system clusters for the dask executor (dask-jobqueue): ``--cluster slurm|pbs``.

    wideflow sweep spec.toml --out DIR --executor dask --cluster slurm --workers 8 \\
        --cluster-opt queue=normal,cores=16,memory=32GB,walltime=02:00:00

starts a dask scheduler here and submits `workers` batch jobs; each job runs one dask worker that takes one
run at a time and gives the C++ kernels all `cores` of its job (one worker thread, `cores` kernel threads:
wideflow's kernels are threaded, so one run per job is the efficient layout). `--print-job-script` prints the
job script that would be submitted and submits nothing. Needs ``pip install "wideflow[cluster]"``.

Options (``--cluster-opt KEY=VALUE,...``, repeatable):

    queue      partition (SLURM) or queue (PBS)             account    account / project to charge
    cores      CPUs per job (default 1)                      memory     memory per job, e.g. 16GB (required)
    walltime   job time limit, e.g. 01:00:00 (default 01:00:00)
    interface  network interface the scheduler and workers use (e.g. ib0); host: the scheduler's address
    python     the Python to start workers with (default: this one); local_directory: worker scratch space

The scheduler listens on `host` / `interface` (the compute nodes must reach it); the tested default is the
loopback address only when `host=127.0.0.1` is given. A LocalCluster (no --cluster) always binds 127.0.0.1.
"""

from __future__ import annotations

KINDS = {"slurm": "SLURMCluster", "pbs": "PBSCluster"}
OPTIONS = {
    "queue": str,
    "account": str,
    "cores": int,
    "memory": str,
    "walltime": str,
    "interface": str,
    "host": str,
    "python": str,
    "local_directory": str,
}


def parse_options(texts) -> dict:
    """{key: value} from ``--cluster-opt`` strings like "queue=normal,cores=8"; errors name the option."""
    out: dict = {}
    for text in texts or ():
        if not isinstance(text, str):
            raise TypeError(f"cluster_opt: expected KEY=VALUE strings, got {type(text).__name__}")
        for item in filter(None, (p.strip() for p in text.split(","))):
            if "=" not in item:
                raise ValueError(f"--cluster-opt: expected KEY=VALUE, got {item!r}")
            key, value = (s.strip() for s in item.split("=", 1))
            if key not in OPTIONS:
                raise ValueError(f"--cluster-opt: unknown option {key!r}; options: {', '.join(sorted(OPTIONS))}")
            if not value:
                raise ValueError(f"--cluster-opt: {key} needs a value")
            if OPTIONS[key] is int:
                try:
                    number = int(value)
                except ValueError:
                    raise ValueError(f"--cluster-opt: {key} must be a positive integer, got {value!r}") from None
                if number < 1:
                    raise ValueError(f"--cluster-opt: {key} must be a positive integer, got {number}")
                out[key] = number
                continue
            out[key] = value
    return out


def check(kind: str, options: dict) -> dict:
    """Validated options for a cluster of `kind`, with defaults filled in."""
    if kind not in KINDS:
        raise ValueError(f"cluster: unknown value {kind!r}; expected one of {', '.join(KINDS)}")
    opts = {"cores": 1, "walltime": "01:00:00", **options}
    if "memory" not in opts:
        raise ValueError("--cluster-opt: memory=... (per job, e.g. memory=16GB) is required for a batch cluster")
    return opts


def make_cluster(kind: str, options: dict):
    """The dask-jobqueue cluster object (its scheduler starts here; no job is submitted until scaled)."""
    try:
        import dask_jobqueue
    except ImportError:
        raise RuntimeError('cluster: --cluster needs dask-jobqueue; pip install "wideflow[cluster]"') from None
    opts = check(kind, options)
    sched = {"dashboard_address": None}
    if "host" in opts:
        sched["host"] = opts.pop("host")
    cores, memory = opts.pop("cores"), opts.pop("memory")
    kwargs = {
        "cores": 1,
        "processes": 1,
        "memory": memory,
        "walltime": opts.pop("walltime"),
        "scheduler_options": sched,
    }
    if kind == "slurm":
        kwargs["job_cpu"] = cores  # the CPUs requested; the worker itself runs one task (cores=1)
    else:
        kwargs["resource_spec"] = f"select=1:ncpus={cores}:mem={memory.lower()}"
    if "account" in opts:
        kwargs["account"] = opts.pop("account")
    kwargs.update(opts)  # queue, interface, python, local_directory
    return getattr(dask_jobqueue, KINDS[kind])(**kwargs)


def job_script(kind: str, options: dict) -> str:
    """The batch script a job would run (nothing is submitted)."""
    cluster = make_cluster(kind, options)
    try:
        return cluster.job_script()
    finally:
        cluster.close()
