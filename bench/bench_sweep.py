"""Sweep machinery overhead: what a study costs beyond its runs (spec expansion and validation, scheduling,
store writes, progress), per run, for a 1000-run shallow sweep of tiny nets.

    python bench/bench_sweep.py [--runs 1000] [--executor local] [--out bench/results/sweep.jsonl]

Reported: total wall time, the time inside the runners (RunResult.wall_time, summed), and their difference
per run (the machinery overhead; target < 10 ms per run), plus spec expansion alone and a resume pass
over the complete store (nothing to run).
"""

import argparse
import tempfile
import time

from wideflow.benchmark import append_jsonl, machine_line
from wideflow.sweeps import Sweep, open_store, run_sweep


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--executor", default="local", choices=("local", "dask"))
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    seeds = list(range(args.runs // 10))
    widths = [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    fixed = {"steps": 1, "record_points": 2, "antisymmetric": True}
    t0 = time.perf_counter()
    sweep = Sweep("shallow_relu", fixed=fixed, grid={"width": widths, "seed": seeds}, name="overhead")
    ids = sweep.ids()
    expand = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = run_sweep(
            sweep, tmp, executor=args.executor, workers=args.workers, progress="off", keep_params=False, threads=1
        )
        total = time.perf_counter() - t0
        with open_store(tmp) as st:
            inside = sum(r["wall_time"] for r in st.records())
        t0 = time.perf_counter()
        again = run_sweep(sweep, tmp, executor=args.executor, progress="off", keep_params=False)
        resume = time.perf_counter() - t0
    n = len(ids)
    assert summary.done == n and again.skipped == n
    row = {
        "bench": "sweep_overhead",
        "runs": n,
        "executor": args.executor,
        "total_s": total,
        "inside_runners_s": inside,
        "overhead_ms_per_run": 1e3 * (total - inside) / n,
        "expand_ms_per_run": 1e3 * expand / n,
        "resume_ms_per_run": 1e3 * resume / n,
        **machine_line(),
    }
    print(
        f"{n} runs ({args.executor}): {total:.2f} s in all, {inside:.2f} s inside the runners -> "
        f"{row['overhead_ms_per_run']:.2f} ms machinery per run (spec expansion {row['expand_ms_per_run']:.3f} "
        f"ms/run; resume of the complete store {row['resume_ms_per_run']:.3f} ms/run)"
    )
    if args.out:
        append_jsonl(args.out, [row])
    return row


if __name__ == "__main__":
    main()
