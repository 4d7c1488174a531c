"""Benchmark the two-layer linear factorization kernels (Tarmoun et al. 2021 problem sizes).

    python bench/bench_factorization.py              # about a minute on 2 cores
    python bench/bench_factorization.py --quick      # a few seconds (smoke)

Times, in one process and on the same thread counts:

* a single run, m = 5, n = 10, k = 50, float64, lr = 1e-3: wideflow (`wf.train` with default options, and
  the raw kernel call, at 10, 1000 and 10^5 steps) against the same loop in NumPy, PyTorch CPU, the step under
  torch.compile and a jax.jit'ed lax.fori_loop (when installed),

      E = Y - U V^T;  loss = 1/2 sum E^2;  U, V = U + lr E V, V + lr E^T U

  (PyTorch: the loop as written, under no_grad, and a tuned in-place variant with addmm / add_), all on
  1 thread;
* a batch of 64 such runs (`wf.train_batch`) on 1 and 2 threads, and the batched PyTorch loop (bmm over
  the 64 runs) on the same threads.

Every case is timed once per round, `--repeats` rounds (so that on a shared machine all cases see the
same load); each figure is the median over the rounds (the best is printed too). Prints a table (microseconds per step, steps/s, ratios)
and appends one JSON line per measurement, with a machine line, to bench/results/factorization.jsonl.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

# the peers run on the same thread counts as wideflow; BLAS on 5 x 10 matrices would not thread anyway
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import wideflow as wf  # noqa: E402
from wideflow import _core  # noqa: E402
from wideflow.benchmark import append_jsonl, machine_line  # noqa: E402

M, N, K = 5, 10, 50
LR = 1e-3
RESULTS = Path(__file__).resolve().parent / "results" / "factorization.jsonl"


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def problem(seed=0, scale=0.1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((M, N))
    U = scale * rng.standard_normal((M, K))
    V = scale * rng.standard_normal((N, K))
    return Y.astype(dtype), U.astype(dtype), V.astype(dtype)


# ------------------------------------------------------------------------------------------ single run


def case_wideflow_train(steps, dtype=np.float64, calls=1):
    """wf.train as a user calls it on a model (default options: record="log", keep_finite=True, no metrics);
    each call continues the run."""
    Y, U, V = problem(dtype=dtype)
    fac = wf.Factorization(U, V)

    def go():
        for _ in range(calls):
            wf.train(fac, Y, lr=LR, steps=steps, progress=False)

    return go, steps * calls


def case_kernel(steps, dtype=np.float64, calls=1):
    """The raw kernel: one fac_gd call of `steps` steps, in place (each call continues the run)."""
    Y, U, V = problem(dtype=dtype)
    lrs = np.full(steps, LR)
    losses = np.empty(steps)

    def go():
        for _ in range(calls):
            _core.factorization.gd(U, V, Y, lrs, losses, True, 1)

    return go, steps * calls


def case_torch_compile(steps, threads=1):
    """The loop as a torch user would speed it up: the step function under torch.compile."""
    import torch

    torch.set_num_threads(threads)
    Y, U0, V0 = (torch.from_numpy(a) for a in problem())

    @torch.compile
    def step(U, V):
        E = Y - U @ V.T
        return U + LR * (E @ V), V + LR * (E.T @ U), 0.5 * (E * E).sum()

    def go():
        torch.set_num_threads(threads)
        U, V = U0.clone(), V0.clone()
        with torch.no_grad():
            for _ in range(steps):
                U, V, loss = step(U, V)

    return go, steps


def case_jax(steps):
    """jax.jit over lax.fori_loop: the whole run is one compiled XLA loop."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    Y, U0, V0 = (jnp.asarray(a) for a in problem())

    def body(_, uv):
        U, V = uv
        E = Y - U @ V.T
        return U + LR * (E @ V), V + LR * (E.T @ U)

    run = jax.jit(lambda U, V: jax.lax.fori_loop(0, steps, body, (U, V)))

    def go():
        jax.block_until_ready(run(U0, V0))

    return go, steps


def case_numpy(steps):
    Y, U0, V0 = problem()

    def go():
        U, V = U0.copy(), V0.copy()
        for _ in range(steps):
            E = Y - U @ V.T
            loss = 0.5 * float(np.sum(E * E))  # noqa: F841
            U, V = U + LR * (E @ V), V + LR * (E.T @ U)

    return go, steps


def case_torch(steps, threads=1, tuned=False):
    import torch

    torch.set_num_threads(threads)
    Y, U0, V0 = (torch.from_numpy(a) for a in problem())

    def plain():
        U, V = U0.clone(), V0.clone()
        with torch.no_grad():
            for _ in range(steps):
                E = Y - U @ V.T
                loss = 0.5 * (E * E).sum()  # noqa: F841
                U, V = U + LR * (E @ V), V + LR * (E.T @ U)

    def inplace():
        U, V = U0.clone(), V0.clone()
        with torch.no_grad():
            for _ in range(steps):
                E = torch.addmm(Y, U, V.T, alpha=-1.0)
                loss = torch.dot(E.view(-1), E.view(-1))  # noqa: F841
                gu = E @ V
                gv = E.T @ U
                U.add_(gu, alpha=LR)
                V.add_(gv, alpha=LR)

    def go():
        torch.set_num_threads(threads)
        (inplace if tuned else plain)()

    return go, steps


# ------------------------------------------------------------------------------------------ batches


def batch_problem(B):
    Y = problem()[0]
    rng = np.random.default_rng(1)
    scales = np.geomspace(1e-3, 1.0, B)
    Us = scales[:, None, None] * rng.standard_normal((B, M, K))
    Vs = scales[:, None, None] * rng.standard_normal((B, N, K))
    return Y, Us, Vs


def case_batch(B, steps, threads):
    Y, Us, Vs = batch_problem(B)

    def go():
        wf.train_batch(Us, Vs, Y, LR, steps, record=[0, steps], threads=threads, progress=False)

    return go, steps * B


def case_torch_batch(B, steps, threads):
    import torch

    torch.set_num_threads(threads)
    Y, Us, Vs = batch_problem(B)
    Yt, U0, V0 = torch.from_numpy(Y), torch.from_numpy(Us), torch.from_numpy(Vs)

    def go():
        torch.set_num_threads(threads)
        U, V = U0.clone(), V0.clone()
        with torch.no_grad():
            for _ in range(steps):
                E = Yt - torch.bmm(U, V.transpose(1, 2))
                loss = 0.5 * (E * E).sum(dim=(1, 2))  # noqa: F841
                U, V = U + LR * torch.bmm(E, V), V + LR * torch.bmm(E.transpose(1, 2), U)

    return go, steps * B


# ------------------------------------------------------------------------------------------ main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short timings (smoke test)")
    ap.add_argument("--repeats", type=int, default=None, help="rounds of timings (median reported)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="JSON-lines file to append to")
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch peers")
    args = ap.parse_args(argv)
    quick = args.quick
    try:
        load_start = os.getloadavg()[0]
    except OSError:
        load_start = None
    repeats = args.repeats or (3 if quick else 11)
    steps_wf = 20_000 if quick else 100_000
    steps_peer = 1_000 if quick else 10_000
    B = 64
    steps_batch = 1_000 if quick else 10_000
    steps_torch_batch = 200 if quick else 2_000
    try:
        import torch  # noqa: F401

        have_torch = not args.no_torch
    except ImportError:
        have_torch = False

    short = 20 if quick else 200  # calls per timing of the 10-step runs
    cases = [  # (name, threads, unit, (callable, steps per call))
        ("wideflow kernel (one fac_gd call)", 1, "step", case_kernel(steps_wf)),
        ("wideflow wf.train (default options)", 1, "step", case_wideflow_train(steps_wf)),
        ("wideflow wf.train float32", 1, "step", case_wideflow_train(steps_wf, np.float32)),
        ("kernel, 10 steps", 1, "step", case_kernel(10, calls=short * 10)),
        ("wf.train, 10 steps", 1, "step", case_wideflow_train(10, calls=short)),
        ("kernel, 1000 steps", 1, "step", case_kernel(1000, calls=short // 10)),
        ("wf.train, 1000 steps", 1, "step", case_wideflow_train(1000, calls=short // 10)),
        ("numpy loop", 1, "step", case_numpy(steps_peer)),
    ]
    if have_torch:
        cases += [
            ("torch loop (same loop, no_grad)", 1, "step", case_torch(steps_peer)),
            ("torch loop tuned (addmm, in-place add_)", 1, "step", case_torch(steps_peer, tuned=True)),
        ]
        try:
            c = case_torch_compile(steps_peer)
            c[0]()  # compile
            cases.append(("torch.compile step", 1, "step", c))
        except Exception as exc:  # a peer that does not build is reported, not fatal
            print(f"torch.compile: failed ({type(exc).__name__}: {str(exc)[:100]})")
    try:
        import jax  # noqa: F401

        cases.append(("jax.jit + lax.fori_loop", 1, "step", case_jax(steps_wf)))
    except ImportError:
        pass
    cases += [(f"wideflow train_batch B={B}", t, "run-step", case_batch(B, steps_batch, t)) for t in (1, 2)]
    if have_torch:
        cases += [(f"torch bmm batch B={B}", t, "run-step", case_torch_batch(B, steps_torch_batch, t)) for t in (1, 2)]

    # rounds: every case once per round, so that all of them see the same (shared-machine) load
    print(f"factorization m={M} n={N} k={K} float64 lr={LR}; {repeats} rounds, median (and best) per case", flush=True)
    times = {c[0:2]: [] for c in cases}
    for _, _, _, (fn, _) in cases:
        fn()  # warm-up
    for _ in range(repeats):
        for name, threads, _, (fn, count) in cases:
            times[(name, threads)].append(timed(fn) / count)
    rows = []
    for name, threads, unit, _ in cases:
        ts = times[(name, threads)]
        sec, best = statistics.median(ts), min(ts)
        rows.append(
            {
                "name": name,
                "threads": threads,
                "us_per_step": sec * 1e6,
                "best_us_per_step": best * 1e6,
                "steps_per_s": 1.0 / sec,
                "unit": unit,
                "repeats": len(ts),
            }
        )
        print(f"  {name:<44s} {threads:>2d} thr  {sec * 1e6:10.3f} us/{unit}  (best {best * 1e6:.3f})", flush=True)

    # ratios from the best round of each case (on a loaded machine the minimum estimates the cost itself)
    by = {(r["name"], r["threads"]): r["best_us_per_step"] for r in rows}
    kernel = by[("wideflow kernel (one fac_gd call)", 1)]
    train = by[("wideflow wf.train (default options)", 1)]
    ratios = {
        "numpy / wf.train": by[("numpy loop", 1)] / train,
        f"wf.train / kernel ({steps_wf} steps)": kernel / train,
        "wf.train / kernel (10 steps)": by[("kernel, 10 steps", 1)] / by[("wf.train, 10 steps", 1)],
        "wf.train / kernel (1000 steps)": by[("kernel, 1000 steps", 1)] / by[("wf.train, 1000 steps", 1)],
    }
    if ("torch.compile step", 1) in by:
        ratios["torch.compile / wf.train"] = by[("torch.compile step", 1)] / train
    if ("jax.jit + lax.fori_loop", 1) in by:
        ratios["jax fori_loop / wf.train"] = by[("jax.jit + lax.fori_loop", 1)] / train
    if have_torch:
        ratios["torch / wf.train"] = by[("torch loop (same loop, no_grad)", 1)] / train
        ratios["torch tuned / wf.train"] = by[("torch loop tuned (addmm, in-place add_)", 1)] / train
        ratios["torch / kernel"] = by[("torch loop (same loop, no_grad)", 1)] / kernel
    b1, b2 = by[(f"wideflow train_batch B={B}", 1)], by[(f"wideflow train_batch B={B}", 2)]
    ratios["batch scaling 1 -> 2 threads"] = b1 / b2
    ratios["batch (1 thr) vs single wf.train per run-step"] = train / b1
    if have_torch:
        ratios["torch bmm batch / wideflow batch (2 thr)"] = by[(f"torch bmm batch B={B}", 2)] / b2

    print()
    print("| measurement | threads | us per step (median) | best | steps/s (median) |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['name']} ({r['unit']}) | {r['threads']} | {r['us_per_step']:.3f} | "
            f"{r['best_us_per_step']:.3f} | {r['steps_per_s']:.3g} |"
        )
    print()
    print("| ratio | value | target |")
    print("|---|---:|---|")
    targets = {
        "torch / wf.train": ">= 50",
        "batch scaling 1 -> 2 threads": ">= 1.8",
        "wf.train / kernel (10 steps)": ">= 0.75",
        "wf.train / kernel (1000 steps)": ">= 0.9",
    }
    for k, v in ratios.items():
        print(f"| {k} | {v:.2f} | {targets.get(k, '')} |")

    mach = machine_line()
    mach["loadavg_start"] = load_start  # a shared machine: 1-minute load before and after the timings
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    append_jsonl(
        args.out,
        [
            {"kind": "machine", "time": stamp, "bench": "factorization", "quick": quick, "repeats": repeats, **mach},
            *(
                {
                    "kind": "timing",
                    "time": stamp,
                    "bench": "factorization",
                    "m": M,
                    "n": N,
                    "k": K,
                    "dtype": "float32" if "float32" in r["name"] else "float64",
                    "quick": quick,
                    **r,
                }
                for r in rows
            ),
            {"kind": "ratios", "time": stamp, "bench": "factorization", "quick": quick, **ratios},
        ],
    )
    print(f"\nappended to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
