"""Benchmark one full-batch GD step of the Du-Hu-Lee 3-layer ReLU net (paper section 4).

    python bench/bench_deep.py                    # threads 1 and 2, float64, appends bench/results/deep.jsonl
    python bench/bench_deep.py --threads 1 --repeats 15 --out results.jsonl

Config: N = 1000 samples, 1000 -> 100 -> 100 -> 10, ReLU, no biases, loss 1/2 sum ||f(x) - y||^2.
Timed in the same process, same thread count, in blocks taken in turn (A B C A B C ..., so every
implementation sees the same background load on a shared machine), medians and minima reported:

* wideflow: the fused C++ kernel driven as `wf.train` drives it (a run object holding the workspaces and the
  packed X), `chunk` steps per call, per step;
* wideflow (1 step/call): the same, one step per call (includes the Python call overhead);
* NumPy reference: `wideflow._reference.deep_gradients` + update (BLAS threads via threadpoolctl);
* PyTorch CPU autograd: forward, loss, backward, in-place SGD update (torch.set_num_threads);
* probe: a NumPy 1000 x 1000 @ 1000 x 1000 float64 matrix product (same BLAS thread count), GFLOP/s.

A step is 2 N sum_h d_h d_{h-1} flops forward, as many for the weight gradients and
2 N sum_{h>=2} d_h d_{h-1} for back-propagating the deltas (466 MFLOP here).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

import wideflow as wf
from wideflow import _core
from wideflow import _reference as ref
from wideflow.benchmark import machine_line

DIMS = (1000, 100, 100, 10)
N = 1000


def step_flops(dims=DIMS, n=N) -> float:
    mats = [dims[h + 1] * dims[h] for h in range(len(dims) - 1)]
    return 2.0 * n * (2 * sum(mats) + sum(mats[1:]))


def problem(seed=0):
    """Paper-like data: x ~ N(0, I), y from a random ReLU teacher; a small random student."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, DIMS[0]))
    teacher = wf.DeepNet.init(DIMS, variance=[2 / 1000, 2 / 100, 1 / 100], seed=seed + 1)
    Y = teacher(X)
    student = wf.DeepNet.init(DIMS, variance=[1e-6, 1e-5, 1e-4], seed=seed + 2)
    return X, Y, student


class Timers:
    """Implementations to time; each `fn()` runs `steps` GD steps."""

    def __init__(self, threads: int, chunk: int):
        self.threads, self.chunk = threads, chunk
        self.X, self.Y, net = problem()
        self.lr = 2e-5
        self.cases = {}
        # wideflow, chunk steps per call
        self.net = net
        lrs = np.full(chunk, self.lr)
        losses = np.empty(chunk)
        trainer = _core.deep_trainer(*net._args(), self.X, self.Y, 0.0, threads)  # what wf.train drives
        self.cases["wideflow"] = (lambda: trainer.run(lrs, losses), chunk)
        one, loss1 = np.full(1, self.lr), np.empty(1)
        self.cases["wideflow (1 step/call)"] = (lambda: trainer.run(one, loss1), 1)
        # NumPy reference
        self.ref_w = [w.copy() for w in net.weights]

        def numpy_step():
            _, gw, _ = ref.deep_gradients(self.ref_w, self.X, self.Y, "relu")
            for w, g in zip(self.ref_w, gw):
                w -= self.lr * g

        self.cases["NumPy reference"] = (numpy_step, 1)
        # PyTorch autograd
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            torch.set_num_threads(threads)
            tw = [torch.tensor(w, requires_grad=True) for w in net.weights]
            tX, tY = torch.from_numpy(self.X), torch.from_numpy(self.Y)

            def torch_step():
                a = tX
                for h, w in enumerate(tw):
                    a = a @ w.T
                    if h < len(tw) - 1:
                        a = torch.relu(a)
                loss = 0.5 * ((a - tY) ** 2).sum()
                loss.backward()
                with torch.no_grad():
                    for w in tw:
                        w -= self.lr * w.grad
                        w.grad = None

            self.cases["PyTorch autograd"] = (torch_step, 1)
        # matmul probe
        rng = np.random.default_rng(1)
        A, B = rng.standard_normal((1000, 1000)), rng.standard_normal((1000, 1000))
        Cm = np.empty((1000, 1000))
        self.cases["probe"] = (lambda: np.matmul(A, B, out=Cm), 1)


def run(threads: int, repeats: int, chunk: int, rounds: int) -> tuple:
    """Median and min seconds per step of every implementation.

    Implementations are timed in blocks of `repeats` calls, `rounds` times over in turn (A B C A B C ...),
    with a pause before each block: the BLAS / OpenMP thread pools of the other implementations spin for
    a while after their last call and would otherwise steal the cores from the one being timed.
    """
    import contextlib

    try:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(limits=threads)
    except ImportError:  # pragma: no cover
        limits = contextlib.nullcontext()
        print("warning: threadpoolctl not installed; NumPy uses its default BLAS thread count", file=sys.stderr)
    with limits:
        t = Timers(threads, chunk)
        times = {name: [] for name in t.cases}
        for _ in range(rounds):
            for name, (fn, steps) in t.cases.items():
                time.sleep(0.3)
                fn()  # warm-up
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    fn()
                    times[name].append((time.perf_counter() - t0) / steps)
    med = {name: statistics.median(v) for name, v in times.items()}
    return med, {name: min(v) for name, v in times.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=7, help="timed calls per block")
    p.add_argument("--rounds", type=int, default=3, help="blocks per implementation, taken in turn")
    p.add_argument("--chunk", type=int, default=10, help="steps per wideflow kernel call")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                                 "deep.jsonl"))
    args = p.parse_args(argv)
    flops = step_flops()
    machine = machine_line()
    print(f"Du-Hu-Lee 3-layer ReLU step: N={N}, dims={DIMS}, float64, {flops / 1e6:.0f} MFLOP/step")
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, load {machine['load_avg']}")
    rows = []
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    for threads in args.threads:
        med, mins = run(threads, args.repeats, args.chunk, args.rounds)
        probe = 2.0 * 1000**3 / med["probe"]
        print(f"\nthreads={threads}   NumPy matmul probe: {probe / 1e9:.1f} GFLOP/s (median)")
        print(f"{'implementation':<26}{'ms/step':>10}{'min ms':>9}{'GFLOP/s':>10}{'% probe':>9}{'vs torch':>10}")
        torch_t = med.get("PyTorch autograd")
        for name, sec in med.items():
            if name == "probe":
                continue
            gf = flops / sec
            vs = f"{torch_t / sec:.2f}x" if torch_t else "-"
            print(f"{name:<26}{sec * 1e3:>10.3f}{mins[name] * 1e3:>9.3f}{gf / 1e9:>10.1f}{100 * gf / probe:>8.0f}%"
                  f"{vs:>10}")
            rows.append({"bench": "deep_step", "impl": name, "threads": threads, "dims": list(DIMS), "n": N,
                         "dtype": "float64", "sec_per_step": sec, "min_sec_per_step": mins[name],
                         "gflops": gf / 1e9, "probe_gflops": probe / 1e9, "fraction_of_probe": gf / probe,
                         "speedup_vs_torch": (torch_t / sec) if torch_t else None, "repeats": args.repeats * args.rounds,
                         "chunk": args.chunk, "time": stamp, "machine": machine})
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "a") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    print(f"\nappended {len(rows)} lines to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
