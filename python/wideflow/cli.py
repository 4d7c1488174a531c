"""The `wideflow` command line (also `python -m wideflow`).

wideflow demo [--out DIR]                                  one-minute demo figure
wideflow reproduce williams2019|tarmoun2021|du2018 [--quick] [--out DIR] [--executor ...] [--set K=V]
wideflow bench [...]                                       kernel benchmarks (see --help)
wideflow sweep SPEC.toml --out DIR [--executor local|process|dask] [--scheduler ADDR] [--workers N] [--set K=V]
wideflow report DIR                                        a paper's report, or a sweep's summary and plots
wideflow export DIR [--format csv|parquet] [--out FILE]    the runs table as a file
wideflow docs [--no-open] [--out DIR]                      build the documentation site (from a clone)
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
import time


def _paper_names():
    from .experiments import PAPERS

    return PAPERS


class _Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an interrupt so that a sweep stops the way Ctrl-C stops it."""


def _on_sigterm(signum, frame):
    raise _Terminated


def _guarded(command: str, body, where):
    """(exit code, body()) with SIGTERM raised as an exception while body runs, and the errors of a study
    mapped to exit codes: 2 bad input or an unreadable store, 1 a locked store, mixed builds or a runtime
    failure (dask missing, a worker process died, no scheduler at that address), 143 SIGTERM, 130 Ctrl-C.
    `where()` names the store for the message of a damaged one."""
    from .sweeps import SpecError
    from .sweeps.driver import MixedBuilds, SweepLocked

    old = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return 0, body()
    except (SpecError, FileNotFoundError, ValueError, TypeError) as exc:
        print(f"wideflow {command}: {exc}", file=sys.stderr)
        return 2, None
    except (SweepLocked, MixedBuilds, RuntimeError, OSError) as exc:
        print(f"wideflow {command}: {exc}", file=sys.stderr)
        return 1, None
    except _Terminated:
        return 143, None
    except KeyboardInterrupt:
        return 130, None
    except sqlite3.Error as exc:
        print(f"wideflow {command}: {where()}: the store cannot be read or written ({exc})", file=sys.stderr)
        return 2, None
    finally:
        signal.signal(signal.SIGTERM, old)


def _reproduce(args) -> int:
    from .experiments import study
    from .experiments._study import run_study

    out = args.out or os.path.join("wideflow-out", args.paper)
    executor = args.executor or ("dask" if args.scheduler else "local")
    t0 = time.perf_counter()
    code, report = _guarded(
        "reproduce",
        lambda: run_study(
            study(args.paper),
            out,
            quick=args.quick,
            overrides=args.set,
            executor=executor,
            scheduler=args.scheduler,
            workers=args.workers,
            threads=args.threads,
            progress=args.progress,
            allow_mixed=args.allow_mixed,
        ),
        lambda: out,
    )
    if code == 0:
        print(f"{args.paper}: wrote {report} ({time.perf_counter() - t0:.0f} s)")
    return code


def _demo(args) -> int:
    from .experiments import demo

    t0 = time.perf_counter()
    png = demo.run(args.out)
    print(f"demo: wrote {png} ({time.perf_counter() - t0:.0f} s)")
    return 0


def _sweep(args) -> int:
    from .sweeps import clusters, load_spec, run_sweep
    from .sweeps.store import Store, store_root

    executor = args.executor or ("dask" if (args.scheduler or args.cluster) else "local")
    where = [args.out]

    def body():
        cluster_options = clusters.parse_options(args.cluster_opt)
        if args.print_job_script:
            if not args.cluster:
                raise ValueError("--print-job-script: give --cluster slurm|pbs")
            print(clusters.job_script(args.cluster, cluster_options))
            return None
        sweep = load_spec(args.spec, args.set)
        out = store_root(args.out or os.path.join("wideflow-out", sweep.name))  # a folder or DIR/wideflow.sqlite
        where[0] = out
        if args.dry_run:
            stored = {}
            if os.path.isfile(os.path.join(out, "wideflow.sqlite")):
                with Store(out) as store:
                    stored = store.statuses()
            runs = sweep.runs()
            keys = sorted(sweep.grid)
            print(
                f"{sweep.name}: model {sweep.model}, {len(runs)} runs, "
                f"{sum(rid in stored for rid, _ in runs)} already stored in {out}"
            )
            for rid, cfg in runs:
                print(f"  {rid}  {stored.get(rid, 'todo'):<8}  " + " ".join(f"{k}={cfg[k]}" for k in keys))
            return None
        return run_sweep(
            sweep,
            out,
            executor=executor,
            scheduler=args.scheduler,
            workers=args.workers,
            threads=args.threads,
            retry_failed=args.retry_failed,
            keep_params=not args.no_params,
            progress=args.progress,
            allow_mixed=args.allow_mixed,
            cluster=args.cluster,
            cluster_options=cluster_options,
        )

    code, summary = _guarded("sweep", body, lambda: where[0])
    if code or summary is None:
        return code
    return 0 if summary.failed == 0 else 3


def _report(args) -> int:
    from .experiments import paper_of, study
    from .experiments._study import analyze
    from .sweeps.report import report
    from .sweeps.store import open_store

    try:
        with open_store(args.store) as store:
            paper = paper_of(store)
        if paper is not None:  # a paper's study: that paper's figures and report.md, from the store alone
            path = analyze(study(paper), args.store, args.out)
            print(f"{paper}: wrote {path}")
            return 0
        report(args.store, args.out)
    except (ValueError, OSError, sqlite3.Error) as exc:  # FileNotFoundError too: one line, no traceback
        print(f"wideflow report: {' '.join(str(exc).split())[:500]}", file=sys.stderr)
        return 2
    return 0


def _export(args) -> int:
    import sqlite3

    from .sweeps.store import Store

    try:
        with Store(args.store) as store:
            fmt = args.format
            path = args.out or os.path.join(store.root, f"runs.{fmt}")
            store.export(path, fmt)
            n = len(store)
    except (FileNotFoundError, ValueError, ImportError, OSError, sqlite3.Error) as exc:
        print(f"wideflow export: {exc}", file=sys.stderr)
        return 2
    print(f"export: wrote {n} runs to {path}")
    return 0


def clusters_kinds():
    from .sweeps.clusters import KINDS

    return KINDS


def _docs(args) -> int:
    """Build the Sphinx site of a source checkout (`pip install ".[docs]"`) and open it in a browser."""
    import subprocess
    import webbrowser

    root = os.path.abspath(args.source or os.getcwd())
    if not os.path.isfile(os.path.join(root, "docs", "conf.py")):
        print(
            f"wideflow docs: no docs/conf.py under {root}; run this from a clone of the repository (or give --source)",
            file=sys.stderr,
        )
        return 2
    try:
        import sphinx  # noqa: F401
        import sphinx_gallery  # noqa: F401
    except ImportError:
        print('wideflow docs: the docs need the docs extra: pip install ".[docs]"', file=sys.stderr)
        return 2
    out = os.path.abspath(args.out or os.path.join(root, "docs", "_build", "html"))
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", os.path.join(root, "docs"), out]
    print("wideflow docs: " + " ".join(cmd))
    rc = subprocess.call(cmd, cwd=root)
    if rc != 0:
        return rc
    index = os.path.join(out, "index.html")
    print(f"wideflow docs: built {index}")
    if not args.no_open:
        webbrowser.open("file://" + index)
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":  # the bench has its own parser
        from .benchmark import main as bench_main

        return bench_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="wideflow",
        description="Wide networks trained by fused C++ gradient descent, measured against the limits theory predicts.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("reproduce", help="reproduce a paper's figures and report")
    papers = _paper_names()
    p.add_argument("paper", choices=sorted(papers), help="; ".join(f"{k}: {v}" for k, v in papers.items()))
    p.add_argument("--quick", action="store_true", help="smaller runs, about a minute on 2 cores")
    p.add_argument(
        "--out",
        default=None,
        help="output folder: the store wideflow.sqlite, the figures and "
        "report.md (default wideflow-out/PAPER); re-running resumes, a finished one only redraws",
    )
    p.add_argument(
        "--executor",
        choices=("local", "process", "dask"),
        default=None,
        help="local (default; in-process), process (a local pool) or dask",
    )
    p.add_argument("--scheduler", default=None, metavar="ADDR", help="dask scheduler address (implies dask)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes (process: default one per core; dask LocalCluster: default one per core)",
    )
    p.add_argument("--threads", type=int, default=None, metavar="N", help="kernel threads per run")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field in every section that has it (e.g. --set width=500), or in one "
        "section: --set regimes:fixed.steps=50000",
    )
    p.add_argument(
        "--progress",
        choices=("bar", "log", "off"),
        default=None,
        help="default: a bar on a terminal, else one log line per run (on stderr)",
    )
    p.add_argument(
        "--allow-mixed", action="store_true", help="add runs to a store written by another wideflow version or build"
    )
    p.set_defaults(func=_reproduce)
    p = sub.add_parser("demo", help="fit 10 square-wave points in both regimes and write a PNG")
    p.add_argument("--out", default="wideflow-out", help="output folder")
    p.set_defaults(func=_demo)
    sub.add_parser("bench", help="benchmark the kernels (wideflow bench --help)")
    from .sweeps.spec import bundled_specs

    p = sub.add_parser(
        "sweep",
        help="run a sweep spec (TOML grid) into a store; re-running resumes",
        description="Run every run of a sweep spec that the store in --out does not hold yet. "
        "Exit status: 0 all runs stored, 3 some runs failed (stored with their error), "
        "2 bad spec, arguments or unreadable store, 1 the folder is busy or holds another build "
        "(or a worker or scheduler failed), 130 interrupted, 143 terminated (re-run to resume).",
    )
    p.add_argument(
        "spec", help="a TOML spec file, or the name of a bundled spec (" + (", ".join(bundled_specs()) or "none") + ")"
    )
    p.add_argument("--out", default=None, help="output folder holding the store (default wideflow-out/SPEC-NAME)")
    p.add_argument(
        "--executor",
        choices=("local", "process", "dask"),
        default=None,
        help="local (default; in-process), process (a local pool of --workers processes) or dask "
        '(pip install "wideflow[dask]")',
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDR",
        help="dask scheduler address tcp://host:port (implies --executor dask; default: a LocalCluster on 127.0.0.1)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="local: runs side by side in N processes (default 1); dask LocalCluster: N worker "
        "processes (default one per core)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="kernel threads per run (default: all cores for one local run, else cores / workers)",
    )
    p.add_argument("--retry-failed", action="store_true", help="run again the runs stored as failed")
    p.add_argument("--no-params", action="store_true", help="do not write the final parameters to side files")
    p.add_argument(
        "--progress",
        choices=("bar", "log", "off"),
        default=None,
        help="default: a bar on a terminal, else one log line per run (on stderr)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a spec field, e.g. --set fixed.steps=20000 --set grid.width=[1000,10000] "
        "(VALUE is a TOML value; checked like the spec file; repeatable)",
    )
    p.add_argument(
        "--cluster",
        choices=sorted(clusters_kinds()),
        default=None,
        help='run the dask workers as batch jobs (pip install "wideflow[cluster]"); --workers N jobs',
    )
    p.add_argument(
        "--cluster-opt",
        action="append",
        default=[],
        metavar="K=V,...",
        help="batch cluster options: queue, account, cores, memory (required), walltime, interface, "
        "host, python, local_directory",
    )
    p.add_argument(
        "--print-job-script",
        action="store_true",
        help="print the batch job script --cluster would submit, and submit nothing",
    )
    p.add_argument(
        "--allow-mixed",
        action="store_true",
        help="add runs to a store written by another wideflow version or build (refused by default)",
    )
    p.add_argument("--dry-run", action="store_true", help="check the spec and list its runs; run nothing")
    p.set_defaults(func=_sweep)
    p = sub.add_parser("report", help="a paper's report from its store, or the summary and plots of a sweep's")
    p.add_argument("store", help="output folder of a sweep or a reproduction (or its wideflow.sqlite)")
    p.add_argument(
        "--out",
        default=None,
        help="where to write the report (default: a paper's store folder itself, a sweep's STORE/report)",
    )
    p.set_defaults(func=_report)
    p = sub.add_parser("export", help="write a store's runs table as CSV or Parquet")
    p.add_argument("store", help="output folder of a sweep (or its wideflow.sqlite)")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="file format (default csv)")
    p.add_argument("--out", default=None, help="file to write (default STORE/runs.FORMAT)")
    p.set_defaults(func=_export)
    p = sub.add_parser("docs", help="build the documentation site of a source checkout and open it")
    p.add_argument("--no-open", action="store_true", help="build only; do not open a browser")
    p.add_argument("--out", default=None, help="HTML output folder (default docs/_build/html)")
    p.add_argument("--source", default=None, help="repository root (default: the current folder)")
    p.set_defaults(func=_docs)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
