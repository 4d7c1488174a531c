"""Time the sorted shallow GD kernel of whichever wideflow build this interpreter imports (m = 10^7).

Runs alternately under several builds compare them on a busy machine with the same load pattern, e.g.
this branch against an older build and against the portable wheel:

    for i in 1 2 3; do
      PYTHONPATH=/path/to/old/pkg python bench/compare_builds.py old results.jsonl
      python bench/compare_builds.py native results.jsonl
      /path/to/wheel-venv/bin/python bench/compare_builds.py wheel results.jsonl
      WIDEFLOW_ISA=avx2 python bench/compare_builds.py native-avx2 results.jsonl
    done

Only the sorted GD kernel is called (`_core.shallow.gd_sorted`, named `_core.shallow_gd_sorted` before the
per-family submodules), so an older build works too. Each
line: tag, n, dtype, threads, neuron-steps/s (median of 3 timings of 4 steps), fraction of the process's
own copy probe, CPU share (process CPU time / (wall x threads)), load average.
"""

import os
import statistics
import sys
import time

import numpy as np

from wideflow import _core
from wideflow.benchmark import append_jsonl, copy_bandwidth, square_wave
from wideflow.shallow import ShallowReLU


def main(tag: str, out: str, m: int = 10**7) -> None:
    gd_sorted = _core.shallow.gd_sorted if hasattr(_core, "shallow") else _core.shallow_gd_sorted
    t0, c0 = time.perf_counter(), time.process_time()
    bw = copy_bandwidth(repeats=5)
    bw_share = (time.process_time() - c0) / (time.perf_counter() - t0)
    rows = []
    for n, dt in [(10, "float64"), (10, "float32"), (1000, "float64"), (10000, "float64")]:
        net = ShallowReLU.init(m, dtype=dt, seed=0)
        x, y = square_wave(n)
        pred = net(x)
        bins = np.empty(m, np.int32)
        valid = [False]

        def run(steps, threads):
            lr, losses = np.full(steps, 1e-3), np.empty(steps)
            gd_sorted(net.a, net.b, net.c, 1 / net.alpha, x, y, pred, lr, 1.0, 1.0, losses, threads, bins, valid[0])
            valid[0] = True

        for threads in (1, 2):
            run(1, threads)
            times = []
            for _ in range(3):
                t0, c0 = time.perf_counter(), time.process_time()
                run(4, threads)
                wall = time.perf_counter() - t0
                times.append((wall / 4, min(1.0, (time.process_time() - c0) / (wall * threads))))
            t = statistics.median(v[0] for v in times)
            share = statistics.median(v[1] for v in times)
            item = np.dtype(dt).itemsize
            rows.append(
                dict(
                    tag=tag,
                    n=n,
                    dtype=dt,
                    threads=threads,
                    rate=m / t,
                    frac=6 * item * m / t / bw,
                    share=share,
                    bw=bw,
                    bw_share=bw_share,
                    load=os.getloadavg()[0],
                )
            )
    append_jsonl(out, rows)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
