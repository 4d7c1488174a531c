"""The shallow GD kernels on every instruction set this build and CPU run, in one process.

    python bench/bench_isa.py                                  # the issue-15 table (about 3 minutes)
    python bench/bench_isa.py --cases 1e7:10 1e7:1000 --rounds 3 --out bench/results/isa.jsonl

Each round measures a memory-copy probe, then every (case, instruction set, threads) once, so a busy
machine slows all of them alike; reported are medians over the rounds of neuron-steps/s and of the
ratio to that round's copy probe (bytes: the 6 parameter arrays read and written, 48 B per neuron in
float64 and 24 B in float32; the sorted kernel also reads its 4-byte bin cache and writes the bins that
moved). The load average before and after goes into every line.

On a shared machine the kernels' threads are also time-sliced with other processes; each measurement
therefore records its CPU share (process CPU time / (wall time x threads)), and the table adds an estimate
of the rate at a full CPU share (rate / share; the same for the single-threaded copy probe). That estimate
removes time-slicing only, not the memory bandwidth the other processes take.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

from wideflow import _core, build_info
from wideflow.benchmark import append_jsonl, copy_bandwidth, machine_line, square_wave
from wideflow.shallow import ShallowReLU

ORDER = ["baseline", "avx2", "avx512"]


def runnable_isas():
    info = build_info()
    top = min(ORDER.index(info["isa_cpu"]), ORDER.index(info["isa_compiled"][-1]))
    return ORDER[: top + 1]


class Case:
    """One (m, n, dtype) net with its data, bins and a step function; timed for any ISA and threads."""

    def __init__(self, m, n, dtype, kernel):
        self.m, self.n, self.dtype, self.kernel = m, n, dtype, kernel
        self.net = ShallowReLU.init(m, inner_scale=1.0, dtype=dtype, seed=0)
        self.x, self.y = square_wave(n)
        self.pred = self.net(self.x, kernel=kernel)
        self.bins = np.empty(m, dtype=np.int32)
        self.valid = False
        self.steps = None

    def _run(self, steps, threads):
        net = self.net
        lr = np.full(steps, 1e-3)
        losses = np.empty(steps)
        args = (net.a, net.b, net.c, 1.0 / net.alpha, self.x, self.y, self.pred, lr, 1.0, 1.0, losses, threads)
        if self.kernel == "sorted":
            _core.shallow.gd_sorted(*args, self.bins, self.valid)
            self.valid = True
        else:
            _core.shallow.gd_direct(*args)

    def time(self, threads, seconds=0.25):
        if self.steps is None:
            self._run(1, threads)
            t0 = time.perf_counter()
            self._run(2, threads)
            self.steps = max(2, int(seconds / max((time.perf_counter() - t0) / 2, 1e-9)))
        t0, c0 = time.perf_counter(), time.process_time()
        self._run(self.steps, threads)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        return wall / self.steps, min(1.0, cpu / (wall * threads))


def copy_probe():
    """Copy bandwidth (B/s, read + write) and the CPU share the probe got."""
    t0, c0 = time.perf_counter(), time.process_time()
    bw = copy_bandwidth(repeats=5)
    return bw, min(1.0, (time.process_time() - c0) / (time.perf_counter() - t0))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--cases",
        nargs="+",
        default=["1e7:10", "1e7:1000", "1e7:10000", "1e6:10"],
        help="m:n pairs (the sorted kernel; n = 10 also runs direct and float32)",
    )
    p.add_argument("--isas", nargs="+", default=None, help="instruction sets (default: all runnable)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", default=None, help="append JSON lines here")
    args = p.parse_args(argv)
    isas = args.isas or runnable_isas()
    start_isa = _core.isa()
    load_before = os.getloadavg()
    machine = machine_line()
    info = build_info()
    print(
        f"machine: {machine['cpu']}, {machine['cores']} cores; build: native={info['native']}, "
        f"{info['compiler']}, kernels compiled for {info['isa_compiled']}, CPU best {info['isa_cpu']}"
    )
    print(f"load average before: {load_before}")
    cases = []
    for spec in args.cases:
        m, n = (int(float(v)) for v in spec.split(":"))
        variants = [("float64", "sorted")]
        if n <= 24:
            variants += [("float32", "sorted"), ("float64", "direct"), ("float32", "direct")]
        cases += [(m, n, dt, k) for dt, k in variants]
    samples = {}  # (m, n, dtype, kernel, isa, threads) -> list of (sec/step, copy B/s)
    built = {}
    for r in range(args.rounds):
        bw, bw_share = copy_probe()
        for m, n, dt, k in cases:
            key = (m, n, dt, k)
            if key not in built:
                built.clear()  # keep one large net alive at a time
                built[key] = Case(m, n, dt, k)
            case = built[key]
            for isa in isas if r % 2 == 0 else isas[::-1]:
                _core._set_isa(isa)
                for th in args.threads:
                    t, share = case.time(th)
                    samples.setdefault(key + (isa, th), []).append((t, bw, share, bw_share))
        print(
            f"round {r + 1}/{args.rounds}: copy probe {bw / 1e9:.1f} GB/s (CPU share {bw_share:.2f}), "
            f"load {os.getloadavg()[0]:.1f}"
        )
        built.clear()
    _core._set_isa(start_isa)
    load_after = os.getloadavg()
    print(f"load average after: {load_after}")
    header = (
        f"{'kernel':<7}{'dtype':>8}{'m':>10}{'n':>7}{'isa':>9}{'thr':>4}{'G n-st/s':>10}{'%copy':>7}"
        f"{'cpu share':>10}{'G/s @full':>10}{'%copy @full':>12}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    for (m, n, dt, k, isa, th), vals in samples.items():
        item = np.dtype(dt).itemsize
        rates = [m / t for t, *_ in vals]
        fracs = [6 * item * m / t / bw for t, bw, *_ in vals]
        full = [m / t / sh for t, _, sh, _ in vals]
        full_fracs = [6 * item * m / t / sh / (bw / bsh) for t, bw, sh, bsh in vals]
        rate, frac = statistics.median(rates), statistics.median(fracs)
        share = statistics.median(v[2] for v in vals)
        rate_full, frac_full = statistics.median(full), statistics.median(full_fracs)
        print(
            f"{k:<7}{dt:>8}{m:>10}{n:>7}{isa:>9}{th:>4}{rate / 1e9:>10.3f}{100 * frac:>6.0f}%"
            f"{share:>10.2f}{rate_full / 1e9:>10.3f}{100 * frac_full:>11.0f}%"
        )
        rows.append(
            dict(
                kind="shallow_isa",
                kernel=k,
                dtype=dt,
                m=m,
                n=n,
                isa=isa,
                threads=th,
                neuron_steps_per_s=rate,
                fraction_of_copy=frac,
                rounds=len(vals),
                cpu_share=share,
                neuron_steps_per_s_full_cpu=rate_full,
                fraction_of_copy_full_cpu=frac_full,
                copy_gbytes_per_s=statistics.median(v[1] for v in vals) / 1e9,
                load_before=load_before,
                load_after=load_after,
                build=info,
                machine=machine,
                time=time.strftime("%Y-%m-%dT%H:%M:%S"),
            )
        )
    if args.out:
        append_jsonl(args.out, rows)
        print(f"appended {len(rows)} JSON lines to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
